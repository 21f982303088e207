package auth_test

import (
	"context"
	"errors"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-signin/signin/internal/devprovider"
	"github.com/serverless-signin/signin/internal/routes"
	"github.com/serverless-signin/signin/pkg/auth"
	"github.com/serverless-signin/signin/pkg/oauth"
	"github.com/serverless-signin/signin/pkg/signin"
	"github.com/serverless-signin/signin/pkg/store"
)

// A fresh token costs one store read and no provider call.
func TestAccessTokenFresh(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		w := newWorld(t, k, true, false)
		id := w.signIn("alice", store.Tokens{Token: signin.Token{AccessToken: "at-fresh", RefreshToken: w.provider.issue(), Expiry: w.now().Add(10 * time.Minute)}})
		counter := &countingStore{Store: w.store}
		w.sessions.Store = counter

		tok, err := w.sessions.AccessToken(context.Background(), &auth.Session{Key: store.Hash(id)})
		if tok != "at-fresh" || err != nil {
			t.Fatalf("AccessToken() = %q, %v; want at-fresh, nil", tok, err)
		}
		if got := counter.Take(); !maps.Equal(got, map[string]int{"GetTokens": 1}) {
			t.Errorf("store calls = %v; want one GetTokens", got)
		}
		if n := w.provider.refreshes.Load(); n != 0 {
			t.Errorf("provider refreshes = %d; want 0", n)
		}
	})
}

// An access token without a known expiry is used as is, however old.
func TestAccessTokenNoExpiry(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		w := newWorld(t, k, true, false)
		id := w.signIn("alice", store.Tokens{Token: signin.Token{AccessToken: "at-forever", RefreshToken: w.provider.issue()}})
		w.clock.Advance(23 * time.Hour)
		tok, err := w.sessions.AccessToken(context.Background(), &auth.Session{Key: store.Hash(id)})
		if tok != "at-forever" || err != nil {
			t.Errorf("AccessToken() = %q, %v; want at-forever, nil", tok, err)
		}
		if n := w.provider.refreshes.Load(); n != 0 {
			t.Errorf("provider refreshes = %d; want 0", n)
		}
	})
}

// Refreshing with a rotating provider: the new refresh token replaces the
// old one (which the provider no longer accepts), the record keeps the
// session's expiry, and the next refresh uses the new token.
func TestRefreshRotates(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		w := newWorld(t, k, true, false)
		old := w.expiredTokens()
		id := w.signIn("alice", old)
		before := w.tokens(id)
		sess := &auth.Session{Key: store.Hash(id)}
		ctx := context.Background()

		tok, err := w.sessions.AccessToken(ctx, sess)
		if err != nil || !strings.HasPrefix(tok, "at-") || tok == old.AccessToken {
			t.Fatalf("AccessToken() = %q, %v; want a new token", tok, err)
		}
		got := w.tokens(id)
		switch {
		case got.AccessToken != tok:
			t.Errorf("stored access token = %q; want the returned %q", got.AccessToken, tok)
		case got.RefreshToken == old.RefreshToken || !w.provider.works(got.RefreshToken):
			t.Errorf("stored refresh token = %q; want the rotated one (old %q)", got.RefreshToken, old.RefreshToken)
		case w.provider.works(old.RefreshToken):
			t.Errorf("old refresh token still works at the provider")
		case got.Version != 2 || got.LeaseOwner != "":
			t.Errorf("record version %d lease %q; want 2, no lease", got.Version, got.LeaseOwner)
		case !got.ExpiresAt.Equal(before.ExpiresAt):
			t.Errorf("record expiry %v; want the session's %v (never extended)", got.ExpiresAt, before.ExpiresAt)
		case !got.Expiry.After(w.now()):
			t.Errorf("stored access expiry %v; want in the future", got.Expiry)
		}
		if again, err := w.sessions.AccessToken(ctx, sess); again != tok || err != nil {
			t.Errorf("AccessToken() again = %q, %v; want the stored %q", again, err, tok)
		}

		w.clock.Advance(2 * time.Hour) // past the refreshed token's hour
		tok2, err := w.sessions.AccessToken(ctx, sess)
		if err != nil || tok2 == tok {
			t.Fatalf("AccessToken() after expiry = %q, %v; want another new token", tok2, err)
		}
		if n := w.provider.refreshes.Load(); n != 2 {
			t.Errorf("provider refreshes = %d; want 2", n)
		}
		if v := w.tokens(id).Version; v != 3 {
			t.Errorf("record version = %d; want 3", v)
		}
	})
}

