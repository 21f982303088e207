package devprovider

import (
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
)

// loginHandler is the provider's sign-in page. op redirects the browser here with the auth request id;
// a successful POST sends it to op's callback, which redirects to the client with a code.
type loginHandler struct {
	storage  *storage
	logger   *slog.Logger
	action   string // the form's path, with the issuer's prefix
	callback string // absolute URL of op's authorize callback
}

const maxLoginForm = 64 << 10

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · development provider</title>
<style>
body{font-family:system-ui,sans-serif;background:#f4f4f5;margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}
main{background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002;width:20rem}
h1{font-size:1.25rem;margin:0 0 .5rem}
label{display:block;margin:.75rem 0 .25rem;font-size:.9rem}
input{width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem}
button{margin-top:1rem;width:100%;padding:.6rem;font-size:1rem;cursor:pointer}
.hint{color:#555;font-size:.85rem}
.error{color:#b00020;font-size:.9rem}
</style>
</head>
<body>
<main>
<h1>Sign in</h1>
<p class="hint">Development OpenID provider{{if .ClientID}}, signing in to <b>{{.ClientID}}</b>{{end}}.</p>
<p class="hint" id="hint">Demo credentials: username <code>{{.Hint.Username}}</code>, password <code>{{.Hint.Password}}</code></p>
{{if .Error}}<p class="error" id="error" role="alert">{{.Error}}</p>{{end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="authRequestID" value="{{.ID}}">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" value="{{.Username}}" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button id="submit" type="submit">Sign in</button>
</form>
</main>
</body>
</html>
`))

type loginData struct {
	ID, ClientID, Action, Username, Error string
	Hint                                  User
}

func (h *loginHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	switch r.Method {
	case http.MethodGet:
		id := r.URL.Query().Get("authRequestID")
		hint, clientID, ok := h.storage.loginPage(id)
		if !ok {
			http.Error(w, errLoginRequestNotFound.Error(), http.StatusBadRequest)
			return
		}
		h.render(w, http.StatusOK, loginData{ID: id, ClientID: clientID, Hint: hint})
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, maxLoginForm)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "devprovider: cannot parse the sign-in form", http.StatusBadRequest)
			return
		}
		id, username := r.PostForm.Get("authRequestID"), r.PostForm.Get("username")
		clientID, err := h.storage.login(id, username, r.PostForm.Get("password"))
		switch {
		case errors.Is(err, ErrInvalidCredentials):
			h.logger.InfoContext(r.Context(), "devprovider: sign-in rejected", "client_id", clientID)
			hint, _, _ := h.storage.loginPage(id)
			h.render(w, http.StatusOK, loginData{ID: id, ClientID: clientID, Username: username, Hint: hint,
				Error: "Invalid username or password."})
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadRequest)
		default:
			h.logger.InfoContext(r.Context(), "devprovider: signed in", "client_id", clientID)
			http.Redirect(w, r, h.callback+"?id="+url.QueryEscape(id), http.StatusFound)
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (h *loginHandler) render(w http.ResponseWriter, status int, d loginData) {
	d.Action = h.action
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// No form-action: Chrome applies it to the redirect chain that ends at the client.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if err := loginPage.Execute(w, d); err != nil {
		h.logger.Error("devprovider: render login page", "error", err)
	}
}
