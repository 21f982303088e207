package routes_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-signin/signin/internal/devprovider"
	"github.com/serverless-signin/signin/internal/routes"
	"github.com/serverless-signin/signin/pkg/oauth"
	"github.com/serverless-signin/signin/pkg/session"
	"github.com/serverless-signin/signin/pkg/store"
)

// appHost is the API's domain as API Gateway reports it.
const appHost = "app.example.test"

// setup describes one test application.
type setup struct {
	kind  storeKind
	http  bool                // serve plain http (local development) instead of https
	opts  options             // Logger, Now filled in by newApp
	oauth func(*oauth.Config) // adjust the client configuration
	store func(store.Store) store.Store
}

// app is the handler under test wired to the real dev provider and a real
// store, with every side observable.
type app struct {
	t        *testing.T
	provider *devprovider.Provider
	client   *oauth.Client
	store    *countingStore
	db       *countingDB // nil for the memory store
	h        *routes.Handler
	logs     *logBuffer
	clock    *clock
	scheme   string
}

func newApp(t *testing.T, s setup) *app {
	t.Helper()
	if s.kind.Open == nil {
		s.kind = storeKinds[0]
	}
	p, err := devprovider.Start(devprovider.Options{})
	if err != nil {
		t.Fatalf("devprovider.Start: %v", err)
	}
	t.Cleanup(p.Close)
	a := &app{t: t, provider: p, logs: &logBuffer{}, clock: newClock(), scheme: "https"}
	if s.http {
		a.scheme = "http"
	}
	p.AllowRedirectURI(devprovider.DefaultClientID, a.origin()+"/auth/callback")

	cfg := oauth.Config{Issuer: p.Issuer(), ClientID: devprovider.DefaultClientID, ClientSecret: devprovider.DefaultClientSecret}
	if s.oauth != nil {
		s.oauth(&cfg)
	}
	if a.client, err = oauth.NewClient(cfg); err != nil {
		t.Fatalf("oauth.NewClient: %v", err)
	}

	var st store.Store
	st, a.db = s.kind.Open(t, a.clock.Now)
	if s.store != nil {
		st = s.store(st)
	}
	a.store = &countingStore{Store: st}
	opts := s.opts
	opts.Logger = session.NewLogger(a.logs)
	opts.Now = a.clock.Now
	a.h = newHandler(a.client, a.store, opts)
	return a
}

// options are the handler settings the tests vary.
type options struct {
	IdleTimeout           time.Duration
	AppOrigin             string
	PostLogoutRedirectURL string
	Logger                *slog.Logger
	Now                   func() time.Time
}

// newHandler builds the handlers over client (nil: none, as in the me-only
// binary) and st, as the wiring does.
func newHandler(client *oauth.Client, st store.Store, o options) *routes.Handler {
	cfg := routes.Config{
		Session: session.Config{
			Store:       st,
			IdleTimeout: o.IdleTimeout,
			Logger:      o.Logger,
			Now:         o.Now,
		},
		AppOrigin:             o.AppOrigin,
		PostLogoutRedirectURL: o.PostLogoutRedirectURL,
	}
	if client != nil {
		cfg.Provider = client
		cfg.Session.Revoker, cfg.Session.Refresher = client, client
	}
	return routes.New(cfg)
}

func (a *app) origin() string { return a.scheme + "://" + appHost }

// browser returns a new browser (its own cookie jar) talking to the app.
func (a *app) browser() *browser {
	return &browser{app: a, jar: map[string]string{}}
}

// providerCalls counts the provider's endpoints, all of them.
func (a *app) providerCalls() map[string]int {
	calls := map[string]int{}
	for _, path := range []string{"/authorize", "/oauth/token", "/userinfo", "/revoke", "/end_session", "/keys", "/.well-known/openid-configuration"} {
		if n := a.provider.Calls(path); n > 0 {
			calls[path] = n
		}
	}
	return calls
}

// session returns the live session named by a raw session id.
func (a *app) session(id string) (store.Session, error) {
	return a.store.Store.GetSession(context.Background(), store.Hash(id))
}

// browser is a cookie jar that sends payload-2.0 events to the handler and
// applies the Set-Cookie answers, as API Gateway and a browser would.
type browser struct {
	app *app
	jar map[string]string
}

var requestSeq atomic.Int64

// event builds the API Gateway HTTP API event for method and target
// ("/path?raw-query"), with the browser's cookies.
func (b *browser) event(method, target string, headers map[string]string) events.APIGatewayV2HTTPRequest {
	path, rawQuery, _ := strings.Cut(target, "?")
	h := map[string]string{
		"host":              appHost,
		"x-forwarded-proto": b.app.scheme,
		"user-agent":        "auth-test",
	}
	for k, v := range headers {
		if v == "" {
			delete(h, k)
		} else {
			h[k] = v
		}
	}
	var cookies []string
	for _, name := range slices.Sorted(maps.Keys(b.jar)) {
		cookies = append(cookies, name+"="+b.jar[name])
	}
	id := fmt.Sprintf("gw-%d", requestSeq.Add(1))
	return events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       method + " " + path,
		RawPath:        path,
		RawQueryString: rawQuery,
		Cookies:        cookies,
		Headers:        h,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:   method + " " + path,
			Stage:      "$default",
			RequestID:  id,
			DomainName: appHost,
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: method, Path: path, Protocol: "HTTP/1.1", SourceIP: "203.0.113.7", UserAgent: "auth-test",
			},
		},
	}
}