// A provider that does not rotate sends no refresh token: the old one is
// kept and keeps working.
func TestRefreshKeepsRefreshToken(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		w := newWorld(t, k, false, false)
		old := w.expiredTokens()
		id := w.signIn("alice", old)
		sess := &auth.Session{Key: store.Hash(id)}
		for i := range 2 {
			tok, err := w.sessions.AccessToken(context.Background(), sess)
			if err != nil || tok == old.AccessToken {
				t.Fatalf("AccessToken() #%d = %q, %v; want a new token", i+1, tok, err)
			}
			if got := w.tokens(id).RefreshToken; got != old.RefreshToken {
				t.Fatalf("stored refresh token after refresh #%d = %q; want the old %q", i+1, got, old.RefreshToken)
			}
			w.clock.Advance(2 * time.Hour)
		}
		if n := w.provider.refreshes.Load(); n != 2 {
			t.Errorf("provider refreshes = %d; want 2", n)
		}
	})
}

// A token expiring within the skew is refreshed; one the provider makes
// shorter-lived than the skew is still returned, not refreshed forever.
func TestRefreshSkew(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		w := newWorld(t, k, true, false)
		w.provider.expiresIn = 30 // below the 60s skew
		tokens := w.expiredTokens()
		tokens.Expiry = w.now().Add(45 * time.Second)
		id := w.signIn("alice", tokens)
		tok, err := w.sessions.AccessToken(context.Background(), &auth.Session{Key: store.Hash(id)})
		if err != nil || tok == tokens.AccessToken {
			t.Fatalf("AccessToken() = %q, %v; want a refreshed token", tok, err)
		}
		if n := w.provider.refreshes.Load(); n != 1 {
			t.Errorf("provider refreshes = %d; want 1", n)
		}
	})
}

// 20 goroutines and, on DynamoDB, 2 more processes ask for an expired
// token at once: the provider sees exactly one refresh and every caller
// gets its token.
func TestRefreshConcurrent(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		w := newWorld(t, k, true, true) // real time: the helper processes share our clock only that way
		w.provider.delay = 100 * time.Millisecond
		old := w.expiredTokens()
		id := w.signIn("alice", old)
		key := store.Hash(id)

		var helpers []*helperProcess
		if w.table != "" {
			for range 2 {
				helpers = append(helpers, startHelper(t, w.table, w.provider.srv.URL, key))
			}
			for _, h := range helpers {
				if line := h.next(t); line != "ready" {
					t.Fatalf("helper said %q; want ready", line)
				}
			}
		}

		const goroutines = 20
		start := make(chan struct{})
		results := make(chan string, goroutines+len(helpers))
		var wg sync.WaitGroup
		for range goroutines {
			wg.Go(func() {
				<-start
				tok, err := w.sessions.AccessToken(context.Background(), &auth.Session{Key: key})
				if err != nil {
					results <- "error " + err.Error()
					return
				}
				results <- "token " + tok
			})
		}
		close(start)
		for _, h := range helpers {
			h.release(t)
		}
		wg.Wait()
		for _, h := range helpers {
			results <- h.next(t)
		}
		close(results)

		stored := w.tokens(id)
		n := 0
		for r := range results {
			n++
			if r != "token "+stored.AccessToken {
				t.Errorf("caller got %q; want token %s (the stored one)", r, stored.AccessToken)
			}
		}
		if want := goroutines + len(helpers); n != want {
			t.Errorf("%d callers answered; want %d", n, want)
		}
		if got := w.provider.refreshes.Load(); got != 1 {
			t.Errorf("provider refreshes = %d; want exactly 1", got)
		}
		if stored.AccessToken == old.AccessToken || stored.Version != 2 || !w.provider.works(stored.RefreshToken) || w.provider.works(old.RefreshToken) {
			t.Errorf("stored record: new access token %v, version %d, refresh token works %v, old works %v; want true, 2, true, false",
				stored.AccessToken != old.AccessToken, stored.Version, w.provider.works(stored.RefreshToken), w.provider.works(old.RefreshToken))
		}
	})
}

