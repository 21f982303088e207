package routes_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/serverless-signin/signin/pkg/signin"
	"github.com/serverless-signin/signin/pkg/store"
)

const (
	unauthenticated = `{"authenticated":false}`
	demoSignedIn    = `{"authenticated":true,"user":{"id":"demo-user-0001","email":"demo@example.com","name":"Demo User"}}`
)

func TestMe(t *testing.T) {
	type want struct {
		status     int
		body       string
		clear      bool // the answer clears the session cookie
		storeCalls int
	}
	signedOut := want{401, unauthenticated, true, 1}
	tests := []struct {
		name string
		// prepare sets the browser up; it may sign in first.
		prepare func(a *app, b *browser)
		want    want
	}{
		{"no cookie", func(a *app, b *browser) {}, want{200, unauthenticated, false, 0}},
		{"seed example's forgeable cookie", func(a *app, b *browser) {
			b.jar["app_session"] = "%7B%22id%22%3A%22admin%22%7D"
		}, want{200, unauthenticated, false, 0}},
		{"user JSON in the session cookie", func(a *app, b *browser) {
			b.jar[sessionCookie(a.scheme == "https")] = "%7B%22id%22%3A%22admin%22%7D"
		}, want{401, unauthenticated, true, 0}},
		{"malformed", func(a *app, b *browser) {
			b.jar[sessionCookie(a.scheme == "https")] = "not-a-session"
		}, want{401, unauthenticated, true, 0}},
		{"empty", func(a *app, b *browser) {
			b.jar[sessionCookie(a.scheme == "https")] = ""
		}, want{401, unauthenticated, true, 0}},
		{"one character short", func(a *app, b *browser) {
			b.signIn("")
			b.jar[sessionCookie(a.scheme == "https")] = b.sessionID()[:42]
		}, want{401, unauthenticated, true, 0}},
		{"unknown", func(a *app, b *browser) {
			b.jar[sessionCookie(a.scheme == "https")] = strings.Repeat("A", 43)
		}, signedOut},
		{"live", func(a *app, b *browser) { b.signIn("") }, want{200, demoSignedIn, false, 1}},
		{"other scheme's cookie name", func(a *app, b *browser) {
			b.signIn("")
			https := a.scheme == "https"
			b.jar[sessionCookie(!https)] = b.jar[sessionCookie(https)]
			delete(b.jar, sessionCookie(https))
		}, want{200, unauthenticated, false, 0}},
		{"expired", func(a *app, b *browser) {
			b.signIn("")
			a.clock.Advance(7*24*time.Hour + time.Second)
		}, signedOut},
		{"signed out", func(a *app, b *browser) {
			b.signIn("")
			id := b.sessionID()
			b.logout(nil)
			b.jar[sessionCookie(a.scheme == "https")] = id
		}, signedOut},
	}
	forEachStore(t, func(t *testing.T, k storeKind) {
		for _, https := range []bool{true, false} {
			scheme := map[bool]string{true: "https", false: "http"}[https]
			for _, tt := range tests {
				t.Run(scheme+"/"+tt.name, func(t *testing.T) {
					a := newApp(t, setup{kind: k, http: !https})
					b := a.browser()
					tt.prepare(a, b)
					a.store.Take()

					resp := b.get("/auth/me")
					checkResponse(t, "me", resp, tt.want.status, tt.want.body)
					var cookies []string
					if tt.want.clear {
						cookies = append(cookies, wantCookie(sessionCookie(https), "", 0, https))
					}
					checkCookies(t, "me", resp, cookies...)
					if calls := a.store.Take(); total(calls) != tt.want.storeCalls {
						t.Errorf("store calls = %v; want %d", calls, tt.want.storeCalls)
					}
				})
			}
		}
	})
}

// Unknown email and name are null, never "".
func TestMeOptionalFields(t *testing.T) {
	tests := []struct {
		user signin.User
		want string
	}{
		{signin.User{Subject: "u1"}, `{"authenticated":true,"user":{"id":"u1","email":null,"name":null}}`},
		{signin.User{Subject: "u2", Email: "u2@example.com"}, `{"authenticated":true,"user":{"id":"u2","email":"u2@example.com","name":null}}`},
		{signin.User{Subject: "u3", Name: `Zoë "<admin>"`}, `{"authenticated":true,"user":{"id":"u3","email":null,"name":"Zoë \"\u003cadmin\u003e\""}}`},
	}
	a := newApp(t, setup{})
	for i, tt := range tests {
		id := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{byte(i + 1)}, 32))
		now := a.clock.Now()
		err := a.store.CreateSession(context.Background(),
			store.Session{Key: store.Hash(id), User: tt.user, Issuer: a.provider.Issuer(), CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
			store.Tokens{Token: signin.Token{AccessToken: "at"}, ExpiresAt: now.Add(time.Hour)})
		if err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		b := a.browser()
		b.jar[sessionCookie(true)] = id
		checkResponse(t, "me as "+tt.user.Subject, b.get("/auth/me"), 200, tt.want)
	}
}

// With an idle timeout, /auth/me writes the idle expiry at most every five
// minutes, and an idle session is signed out.
func TestMeIdleTimeout(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		a := newApp(t, setup{kind: k, opts: options{IdleTimeout: 30 * time.Minute}})
		b := a.browser()
		b.signIn("")
		sess, err := a.session(b.sessionID())
		if err != nil {
			t.Fatal(err)
		}
		if want := a.clock.Now().Add(30 * time.Minute); !sess.IdleExpiresAt.Equal(want.UTC().Truncate(time.Millisecond)) {
			t.Errorf("new session IdleExpiresAt = %v; want %v", sess.IdleExpiresAt, want)
		}

		steps := []struct {
			after   time.Duration // since the previous step
			status  int
			touches int
		}{
			{time.Minute, 200, 0},               // touched 1m ago: no write
			{3 * time.Minute, 200, 0},           // 4m: no write
			{time.Minute + time.Second, 200, 1}, // more than 5m: write (idle until 35m1s)
			{time.Minute, 200, 0},               // touched 1m ago
			{28 * time.Minute, 200, 1},          // 1m left: write (idle until 1h4m1s)
			{30*time.Minute + time.Second, 401, 0},
		}
		for i, s := range steps {
			a.clock.Advance(s.after)
			a.store.Take()
			resp := b.get("/auth/me")
			calls := a.store.Take()
			if resp.StatusCode != s.status || calls["TouchSession"] != s.touches || calls["GetSession"] != 1 {
				t.Errorf("step %d: me = %d, store calls %v; want %d with %d TouchSession and one GetSession", i, resp.StatusCode, calls, s.status, s.touches)
			}
		}
	})
}

// A storage outage is a 500 that keeps the cookie: it must not sign anybody
// out.
func TestMeStoreUnavailable(t *testing.T) {
	a := newApp(t, setup{kind: unreachable})
	b := a.browser()
	b.jar[sessionCookie(true)] = strings.Repeat("A", 43)
	resp := b.get("/auth/me")
	checkResponse(t, "me with DynamoDB down", resp, 500, `{"error":"Session lookup failed"}`)
	checkCookies(t, "me with DynamoDB down", resp)
	if calls := a.db.Take(); calls["GetItem"] == 0 {
		t.Errorf("DynamoDB calls = %v; want the GetItem attempted", calls)
	}
}
