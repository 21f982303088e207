package routes_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-signin/signin/internal/devprovider"
	"github.com/serverless-signin/signin/pkg/oauth"
	"github.com/serverless-signin/signin/pkg/signin"
	"github.com/serverless-signin/signin/pkg/store"
)

const (
	invalidCallback = `{"error":"Invalid OAuth callback"}`
	signInFailed    = `{"error":"OAuth sign-in failed"}`
)

func TestSignIn(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		for _, https := range []bool{true, false} {
			a := newApp(t, setup{kind: k, http: !https})
			b := a.browser()
			resp := b.signIn("/app/x?y=1")
			checkResponse(t, "callback", resp, 302, "")
			if got := resp.Headers["Location"]; got != "/app/x?y=1" {
				t.Errorf("callback Location = %q; want /app/x?y=1", got)
			}
			id := b.sessionID()
			if len(id) != 43 {
				t.Fatalf("session cookie %q: want 43 base64url characters", id)
			}
			// Only the session cookie: the binding stays for any other
			// pending sign-in of this browser (docs/contract.md §6.8).
			checkCookies(t, "callback", resp, wantCookie(sessionCookie(https), id, 7*24*time.Hour, https))
			if _, ok := b.jar[bindingCookie(https)]; !ok {
				t.Errorf("binding cookie cleared by the sign-in; want it left to expire")
			}

			sess, err := a.session(id)
			if err != nil {
				t.Fatalf("GetSession(new session) = %v", err)
			}
			wantUser := signin.User{Subject: "demo-user-0001", Email: "demo@example.com", Name: "Demo User"}
			if sess.User != wantUser || sess.Issuer != a.provider.Issuer() || !sess.IdleExpiresAt.IsZero() {
				t.Errorf("session = %+v; want user %+v, issuer %s, no idle expiry", sess, wantUser, a.provider.Issuer())
			}
			if want := a.clock.Now().Add(7 * 24 * time.Hour); sess.ExpiresAt.After(want) || sess.ExpiresAt.Before(want.Add(-time.Second)) {
				t.Errorf("session ExpiresAt = %v; want %v", sess.ExpiresAt, want)
			}
			tok, err := a.store.GetTokens(context.Background(), store.Hash(id))
			if err != nil {
				t.Fatalf("GetTokens(new session) = %v", err)
			}
			if tok.AccessToken == "" || tok.IDToken == "" || tok.Version != 1 || !tok.ExpiresAt.Equal(sess.ExpiresAt) || tok.Expiry.IsZero() {
				t.Errorf("tokens = version %d, access %t, id token %t, expires %v, access expiry %v; want version 1, both tokens, the session's expiry, an access expiry",
					tok.Version, tok.AccessToken != "", tok.IDToken != "", tok.ExpiresAt, tok.Expiry)
			}

			resp = b.get("/auth/me")
			checkResponse(t, "me", resp, 200, `{"authenticated":true,"user":{"id":"demo-user-0001","email":"demo@example.com","name":"Demo User"}}`)
		}
	})
}