// A refresher that took the lease and died never saves: another caller
// waits for the lease to run out, then refreshes itself.
func TestRefreshAfterCrashedRefresher(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		w := newWorld(t, k, true, true)
		w.sessions.LeaseTimeout = time.Second
		old := w.expiredTokens()
		id := w.signIn("alice", old)
		key := store.Hash(id)
		ctx := context.Background()
		crashed, err := w.store.AcquireRefreshLease(ctx, key, 1, "crashed-refresher", time.Now().Add(w.sessions.LeaseTimeout))
		if err != nil {
			t.Fatalf("AcquireRefreshLease(crashed-refresher): %v", err)
		}

		tok, err := w.sessions.AccessToken(ctx, &auth.Session{Key: key})
		if err != nil || tok == old.AccessToken {
			t.Fatalf("AccessToken() = %q, %v; want a new token", tok, err)
		}
		if n := w.provider.refreshes.Load(); n != 1 {
			t.Errorf("provider refreshes = %d; want 1", n)
		}
		if got := w.tokens(id); got.AccessToken != tok || got.Version != 2 || got.LeaseOwner != "" {
			t.Errorf("stored record = access %v, version %d, lease %q; want the new token, 2, none", got.AccessToken == tok, got.Version, got.LeaseOwner)
		}
		// Had the crashed refresher come back, its save is refused.
		crashed.Version++
		if err := w.store.SaveRefreshed(ctx, crashed, "crashed-refresher"); !errors.Is(err, store.ErrConflict) {
			t.Errorf("SaveRefreshed(crashed-refresher) error = %v; want ErrConflict", err)
		}
	})
}

