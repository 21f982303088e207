package routes_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-signin/signin/internal/devprovider"
	"github.com/serverless-signin/signin/pkg/oauth"
	"github.com/serverless-signin/signin/pkg/session"
	"github.com/serverless-signin/signin/pkg/signin"
	"github.com/serverless-signin/signin/pkg/store"
)

func TestLogout(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		for _, https := range []bool{true, false} {
			a := newApp(t, setup{kind: k, http: !https})
			b := a.browser()
			b.signIn("")
			id := b.sessionID()
			tok, err := a.store.GetTokens(context.Background(), store.Hash(id))
			if err != nil {
				t.Fatal(err)
			}
			revokedBefore := a.provider.Calls("/revoke")

			resp := b.logout(nil)
			checkResponse(t, "logout", resp, 302, "")
			if got := resp.Headers["Location"]; got != "/" {
				t.Errorf("logout Location = %q; want /", got)
			}
			checkCookies(t, "logout", resp, wantCookie(sessionCookie(https), "", 0, https))

			if _, err := a.session(id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetSession after logout = %v; want ErrNotFound", err)
			}
			if _, err := a.store.GetTokens(context.Background(), store.Hash(id)); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetTokens after logout = %v; want ErrNotFound", err)
			}
			if got := a.provider.Calls("/revoke") - revokedBefore; got != 1 {
				t.Errorf("revocation calls = %d; want 1", got)
			}
			// The revoked token no longer works at the provider.
			if tok.RefreshToken == "" {
				if _, err := a.client.UserInfo(context.Background(), tok.AccessToken, "demo-user-0001"); err == nil {
					t.Errorf("userinfo with the revoked access token succeeded; want an error")
				}
			} else if _, err := a.client.Refresh(context.Background(), signin.Token{RefreshToken: tok.RefreshToken}); err == nil {
				t.Errorf("refresh with the revoked refresh token succeeded; want an error")
			}

			checkResponse(t, "me after logout", b.get("/auth/me"), 200, unauthenticated)
			b.jar[sessionCookie(https)] = id
			checkResponse(t, "me with the old cookie", b.get("/auth/me"), 401, unauthenticated)
		}
	})
}

// Cross-site logouts are refused and change nothing; same-origin ones (and
// clients that send no Origin at all) go through.
func TestLogoutCrossSite(t *testing.T) {
	tests := []struct {
		name    string
		headers map[string]string
		allowed bool
	}{
		{"foreign origin", map[string]string{"origin": "https://evil.example"}, false},
		{"null origin", map[string]string{"origin": "null"}, false},
		{"sibling subdomain", map[string]string{"origin": "https://evil." + appHost, "sec-fetch-site": "same-site"}, false},
		{"suffix match", map[string]string{"origin": "https://" + appHost + ".evil.com"}, false},
		{"http origin on https", map[string]string{"origin": "http://" + appHost}, false},
		{"other port", map[string]string{"origin": "https://" + appHost + ":8443"}, false},
		{"empty origin", map[string]string{"origin": " "}, false},
		{"cross-site fetch without origin", map[string]string{"origin": "", "sec-fetch-site": "cross-site"}, false},
		{"cross-site fetch with our origin", map[string]string{"sec-fetch-site": "cross-site"}, false},
		{"same origin", nil, true},
		{"same origin, upper case host", map[string]string{"origin": "https://APP.EXAMPLE.TEST"}, true},
		{"explicit default port", map[string]string{"origin": "https://" + appHost + ":443"}, true},
		{"no origin, no fetch metadata", map[string]string{"origin": "", "sec-fetch-site": ""}, true},
	}
	forEachStore(t, func(t *testing.T, k storeKind) {
		a := newApp(t, setup{kind: k})
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				b := a.browser()
				b.signIn("")
				id := b.sessionID()
				a.store.Take()
				revoked := a.provider.Calls("/revoke")

				resp := b.logout(tt.headers)
				if tt.allowed {
					checkResponse(t, "logout", resp, 302, "")
					if _, err := a.session(id); !errors.Is(err, store.ErrNotFound) {
						t.Errorf("GetSession after logout = %v; want ErrNotFound", err)
					}
					return
				}
				checkResponse(t, "cross-site logout", resp, 403, `{"error":"Forbidden"}`)
				checkCookies(t, "cross-site logout", resp)
				if calls := a.store.Take(); len(calls) != 0 {
					t.Errorf("store calls = %v; want none", calls)
				}
				if got := a.provider.Calls("/revoke"); got != revoked {
					t.Errorf("revocation calls = %d; want none", got-revoked)
				}
				if _, err := a.session(id); err != nil {
					t.Errorf("GetSession after refused logout = %v; want the session live", err)
				}
				checkResponse(t, "me after refused logout", b.get("/auth/me"), 200, demoSignedIn)
			})
		}
	})
}