// Every malformed callback is refused, and the real state survives the
// attempt whenever the request never reached the store (or reached it with
// the wrong browser).
func TestCallbackInvalid(t *testing.T) {
	tests := []struct {
		name string
		// event turns the genuine callback (code, state, this browser) into
		// the request under test.
		event func(b *browser, code, state string) events.APIGatewayV2HTTPRequest
		// storeCalls is how many store calls the refusal may cost.
		storeCalls int
	}{
		{"no query", target("/auth/callback"), 0},
		{"missing state", target("/auth/callback?code=%[1]s"), 0},
		{"empty state", target("/auth/callback?code=%[1]s&state="), 0},
		{"missing code", target("/auth/callback?state=%[2]s"), 0},
		{"empty code", target("/auth/callback?code=&state=%[2]s"), 0},
		{"duplicate state", target("/auth/callback?code=%[1]s&state=%[2]s&state=%[2]s"), 0},
		{"two states", target("/auth/callback?code=%[1]s&state=%[2]s&state=other"), 0},
		{"duplicate code", target("/auth/callback?code=%[1]s&code=%[1]s&state=%[2]s"), 0},
		{"duplicate through encoding", target("/auth/callback?code=%[1]s&state=%[2]s&st%%61te=%[2]s"), 0},
		{"bad percent-encoding", target("/auth/callback?code=%[1]s&state=%[2]s%%zz"), 0},
		{"bad percent-encoding elsewhere", target("/auth/callback?code=%[1]s&state=%[2]s&x=%%G1"), 0},
		{"truncated percent-encoding", target("/auth/callback?code=%[1]s&state=%[2]s%%"), 0},
		{"semicolon separator", target("/auth/callback?code=%[1]s;state=%[2]s"), 0},
		{"duplicate iss", target("/auth/callback?code=%[1]s&state=%[2]s&iss=x&iss=x"), 0},
		{"no binding cookie", func(b *browser, code, state string) events.APIGatewayV2HTTPRequest {
			ev := target("/auth/callback?code=%[1]s&state=%[2]s")(b, code, state)
			ev.Cookies = nil
			return ev
		}, 0},
		{"malformed binding cookie", func(b *browser, code, state string) events.APIGatewayV2HTTPRequest {
			ev := target("/auth/callback?code=%[1]s&state=%[2]s")(b, code, state)
			ev.Cookies = []string{bindingCookie(true) + "=forged"}
			return ev
		}, 0},
		{"http binding cookie on https", func(b *browser, code, state string) events.APIGatewayV2HTTPRequest {
			ev := target("/auth/callback?code=%[1]s&state=%[2]s")(b, code, state)
			ev.Cookies = []string{bindingCookie(false) + "=" + b.jar[bindingCookie(true)]}
			return ev
		}, 0},
		{"another browser's binding", func(b *browser, code, state string) events.APIGatewayV2HTTPRequest {
			ev := target("/auth/callback?code=%[1]s&state=%[2]s")(b, code, state)
			ev.Cookies = []string{bindingCookie(true) + "=" + strings.Repeat("A", 43)}
			return ev
		}, 1},
		{"unknown state", target("/auth/callback?code=%[1]s&state=unknown-state"), 1},
		{"fallback parameters joined by API Gateway", func(b *browser, code, state string) events.APIGatewayV2HTTPRequest {
			ev := b.event("GET", "/auth/callback", nil)
			ev.QueryStringParameters = map[string]string{"code": code, "state": state + "," + state}
			return ev
		}, 0},
		{"fallback code joined by API Gateway", func(b *browser, code, state string) events.APIGatewayV2HTTPRequest {
			ev := b.event("GET", "/auth/callback", nil)
			ev.QueryStringParameters = map[string]string{"code": code + ",x", "state": state}
			return ev
		}, 0},
		{"fallback iss joined by API Gateway", func(b *browser, code, state string) events.APIGatewayV2HTTPRequest {
			ev := b.event("GET", "/auth/callback", nil)
			iss := b.app.provider.Issuer()
			ev.QueryStringParameters = map[string]string{"code": code, "state": state, "iss": iss + "," + iss}
			return ev
		}, 0},
	}
	forEachStore(t, func(t *testing.T, k storeKind) {
		a := newApp(t, setup{kind: k})
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				b := a.browser()
				genuine := b.authorize(b.login("/after"))
				q := mustQuery(t, genuine)
				a.store.Take()
				before := a.provider.Calls("/oauth/token")

				resp, _ := a.h.Callback(context.Background(), tt.event(b, q.Get("code"), q.Get("state")))
				checkResponse(t, tt.name, resp, 400, invalidCallback)
				checkCookies(t, tt.name, resp)
				if calls := a.store.Take(); total(calls) != tt.storeCalls {
					t.Errorf("store calls = %v; want %d", calls, tt.storeCalls)
				}
				if got := a.provider.Calls("/oauth/token"); got != before {
					t.Errorf("token endpoint called %d times; want none", got-before)
				}
				// The genuine callback still works: nothing consumed the state.
				if resp := b.get(genuine); resp.StatusCode != 302 || resp.Headers["Location"] != "/after" {
					t.Errorf("genuine callback after %s = %d %s; want 302 to /after", tt.name, resp.StatusCode, resp.Body)
				}
			})
		}
	})
}

