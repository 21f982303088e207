package devserver

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// pageStyle and pageScript are inlined into the page and allowed by their
// hashes in the Content-Security-Policy, so nothing else can run or style it.
const pageStyle = `
body{font-family:system-ui,sans-serif;background:#f4f4f5;margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}
main{background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002;width:24rem}
h1{font-size:1.25rem;margin:0 0 1rem}
#status{margin:0 0 1rem;overflow-wrap:anywhere}
.button{display:inline-block;padding:.6rem 1.2rem;font-size:1rem;border:1px solid #333;border-radius:4px;background:#fff;color:#111;text-decoration:none;cursor:pointer}
form{margin:0}
.hint{color:#555;font-size:.85rem;margin-top:1.5rem}
#api{margin-top:1.5rem;border-top:1px solid #ddd;padding-top:1rem}
#api-status{margin:.75rem 0 .25rem;font-weight:600}
#api-result:empty{display:none}
#api-result{margin:0;max-height:16rem;overflow:auto;background:#f4f4f5;padding:.5rem;font-size:.8rem;white-space:pre-wrap;overflow-wrap:anywhere}
[hidden]{display:none!important}
`

// pageScript asks /auth/me who is signed in and renders the answer with
// textContent only: the name and email come from the provider.
const pageScript = `
"use strict";
(() => {
  const status = document.getElementById("status");
  const signIn = document.getElementById("sign-in");
  const signOut = document.getElementById("sign-out-form");
  const signedOut = (text) => {
    status.textContent = text;
    signOut.hidden = true;
    signIn.hidden = false;
  };
  fetch("/auth/me", {credentials: "same-origin", cache: "no-store", headers: {"Accept": "application/json"}})
    .then(async (r) => {
      const me = await r.json().catch(() => null);
      if (r.status >= 500 || me === null) {
        signedOut("Could not check the session (HTTP " + r.status + ")");
        return;
      }
      if (me.authenticated !== true || !me.user) {
        signedOut("Not signed in");
        return;
      }
      const name = document.createElement("strong");
      name.id = "user-name";
      name.textContent = me.user.name || me.user.id;
      const parts = ["Signed in as ", name];
      if (me.user.email) {
        parts.push(" (" + me.user.email + ")");
      }
      status.replaceChildren(...parts);
      signIn.hidden = true;
      signOut.hidden = false;
    })
    .catch(() => signedOut("Could not reach /auth/me"));

  // The protected route: the gateway (here, the dev server) asks the
  // session authorizer first; 401 without any cookie, 403 on a refusal.
  const apiStatus = document.getElementById("api-status");
  const apiResult = document.getElementById("api-result");
  document.getElementById("call-api").addEventListener("click", () => {
    apiStatus.textContent = "Calling GET /api/profile…";
    apiStatus.dataset.status = "";
    apiResult.textContent = "";
    fetch("/api/profile", {credentials: "same-origin", cache: "no-store", headers: {"Accept": "application/json"}})
      .then(async (r) => {
        const text = await r.text();
        let shown = text;
        try {
          shown = JSON.stringify(JSON.parse(text), null, 2);
        } catch (e) {
          // not JSON: show it as it came
        }
        apiStatus.textContent = "GET /api/profile: HTTP " + r.status;
        apiStatus.dataset.status = String(r.status);
        apiResult.textContent = shown;
      })
      .catch(() => {
        apiStatus.textContent = "Could not reach /api/profile";
        apiStatus.dataset.status = "error";
      });
  });
})();
`

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign-in dev server</title>
<style>{{.Style}}</style>
</head>
<body>
<main>
<h1>Sign-in dev server</h1>
<p id="status" role="status">Checking…</p>
<a id="sign-in" class="button" href="/auth/login?return_to=/" hidden>Sign in</a>
<form id="sign-out-form" method="post" action="/auth/logout" hidden><button id="sign-out" class="button" type="submit">Sign out</button></form>
<section id="api">
<button id="call-api" class="button" type="button">Call a protected route</button>
<p id="api-status" role="status"></p>
<pre id="api-result"></pre>
</section>
<noscript><p>This page needs JavaScript to ask <a href="/auth/me">/auth/me</a> who is signed in.</p></noscript>
{{with .Hint}}<p class="hint" id="hint">Built-in provider: sign in as <code>{{.Username}}</code> / <code>{{.Password}}</code>.</p>{{end}}
<p class="hint">Routes: <a href="/auth/me">/auth/me</a> · <a href="/api/profile">/api/profile</a> (behind the session authorizer) · provider <code>{{.Issuer}}</code></p>
</main>
<script>{{.Script}}</script>
</body>
</html>
`))

// page is the rendered index page and the headers it is served with.
type page struct {
	body []byte
	csp  string
}

type pageHint struct{ Username, Password string }

// newPage renders the index page. formOrigins are the origins, besides our
// own, that the sign-out form may end up at (the provider's end-session
// endpoint): Chrome applies form-action to the whole redirect chain.
func newPage(issuer string, hint *pageHint, formOrigins []string) (*page, error) {
	var buf bytes.Buffer
	err := pageTemplate.Execute(&buf, struct {
		Style  template.CSS
		Script template.JS
		Hint   *pageHint
		Issuer string
	}{template.CSS(pageStyle), template.JS(pageScript), hint, issuer})
	if err != nil {
		return nil, err
	}
	formAction := []string{"'self'"}
	for _, o := range formOrigins {
		if o != "" && !slices.Contains(formAction, o) {
			formAction = append(formAction, o)
		}
	}
	csp := strings.Join([]string{
		"default-src 'none'",
		"script-src '" + hashSource(pageScript) + "'",
		"style-src '" + hashSource(pageStyle) + "'",
		"connect-src 'self'",
		"form-action " + strings.Join(formAction, " "),
		"base-uri 'none'",
		"frame-ancestors 'none'",
	}, "; ")
	return &page{body: buf.Bytes(), csp: csp}, nil
}

func hashSource(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// origin returns scheme://host of an absolute URL, or "".
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

func (p *page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	// Not no-referrer: with it, Chrome sends "Origin: null" on the sign-out
	// form's POST, and the logout handler rightly refuses a null origin.
	h.Set("Referrer-Policy", "same-origin")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		writeGatewayError(w, http.StatusMethodNotAllowed, `{"error":"Method not allowed"}`)
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", p.csp)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Length", strconv.Itoa(len(p.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(p.body) //nolint:errcheck // the client went away; nothing to do.
	}
}
