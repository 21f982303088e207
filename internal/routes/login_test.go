package routes_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/serverless-signin/signin/internal/dynamotest"
	"github.com/serverless-signin/signin/pkg/oauth"
	"github.com/serverless-signin/signin/pkg/signin"
	"github.com/serverless-signin/signin/pkg/store"
)

func TestLogin(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		for _, https := range []bool{true, false} {
			a := newApp(t, setup{kind: k, http: !https})
			b := a.browser()
			resp := b.get("/auth/login?return_to=%2Fapp%2Fx%3Fy%3D1")
			checkResponse(t, "login", resp, 302, "")

			binding := b.jar[bindingCookie(https)]
			if len(binding) != 43 {
				t.Fatalf("binding cookie %q: want 43 base64url characters", binding)
			}
			checkCookies(t, "login", resp, wantCookie(bindingCookie(https), binding, 10*time.Minute, https))

			loc, err := url.Parse(resp.Headers["Location"])
			if err != nil {
				t.Fatal(err)
			}
			if got, want := loc.Scheme+"://"+loc.Host+loc.Path, a.provider.Issuer()+"/authorize"; got != want {
				t.Errorf("Location endpoint = %s; want %s", got, want)
			}
			q := loc.Query()
			for name, want := range map[string]string{
				"response_type":         "code",
				"client_id":             "dev-client",
				"redirect_uri":          a.origin() + "/auth/callback",
				"scope":                 "openid profile email",
				"code_challenge_method": "S256",
			} {
				if got := q.Get(name); got != want {
					t.Errorf("authorize %s = %q; want %q", name, got, want)
				}
			}
			if q.Has("prompt") {
				t.Errorf("authorize prompt = %q; want none configured", q.Get("prompt"))
			}
			state, nonce := q.Get("state"), q.Get("nonce")
			if len(state) < 22 || len(nonce) < 22 { // 128 bits in base64url
				t.Errorf("state %q, nonce %q: want at least 128 bits each", state, nonce)
			}

			// The state record carries what the callback needs, bound to
			// this browser.
			if calls := a.store.Take(); calls["PutState"] != 1 || len(calls) != 1 {
				t.Errorf("login store calls = %v; want one PutState", calls)
			}
			st, err := a.store.ConsumeState(context.Background(), state, store.Hash(binding))
			if err != nil {
				t.Fatalf("ConsumeState(login state) = %v", err)
			}
			sum := sha256.Sum256([]byte(st.Verifier))
			if got := base64.RawURLEncoding.EncodeToString(sum[:]); got != q.Get("code_challenge") {
				t.Errorf("code_challenge = %q; want S256(stored verifier) %q", q.Get("code_challenge"), got)
			}
			if st.ReturnTo != "/app/x?y=1" || st.RedirectURI != a.origin()+"/auth/callback" || st.Nonce != nonce {
				t.Errorf("state record = return_to %q, redirect_uri %q, nonce %q; want /app/x?y=1, %s/auth/callback, %q",
					st.ReturnTo, st.RedirectURI, st.Nonce, a.origin(), nonce)
			}
			if want := a.clock.Now().Add(10 * time.Minute); st.ExpiresAt.After(want) || st.ExpiresAt.Before(want.Add(-time.Second)) {
				t.Errorf("state ExpiresAt = %v; want %v (10 minutes)", st.ExpiresAt, want)
			}
		}
	})
}

func TestLoginPrompt(t *testing.T) {
	a := newApp(t, setup{oauth: func(c *oauth.Config) { c.Prompt = "login" }})
	if got := a.browser().login("").Query().Get("prompt"); got != "login" {
		t.Errorf("authorize prompt = %q; want login", got)
	}
}

func TestLoginReturnTo(t *testing.T) {
	tests := []struct {
		name, query, want string
	}{
		{"path with query", "return_to=%2Fapp%2Fx%3Fy%3D1", "/app/x?y=1"},
		{"unencoded path", "return_to=/app/x", "/app/x"},
		{"fragment", "return_to=%2Fapp%23top", "/app#top"},
		{"absent", "", "/"},
		{"empty", "return_to=", "/"},
		{"protocol relative", "return_to=%2F%2Fevil.com", "/"},
		{"protocol relative raw", "return_to=//evil.com", "/"},
		{"slash backslash", "return_to=%2F%5Cevil.com", "/"},
		{"slash backslash raw", `return_to=/\evil.com`, "/"},
		{"encoded backslash", "return_to=%2F%255Cevil.com", "/"},
		{"encoded double slash", "return_to=%2F%252F%252Fevil.com", "/"},
		{"absolute", "return_to=https%3A%2F%2Fevil.com", "/"},
		{"javascript", "return_to=javascript%3Aalert(1)", "/"},
		{"tab", "return_to=%09%2F%2Fevil", "/"},
		{"leading tab before path", "return_to=%2F%09%2Fevil.com", "/"},
		{"header injection", "return_to=%2Fa%0D%0ALocation%3A%20https%3A%2F%2Fevil.com", "/"},
		{"dot segments", "return_to=%2Fa%2F..%2F%2Fevil.com", "/"},
		{"duplicate", "return_to=%2Fa&return_to=%2F%2Fevil.com", "/"},
		{"undecodable", "return_to=%zz", "/"},
	}
	a := newApp(t, setup{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := a.browser()
			target := "/auth/login"
			if tt.query != "" {
				target += "?" + tt.query
			}
			resp := b.get(target)
			checkResponse(t, "GET "+target, resp, 302, "")
			loc, _ := url.Parse(resp.Headers["Location"])
			st, err := a.store.ConsumeState(context.Background(), loc.Query().Get("state"), store.Hash(b.jar[bindingCookie(true)]))
			if err != nil {
				t.Fatalf("ConsumeState = %v", err)
			}
			if st.ReturnTo != tt.want {
				t.Errorf("GET %s: stored return_to = %q; want %q", target, st.ReturnTo, tt.want)
			}
		})
	}
}