func TestLogoutAppOrigin(t *testing.T) {
	a := newApp(t, setup{opts: options{AppOrigin: "https://www.example.test"}})
	b := a.browser()
	b.signIn("")
	checkResponse(t, "logout from the API's own origin", b.logout(nil), 403, `{"error":"Forbidden"}`)
	resp := b.logout(map[string]string{"origin": "https://www.example.test", "sec-fetch-site": "same-site"})
	checkResponse(t, "logout from APP_ORIGIN", resp, 302, "")
}

func TestLogoutMethod(t *testing.T) {
	a := newApp(t, setup{})
	b := a.browser()
	b.signIn("")
	resp, _ := a.h.Logout(context.Background(), b.event("GET", "/auth/logout", nil))
	checkResponse(t, "GET logout", resp, 405, `{"error":"Method not allowed"}`)
	if resp.Headers["Allow"] != "POST" {
		t.Errorf("GET logout Allow = %q; want POST", resp.Headers["Allow"])
	}
	checkResponse(t, "me after GET logout", b.get("/auth/me"), 200, demoSignedIn)
}

// Logout without a (usable) session still clears the cookie and redirects.
func TestLogoutIdempotent(t *testing.T) {
	tests := []struct {
		name       string
		cookie     string // "" for none
		storeCalls int
	}{
		{"no cookie", "", 0},
		{"malformed cookie", "garbage", 0},
		{"unknown session", strings.Repeat("A", 43), 1},
	}
	forEachStore(t, func(t *testing.T, k storeKind) {
		a := newApp(t, setup{kind: k})
		for _, tt := range tests {
			b := a.browser()
			if tt.cookie != "" {
				b.jar[sessionCookie(true)] = tt.cookie
			}
			a.store.Take()
			resp := b.logout(nil)
			checkResponse(t, "logout with "+tt.name, resp, 302, "")
			checkCookies(t, "logout with "+tt.name, resp, wantCookie(sessionCookie(true), "", 0, true))
			if calls := a.store.Take(); total(calls) != tt.storeCalls {
				t.Errorf("logout with %s: store calls = %v; want %d", tt.name, calls, tt.storeCalls)
			}
		}
		if got := a.provider.Calls("/revoke"); got != 0 {
			t.Errorf("revocation calls = %d; want 0 without tokens", got)
		}
	})
}

func TestLogoutEndSession(t *testing.T) {
	const postLogout = "https://" + appHost + "/signed-out"
	a := newApp(t, setup{opts: options{PostLogoutRedirectURL: postLogout}})
	a.provider.AllowRedirectURI(devprovider.DefaultClientID, postLogout)
	b := a.browser()
	b.signIn("")
	tok, err := a.store.GetTokens(context.Background(), store.Hash(b.sessionID()))
	if err != nil {
		t.Fatal(err)
	}

	resp := b.logout(nil)
	checkResponse(t, "logout", resp, 302, "")
	checkCookies(t, "logout", resp, wantCookie(sessionCookie(true), "", 0, true))
	loc, err := url.Parse(resp.Headers["Location"])
	if err != nil {
		t.Fatal(err)
	}
	if got, want := loc.Scheme+"://"+loc.Host+loc.Path, a.provider.Issuer()+"/end_session"; got != want {
		t.Errorf("logout Location endpoint = %s; want %s", got, want)
	}
	q := loc.Query()
	if q.Get("id_token_hint") != tok.IDToken || q.Get("post_logout_redirect_uri") != postLogout || q.Get("client_id") != devprovider.DefaultClientID {
		t.Errorf("end-session query = %v; want id_token_hint (the session's ID token), post_logout_redirect_uri %s, client_id %s",
			q, postLogout, devprovider.DefaultClientID)
	}

	// The provider accepts it and sends the browser back.
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r, err := hc.Get(loc.String())
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if got := r.Header.Get("Location"); r.StatusCode/100 != 3 || !strings.HasPrefix(got, postLogout) {
		t.Errorf("provider end-session = %d to %q; want a redirect to %s", r.StatusCode, got, postLogout)
	}

	// Without a session there is no hint, but the redirect stays.
	resp = b.logout(nil)
	loc, _ = url.Parse(resp.Headers["Location"])
	if q := loc.Query(); resp.StatusCode != 302 || q.Has("id_token_hint") || q.Get("post_logout_redirect_uri") != postLogout {
		t.Errorf("logout without session = %d %s; want 302 to the end-session URL without id_token_hint", resp.StatusCode, loc)
	}
}