// Waiting for another refresher ends with the caller's context.
func TestRefreshWaitBoundedByContext(t *testing.T) {
	w := newWorld(t, storeKinds[0], true, false)
	id := w.signIn("alice", w.expiredTokens())
	key := store.Hash(id)
	if _, err := w.store.AcquireRefreshLease(context.Background(), key, 1, "slow-refresher", w.now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tok, err := w.sessions.AccessToken(ctx, &auth.Session{Key: key})
	if tok != "" || !errors.Is(err, context.Canceled) || errors.Is(err, auth.ErrNotSignedIn) {
		t.Errorf("AccessToken(canceled) = %q, %v; want \"\", context.Canceled", tok, err)
	}
	if n := w.provider.refreshes.Load(); n != 0 {
		t.Errorf("provider refreshes = %d; want 0", n)
	}
}

// invalid_grant ends the session: the caller must sign in again, and
// /auth/me agrees. Concurrent callers all learn it from one refresh.
func TestRefreshInvalidGrant(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		w := newWorld(t, k, true, false)
		old := w.expiredTokens()
		id := w.signIn("alice", old)
		w.provider.kill(old.RefreshToken) // revoked at the provider
		ctx := context.Background()

		errs := make(chan error, 5)
		var wg sync.WaitGroup
		for range cap(errs) {
			wg.Go(func() {
				tok, err := w.sessions.AccessToken(ctx, &auth.Session{Key: store.Hash(id)})
				if tok != "" {
					err = errors.Join(err, errors.New("got a token"))
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		signInAgain := 0
		for err := range errs {
			if !errors.Is(err, auth.ErrNotSignedIn) {
				t.Errorf("AccessToken() error = %v; want ErrNotSignedIn (ErrSignInAgain)", err)
			}
			if errors.Is(err, auth.ErrSignInAgain) {
				signInAgain++
			}
		}
		if signInAgain == 0 {
			t.Errorf("no caller got ErrSignInAgain")
		}
		if n := w.provider.refreshes.Load(); n != 1 {
			t.Errorf("provider refreshes = %d; want 1", n)
		}
		if _, err := w.store.GetTokens(ctx, store.Hash(id)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetTokens() error = %v; want ErrNotFound", err)
		}
		if _, err := w.store.GetSession(ctx, store.Hash(id)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetSession() error = %v; want ErrNotFound", err)
		}
		if resp := w.me(appRequest("https", []string{"__Host-session=" + id}, nil)); resp.StatusCode != 401 {
			t.Errorf("/auth/me = %d %s; want 401", resp.StatusCode, resp.Body)
		}
	})
}

// The session ends, without a provider call, when nothing can renew the
// access token: no refresh token, or the token record expired first.
func TestRefreshImpossible(t *testing.T) {
	tests := []struct {
		name    string
		tokens  func(w *world) store.Tokens
		advance time.Duration
	}{
		{"no refresh token", func(w *world) store.Tokens {
			return store.Tokens{Token: signin.Token{AccessToken: "at-old", Expiry: w.now().Add(-time.Minute)}}
		}, 0},
		{"token record expired", func(w *world) store.Tokens {
			t := w.expiredTokens()
			t.ExpiresAt = w.now().Add(time.Hour) // a refresh token lifetime shorter than the session
			return t
		}, 2 * time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			forEachStore(t, func(t *testing.T, k storeKind) {
				w := newWorld(t, k, true, false)
				id := w.signIn("alice", tc.tokens(w))
				w.clock.Advance(tc.advance)
				ctx := context.Background()
				sess, err := w.sessions.FromCookie(ctx, id)
				if err != nil {
					t.Fatalf("FromCookie() error = %v; want the session", err)
				}
				tok, err := w.sessions.AccessToken(ctx, sess)
				if tok != "" || !errors.Is(err, auth.ErrSignInAgain) {
					t.Errorf("AccessToken() = %q, %v; want ErrSignInAgain", tok, err)
				}
				if _, err := w.sessions.FromCookie(ctx, id); !errors.Is(err, auth.ErrNotSignedIn) {
					t.Errorf("FromCookie() afterwards error = %v; want ErrNotSignedIn (session ended)", err)
				}
				if n := w.provider.refreshes.Load(); n != 0 {
					t.Errorf("provider refreshes = %d; want 0", n)
				}
			})
		})
	}
}

// A provider failure is an error, never the expired token; the session and
// its refresh token stay, the lease is released and the next call works.
func TestRefreshProviderError(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		w := newWorld(t, k, true, false)
		old := w.expiredTokens()
		id := w.signIn("alice", old)
		sess := &auth.Session{Key: store.Hash(id)}
		ctx := context.Background()
		w.provider.failWith(http.StatusInternalServerError)

		tok, err := w.sessions.AccessToken(ctx, sess)
		var httpErr *oauth.HTTPError
		if tok != "" || !errors.As(err, &httpErr) || httpErr.StatusCode != 500 || errors.Is(err, auth.ErrNotSignedIn) {
			t.Fatalf("AccessToken() = %q, %v; want \"\" and the provider's HTTP 500", tok, err)
		}
		got := w.tokens(id)
		if got.AccessToken != old.AccessToken || got.RefreshToken != old.RefreshToken || got.Version != 1 || got.LeaseUntil.After(w.now()) {
			t.Errorf("stored record = version %d, lease until %v; want unchanged, version 1, lease released", got.Version, got.LeaseUntil)
		}
		if _, err := w.sessions.FromCookie(ctx, id); err != nil {
			t.Errorf("FromCookie() error = %v; want the session kept", err)
		}

		w.provider.failWith(0)
		if tok, err := w.sessions.AccessToken(ctx, sess); err != nil || tok == old.AccessToken {
			t.Errorf("AccessToken() after recovery = %q, %v; want a new token", tok, err)
		}
	})
}

