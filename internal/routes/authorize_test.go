package routes_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-signin/signin/internal/emf"
	"github.com/serverless-signin/signin/pkg/session"
	"github.com/serverless-signin/signin/pkg/signin"
	"github.com/serverless-signin/signin/pkg/store"
)

// authorizerEvent is the event the HTTP API sends its Lambda authorizer
// (payload 2.0) for a request of this browser: the route's request, with the
// Cookie header also as the identity source and in the headers.
func (b *browser) authorizerEvent(method, target string, headers map[string]string) events.APIGatewayV2CustomAuthorizerV2Request {
	ev := b.event(method, target, headers)
	ev.Headers = maps.Clone(ev.Headers)
	var identity []string
	if len(ev.Cookies) > 0 {
		line := strings.Join(ev.Cookies, "; ")
		ev.Headers["cookie"] = line
		identity = []string{line}
	}
	return events.APIGatewayV2CustomAuthorizerV2Request{
		Version:        "2.0",
		Type:           "REQUEST",
		RouteArn:       "arn:aws:execute-api:us-east-1:123456789012:abc123defg/$default/" + method + ev.RawPath,
		IdentitySource: identity,
		RouteKey:       ev.RouteKey,
		RawPath:        ev.RawPath,
		RawQueryString: ev.RawQueryString,
		Cookies:        ev.Cookies,
		Headers:        ev.Headers,
		RequestContext: ev.RequestContext,
	}
}

// askAuthorizer asks the authorizer about a request of this browser and
// returns its answer and the one log line it wrote.
func (b *browser) askAuthorizer(method, target string, headers map[string]string) (events.APIGatewayV2CustomAuthorizerSimpleResponse, map[string]any, error) {
	b.app.t.Helper()
	before := len(b.app.logs.String())
	resp, err := b.app.h.Authorize(context.Background(), b.authorizerEvent(method, target, headers))
	var mine []map[string]any
	for line := range strings.Lines(b.app.logs.String()[before:]) {
		var l map[string]any
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			b.app.t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		if l["route"] == "authorizer" {
			mine = append(mine, l)
		}
	}
	if len(mine) != 1 {
		b.app.t.Fatalf("authorizer wrote %d log lines; want exactly one\n%s", len(mine), b.app.logs)
	}
	return resp, mine[0], err
}

// checkDecisionLog checks the authorizer's line: request id, route,
// route key, decision, reason, and the EMF document on refusals only.
func checkDecisionLog(t *testing.T, line map[string]any, routeKey, decision, reason string) {
	t.Helper()
	if id, _ := line["request_id"].(string); !strings.HasPrefix(id, "gw-") {
		t.Errorf("log request_id = %v; want the gateway's request id", line["request_id"])
	}
	if line["msg"] != "request" || line["route"] != "authorizer" || line["route_key"] != routeKey || line["decision"] != decision || line["reason"] != reason {
		t.Errorf("log line = %v; want msg request, route authorizer, route_key %q, decision %q, reason %q", line, routeKey, decision, reason)
	}
	_, hasEMF := line["_aws"]
	if refusal := decision == "deny"; hasEMF != refusal || (refusal && line[string(emf.AuthorizerRefusals)] != float64(1)) {
		t.Errorf("log line = %v; want an AuthorizerRefusals EMF document exactly on refusals", line)
	}
}

// checkNoSecrets fails when the logs carry a cookie value.
func checkNoSecrets(t *testing.T, a *app, values ...string) {
	t.Helper()
	out := a.logs.String()
	for _, v := range values {
		if v != "" && strings.Contains(out, v) {
			t.Errorf("logs contain the cookie value %q:\n%s", v, out)
		}
	}
}