// A revocation failure is logged; the user is signed out anyway.
func TestLogoutRevocationFails(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/revoke"
	l.Close()
	a := newApp(t, setup{oauth: func(c *oauth.Config) { c.RevokeURL = closed }})
	b := a.browser()
	b.signIn("")
	id := b.sessionID()

	resp := b.logout(nil)
	checkResponse(t, "logout with the provider down", resp, 302, "")
	checkCookies(t, "logout with the provider down", resp, wantCookie(sessionCookie(true), "", 0, true))
	if _, err := a.session(id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSession after logout = %v; want ErrNotFound", err)
	}
	if !strings.Contains(a.logs.String(), `"detail":"revoke`) {
		t.Errorf("logs do not mention the failed revocation:\n%s", a.logs)
	}
}

// A storage outage on logout: not a silent success, but the cookie goes.
func TestLogoutStoreUnavailable(t *testing.T) {
	a := newApp(t, setup{kind: unreachable})
	b := a.browser()
	b.jar[sessionCookie(true)] = strings.Repeat("A", 43)
	resp := b.logout(nil)
	checkResponse(t, "logout with DynamoDB down", resp, 500, `{"error":"Sign-out failed"}`)
	checkCookies(t, "logout with DynamoDB down", resp, wantCookie(sessionCookie(true), "", 0, true))
}

// Two browsers of one user are independent sessions.
func TestTwoBrowsers(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		a := newApp(t, setup{kind: k})
		laptop, phone := a.browser(), a.browser()
		laptop.signIn("")
		phone.signIn("")
		if laptop.sessionID() == phone.sessionID() {
			t.Fatal("two sign-ins share a session id")
		}
		laptopTokens, _ := a.store.GetTokens(context.Background(), store.Hash(laptop.sessionID()))
		phoneTokens, _ := a.store.GetTokens(context.Background(), store.Hash(phone.sessionID()))
		if laptopTokens.AccessToken == phoneTokens.AccessToken {
			t.Error("two sign-ins share an access token")
		}

		checkResponse(t, "laptop logout", laptop.logout(nil), 302, "")
		checkResponse(t, "laptop me", laptop.get("/auth/me"), 200, unauthenticated)
		checkResponse(t, "phone me", phone.get("/auth/me"), 200, demoSignedIn)
		if _, err := a.store.GetTokens(context.Background(), store.Hash(phone.sessionID())); err != nil {
			t.Errorf("phone's tokens after laptop logout: %v; want live", err)
		}
	})
}

// logoutWith posts a same-origin logout with a raw query.
func (b *browser) logoutWith(rawQuery string) events.APIGatewayV2HTTPResponse {
	b.app.t.Helper()
	target := "/auth/logout"
	if rawQuery != "" {
		target += "?" + rawQuery
	}
	return b.send(b.event("POST", target, map[string]string{"origin": b.app.origin(), "sec-fetch-site": "same-origin"}))
}

