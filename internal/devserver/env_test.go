package devserver

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/serverless-signin/signin/internal/devprovider"
)

// With the memory store the handler options come from the same variables
// as in the functions (lambdaenv.Env.Routes).
func TestMemoryStoreOptions(t *testing.T) {
	ts := httptest.NewUnstartedServer(nil)
	_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())
	base := "http://localhost:" + port
	env := map[string]string{
		"SESSION_LIFETIME":     "1h",
		"SESSION_IDLE_TIMEOUT": "30m",
		"APP_ORIGIN":           "http://app.example.test",
		// Another spelling of this server, which the built-in provider
		// accepts too.
		"OAUTH_REDIRECT_URI":             "http://127.0.0.1:" + port + "/auth/callback",
		"OAUTH_POST_LOGOUT_REDIRECT_URI": base + "/",
	}
	s := newTestServer(t, base, env)
	ts.Config.Handler = s
	ts.Start()
	t.Cleanup(ts.Close)
	hc := browser(t)

	resp, body := get(t, hc, base+"/auth/login")
	if resp.StatusCode != 302 {
		t.Fatalf("GET /auth/login = %d %s; want 302", resp.StatusCode, body)
	}
	authorize, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got := authorize.Query().Get("redirect_uri"); got != env["OAUTH_REDIRECT_URI"] {
		t.Errorf("authorize redirect_uri = %q; want OAUTH_REDIRECT_URI %q", got, env["OAUTH_REDIRECT_URI"])
	}
	callback, err := devprovider.Authorize(t.Context(), hc, authorize.String(), devprovider.DemoUser.Username, devprovider.DemoUser.Password)
	if err != nil {
		t.Fatalf("devprovider.Authorize: %v", err)
	}
	if got := callback.Scheme + "://" + callback.Host + callback.Path; got != env["OAUTH_REDIRECT_URI"] {
		t.Fatalf("provider redirected to %s; want %s", got, env["OAUTH_REDIRECT_URI"])
	}
	// Same server; the binding cookie was set for localhost, where the
	// browser started.
	callback.Host = "localhost:" + port
	resp, body = get(t, hc, callback.String())
	if resp.StatusCode != 302 {
		t.Fatalf("GET /auth/callback = %d %s; want 302", resp.StatusCode, body)
	}
	var maxAge int
	for _, c := range resp.Cookies() {
		if c.Name == "session" {
			maxAge = c.MaxAge
		}
	}
	if maxAge != int(time.Hour.Seconds()) {
		t.Errorf("session cookie Max-Age = %d; want 3600 (SESSION_LIFETIME 1h)", maxAge)
	}

	// APP_ORIGIN decides which origin may sign out.
	resp, _ = do(t, hc, "POST", base+"/auth/logout", http.Header{"Origin": {base}})
	if resp.StatusCode != 403 {
		t.Errorf("POST /auth/logout from %s = %d; want 403 (APP_ORIGIN is another origin)", base, resp.StatusCode)
	}
	resp, body = do(t, hc, "POST", base+"/auth/logout", http.Header{"Origin": {env["APP_ORIGIN"]}})
	if want := s.Issuer() + "/end_session?"; resp.StatusCode != 302 || !strings.HasPrefix(resp.Header.Get("Location"), want) {
		t.Errorf("POST /auth/logout from APP_ORIGIN = %d (Location %q) %s; want 302 to %s... (OAUTH_POST_LOGOUT_REDIRECT_URI)",
			resp.StatusCode, resp.Header.Get("Location"), body, want)
	}
}

func TestMemoryStoreOptionErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"invalid options", map[string]string{
			"SESSION_LIFETIME":     "soon",
			"SESSION_IDLE_TIMEOUT": "-1m",
			"OAUTH_REDIRECT_URI":   "pasted-secret-value",
			"APP_ORIGIN":           "https://app.example.test/path",
		}, []string{"SESSION_LIFETIME", "SESSION_IDLE_TIMEOUT", "OAUTH_REDIRECT_URI", "APP_ORIGIN"}},
		{"external provider without secret, invalid option", map[string]string{
			"OAUTH_ISSUER":                   "https://id.example.test",
			"OAUTH_CLIENT_ID":                "c",
			"OAUTH_POST_LOGOUT_REDIRECT_URI": "pasted-secret-value",
		}, []string{"OAUTH_CLIENT_SECRET", "OAUTH_POST_LOGOUT_REDIRECT_URI"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(t.Context(), Config{URL: "http://localhost:8080", Getenv: mapEnv(tt.env)})
			if err == nil {
				t.Fatalf("New() = nil error; want one naming %v", tt.want)
			}
			for _, name := range tt.want {
				if !strings.Contains(err.Error(), name) {
					t.Errorf("New() = %q; want it to name %s", err, name)
				}
			}
			if strings.Contains(err.Error(), "pasted-secret-value") {
				t.Errorf("New() = %q; it echoes a value", err)
			}
		})
	}
}