// A live session is allowed with exactly the contract's context
// (docs/contract.md §2), for one GetItem.
func TestAuthorizeAllowed(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		for _, https := range []bool{true, false} {
			t.Run(map[bool]string{true: "https", false: "http"}[https], func(t *testing.T) {
				a := newApp(t, setup{kind: k, http: !https})
				b := a.browser()
				b.signIn("")
				b.jar["theme"] = "dark" // other cookies do not matter
				id := b.sessionID()
				sess, err := a.session(id)
				if err != nil {
					t.Fatal(err)
				}
				a.store.Take()
				if a.db != nil {
					a.db.Take()
				}

				resp, line, err := b.askAuthorizer("GET", "/api/profile", map[string]string{"sec-fetch-site": "same-origin"})
				if err != nil || !resp.IsAuthorized {
					t.Fatalf("Authorize = %+v, %v; want allowed", resp, err)
				}
				want := map[string]any{
					"sub":        "demo-user-0001",
					"email":      "demo@example.com",
					"name":       "Demo User",
					"iss":        a.provider.Issuer(),
					"session":    store.Hash(id),
					"expires_at": sess.ExpiresAt.Unix(),
				}
				if !maps.Equal(resp.Context, want) {
					t.Errorf("context = %#v; want %#v", resp.Context, want)
				}
				if calls := a.store.Take(); !maps.Equal(calls, map[string]int{"GetSession": 1}) {
					t.Errorf("store calls = %v; want one GetSession", calls)
				}
				if a.db != nil {
					if calls := a.db.Take(); !maps.Equal(calls, map[string]int{"GetItem": 1}) {
						t.Errorf("DynamoDB calls = %v; want one GetItem", calls)
					}
				}
				checkDecisionLog(t, line, "GET /api/profile", "allow", "live_session")
				checkNoSecrets(t, a, id)
			})
		}
	})
}

// Unknown email and name are "" in the context, never absent or null.
func TestAuthorizeUnknownFields(t *testing.T) {
	a := newApp(t, setup{})
	id := session.NewToken()
	now := a.clock.Now()
	exp := now.Add(time.Hour)
	if err := a.store.CreateSession(context.Background(),
		store.Session{Key: store.Hash(id), User: signin.User{Subject: "u1"}, Issuer: "https://issuer.example", CreatedAt: now, ExpiresAt: exp},
		store.Tokens{ExpiresAt: exp}); err != nil {
		t.Fatal(err)
	}
	b := a.browser()
	b.jar[sessionCookie(true)] = id
	resp, _, err := b.askAuthorizer("GET", "/api/x", nil)
	want := map[string]any{"sub": "u1", "email": "", "name": "", "iss": "https://issuer.example", "session": store.Hash(id), "expires_at": exp.Unix()}
	if err != nil || !resp.IsAuthorized || !maps.Equal(resp.Context, want) {
		t.Errorf("Authorize = %+v, %v; want allowed with %v", resp, err, want)
	}
}

// Each way of naming no live session is a refusal (never an error), with
// at most the one GetItem, and a log line naming why without the cookie.
func TestAuthorizeRefused(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(a *app, b *browser)
		reads   int // GetSession calls
		idle    time.Duration
	}{
		{"no cookie at all", func(a *app, b *browser) {}, 0, 0},
		{"no session cookie among other cookies", func(a *app, b *browser) {
			b.jar["theme"] = "dark"
			b.jar[bindingCookie(a.scheme == "https")] = session.NewToken()
		}, 0, 0},
		{"other scheme's cookie name", func(a *app, b *browser) {
			b.signIn("")
			https := a.scheme == "https"
			b.jar[sessionCookie(!https)] = b.jar[sessionCookie(https)]
			delete(b.jar, sessionCookie(https))
		}, 0, 0},
		{"malformed", func(a *app, b *browser) {
			b.jar[sessionCookie(a.scheme == "https")] = "%7B%22id%22%3A%22admin%22%7D"
		}, 0, 0},
		{"empty", func(a *app, b *browser) { b.jar[sessionCookie(a.scheme == "https")] = "" }, 0, 0},
		{"unknown", func(a *app, b *browser) { b.jar[sessionCookie(a.scheme == "https")] = session.NewToken() }, 1, 0},
		{"expired", func(a *app, b *browser) {
			b.signIn("")
			a.clock.Advance(7*24*time.Hour + time.Second)
		}, 1, 0},
		{"idle-expired", func(a *app, b *browser) {
			b.signIn("")
			a.clock.Advance(30*time.Minute + time.Second)
		}, 1, 30 * time.Minute},
		{"signed out", func(a *app, b *browser) {
			b.signIn("")
			id := b.sessionID()
			b.logout(nil)
			b.jar[sessionCookie(a.scheme == "https")] = id
		}, 1, 0},
		{"signed out everywhere", func(a *app, b *browser) {
			b.signIn("")
			other := a.browser()
			other.signIn("")
			other.logout(nil) // a plain logout of the other browser leaves this one signed in
			if resp, _, err := b.askAuthorizer("GET", "/api/profile", nil); err != nil || !resp.IsAuthorized {
				a.t.Fatalf("before sign out everywhere: Authorize = %+v, %v; want allowed", resp, err)
			}
			another := a.browser()
			another.signIn("")
			if resp := another.send(another.event("POST", "/auth/logout?everywhere=1", map[string]string{"origin": a.origin()})); resp.StatusCode != 302 {
				a.t.Fatalf("logout?everywhere=1 = %d %s; want 302", resp.StatusCode, resp.Body)
			}
		}, 1, 0},
	}
	forEachStore(t, func(t *testing.T, k storeKind) {
		for _, https := range []bool{true, false} {
			for _, tt := range tests {
				t.Run(map[bool]string{true: "https", false: "http"}[https]+"/"+tt.name, func(t *testing.T) {
					a := newApp(t, setup{kind: k, http: !https, opts: options{IdleTimeout: tt.idle}})
					b := a.browser()
					tt.prepare(a, b)
					cookie := b.jar[sessionCookie(https)]
					a.store.Take()

					resp, line, err := b.askAuthorizer("POST", "/api/items", map[string]string{"origin": a.origin(), "sec-fetch-site": "same-origin"})
					if err != nil || resp.IsAuthorized || resp.Context != nil {
						t.Errorf("Authorize = %+v, %v; want refused without context or error", resp, err)
					}
					if calls := a.store.Take(); calls["GetSession"] != tt.reads || total(calls) != tt.reads {
						t.Errorf("store calls = %v; want %d GetSession and nothing else", calls, tt.reads)
					}
					checkDecisionLog(t, line, "POST /api/items", "deny", emf.ReasonNoSession)
					checkNoSecrets(t, a, cookie)
				})
			}
		}
	})
}

