package devserver

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/serverless-signin/signin/internal/devprovider"
	"github.com/serverless-signin/signin/internal/dynamotest"
)

// startServer runs a dev server on a loopback port; its URL says localhost,
// as the one cmd/dev prints.
func startServer(t *testing.T, env map[string]string) (*Server, string) {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())
	base := "http://localhost:" + port
	s := newTestServer(t, base, env)
	ts.Config.Handler = s
	ts.Start()
	t.Cleanup(ts.Close)
	return s, base
}

// browser is an http.Client with a cookie jar that does not follow
// redirects, so each step can be checked.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

type meResponse struct {
	Authenticated bool `json:"authenticated"`
	User          struct {
		ID, Email, Name string
	} `json:"user"`
}

func get(t *testing.T, hc *http.Client, target string) (*http.Response, string) {
	t.Helper()
	return do(t, hc, "GET", target, nil)
}

func do(t *testing.T, hc *http.Client, method, target string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, target, err)
	}
	return resp, string(body)
}

func me(t *testing.T, hc *http.Client, base string) meResponse {
	t.Helper()
	resp, body := get(t, hc, base+"/auth/me")
	var m meResponse
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &m) != nil {
		t.Fatalf("GET /auth/me = %d %s; want 200 JSON", resp.StatusCode, body)
	}
	return m
}

// signIn runs a whole sign-in at base as the demo user and returns where the
// callback sent the browser.
func signIn(t *testing.T, hc *http.Client, base, returnTo string) string {
	t.Helper()
	resp, body := get(t, hc, base+"/auth/login?return_to="+url.QueryEscape(returnTo))
	if resp.StatusCode != 302 {
		t.Fatalf("GET /auth/login = %d %s; want 302", resp.StatusCode, body)
	}
	callback, err := devprovider.Authorize(t.Context(), hc, resp.Header.Get("Location"), devprovider.DemoUser.Username, devprovider.DemoUser.Password)
	if err != nil {
		t.Fatalf("devprovider.Authorize: %v", err)
	}
	if got, want := callback.Scheme+"://"+callback.Host+callback.Path, base+"/auth/callback"; got != want {
		t.Fatalf("provider redirected to %s; want %s", got, want)
	}
	resp, body = get(t, hc, callback.String())
	if resp.StatusCode != 302 {
		t.Fatalf("GET /auth/callback = %d %s; want 302", resp.StatusCode, body)
	}
	return resp.Header.Get("Location")
}

func signOut(t *testing.T, hc *http.Client, base string) {
	t.Helper()
	resp, body := do(t, hc, "POST", base+"/auth/logout", http.Header{"Origin": {base}})
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "/" {
		t.Fatalf("POST /auth/logout = %d (Location %q) %s; want 302 to /", resp.StatusCode, resp.Header.Get("Location"), body)
	}
}

func TestSignInAndOut(t *testing.T) {
	s, base := startServer(t, nil)
	hc := browser(t)

	if m := me(t, hc, base); m.Authenticated {
		t.Fatalf("/auth/me before sign-in = %+v; want not authenticated", m)
	}
	if loc := signIn(t, hc, base, "/app?x=1"); loc != "/app?x=1" {
		t.Errorf("callback redirected to %q; want the return_to /app?x=1", loc)
	}
	m := me(t, hc, base)
	demo := devprovider.DemoUser
	if !m.Authenticated || m.User.ID != demo.Subject || m.User.Name != demo.Name || m.User.Email != demo.Email {
		t.Errorf("/auth/me after sign-in = %+v; want the demo user", m)
	}
	if n := s.Provider().Calls("/oauth/token"); n != 1 {
		t.Errorf("provider token calls = %d; want 1", n)
	}

	// Only the app's cookies are in the jar: the sign-in binding (left to
	// expire, so another tab's pending sign-in still completes) and the
	// session. The provider, although on the same host, set none.
	u, _ := url.Parse(base + "/")
	var names []string
	for _, c := range hc.Jar.Cookies(u) {
		names = append(names, c.Name)
	}
	slices.Sort(names)
	if strings.Join(names, ",") != "session,signin_binding" {
		t.Errorf("cookies for %s = %q; want session and signin_binding", base, names)
	}

	signOut(t, hc, base)
	if m := me(t, hc, base); m.Authenticated {
		t.Errorf("/auth/me after sign-out = %+v; want not authenticated", m)
	}
}