// A browser keeps its binding across sign-ins (a second tab's sign-in does
// not break the first's); a forged binding is replaced.
func TestLoginBinding(t *testing.T) {
	a := newApp(t, setup{})
	b := a.browser()
	first := b.login("/one").Query().Get("state")
	binding := b.jar[bindingCookie(true)]
	second := b.login("/two").Query().Get("state")
	if got := b.jar[bindingCookie(true)]; got != binding {
		t.Errorf("second login binding = %q; want the first one kept %q", got, binding)
	}
	for _, state := range []string{first, second} {
		if _, err := a.store.ConsumeState(context.Background(), state, store.Hash(binding)); err != nil {
			t.Errorf("ConsumeState(tab state, shared binding) = %v; want nil", err)
		}
	}

	for _, forged := range []string{"forged", "%7B%22id%22%3A%22admin%22%7D", binding[:42] + "!"} {
		b.jar[bindingCookie(true)] = forged
		state := b.login("").Query().Get("state")
		got := b.jar[bindingCookie(true)]
		if got == forged || len(got) != 43 {
			t.Errorf("login with binding %q set %q; want a fresh 43-character value", forged, got)
		}
		if _, err := a.store.ConsumeState(context.Background(), state, store.Hash(got)); err != nil {
			t.Errorf("ConsumeState(state, fresh binding) = %v; want nil", err)
		}
	}
}

// Two tabs of one browser start a sign-in each, and both come back (the
// second one first): each completes (docs/contract.md §6.8). The browser
// ends with the newest session; the one it replaced is ended, its refresh
// token revoked (§6.7).
func TestLoginTwoTabs(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		a := newApp(t, setup{kind: k})
		b := a.browser()
		tab1, tab2 := b.login("/one"), b.login("/two")
		back1, back2 := b.authorize(tab1), b.authorize(tab2)

		resp := b.get(back2)
		checkResponse(t, "second tab's callback", resp, 302, "")
		if got := resp.Headers["Location"]; got != "/two" {
			t.Errorf("second tab's callback Location = %q; want /two", got)
		}
		first := b.sessionID()
		tok, err := a.store.GetTokens(context.Background(), store.Hash(first))
		if err != nil {
			t.Fatal(err)
		}
		revoked := a.provider.Calls("/revoke")

		resp = b.get(back1)
		checkResponse(t, "first tab's callback after the second's", resp, 302, "")
		if got := resp.Headers["Location"]; got != "/one" {
			t.Errorf("first tab's callback Location = %q; want /one", got)
		}
		newest := b.sessionID()
		checkCookies(t, "first tab's callback after the second's", resp, wantCookie(sessionCookie(true), newest, 7*24*time.Hour, true))
		if newest == first {
			t.Fatal("the second callback kept the first session id")
		}
		checkResponse(t, "me", b.get("/auth/me"), 200, demoSignedIn)
		if _, err := a.store.Store.PeekSession(context.Background(), store.Hash(first)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the replaced session's record = %v; want deleted", err)
		}
		if got := a.provider.Calls("/revoke") - revoked; got != 1 {
			t.Errorf("revocations = %d; want 1 (the replaced session's)", got)
		}
		if _, err := a.client.Refresh(context.Background(), signin.Token{RefreshToken: tok.RefreshToken}); err == nil {
			t.Errorf("the replaced session's refresh token still works")
		}
	})
}

func TestLoginStoreUnavailable(t *testing.T) {
	a := newApp(t, setup{kind: unreachable})
	b := a.browser()
	resp := b.get("/auth/login?return_to=%2Fapp")
	checkResponse(t, "login with DynamoDB down", resp, 500, `{"error":"OAuth sign-in failed"}`)
	checkCookies(t, "login with DynamoDB down", resp)
}

// unreachable is a DynamoDB store whose every call fails at once.
var unreachable = storeKind{Name: "unreachable", Open: func(t testing.TB, now func() time.Time) (store.Store, *countingDB) {
	db := &countingDB{DynamoDBAPI: dynamotest.Unreachable(t)}
	d := store.NewDynamoDB(db, "unreachable")
	d.Now = now
	return d, db
}}
