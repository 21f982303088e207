package devserver

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/serverless-signin/signin/internal/devprovider"
	"github.com/serverless-signin/signin/internal/dynamotest"
	"github.com/serverless-signin/signin/internal/sessiontest"
	"github.com/serverless-signin/signin/pkg/session"
)

// profileAnswer is the example's 200 body.
type profileAnswer struct {
	User     struct{ ID, Email, Name string } `json:"user"`
	UserInfo map[string]any                   `json:"userinfo"`
}

// authorizerLines counts the authorizer's log lines.
func authorizerLines(logs string) int {
	return strings.Count(logs, `"route":"authorizer"`)
}

// GET /api/profile behind the authorizer, as the gateway runs it: 401
// without a Cookie header (the authorizer not invoked), 403 when it
// refuses, the example's answer when it allows.
func TestProtectedRoute(t *testing.T) {
	for _, tt := range []struct {
		name string
		env  func(t *testing.T) map[string]string
	}{
		{"memory", func(*testing.T) map[string]string { return nil }},
		{"dynamodb", func(t *testing.T) map[string]string {
			_, table := dynamotest.NewTable(t)
			t.Setenv("AWS_ACCESS_KEY_ID", "local")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
			return map[string]string{"TABLE_NAME": table, "AWS_ENDPOINT_URL_DYNAMODB": os.Getenv("AWS_ENDPOINT_URL_DYNAMODB"), "AWS_REGION": "us-east-1"}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			logs := &sessiontest.LogBuffer{}
			ts := startServerWithLog(t, tt.env(t), logs)
			hc := browser(t)
			profile := ts + "/api/profile"

			check := func(what string, status int, body string) {
				t.Helper()
				resp, got := get(t, hc, profile)
				if resp.StatusCode != status || (body != "" && got != body) || resp.Header.Get("Content-Type") != "application/json" {
					t.Errorf("%s: GET /api/profile = %d %s (%s); want %d %s", what, resp.StatusCode, got, resp.Header.Get("Content-Type"), status, body)
				}
			}
			before := authorizerLines(logs.String())
			check("no cookie", 401, `{"message":"Unauthorized"}`)
			if n := authorizerLines(logs.String()) - before; n != 0 {
				t.Errorf("the authorizer ran %d times without a Cookie header; want 0 (the gateway answers alone)", n)
			}

			// A cookie, but not the session's: the authorizer refuses.
			u, _ := http.NewRequest("GET", ts, nil)
			hc.Jar.SetCookies(u.URL, []*http.Cookie{{Name: "theme", Value: "dark", Path: "/"}})
			check("other cookies only", 403, `{"message":"Forbidden"}`)

			signIn(t, hc, ts, "/")
			resp, body := get(t, hc, profile)
			var got profileAnswer
			if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &got) != nil {
				t.Fatalf("signed in: GET /api/profile = %d %s; want 200 and the profile", resp.StatusCode, body)
			}
			d := devprovider.DemoUser
			if got.User.ID != d.Subject || got.User.Email != d.Email || got.User.Name != d.Name || got.UserInfo["sub"] != d.Subject || got.UserInfo["email"] != d.Email {
				t.Errorf("signed in: profile = %+v; want the demo user and its userinfo", got)
			}
			if resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q; want no-store", resp.Header.Get("Cache-Control"))
			}

			// Not a route: the gateway's 404, before any authorizer.
			if resp, body := do(t, hc, "POST", profile, http.Header{"Origin": {ts}}); resp.StatusCode != 404 || body != `{"message":"Not Found"}` {
				t.Errorf("POST /api/profile = %d %s; want 404 {\"message\":\"Not Found\"}", resp.StatusCode, body)
			}
			if resp, body := get(t, hc, ts+"/api/other"); resp.StatusCode != 404 || body != `{"message":"Not Found"}` {
				t.Errorf("GET /api/other = %d %s; want 404", resp.StatusCode, body)
			}

			signOut(t, hc, ts)
			check("signed out, theme and sign-in binding cookies left", 403, `{"message":"Forbidden"}`)
			// The gateway's 401 needs a request without any Cookie header.
			hc.Jar.SetCookies(u.URL, []*http.Cookie{
				{Name: "theme", Value: "", MaxAge: -1, Path: "/"},
				{Name: "signin_binding", Value: "", MaxAge: -1, Path: "/"},
			})
			check("signed out, no cookie left", 401, `{"message":"Unauthorized"}`)
		})
	}
}

// startServerWithLog is startServer with the handlers logging to logs.
func startServerWithLog(t *testing.T, env map[string]string, logs *sessiontest.LogBuffer) string {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())
	base := "http://localhost:" + port
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := New(ctx, Config{URL: base, Getenv: mapEnv(env), Logger: session.NewLogger(logs)})
	if err != nil {
		t.Fatalf("New(%s) = %v", base, err)
	}
	ts.Config.Handler = s
	ts.Start()
	t.Cleanup(ts.Close)
	return base
}

// An authorizer that fails (a storage outage, a crash) is the gateway's
// 500, and the route is not invoked.
func TestProtectedRouteAuthorizerError(t *testing.T) {
	s := newTestServer(t, "http://localhost:8080", nil)
	var routeRan bool
	s.protected["GET /api/profile"] = lambda.NewHandler(func(context.Context) error { routeRan = true; return nil })
	for name, authorizer := range map[string]lambda.Handler{
		"error": lambda.NewHandler(func(context.Context) (bool, error) { return false, errors.New("store down") }),
		"panic": lambda.NewHandler(func(context.Context) (bool, error) { panic("boom") }),
	} {
		s.authorizer = authorizer
		req := httptest.NewRequest("GET", "http://localhost:8080/api/profile", nil)
		req.Header.Set("Cookie", "session=x")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != 500 || w.Body.String() != `{"message":"Internal Server Error"}` {
			t.Errorf("%s: GET /api/profile = %d %s; want 500 {\"message\":\"Internal Server Error\"}", name, w.Code, w.Body)
		}
	}
	if routeRan {
		t.Errorf("the route ran after the authorizer failed")
	}
}

// The page's button calls the protected route and shows its answer as
// text; the script stays inline and hashed (TestPage checks the CSP).
func TestPageProtectedCall(t *testing.T) {
	s := newTestServer(t, "http://localhost:8080", nil)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	page := w.Body.String()
	for _, want := range []string{`<button id="call-api" class="button" type="button">Call a protected route</button>`,
		`id="api-status"`, `id="api-result"`, `fetch("/api/profile"`, `apiResult.textContent = shown`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
}