// A browser may reach the server under any loopback name; each must be an
// allowed redirect URI at the built-in provider.
func TestSignInLoopbackNames(t *testing.T) {
	_, base := startServer(t, nil)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(base, "http://"))
	for _, host := range []string{"localhost", "127.0.0.1"} {
		t.Run(host, func(t *testing.T) {
			hc := browser(t)
			origin := "http://" + net.JoinHostPort(host, port)
			signIn(t, hc, origin, "/")
			if m := me(t, hc, origin); !m.Authenticated {
				t.Errorf("/auth/me at %s after sign-in = %+v; want authenticated", origin, m)
			}
		})
	}
}

func TestLogoutCrossSite(t *testing.T) {
	_, base := startServer(t, nil)
	hc := browser(t)
	signIn(t, hc, base, "/")
	resp, _ := do(t, hc, "POST", base+"/auth/logout", http.Header{"Origin": {"http://evil.example"}})
	if resp.StatusCode != 403 {
		t.Errorf("cross-site POST /auth/logout = %d; want 403", resp.StatusCode)
	}
	if m := me(t, hc, base); !m.Authenticated {
		t.Errorf("/auth/me after a refused logout = %+v; want still authenticated", m)
	}
}

// With OAUTH_ISSUER the dev server signs in at that provider and mounts
// none of its own.
func TestExternalProvider(t *testing.T) {
	p, err := devprovider.Start(devprovider.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	ts := httptest.NewUnstartedServer(nil)
	_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())
	base := "http://localhost:" + port
	p.AllowRedirectURI(devprovider.DefaultClientID, base+"/auth/callback")
	s := newTestServer(t, base, map[string]string{
		"OAUTH_ISSUER":        p.Issuer(),
		"OAUTH_CLIENT_ID":     devprovider.DefaultClientID,
		"OAUTH_CLIENT_SECRET": devprovider.DefaultClientSecret,
	})
	ts.Config.Handler = s
	ts.Start()
	t.Cleanup(ts.Close)

	if s.Provider() != nil || s.Issuer() != p.Issuer() {
		t.Errorf("Provider(), Issuer() = %v, %q; want nil, %q", s.Provider(), s.Issuer(), p.Issuer())
	}
	hc := browser(t)
	if resp, _ := get(t, hc, base+"/oidc/.well-known/openid-configuration"); resp.StatusCode != 404 {
		t.Errorf("GET /oidc/... with an external provider = %d; want 404", resp.StatusCode)
	}
	signIn(t, hc, base, "/")
	if m := me(t, hc, base); m.User.ID != devprovider.DemoUser.Subject {
		t.Errorf("/auth/me = %+v; want the demo user", m)
	}
	if n := p.Calls("/oauth/token"); n != 1 {
		t.Errorf("external provider token calls = %d; want 1", n)
	}
	_, page := get(t, hc, base+"/")
	if strings.Contains(page, `id="hint"`) {
		t.Errorf("page with an external provider shows the demo credentials")
	}
}

func TestNewConfigErrors(t *testing.T) {
	tests := []struct {
		name, base string
		env        map[string]string
		want       string
	}{
		{"no URL", "", nil, "URL"},
		{"URL with a path", "http://localhost:8080/app", nil, "URL"},
		{"external provider without client", "http://localhost:8080", map[string]string{"OAUTH_ISSUER": "https://id.example.test"}, "OAUTH_CLIENT_ID"},
		{"external provider without secret", "http://localhost:8080", map[string]string{"OAUTH_ISSUER": "https://id.example.test", "OAUTH_CLIENT_ID": "c"}, "OAUTH_CLIENT_SECRET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(t.Context(), Config{URL: tt.base, Getenv: mapEnv(tt.env), Logger: nil})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New() = %v; want an error naming %s", err, tt.want)
			}
		})
	}
}

