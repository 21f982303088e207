package auth_test

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/serverless-signin/signin/internal/storecalls"
	"github.com/serverless-signin/signin/pkg/auth"
	"github.com/serverless-signin/signin/pkg/signin"
	"github.com/serverless-signin/signin/pkg/store"
)

// The store methods behind each managed policy's calls, over their success
// and failure paths, are exactly what storecalls.Policies declares:
// e2e/deploy_test.go grants each policy the permissions of those methods
// (store.Permissions) and nothing else.
func TestStoreCallsPerPolicy(t *testing.T) {
	w := newWorld(t, storeKinds[0], true, false)
	rec := &storecalls.Recorder{Next: w.store}
	w.sessions.Store = rec // before the first call builds the session core
	w.sessions.IdleTimeout = 30 * time.Minute
	ctx := context.Background()
	called := map[string]map[string]bool{}
	// on runs f, calls of the API policy is for, and notes the store
	// methods they made.
	on := func(policy string, f func()) {
		t.Helper()
		rec.Take()
		f()
		if called[policy] == nil {
			called[policy] = map[string]bool{}
		}
		for _, m := range rec.Take() {
			called[policy][m] = true
		}
	}
	// session writes a session with an idle expiry, as the callback does
	// with SESSION_IDLE_TIMEOUT set.
	session := func(subject string, tokens store.Tokens) string {
		t.Helper()
		id := newSessionID()
		now := w.now()
		sess := store.Session{Key: store.Hash(id), User: signin.User{Subject: subject}, Issuer: w.provider.srv.URL,
			CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour), IdleExpiresAt: now.Add(30 * time.Minute)}
		if tokens.ExpiresAt.IsZero() {
			tokens.ExpiresAt = sess.ExpiresAt
		}
		if err := w.store.CreateSession(ctx, sess, tokens); err != nil {
			t.Fatal(err)
		}
		return id
	}
	key := func(id string) *auth.Session { return &auth.Session{Key: store.Hash(id)} }

	// SessionReaderPolicy: FromRequest and FromCookie, live (and touched
	// after a while), unknown, malformed, absent.
	alice := session("alice", w.expiredTokens())
	on("SessionReaderPolicy", func() {
		if _, err := w.sessions.FromCookie(ctx, alice); err != nil {
			t.Errorf("FromCookie(live) = %v", err)
		}
		w.clock.Advance(20 * time.Minute)
		if _, err := w.sessions.FromRequest(ctx, appRequest("https", []string{"__Host-session=" + alice}, nil)); err != nil {
			t.Errorf("FromRequest(live, touched) = %v", err)
		}
		for _, id := range []string{newSessionID(), "malformed"} {
			if _, err := w.sessions.FromCookie(ctx, id); !errors.Is(err, auth.ErrNotSignedIn) {
				t.Errorf("FromCookie(%q) = %v; want ErrNotSignedIn", id, err)
			}
		}
		if _, err := w.sessions.FromRequest(ctx, appRequest("https", nil, nil)); !errors.Is(err, auth.ErrNotSignedIn) {
			t.Errorf("FromRequest(no cookie) = %v; want ErrNotSignedIn", err)
		}
	})

	// TokenRefresherPolicy: AccessToken fresh, refreshed, with the provider
	// down (the lease is released), with the grant dead, without a refresh
	// token, without a token record.
	on("TokenRefresherPolicy", func() {
		fresh := session("bob", store.Tokens{Token: signin.Token{AccessToken: "at-fresh", Expiry: w.now().Add(time.Hour)}})
		if _, err := w.sessions.AccessToken(ctx, key(fresh)); err != nil {
			t.Errorf("AccessToken(fresh) = %v", err)
		}
		if _, err := w.sessions.AccessToken(ctx, key(alice)); err != nil {
			t.Errorf("AccessToken(expired) = %v; want a refreshed token", err)
		}
		outage := session("bob", w.expiredTokens())
		w.provider.failWith(http.StatusServiceUnavailable)
		if _, err := w.sessions.AccessToken(ctx, key(outage)); err == nil || errors.Is(err, auth.ErrNotSignedIn) {
			t.Errorf("AccessToken(provider down) = %v; want an error, still signed in", err)
		}
		w.provider.failWith(0)
		dead := w.expiredTokens()
		deadID := session("bob", dead)
		w.provider.kill(dead.RefreshToken)
		noRefresh := session("bob", store.Tokens{Token: signin.Token{AccessToken: "at-old", Expiry: w.now().Add(-time.Minute)}})
		for _, id := range []string{deadID, noRefresh, newSessionID()} {
			if _, err := w.sessions.AccessToken(ctx, key(id)); !errors.Is(err, auth.ErrSignInAgain) {
				t.Errorf("AccessToken(%s) = %v; want ErrSignInAgain", id, err)
			}
		}
	})

	// SignOutEverywherePolicy: a user with sessions, one without.
	session("carol", w.expiredTokens())
	session("carol", store.Tokens{Token: signin.Token{AccessToken: "at-carol"}})
	on("SignOutEverywherePolicy", func() {
		if n, err := w.sessions.SignOutEverywhere(ctx, w.provider.srv.URL, "carol"); n != 2 || err != nil {
			t.Errorf("SignOutEverywhere(carol) = %d, %v; want 2, nil", n, err)
		}
		if n, err := w.sessions.SignOutEverywhere(ctx, w.provider.srv.URL, "nobody"); n != 0 || err != nil {
			t.Errorf("SignOutEverywhere(nobody) = %d, %v; want 0, nil", n, err)
		}
	})

	for _, policy := range slices.Sorted(maps.Keys(storecalls.Policies)) {
		got := slices.Sorted(maps.Keys(called[policy]))
		want := slices.Sorted(slices.Values(storecalls.Policies[policy]))
		if !slices.Equal(got, want) {
			t.Errorf("the calls %s is for use the store methods %q; storecalls.Policies[%q] = %q (e2e grants that policy exactly their permissions)", policy, got, policy, want)
		}
	}
}