// The cross-site rule (docs/contract.md §6.6) over every method, Origin and
// Sec-Fetch-Site, with and without APP_ORIGIN: GET, HEAD and OPTIONS are
// never refused for it; any other method is refused when Origin is present
// and not the app's, is "null", or Sec-Fetch-Site is cross-site, even with
// a live session, and the refusal costs no store read.
func TestAuthorizeCrossSite(t *testing.T) {
	const configured = "https://www.example.com"
	methods := []string{"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"}
	origins := []struct{ name, value string }{
		{"no origin", ""},
		{"own origin", "https://" + appHost},
		{"own origin, default port", "https://" + appHost + ":443"},
		{"foreign origin", "https://evil.example"},
		{"http origin on https", "http://" + appHost},
		{"sibling subdomain", "https://evil." + appHost},
		{"null origin", "null"},
		{"APP_ORIGIN", configured},
	}
	fetchSites := []string{"", "same-origin", "same-site", "none", "cross-site", "Cross-Site"}
	forEachStore(t, func(t *testing.T, k storeKind) {
		for _, appOrigin := range []string{"", configured} {
			t.Run("APP_ORIGIN="+appOrigin, func(t *testing.T) {
				a := newApp(t, setup{kind: k, opts: options{AppOrigin: appOrigin}})
				b := a.browser()
				b.signIn("")
				app := appOrigin
				if app == "" {
					app = "https://" + appHost
				}
				for _, m := range methods {
					for _, o := range origins {
						for _, sfs := range fetchSites {
							name := fmt.Sprintf("%s/%s/sec-fetch-site=%q", m, o.name, sfs)
							safe := m == "GET" || m == "HEAD" || m == "OPTIONS"
							sameApp := o.value == "" || o.value == app || (app == "https://"+appHost && o.value == "https://"+appHost+":443")
							crossSite := strings.EqualFold(sfs, "cross-site") || !sameApp
							wantAllowed := safe || !crossSite

							a.store.Take()
							resp, line, err := b.askAuthorizer(m, "/api/items", map[string]string{"origin": o.value, "sec-fetch-site": sfs})
							if err != nil || resp.IsAuthorized != wantAllowed {
								t.Errorf("%s: Authorize = %v, %v; want allowed %v", name, resp.IsAuthorized, err, wantAllowed)
								continue
							}
							reads := 1
							if !wantAllowed {
								reads = 0
								checkDecisionLog(t, line, m+" /api/items", "deny", emf.ReasonCrossSite)
							}
							if calls := a.store.Take(); total(calls) != reads {
								t.Errorf("%s: store calls = %v; want %d", name, calls, reads)
							}
						}
					}
				}
				checkNoSecrets(t, a, b.sessionID())
			})
		}
	})
}

// The cookie is read from the Cookie header when the event has no cookies
// array, as /auth/me reads it.
func TestAuthorizeCookieHeader(t *testing.T) {
	a := newApp(t, setup{})
	b := a.browser()
	b.signIn("")
	ev := b.authorizerEvent("GET", "/api/profile", nil)
	ev.Cookies = nil
	resp, err := a.h.Authorize(context.Background(), ev)
	if err != nil || !resp.IsAuthorized || resp.Context["session"] != store.Hash(b.sessionID()) {
		t.Errorf("Authorize(Cookie header only) = %+v, %v; want allowed", resp, err)
	}
}