// POST /auth/logout?everywhere=1 (or true) ends every session of the user;
// any other query is a plain logout that leaves the user's other browsers
// signed in. Another user's session is never touched.
func TestLogoutEverywhere(t *testing.T) {
	tests := []struct {
		query      string
		everywhere bool
	}{
		{"everywhere=1", true},
		{"everywhere=true", true},
		{"everywhere=1&x=y", true},
		{"", false},
		{"everywhere=0", false},
		{"everywhere=false", false},
		{"everywhere=yes", false},
		{"everywhere=TRUE", false},
		{"everywhere", false},
		{"everywhere=1&everywhere=1", false}, // ambiguous: never guessed
		{"everywhere=1%zz", false},
		{"everywhere=1;x=y", false},
	}
	forEachStore(t, func(t *testing.T, k storeKind) {
		a := newApp(t, setup{kind: k})
		for _, tt := range tests {
			t.Run(tt.query, func(t *testing.T) {
				laptop, phone := a.browser(), a.browser()
				laptop.signIn("")
				phone.signIn("")
				laptopID, phoneID := laptop.sessionID(), phone.sessionID()
				sess, err := a.session(laptopID)
				if err != nil {
					t.Fatal(err)
				}
				// Another user of the same provider, signed in too.
				now := a.clock.Now()
				other := store.Session{Key: store.Hash(session.NewToken()), User: signin.User{Subject: "someone-else"}, Issuer: sess.Issuer,
					CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
				if err := a.store.CreateSession(context.Background(), other,
					store.Tokens{Token: signin.Token{AccessToken: "other-access"}, ExpiresAt: now.Add(time.Hour), Version: 1}); err != nil {
					t.Fatal(err)
				}
				revoked := a.provider.Calls("/revoke")

				resp := laptop.logoutWith(tt.query)
				checkResponse(t, "logout?"+tt.query, resp, 302, "")
				checkCookies(t, "logout?"+tt.query, resp, wantCookie(sessionCookie(true), "", 0, true))
				if _, err := a.session(laptopID); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("laptop session after logout = %v; want ErrNotFound", err)
				}

				wantRevoked := 1
				if tt.everywhere {
					wantRevoked = 2
					checkResponse(t, "phone me", phone.get("/auth/me"), 401, unauthenticated)
					if _, err := a.store.GetTokens(context.Background(), store.Hash(phoneID)); !errors.Is(err, store.ErrNotFound) {
						t.Errorf("phone tokens after logout everywhere = %v; want ErrNotFound", err)
					}
				} else {
					checkResponse(t, "phone me", phone.get("/auth/me"), 200, demoSignedIn)
				}
				if got := a.provider.Calls("/revoke") - revoked; got != wantRevoked {
					t.Errorf("revocations = %d; want %d", got, wantRevoked)
				}
				if _, err := a.store.Store.GetSession(context.Background(), other.Key); err != nil {
					t.Errorf("another user's session after logout = %v; want it live", err)
				}
			})
		}

	})
}

// Sign out everywhere needs a session record to name the user. Without one
// (no cookie, a malformed cookie, a record already gone) it answers 401 and
// clears the cookie: never the success redirect, which would tell the user
// that their other devices were signed out. Those stay signed in.
func TestLogoutEverywhereWithoutASession(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		a := newApp(t, setup{kind: k})
		phone := a.browser()
		phone.signIn("")
		gone := a.browser()
		gone.signIn("")
		goneID := gone.sessionID()
		checkResponse(t, "plain logout", gone.logout(nil), 302, "")

		for _, tt := range []struct{ name, cookie string }{
			{"no cookie", ""},
			{"malformed cookie", "garbage"},
			{"unknown session", strings.Repeat("A", 43)},
			{"logged-out session", goneID},
		} {
			t.Run(tt.name, func(t *testing.T) {
				b := a.browser()
				if tt.cookie != "" {
					b.jar[sessionCookie(true)] = tt.cookie
				}
				revoked := a.provider.Calls("/revoke")
				resp := b.logoutWith("everywhere=1")
				checkResponse(t, "logout everywhere with "+tt.name, resp, 401, `{"error":"Sign in again to sign out everywhere"}`)
				checkCookies(t, "logout everywhere with "+tt.name, resp, wantCookie(sessionCookie(true), "", 0, true))
				if got := a.provider.Calls("/revoke") - revoked; got != 0 {
					t.Errorf("revocations = %d; want 0", got)
				}
				checkResponse(t, "phone me", phone.get("/auth/me"), 200, demoSignedIn)
			})
		}
	})
}

// After an idle timeout the browser's session is no longer live, but its
// record still names the user: sign out everywhere ends the user's other
// sessions, the idle-expired ones included (their grants are revoked too).
func TestLogoutEverywhereAfterIdleTimeout(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		a := newApp(t, setup{kind: k, opts: options{IdleTimeout: 30 * time.Minute}})
		laptop, phone, tablet := a.browser(), a.browser(), a.browser()
		laptop.signIn("")
		phone.signIn("")
		tablet.signIn("")
		ids := map[string]string{"laptop": laptop.sessionID(), "phone": phone.sessionID(), "tablet": tablet.sessionID()}
		var wantRevoked []string
		for _, id := range ids {
			tok, err := a.store.GetTokens(context.Background(), store.Hash(id))
			if err != nil {
				t.Fatal(err)
			}
			if tok.RefreshToken == "" {
				t.Fatal("the dev provider issued no refresh token; the test checks its revocation")
			}
			wantRevoked = append(wantRevoked, tok.RefreshToken)
		}

		a.clock.Advance(20 * time.Minute)
		checkResponse(t, "phone me", phone.get("/auth/me"), 200, demoSignedIn) // moves the phone's idle expiry
		a.clock.Advance(15 * time.Minute)
		checkResponse(t, "laptop me after its idle timeout", laptop.send(laptop.event("GET", "/auth/me", nil)), 401, unauthenticated)
		laptop.jar[sessionCookie(true)] = ids["laptop"] // a tab that never called /auth/me still holds it
		revoked := a.provider.Calls("/revoke")

		resp := laptop.logoutWith("everywhere=1")
		checkResponse(t, "logout everywhere after the idle timeout", resp, 302, "")
		checkCookies(t, "logout everywhere after the idle timeout", resp, wantCookie(sessionCookie(true), "", 0, true))
		checkResponse(t, "phone me", phone.get("/auth/me"), 401, unauthenticated)
		for name, id := range ids {
			if _, err := a.store.Store.PeekSession(context.Background(), store.Hash(id)); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s session record after logout everywhere = %v; want deleted", name, err)
			}
		}
		if got := a.provider.Calls("/revoke") - revoked; got != 3 {
			t.Errorf("revocations = %d; want 3 (laptop, phone and the idle-expired tablet)", got)
		}
		for _, rt := range wantRevoked {
			if _, err := a.client.Refresh(context.Background(), signin.Token{RefreshToken: rt}); err == nil {
				t.Errorf("a refresh token of the user still works after sign out everywhere")
			}
		}
	})
}