// With TABLE_NAME and AWS_ENDPOINT_URL_DYNAMODB the handlers are the
// functions' own (secretenv.All) over DynamoDB Local.
func TestDynamoDBStore(t *testing.T) {
	_, table := dynamotest.NewTable(t)
	env := map[string]string{
		"TABLE_NAME":                table,
		"AWS_ENDPOINT_URL_DYNAMODB": os.Getenv("AWS_ENDPOINT_URL_DYNAMODB"),
		"AWS_REGION":                "us-east-1",
	}
	// The SDK reads credentials from the process environment itself.
	t.Setenv("AWS_ACCESS_KEY_ID", "local")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	s, base := startServer(t, env)
	if s.Table() != table {
		t.Errorf("Table() = %q; want %q", s.Table(), table)
	}
	hc := browser(t)
	signIn(t, hc, base, "/")
	if m := me(t, hc, base); m.User.ID != devprovider.DemoUser.Subject {
		t.Errorf("/auth/me = %+v; want the demo user", m)
	}
	signOut(t, hc, base)
	if m := me(t, hc, base); m.Authenticated {
		t.Errorf("/auth/me after sign-out = %+v; want not authenticated", m)
	}
}

func TestPage(t *testing.T) {
	s := newTestServer(t, "http://localhost:8080", nil)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s; want 200 HTML", w.Code, w.Header().Get("Content-Type"))
	}
	page, csp := w.Body.String(), w.Header().Get("Content-Security-Policy")
	// With no-referrer the sign-out form's POST carries "Origin: null",
	// which the logout handler refuses as cross-site.
	if got := w.Header().Get("Referrer-Policy"); got != "same-origin" {
		t.Errorf("Referrer-Policy = %q; want same-origin", got)
	}

	// The CSP allows exactly the inline script and style the page holds.
	for _, tag := range []string{"script", "style"} {
		m := regexp.MustCompile(`(?s)<`+tag+`>(.*?)</`+tag+`>`).FindAllStringSubmatch(page, -1)
		if len(m) != 1 {
			t.Fatalf("page has %d <%s> elements; want 1", len(m), tag)
		}
		if src := "'" + hashSource(m[0][1]) + "'"; !strings.Contains(csp, tag+"-src "+src) {
			t.Errorf("CSP %q lacks %s-src %s for the inline %s", csp, tag, src, tag)
		}
	}
	for _, directive := range []string{"default-src 'none'", "connect-src 'self'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, directive) {
			t.Errorf("CSP %q lacks %q", csp, directive)
		}
	}
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", " src=", `href="http`, "url(", "@import"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q; want no HTML sinks and no external assets", bad)
		}
	}
	for _, want := range []string{`id="status"`, `id="sign-in"`, `href="/auth/login?return_to=/"`, `id="sign-out"`, `action="/auth/logout"`, "demo</code> / <code>demo"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}

	w = httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("POST", "/", nil))
	if w.Code != 405 {
		t.Errorf("POST / = %d; want 405", w.Code)
	}
}

func TestPageFormActionExternalProvider(t *testing.T) {
	s := newTestServer(t, "http://localhost:8080", map[string]string{
		"OAUTH_ISSUER": "https://id.example.test/tenant", "OAUTH_CLIENT_ID": "c", "OAUTH_CLIENT_SECRET": "s",
		"OAUTH_END_SESSION_URL": "https://logout.example.test/end",
	})
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	csp := w.Header().Get("Content-Security-Policy")
	if want := "form-action 'self' https://id.example.test https://logout.example.test;"; !strings.Contains(csp, want) {
		t.Errorf("CSP = %q; want %q (sign-out may end at the provider)", csp, want)
	}
}

func TestWithoutAppCookies(t *testing.T) {
	var gotCookie string
	h := withoutAppCookies(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotCookie = r.Header.Get("Cookie")
		w.Header().Add("Set-Cookie", "session=evil; Path=/")
		w.Header().Add("Set-Cookie", "op_sso=1; Path=/oidc")
		w.Header().Add("Set-Cookie", "__Host-signin_binding=x; Path=/; Secure")
		w.Write([]byte("ok"))
	}))
	r := httptest.NewRequest("GET", "/oidc/authorize", nil)
	r.Header.Set("Cookie", "session=s3cret; op_sso=1; signin_binding=b; __Host-session=h")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)

	if gotCookie != "op_sso=1" {
		t.Errorf("provider received Cookie %q; want only its own op_sso=1", gotCookie)
	}
	if got := w.Header().Values("Set-Cookie"); len(got) != 1 || got[0] != "op_sso=1; Path=/oidc" {
		t.Errorf("Set-Cookie from the provider = %q; want only op_sso", got)
	}
	if r.Header.Get("Cookie") == gotCookie {
		t.Errorf("the caller's request was modified")
	}
}