// Signed out while the refresh was at the provider: the new tokens are not
// saved (nothing brings the session back) and the new refresh token is
// revoked.
func TestRefreshSignedOutMeanwhile(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		w := newWorld(t, k, true, false)
		old := w.expiredTokens()
		id := w.signIn("alice", old)
		ctx := context.Background()
		w.provider.onRefresh = func() {
			if _, _, err := w.store.DeleteSession(ctx, store.Hash(id)); err != nil {
				t.Errorf("DeleteSession: %v", err)
			}
		}
		tok, err := w.sessions.AccessToken(ctx, &auth.Session{Key: store.Hash(id)})
		if tok != "" || !errors.Is(err, auth.ErrNotSignedIn) {
			t.Errorf("AccessToken() = %q, %v; want ErrNotSignedIn", tok, err)
		}
		if _, err := w.store.GetTokens(ctx, store.Hash(id)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetTokens() error = %v; want ErrNotFound", err)
		}
		revoked := w.provider.revokedTokens()
		if len(revoked) != 1 || revoked[0] == old.RefreshToken || !strings.HasPrefix(revoked[0], "rt-") {
			t.Errorf("revoked %q; want the new refresh token", revoked)
		}
	})
}

// End to end with the real dev provider: the callback's token record
// expires with the session, and AccessToken refreshes at the provider
// (which rotates and rejects reuse) into tokens its userinfo accepts.
func TestRefreshWithDevProvider(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		ctx := context.Background()
		p, err := devprovider.Start(devprovider.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		p.AllowRedirectURI(devprovider.DefaultClientID, "https://app.example.test/auth/callback")
		// One clock for the client, the handlers, the store and Sessions, so
		// the access token expiry the client computes is on it.
		clk := newClock()
		client, err := oauth.NewClient(oauth.Config{Issuer: p.Issuer(), ClientID: devprovider.DefaultClientID, ClientSecret: devprovider.DefaultClientSecret, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		st, _ := k.Open(t, clk.Now)
		h := newHandler(client, st, clk.Now)
		id := signInThrough(t, h)

		s := &auth.Sessions{Store: st, OAuth: client, Logger: auth.NewLogger(io.Discard), Now: clk.Now}
		sess, err := s.FromRequest(ctx, appRequest("https", []string{"__Host-session=" + id}, nil))
		if err != nil || sess.User.Subject != devprovider.DemoUser.Subject {
			t.Fatalf("FromRequest() = %+v, %v; want the demo user", sess, err)
		}
		rec, _ := st.GetSession(ctx, sess.Key)
		first, err := st.GetTokens(ctx, sess.Key)
		if err != nil || !first.ExpiresAt.Equal(rec.ExpiresAt) {
			t.Fatalf("token record expiry = %v, %v; want the session's %v", first.ExpiresAt, err, rec.ExpiresAt)
		}

		calls := p.Calls(devprovider.PathToken)
		if tok, err := s.AccessToken(ctx, sess); tok != first.AccessToken || err != nil || p.Calls(devprovider.PathToken) != calls {
			t.Fatalf("AccessToken() fresh = %v, %v; want the stored token without a provider call", tok == first.AccessToken, err)
		}
		for i := range 2 {
			clk.Advance(10 * time.Minute) // the provider's access tokens live 5 minutes
			tok, err := s.AccessToken(ctx, sess)
			if err != nil {
				t.Fatalf("AccessToken() #%d error = %v", i+1, err)
			}
			if got := p.Calls(devprovider.PathToken); got != calls+i+1 {
				t.Errorf("token endpoint calls = %d; want %d", got, calls+i+1)
			}
			if u, err := client.UserInfo(ctx, tok, sess.User.Subject); err != nil || u.Subject != sess.User.Subject {
				t.Errorf("UserInfo(refreshed token) = %+v, %v; want the demo user", u, err)
			}
		}
		last, err := st.GetTokens(ctx, sess.Key)
		if err != nil || last.RefreshToken == first.RefreshToken || !last.ExpiresAt.Equal(rec.ExpiresAt) {
			t.Errorf("stored refresh token rotated = %v, record expiry %v, %v; want rotated, %v", last.RefreshToken != first.RefreshToken, last.ExpiresAt, err, rec.ExpiresAt)
		}
	})
}

// signInThrough signs the demo user in through the login and callback
// handlers and returns the session cookie's value.
func signInThrough(t *testing.T, h *routes.Handler) string {
	t.Helper()
	ctx := context.Background()
	resp, _ := h.Login(ctx, routeRequest("/auth/login", "", nil))
	binding := setCookie(t, resp, "__Host-signin_binding")
	if resp.StatusCode != 302 || binding == "" {
		t.Fatalf("login = %d %v; want 302 with a binding cookie", resp.StatusCode, resp.Cookies)
	}
	back, err := devprovider.Authorize(ctx, nil, resp.Headers["Location"], devprovider.DemoUser.Username, devprovider.DemoUser.Password)
	if err != nil {
		t.Fatalf("devprovider.Authorize: %v", err)
	}
	resp, _ = h.Callback(ctx, routeRequest("/auth/callback", back.RawQuery, []string{"__Host-signin_binding=" + binding}))
	id := setCookie(t, resp, "__Host-session")
	if resp.StatusCode != 302 || id == "" {
		t.Fatalf("callback = %d %s; want 302 with a session cookie", resp.StatusCode, resp.Body)
	}
	return id
}

func routeRequest(path, rawQuery string, cookies []string) events.APIGatewayV2HTTPRequest {
	req := appRequest("https", cookies, nil)
	req.RawPath, req.RawQueryString = path, rawQuery
	req.RequestContext.HTTP.Path = path
	return req
}

func setCookie(t *testing.T, resp events.APIGatewayV2HTTPResponse, name string) string {
	t.Helper()
	for _, line := range resp.Cookies {
		c, err := http.ParseSetCookie(line)
		if err == nil && c.Name == name && c.MaxAge > 0 {
			return c.Value
		}
	}
	return ""
}

// BenchmarkAccessToken: a fresh token, one store read, no provider call.
func BenchmarkAccessToken(b *testing.B) {
	for _, k := range storeKinds {
		b.Run(k.Name, func(b *testing.B) {
			st, _ := k.Open(b, nil)
			s := &auth.Sessions{Store: st, Logger: auth.NewLogger(io.Discard)} // no OAuth client: nothing to refresh
			id := newSessionID()
			now := time.Now()
			if err := st.CreateSession(context.Background(),
				store.Session{Key: store.Hash(id), User: signin.User{Subject: "alice"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
				store.Tokens{Token: signin.Token{AccessToken: "at-fresh", RefreshToken: "rt-x", Expiry: now.Add(time.Hour)}, ExpiresAt: now.Add(time.Hour)}); err != nil {
				b.Fatal(err)
			}
			sess := &auth.Session{Key: store.Hash(id)}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if tok, err := s.AccessToken(ctx, sess); tok != "at-fresh" || err != nil {
					b.Fatalf("AccessToken() = %q, %v", tok, err)
				}
			}
		})
	}
}