// When the other sessions cannot be listed, logout everywhere answers the
// route's 500: the user must not believe every device is signed out. This
// browser's session is gone and its cookie cleared all the same.
func TestLogoutEverywhereStoreFails(t *testing.T) {
	a := newApp(t, setup{store: func(s store.Store) store.Store { return sessionKeysDown{s} }})
	laptop, phone := a.browser(), a.browser()
	laptop.signIn("")
	phone.signIn("")
	id := laptop.sessionID()
	revoked := a.provider.Calls("/revoke")

	resp := laptop.logoutWith("everywhere=1")
	checkResponse(t, "logout everywhere with the index down", resp, 500, `{"error":"Sign-out failed"}`)
	checkCookies(t, "logout everywhere with the index down", resp, wantCookie(sessionCookie(true), "", 0, true))
	if _, err := a.session(id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("laptop session = %v; want ErrNotFound", err)
	}
	if got := a.provider.Calls("/revoke") - revoked; got != 1 {
		t.Errorf("revocations = %d; want 1 (this browser's tokens)", got)
	}
	checkResponse(t, "phone me", phone.get("/auth/me"), 200, demoSignedIn)
	if !strings.Contains(a.logs.String(), `"detail":"sign out everywhere"`) {
		t.Errorf("logs do not say why logout failed:\n%s", a.logs)
	}
}

// sessionKeysDown is a store whose user index is unavailable.
type sessionKeysDown struct{ store.Store }

func (sessionKeysDown) SessionKeys(context.Context, string, string) ([]string, error) {
	return nil, fmt.Errorf("store: session keys: %w", store.ErrUnavailable)
}

// Without X-Forwarded-Proto the app's scheme is unknown (local gateways may
// omit it): an Origin with our host and port is ours under either scheme,
// any other host still is not. With the header, the scheme must match.
func TestLogoutOriginWithoutForwardedProto(t *testing.T) {
	h := newHandler(nil, store.NewMemory(), options{})
	tests := []struct {
		name    string
		headers map[string]string
		want    int
	}{
		{"http origin, no proto", map[string]string{"origin": "http://localhost:3000"}, 302},
		{"https origin, no proto", map[string]string{"origin": "https://localhost:3000"}, 302},
		{"other port, no proto", map[string]string{"origin": "http://localhost:3001"}, 403},
		{"other host, no proto", map[string]string{"origin": "http://evil.example:3000"}, 403},
		{"null, no proto", map[string]string{"origin": "null"}, 403},
		{"http origin, https proto", map[string]string{"origin": "http://localhost:3000", "x-forwarded-proto": "https"}, 403},
		{"http origin, http proto", map[string]string{"origin": "http://localhost:3000", "x-forwarded-proto": "http"}, 302},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := events.APIGatewayV2HTTPRequest{
				RawPath: "/auth/logout",
				Headers: tt.headers,
				RequestContext: events.APIGatewayV2HTTPRequestContext{
					DomainName: "localhost:3000",
					HTTP:       events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: "/auth/logout"},
				},
			}
			resp, err := h.Logout(context.Background(), req)
			if err != nil || resp.StatusCode != tt.want {
				t.Errorf("Logout(Origin %q) = %d, %v; want %d", tt.headers["origin"], resp.StatusCode, err, tt.want)
			}
		})
	}
}