// send delivers an event and keeps the cookies the response sets.
func (b *browser) send(ev events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	b.app.t.Helper()
	resp, err := b.app.h.Route(context.Background(), ev)
	if err != nil {
		b.app.t.Fatalf("%s %s: error %v; want nil (errors are responses)", ev.RequestContext.HTTP.Method, ev.RawPath, err)
	}
	for _, line := range resp.Cookies {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			b.app.t.Fatalf("%s: bad Set-Cookie %q: %v", ev.RawPath, line, err)
		}
		if c.MaxAge < 0 {
			delete(b.jar, c.Name)
		} else {
			b.jar[c.Name] = c.Value
		}
	}
	return resp
}

func (b *browser) get(target string) events.APIGatewayV2HTTPResponse {
	b.app.t.Helper()
	return b.send(b.event("GET", target, nil))
}

// logout posts from the app's own page unless headers say otherwise.
func (b *browser) logout(headers map[string]string) events.APIGatewayV2HTTPResponse {
	b.app.t.Helper()
	h := map[string]string{"origin": b.app.origin(), "sec-fetch-site": "same-origin"}
	for k, v := range headers {
		h[k] = v
	}
	return b.send(b.event("POST", "/auth/logout", h))
}

// login starts a sign-in and returns the provider's authorize URL.
func (b *browser) login(returnTo string) *url.URL {
	b.app.t.Helper()
	target := "/auth/login"
	if returnTo != "" {
		target += "?return_to=" + url.QueryEscape(returnTo)
	}
	resp := b.get(target)
	if resp.StatusCode != 302 {
		b.app.t.Fatalf("GET %s = %d %s; want 302", target, resp.StatusCode, resp.Body)
	}
	u, err := url.Parse(resp.Headers["Location"])
	if err != nil {
		b.app.t.Fatalf("login Location %q: %v", resp.Headers["Location"], err)
	}
	return u
}

// authorize signs the demo user in at the provider and returns the
// callback target ("/auth/callback?code=...&state=...").
func (b *browser) authorize(authorizeURL *url.URL) string {
	b.app.t.Helper()
	back, err := devprovider.Authorize(context.Background(), nil, authorizeURL.String(), devprovider.DemoUser.Username, devprovider.DemoUser.Password)
	if err != nil {
		b.app.t.Fatalf("devprovider.Authorize: %v", err)
	}
	if got, want := back.Scheme+"://"+back.Host+back.Path, b.app.origin()+"/auth/callback"; got != want {
		b.app.t.Fatalf("provider redirected to %s; want %s", got, want)
	}
	return back.Path + "?" + back.RawQuery
}

// signIn runs the whole flow and returns the callback response.
func (b *browser) signIn(returnTo string) events.APIGatewayV2HTTPResponse {
	b.app.t.Helper()
	resp := b.get(b.authorize(b.login(returnTo)))
	if resp.StatusCode != 302 {
		b.app.t.Fatalf("callback = %d %s; want 302\nlogs:\n%s", resp.StatusCode, resp.Body, b.app.logs)
	}
	return resp
}

func (b *browser) sessionID() string {
	return b.jar[sessionCookie(b.app.scheme == "https")]
}

func sessionCookie(https bool) string {
	if https {
		return "__Host-session"
	}
	return "session"
}

func bindingCookie(https bool) string {
	if https {
		return "__Host-signin_binding"
	}
	return "signin_binding"
}

// wantCookie is the exact Set-Cookie line for one of our cookies; value ""
// with maxAge 0 is the clearing line.
func wantCookie(name, value string, maxAge time.Duration, https bool) string {
	secure := ""
	if https {
		secure = "; Secure"
	}
	return fmt.Sprintf("%s=%s; Path=/; Max-Age=%d; HttpOnly%s; SameSite=Lax", name, value, int(maxAge.Seconds()), secure)
}

// checkResponse asserts status, body and the headers every response has.
func checkResponse(t *testing.T, what string, resp events.APIGatewayV2HTTPResponse, status int, body string) {
	t.Helper()
	if resp.StatusCode != status || resp.Body != body {
		t.Errorf("%s = %d %s; want %d %s", what, resp.StatusCode, resp.Body, status, body)
	}
	want := map[string]string{
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
	}
	if body != "" {
		want["Content-Type"] = "application/json"
	}
	for k, v := range want {
		if got := resp.Headers[k]; got != v {
			t.Errorf("%s: header %s = %q; want %q", what, k, got, v)
		}
	}
	if body != "" && !json.Valid([]byte(resp.Body)) {
		t.Errorf("%s: body %q is not JSON", what, resp.Body)
	}
}

func checkCookies(t *testing.T, what string, resp events.APIGatewayV2HTTPResponse, want ...string) {
	t.Helper()
	if !slices.Equal(resp.Cookies, want) {
		t.Errorf("%s: Set-Cookie = %q; want %q", what, resp.Cookies, want)
	}
}