// With an idle timeout the authorizer moves the idle expiry as /auth/me
// does: at most one UpdateItem every few minutes, never on most requests.
func TestAuthorizeIdleTimeout(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		a := newApp(t, setup{kind: k, opts: options{IdleTimeout: 30 * time.Minute}})
		b := a.browser()
		b.signIn("")
		steps := []struct {
			after   time.Duration
			allowed bool
			touches int
		}{
			{time.Minute, true, 0},
			{4*time.Minute + time.Second, true, 1}, // more than 5m since the last move
			{29 * time.Minute, true, 1},            // 1m left: moved again
			{30*time.Minute + time.Second, false, 0},
		}
		for i, s := range steps {
			a.clock.Advance(s.after)
			a.store.Take()
			resp, _, err := b.askAuthorizer("GET", "/api/profile", nil)
			calls := a.store.Take()
			if err != nil || resp.IsAuthorized != s.allowed || calls["TouchSession"] != s.touches || calls["GetSession"] != 1 {
				t.Errorf("step %d: Authorize = %v, %v, store calls %v; want allowed %v with %d TouchSession and one GetSession",
					i, resp.IsAuthorized, err, calls, s.allowed, s.touches)
			}
		}
	})
}

// A storage failure is an error (the gateway answers 5xx), never a refusal
// that would read as "signed out".
func TestAuthorizeStoreUnavailable(t *testing.T) {
	a := newApp(t, setup{kind: unreachable})
	b := a.browser()
	id := session.NewToken()
	b.jar[sessionCookie(true)] = id
	resp, line, err := b.askAuthorizer("GET", "/api/profile", nil)
	if err == nil || !errors.Is(err, store.ErrUnavailable) || resp.IsAuthorized {
		t.Errorf("Authorize with DynamoDB down = %+v, %v; want an error wrapping store.ErrUnavailable", resp, err)
	}
	if err != nil && strings.Contains(err.Error(), id) {
		t.Errorf("error %q carries the cookie value", err)
	}
	if calls := a.db.Take(); calls["GetItem"] == 0 {
		t.Errorf("DynamoDB calls = %v; want the GetItem attempted", calls)
	}
	checkDecisionLog(t, line, "GET /api/profile", "error", emf.ReasonStorage)
	checkNoSecrets(t, a, id)
}

// panickingStore fails every session read with a panic.
type panickingStore struct{ store.Store }

func (panickingStore) GetSession(context.Context, string) (store.Session, error) {
	panic("boom")
}

// A panic becomes an error for the gateway (5xx) and one log line, like
// the routes' 500s.
func TestAuthorizePanic(t *testing.T) {
	a := newApp(t, setup{store: func(s store.Store) store.Store { return panickingStore{s} }})
	b := a.browser()
	b.jar[sessionCookie(true)] = session.NewToken()
	resp, line, err := b.askAuthorizer("GET", "/api/profile", nil)
	if err == nil || resp.IsAuthorized {
		t.Errorf("Authorize with a panicking store = %+v, %v; want an error", resp, err)
	}
	checkDecisionLog(t, line, "GET /api/profile", "error", emf.ReasonInternal)
	if line["detail"] != "panic" {
		t.Errorf("log detail = %v; want panic", line["detail"])
	}
}

// Every decision's line is an EMF document only on refusals; the metric's
// dimensions are keys on the line.
func TestAuthorizeRefusalMetric(t *testing.T) {
	a := newApp(t, setup{})
	b := a.browser()
	b.jar["theme"] = "dark"
	_, line, _ := b.askAuthorizer("DELETE", "/api/items/1", map[string]string{"origin": "https://evil.example"})
	doc, _ := line["_aws"].(map[string]any)
	directives, _ := doc["CloudWatchMetrics"].([]any)
	if len(directives) != 1 {
		t.Fatalf("_aws = %v; want one metric directive", line["_aws"])
	}
	d, _ := directives[0].(map[string]any)
	if d["Namespace"] != emf.Namespace {
		t.Errorf("Namespace = %v; want %s", d["Namespace"], emf.Namespace)
	}
	dims, _ := d["Dimensions"].([]any)
	for _, set := range dims {
		for _, key := range set.([]any) {
			if _, ok := line[key.(string)]; !ok {
				t.Errorf("dimension %v is not on the line %v", key, line)
			}
		}
	}
	if !slices.ContainsFunc(dims, func(set any) bool { return len(set.([]any)) == 2 }) {
		t.Errorf("Dimensions = %v; want route and route+reason", dims)
	}
}