// RFC 9207: a callback that carries iss must name the configured issuer
// (a trailing slash aside). A mismatch is a failed sign-in after the state
// is consumed: no code exchange, no session, no provider error echoed.
// Without iss (providers that do not send it) nothing changes.
func TestCallbackIssuer(t *testing.T) {
	tests := []struct {
		name          string
		iss           func(issuer string) string // the iss to add; nil: none
		providerError bool                       // an error response instead of a code
		ok            bool
	}{
		{name: "absent", ok: true},
		{name: "the issuer", iss: func(i string) string { return i }, ok: true},
		{name: "with a trailing slash", iss: func(i string) string { return i + "/" }, ok: true},
		{name: "empty", iss: func(string) string { return "" }},
		{name: "another issuer", iss: func(string) string { return "https://evil.example" }},
		{name: "two trailing slashes", iss: func(i string) string { return i + "//" }},
		{name: "a path added", iss: func(i string) string { return i + "/oidc" }},
		{name: "another case", iss: func(i string) string { return strings.ToUpper(i) }},
		{name: "a suffix", iss: func(i string) string { return i + ".evil.example" }},
		{name: "provider error from another issuer", iss: func(string) string { return "https://evil.example" }, providerError: true},
	}
	forEachStore(t, func(t *testing.T, k storeKind) {
		a := newApp(t, setup{kind: k})
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				b := a.browser()
				callback := b.authorize(b.login("/after"))
				if tt.providerError {
					callback = "/auth/callback?error=access_denied&state=" + url.QueryEscape(mustQuery(t, callback).Get("state"))
				}
				if tt.iss != nil {
					callback += "&iss=" + url.QueryEscape(tt.iss(a.provider.Issuer()))
				}
				a.store.Take()
				exchanges := a.provider.Calls("/oauth/token")

				resp := b.get(callback)
				calls := a.store.Take()
				if tt.ok {
					checkResponse(t, "callback", resp, 302, "")
					if resp.Headers["Location"] != "/after" || calls["CreateSession"] != 1 {
						t.Errorf("callback = Location %q, store calls %v; want /after and a session", resp.Headers["Location"], calls)
					}
					return
				}
				checkResponse(t, "callback", resp, 500, signInFailed)
				checkCookies(t, "callback", resp)
				if calls["ConsumeState"] != 1 || calls["CreateSession"] != 0 {
					t.Errorf("store calls = %v; want one ConsumeState and no CreateSession", calls)
				}
				if got := a.provider.Calls("/oauth/token") - exchanges; got != 0 {
					t.Errorf("token endpoint calls = %d; want none", got)
				}
				// The state is spent: the genuine callback cannot follow.
				checkResponse(t, "the state again", b.get(callback), 400, invalidCallback)
				if !strings.Contains(a.logs.String(), `"detail":"iss mismatch"`) {
					t.Errorf("logs do not say why the sign-in failed:\n%s", a.logs)
				}
			})
		}
	})
}

// target builds the callback event from a format with %[1]s = code and
// %[2]s = state (both query-escaped), sent with the browser's cookies.
func target(format string) func(b *browser, code, state string) events.APIGatewayV2HTTPRequest {
	return func(b *browser, code, state string) events.APIGatewayV2HTTPRequest {
		return b.event("GET", fmt.Sprintf(format, url.QueryEscape(code), url.QueryEscape(state)), nil)
	}
}

func TestCallbackReplay(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		a := newApp(t, setup{kind: k})
		b := a.browser()
		callback := b.authorize(b.login(""))
		binding := b.jar[bindingCookie(true)]
		if resp := b.get(callback); resp.StatusCode != 302 {
			t.Fatalf("first callback = %d %s; want 302", resp.StatusCode, resp.Body)
		}
		signedIn := b.sessionID()

		// The same browser replays it with its binding cookie restored.
		b.jar[bindingCookie(true)] = binding
		a.store.Take()
		resp := b.get(callback)
		checkResponse(t, "replayed callback", resp, 400, invalidCallback)
		checkCookies(t, "replayed callback", resp)
		if calls := a.store.Take(); calls["ConsumeState"] != 1 || calls["CreateSession"] != 0 {
			t.Errorf("replay store calls = %v; want one ConsumeState and no CreateSession", calls)
		}
		if b.sessionID() != signedIn {
			t.Errorf("session cookie changed by the replay")
		}
		if got := a.provider.Calls("/oauth/token"); got != 1 {
			t.Errorf("token endpoint calls = %d; want 1", got)
		}
	})
}

// Eight concurrent deliveries of one callback: exactly one signs in.
func TestCallbackConcurrent(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		a := newApp(t, setup{kind: k})
		b := a.browser()
		ev := b.event("GET", b.authorize(b.login("")), nil)

		const n = 8
		var wg sync.WaitGroup
		resps := make([]events.APIGatewayV2HTTPResponse, n)
		for i := range n {
			wg.Go(func() { resps[i], _ = a.h.Callback(context.Background(), ev) })
		}
		wg.Wait()

		signedIn := 0
		for i, resp := range resps {
			switch {
			case resp.StatusCode == 302:
				signedIn++
			case resp.StatusCode != 400 || resp.Body != invalidCallback || len(resp.Cookies) != 0:
				t.Errorf("callback %d = %d %s %q; want 302, or 400 %s without cookies", i, resp.StatusCode, resp.Body, resp.Cookies, invalidCallback)
			}
		}
		if signedIn != 1 {
			t.Errorf("%d of %d concurrent callbacks signed in; want exactly 1", signedIn, n)
		}
		if got := a.provider.Calls("/oauth/token"); got != 1 {
			t.Errorf("token endpoint calls = %d; want 1", got)
		}
	})
}

// Login CSRF: an attacker's callback URL, opened in the victim's browser,
// does not sign the victim in as the attacker, and does not burn the state.
func TestCallbackLoginCSRF(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		a := newApp(t, setup{kind: k})
		attacker, victim, fresh := a.browser(), a.browser(), a.browser()
		planted := attacker.authorize(attacker.login("/attacker"))
		victim.login("/victim") // the victim has a binding cookie of its own

		for name, b := range map[string]*browser{"victim with a binding": victim, "browser without binding": fresh} {
			resp := b.get(planted)
			checkResponse(t, name, resp, 400, invalidCallback)
			checkCookies(t, name, resp)
			if resp := b.get("/auth/me"); resp.Body != `{"authenticated":false}` {
				t.Errorf("%s: me = %s; want not signed in", name, resp.Body)
			}
		}
		if resp := attacker.get(planted); resp.StatusCode != 302 || resp.Headers["Location"] != "/attacker" {
			t.Errorf("attacker's own callback = %d %s; want 302 to /attacker (state still usable)", resp.StatusCode, resp.Body)
		}
	})
}

func TestCallbackExpiredState(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		a := newApp(t, setup{kind: k})
		b := a.browser()
		callback := b.authorize(b.login(""))
		a.clock.Advance(10*time.Minute + time.Second)
		resp := b.get(callback)
		checkResponse(t, "callback after 10 minutes", resp, 400, invalidCallback)
		checkCookies(t, "callback after 10 minutes", resp)
	})
}

func TestCallbackProviderError(t *testing.T) {
	tests := []struct {
		name, query, reason string
	}{
		{"access denied", "error=access_denied&error_description=The+user+said+no", "access_denied"},
		{"login required", "error=login_required", "login_required"},
		{"error wins over code", "error=access_denied&code=some-code", "access_denied"},
		{"markup is not reflected", "error=%3Cscript%3Ealert(1)%3C%2Fscript%3E", "invalid_request"},
		{"overlong code is not reflected", "error=" + strings.Repeat("x", 65), "invalid_request"},
		{"spaces are not reflected", "error=access+denied", "invalid_request"},
	}
	forEachStore(t, func(t *testing.T, k storeKind) {
		a := newApp(t, setup{kind: k})
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				b := a.browser()
				state := b.login("").Query().Get("state")
				a.store.Take()
				resp := b.get("/auth/callback?" + tt.query + "&state=" + url.QueryEscape(state))
				checkResponse(t, "callback "+tt.query, resp, 400, `{"error":"OAuth sign-in failed","reason":"`+tt.reason+`"}`)
				checkCookies(t, "callback "+tt.query, resp)
				if calls := a.store.Take(); calls["ConsumeState"] != 1 || calls["CreateSession"] != 0 {
					t.Errorf("store calls = %v; want one ConsumeState, no session", calls)
				}
				// The state is spent.
				resp = b.get("/auth/callback?code=x&state=" + url.QueryEscape(state))
				checkResponse(t, "callback reusing the state", resp, 400, invalidCallback)
				if got := a.provider.Calls("/oauth/token"); got != 0 {
					t.Errorf("token endpoint calls = %d; want 0", got)
				}
			})
		}

		t.Run("unknown state", func(t *testing.T) {
			b := a.browser()
			b.login("")
			resp := b.get("/auth/callback?error=access_denied&state=unknown")
			checkResponse(t, "provider error with unknown state", resp, 400, invalidCallback)
		})
	})
}

// prompt=none without a provider session: the real provider answers
// login_required, which the callback reports.
func TestCallbackPromptNone(t *testing.T) {
	a := newApp(t, setup{oauth: func(c *oauth.Config) { c.Prompt = "none" }})
	b := a.browser()
	back, err := devprovider.Authorize(context.Background(), nil, b.login("").String(), "", "")
	if err != nil {
		t.Fatalf("devprovider.Authorize(prompt=none) = %v", err)
	}
	if got := back.Query().Get("error"); got != "login_required" {
		t.Fatalf("provider redirect %s; want error=login_required", back)
	}
	resp := b.get(back.Path + "?" + back.RawQuery)
	checkResponse(t, "callback login_required", resp, 400, `{"error":"OAuth sign-in failed","reason":"login_required"}`)
}

// A code the provider rejects (here: already redeemed through another
// state) is a 500 with no session.
func TestCallbackExchangeRejected(t *testing.T) {
	a := newApp(t, setup{})
	b := a.browser()
	used := mustQuery(t, b.signInTarget())
	other := a.browser()
	state := other.login("").Query().Get("state")
	a.store.Take()

	resp := other.get("/auth/callback?code=" + url.QueryEscape(used.Get("code")) + "&state=" + url.QueryEscape(state))
	checkResponse(t, "callback with a spent code", resp, 500, signInFailed)
	checkCookies(t, "callback with a spent code", resp)
	if calls := a.store.Take(); calls["CreateSession"] != 0 {
		t.Errorf("store calls = %v; want no CreateSession", calls)
	}
	if _, ok := other.jar[sessionCookie(true)]; ok {
		t.Errorf("session cookie set after a failed exchange")
	}
}

// signInTarget signs in and returns the callback target it used.
func (b *browser) signInTarget() string {
	b.app.t.Helper()
	callback := b.authorize(b.login(""))
	if resp := b.get(callback); resp.StatusCode != 302 {
		b.app.t.Fatalf("callback = %d %s; want 302", resp.StatusCode, resp.Body)
	}
	return callback
}

func TestCallbackStoreUnavailable(t *testing.T) {
	a := newApp(t, setup{kind: unreachable})
	b := a.browser()
	b.jar[bindingCookie(true)] = strings.Repeat("A", 43)
	resp := b.get("/auth/callback?code=c&state=s")
	checkResponse(t, "callback with DynamoDB down", resp, 500, signInFailed)
	checkCookies(t, "callback with DynamoDB down", resp)
}

func mustQuery(t *testing.T, target string) url.Values {
	t.Helper()
	_, raw, _ := strings.Cut(target, "?")
	q, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatalf("ParseQuery(%q) = %v", raw, err)
	}
	return q
}

func total(calls map[string]int) int {
	n := 0
	for _, c := range calls {
		n += c
	}
	return n
}
