package auth_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-signin/signin/internal/dynamotest"
	"github.com/serverless-signin/signin/pkg/auth"
	"github.com/serverless-signin/signin/pkg/oauth"
	"github.com/serverless-signin/signin/pkg/signin"
	"github.com/serverless-signin/signin/pkg/store"
)

// The client the token provider below accepts.
const (
	tpClientID     = "sessions-client"
	tpClientSecret = "sessions-secret"
)

// tokenProvider is a token and revocation endpoint that counts refreshes,
// rotates refresh tokens (unless told not to) and answers the reuse of a
// rotated-out or revoked one with invalid_grant, as strict providers do.
type tokenProvider struct {
	srv       *httptest.Server
	rotate    bool
	expiresIn int           // seconds; 0: the response has no expires_in
	delay     time.Duration // before answering a refresh, so concurrent callers overlap

	refreshes atomic.Int64 // refresh requests received, answered or not
	onRefresh func()       // runs before a refresh is answered

	mu      sync.Mutex
	status  int             // non-zero: answer refreshes with this status and no OAuth body
	live    map[string]bool // refresh tokens that work
	seq     int
	revoked []string
}

func startTokenProvider(t testing.TB, rotate bool) *tokenProvider {
	t.Helper()
	p := &tokenProvider{rotate: rotate, expiresIn: 3600, live: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("POST /revoke", p.revoke)
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// issue returns a new working refresh token, as a sign-in would.
func (p *tokenProvider) issue() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	rt := fmt.Sprintf("rt-%d-%s", p.seq, rand.Text())
	p.live[rt] = true
	return rt
}

func (p *tokenProvider) works(rt string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.live[rt]
}

func (p *tokenProvider) kill(rt string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.live, rt)
}

func (p *tokenProvider) failWith(status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status = status
}

func (p *tokenProvider) revokedTokens() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Sorted(slices.Values(p.revoked))
}

func (p *tokenProvider) authorized(r *http.Request) bool {
	id, secret, ok := r.BasicAuth()
	return ok && id == tpClientID && secret == tpClientSecret
}

func (p *tokenProvider) token(w http.ResponseWriter, r *http.Request) {
	if !p.authorized(r) {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	if r.PostFormValue("grant_type") != "refresh_token" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	p.refreshes.Add(1)
	if p.onRefresh != nil {
		p.onRefresh()
	}
	time.Sleep(p.delay)

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.status != 0 {
		w.WriteHeader(p.status)
		return
	}
	rt := r.PostFormValue("refresh_token")
	if !p.live[rt] {
		oauthError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	p.seq++
	body := map[string]any{"access_token": fmt.Sprintf("at-%d-%s", p.seq, rand.Text()), "token_type": "Bearer"}
	if p.expiresIn > 0 {
		body["expires_in"] = p.expiresIn
	}
	if p.rotate {
		delete(p.live, rt)
		next := fmt.Sprintf("rt-%d-%s", p.seq, rand.Text())
		p.live[next] = true
		body["refresh_token"] = next
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(body)
}

func (p *tokenProvider) revoke(w http.ResponseWriter, r *http.Request) {
	if !p.authorized(r) {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	tok := r.PostFormValue("token")
	p.revoked = append(p.revoked, tok)
	delete(p.live, tok)
}

func oauthError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":%q}`, code)
}

// oauthConfig is a client configuration for the provider at url: explicit
// endpoints and auth style, so nothing is discovered.
func tokenProviderConfig(url string) oauth.Config {
	return oauth.Config{
		Issuer:       url,
		ClientID:     tpClientID,
		ClientSecret: tpClientSecret,
		TokenURL:     url + "/token",
		RevokeURL:    url + "/revoke",
		AuthStyle:    oauth.AuthStyleBasic,
	}
}

// client is an OAuth client of the provider on the clock now (nil: the
// real one): the access token expiry it computes must agree with the clock
// Sessions and the store use.
func (p *tokenProvider) client(t testing.TB, now func() time.Time) *oauth.Client {
	t.Helper()
	cfg := tokenProviderConfig(p.srv.URL)
	cfg.Now = now
	c, err := oauth.NewClient(cfg)
	if err != nil {
		t.Fatalf("oauth.NewClient: %v", err)
	}
	return c
}

// world is one app: a store, the token provider, Sessions over both.
type world struct {
	t        *testing.T
	store    store.Store
	table    string // DynamoDB only
	provider *tokenProvider
	sessions *auth.Sessions
	clock    *clock // nil with the real clock
	logs     *logBuffer
}

// newWorld builds Sessions over a fresh store of kind k. With realTime the
// store and Sessions use time.Now, else a manual clock.
func newWorld(t *testing.T, k storeKind, rotate, realTime bool) *world {
	t.Helper()
	w := &world{t: t, provider: startTokenProvider(t, rotate), logs: &logBuffer{}}
	var now func() time.Time
	if !realTime {
		w.clock = newClock()
		now = w.clock.Now
	}
	var db *countingDB
	w.store, db = k.Open(t, now)
	if db != nil {
		w.table = db.Table
	}
	w.sessions = &auth.Sessions{
		Store:  w.store,
		OAuth:  w.provider.client(t, now),
		Logger: auth.NewLogger(w.logs),
		Now:    now,
	}
	t.Cleanup(func() {
		// Whatever happened, no token may have reached the logs.
		for _, tok := range []string{"at-", "rt-"} {
			if strings.Contains(w.logs.String(), tok) {
				t.Errorf("logs contain a token (%q...):\n%s", tok, w.logs)
			}
		}
	})
	return w
}

func (w *world) now() time.Time {
	if w.clock != nil {
		return w.clock.Now()
	}
	return time.Now()
}

// signIn writes a session of subject with tokens (Key and ExpiresAt filled
// in: the session's lifetime, as the callback does) and returns the raw
// session id, the cookie value.
func (w *world) signIn(subject string, tokens store.Tokens) string {
	w.t.Helper()
	id := newSessionID()
	now := w.now()
	sess := store.Session{
		Key:       store.Hash(id),
		User:      signin.User{Subject: subject, Email: subject + "@example.com", Name: "User " + subject},
		Issuer:    w.provider.srv.URL,
		CreatedAt: now,
		ExpiresAt: now.Add(24 * time.Hour),
	}
	if tokens.ExpiresAt.IsZero() {
		tokens.ExpiresAt = sess.ExpiresAt
	}
	if err := w.store.CreateSession(context.Background(), sess, tokens); err != nil {
		w.t.Fatalf("CreateSession: %v", err)
	}
	return id
}

// expiredTokens are tokens whose access token expired a minute ago, with a
// working refresh token.
func (w *world) expiredTokens() store.Tokens {
	return store.Tokens{
		Token: signin.Token{AccessToken: "at-old", RefreshToken: w.provider.issue(), TokenType: "Bearer", Expiry: w.now().Add(-time.Minute)},
	}
}

func (w *world) tokens(id string) store.Tokens {
	w.t.Helper()
	t, err := w.store.GetTokens(context.Background(), store.Hash(id))
	if err != nil {
		w.t.Fatalf("GetTokens: %v", err)
	}
	return t
}

// me asks /auth/me about the cookie, over the same store and clock.
func (w *world) me(req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	w.t.Helper()
	h := newHandler(nil, w.store, w.sessions.Now)
	resp, err := h.Me(context.Background(), req)
	if err != nil {
		w.t.Fatalf("Me: %v", err)
	}
	return resp
}

func newSessionID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// appRequest is a payload-2.0 event as API Gateway delivers it.
func appRequest(proto string, cookies []string, headers map[string]string) events.APIGatewayV2HTTPRequest {
	h := map[string]string{"host": "app.example.test"}
	if proto != "" {
		h["x-forwarded-proto"] = proto
	}
	maps.Copy(h, headers)
	return events.APIGatewayV2HTTPRequest{
		Version: "2.0",
		RawPath: "/api/profile",
		Cookies: cookies,
		Headers: h,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			DomainName: "app.example.test",
			HTTP:       events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: "/api/profile"},
		},
	}
}

// FromRequest reads the cookie exactly as /auth/me does: for every request
// shape it finds a session exactly when /auth/me says authenticated.
func TestSessionsFromRequest(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		w := newWorld(t, k, true, false)
		ctx := context.Background()
		id := w.signIn("alice", w.expiredTokens())
		signedOut := w.signIn("carol", w.expiredTokens())
		if _, _, err := w.store.DeleteSession(ctx, store.Hash(signedOut)); err != nil {
			t.Fatal(err)
		}
		expired := newSessionID()
		now := w.now()
		if err := w.store.CreateSession(ctx,
			store.Session{Key: store.Hash(expired), User: signin.User{Subject: "bob"}, CreatedAt: now, ExpiresAt: now.Add(30 * time.Minute)},
			store.Tokens{Token: signin.Token{AccessToken: "at-bob"}, ExpiresAt: now.Add(30 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
		w.clock.Advance(time.Hour)

		tests := []struct {
			name   string
			req    events.APIGatewayV2HTTPRequest
			wantOK bool
		}{
			{"no cookie", appRequest("https", nil, nil), false},
			{"https cookie on https", appRequest("https", []string{"__Host-session=" + id}, nil), true},
			{"no proto header means https", appRequest("", []string{"__Host-session=" + id}, nil), true},
			{"http name on https", appRequest("https", []string{"session=" + id}, nil), false},
			{"http cookie on http", appRequest("http", []string{"session=" + id}, nil), true},
			{"https name on http", appRequest("http", []string{"__Host-session=" + id}, nil), false},
			{"among other cookies", appRequest("https", []string{"theme=dark", "__Host-session=" + id}, nil), true},
			{"cookie header fallback", appRequest("https", nil, map[string]string{"cookie": "theme=dark; __Host-session=" + id}), true},
			{"malformed", appRequest("https", []string{"__Host-session=" + id[:20]}, nil), false},
			{"not base64url", appRequest("https", []string{"__Host-session=" + strings.Repeat("*", 43)}, nil), false},
			{"unknown", appRequest("https", []string{"__Host-session=" + newSessionID()}, nil), false},
			{"expired", appRequest("https", []string{"__Host-session=" + expired}, nil), false},
			{"signed out", appRequest("https", []string{"__Host-session=" + signedOut}, nil), false},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				sess, err := w.sessions.FromRequest(ctx, tc.req)
				switch {
				case tc.wantOK && err != nil:
					t.Fatalf("FromRequest() error = %v; want a session", err)
				case !tc.wantOK && !errors.Is(err, auth.ErrNotSignedIn):
					t.Fatalf("FromRequest() = %+v, %v; want ErrNotSignedIn", sess, err)
				case tc.wantOK:
					want := auth.Session{
						Key:       store.Hash(id),
						User:      signin.User{Subject: "alice", Email: "alice@example.com", Name: "User alice"},
						Issuer:    w.provider.srv.URL,
						ExpiresAt: sess.ExpiresAt,
					}
					if *sess != want || sess.ExpiresAt.IsZero() {
						t.Errorf("FromRequest() = %+v; want %+v", *sess, want)
					}
				}
				me := w.me(tc.req)
				if signedIn := me.StatusCode == 200 && strings.Contains(me.Body, `"authenticated":true`); signedIn != tc.wantOK {
					t.Errorf("/auth/me = %d %s; FromRequest signed in = %v", me.StatusCode, me.Body, tc.wantOK)
				}
			})
		}
	})
}

// A storage failure is an error of its own, never "not signed in".
func TestSessionsStoreUnavailable(t *testing.T) {
	s := &auth.Sessions{Store: store.NewDynamoDB(dynamotest.Unreachable(t), "unreachable"), Logger: auth.NewLogger(io.Discard)}
	_, err := s.FromCookie(context.Background(), newSessionID())
	if !errors.Is(err, store.ErrUnavailable) || errors.Is(err, auth.ErrNotSignedIn) {
		t.Errorf("FromCookie() error = %v; want store.ErrUnavailable, not ErrNotSignedIn", err)
	}
	_, err = s.AccessToken(context.Background(), &auth.Session{Key: store.Hash(newSessionID())})
	if !errors.Is(err, store.ErrUnavailable) || errors.Is(err, auth.ErrNotSignedIn) {
		t.Errorf("AccessToken() error = %v; want store.ErrUnavailable, not ErrNotSignedIn", err)
	}
	if n, err := s.SignOutEverywhere(context.Background(), "https://issuer.example", "alice"); !errors.Is(err, store.ErrUnavailable) || n != 0 {
		t.Errorf("SignOutEverywhere() = %d, %v; want 0, store.ErrUnavailable", n, err)
	}
}

// With an idle timeout, using the app counts as activity, as /auth/me does.
func TestSessionsIdleTimeout(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		w := newWorld(t, k, true, false)
		w.sessions.IdleTimeout = 30 * time.Minute
		id := newSessionID()
		now := w.now()
		sess := store.Session{Key: store.Hash(id), User: signin.User{Subject: "alice"}, CreatedAt: now,
			ExpiresAt: now.Add(24 * time.Hour), IdleExpiresAt: now.Add(30 * time.Minute)}
		if err := w.store.CreateSession(context.Background(), sess, store.Tokens{Token: signin.Token{AccessToken: "at-x"}, ExpiresAt: sess.ExpiresAt}); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		w.clock.Advance(20 * time.Minute)
		if _, err := w.sessions.FromCookie(ctx, id); err != nil {
			t.Fatalf("FromCookie() after 20m error = %v; want a session", err)
		}
		got, err := w.store.GetSession(ctx, store.Hash(id))
		if want := w.now().Add(30 * time.Minute); err != nil || !got.IdleExpiresAt.Equal(want.Truncate(time.Millisecond)) {
			t.Errorf("idle expiry after use = %v, %v; want %v", got.IdleExpiresAt, err, want)
		}
		w.clock.Advance(29 * time.Minute)
		if _, err := w.sessions.FromCookie(ctx, id); err != nil {
			t.Fatalf("FromCookie() 29m after use error = %v; want a session", err)
		}
		w.clock.Advance(31 * time.Minute)
		if _, err := w.sessions.FromCookie(ctx, id); !errors.Is(err, auth.ErrNotSignedIn) {
			t.Errorf("FromCookie() 31m idle error = %v; want ErrNotSignedIn", err)
		}
	})
}

// Sign out everywhere ends every live session of one user, no one else's,
// and revokes each session's refresh token (else its access token).
func TestSignOutEverywhere(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		w := newWorld(t, k, true, false)
		ctx := context.Background()
		var alice []string
		var wantRevoked []string
		for range 2 {
			tok := w.expiredTokens()
			alice = append(alice, w.signIn("alice", tok))
			wantRevoked = append(wantRevoked, tok.RefreshToken)
		}
		alice = append(alice, w.signIn("alice", store.Tokens{Token: signin.Token{AccessToken: "at-no-refresh"}}))
		wantRevoked = append(wantRevoked, "at-no-refresh")
		bob := w.signIn("bob", w.expiredTokens())
		elsewhere := newSessionID() // alice at another issuer
		now := w.now()
		if err := w.store.CreateSession(ctx,
			store.Session{Key: store.Hash(elsewhere), User: signin.User{Subject: "alice"}, Issuer: "https://other.example", CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
			store.Tokens{Token: signin.Token{AccessToken: "at-other"}, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}

		n, err := w.sessions.SignOutEverywhere(ctx, w.provider.srv.URL, "alice")
		if n != 3 || err != nil {
			t.Fatalf("SignOutEverywhere(alice) = %d, %v; want 3, nil", n, err)
		}
		for _, id := range alice {
			if _, err := w.store.GetSession(ctx, store.Hash(id)); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetSession(alice's) error = %v; want ErrNotFound", err)
			}
			if _, err := w.store.GetTokens(ctx, store.Hash(id)); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetTokens(alice's) error = %v; want ErrNotFound", err)
			}
			if _, err := w.sessions.FromCookie(ctx, id); !errors.Is(err, auth.ErrNotSignedIn) {
				t.Errorf("FromCookie(alice's) error = %v; want ErrNotSignedIn", err)
			}
		}
		for _, id := range []string{bob, elsewhere} {
			if _, err := w.sessions.FromCookie(ctx, id); err != nil {
				t.Errorf("FromCookie(other user's) error = %v; want a session", err)
			}
		}
		slices.Sort(wantRevoked)
		if got := w.provider.revokedTokens(); !slices.Equal(got, wantRevoked) {
			t.Errorf("revoked %q; want %q", got, wantRevoked)
		}

		if n, err := w.sessions.SignOutEverywhere(ctx, w.provider.srv.URL, "alice"); n != 0 || err != nil {
			t.Errorf("SignOutEverywhere(alice) again = %d, %v; want 0, nil", n, err)
		}
	})
}

// A failing revocation endpoint does not keep anybody signed in.
func TestSignOutEverywhereRevocationFails(t *testing.T) {
	w := newWorld(t, storeKinds[0], true, false)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer down.Close()
	cfg := tokenProviderConfig(w.provider.srv.URL)
	cfg.RevokeURL = down.URL + "/revoke"
	client, err := oauth.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.sessions.OAuth = client
	id := w.signIn("alice", w.expiredTokens())
	if n, err := w.sessions.SignOutEverywhere(context.Background(), w.provider.srv.URL, "alice"); n != 1 || err != nil {
		t.Fatalf("SignOutEverywhere() = %d, %v; want 1, nil", n, err)
	}
	if _, err := w.sessions.FromCookie(context.Background(), id); !errors.Is(err, auth.ErrNotSignedIn) {
		t.Errorf("FromCookie() error = %v; want ErrNotSignedIn", err)
	}
	if !strings.Contains(w.logs.String(), "session: revoke") {
		t.Errorf("logs = %s; want the failed revocation", w.logs)
	}
}

// Sessions and the handlers share one session core over one store: a
// session the library sees is the one /auth/me sees, and signing out
// everywhere shows in /auth/me.
func TestSessionsAndHandlersAgree(t *testing.T) {
	w := newWorld(t, storeKinds[0], true, false)
	s := &auth.Sessions{Store: w.store, OAuth: w.provider.client(t, w.clock.Now), Logger: auth.NewLogger(io.Discard), Now: w.clock.Now}
	id := w.signIn("alice", w.expiredTokens())
	if resp := w.me(appRequest("https", []string{"__Host-session=" + id}, nil)); resp.StatusCode != 200 {
		t.Fatalf("/auth/me = %d %s; want 200", resp.StatusCode, resp.Body)
	}
	if _, err := s.FromCookie(context.Background(), id); err != nil {
		t.Fatalf("FromCookie() error = %v", err)
	}
	if n, err := s.SignOutEverywhere(context.Background(), w.provider.srv.URL, "alice"); n != 1 || err != nil {
		t.Fatalf("SignOutEverywhere() = %d, %v; want 1, nil", n, err)
	}
	if resp := w.me(appRequest("https", []string{"__Host-session=" + id}, nil)); resp.StatusCode != 401 {
		t.Errorf("/auth/me after sign out everywhere = %d %s; want 401", resp.StatusCode, resp.Body)
	}
}

func TestSessionsFromEnvMissing(t *testing.T) {
	_, err := auth.SessionsFromEnvWith(context.Background(), func(string) string { return "" })
	if err == nil {
		t.Fatal("SessionsFromEnvWith(empty) error = nil; want the missing variables")
	}
	for _, name := range []string{"TABLE_NAME", "OAUTH_ISSUER", "OAUTH_CLIENT_ID", "OAUTH_CLIENT_SECRET"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("SessionsFromEnvWith(empty) error = %q; want it to name %s", err, name)
		}
	}
	bad := map[string]string{"SESSION_IDLE_TIMEOUT": "soon"}
	_, err = auth.SessionsFromEnvWith(context.Background(), func(k string) string { return bad[k] })
	if err == nil || !strings.Contains(err.Error(), "SESSION_IDLE_TIMEOUT") {
		t.Errorf("SessionsFromEnvWith(bad idle timeout) error = %v; want it named", err)
	}
}

// SessionsFromEnv against DynamoDB Local (the table is the test's: nothing
// at cold start creates or checks it): the result reads what the handlers
// wrote.
func TestSessionsFromEnv(t *testing.T) {
	_, table := dynamotest.NewTable(t)
	p := startTokenProvider(t, true)
	env := map[string]string{
		"TABLE_NAME":                table,
		"AWS_ENDPOINT_URL_DYNAMODB": os.Getenv("AWS_ENDPOINT_URL_DYNAMODB"),
		"AWS_REGION":                "us-east-1",
		"OAUTH_ISSUER":              p.srv.URL,
		"OAUTH_CLIENT_ID":           tpClientID,
		"OAUTH_CLIENT_SECRET":       tpClientSecret,
		"OAUTH_TOKEN_URL":           p.srv.URL + "/token",
		"OAUTH_REVOKE_URL":          p.srv.URL + "/revoke",
		"OAUTH_TOKEN_AUTH_METHOD":   "client_secret_basic",
		"SESSION_IDLE_TIMEOUT":      "30m",
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "local")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	s, err := auth.SessionsFromEnvWith(context.Background(), func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("SessionsFromEnvWith() error = %v", err)
	}
	if s.IdleTimeout != 30*time.Minute {
		t.Errorf("IdleTimeout = %v; want 30m", s.IdleTimeout)
	}
	if s.OAuth == nil || s.OAuth.Issuer() != p.srv.URL {
		t.Errorf("OAuth = %v; want the client of OAUTH_ISSUER, for calls on the user's behalf", s.OAuth)
	}
	id := newSessionID()
	now := time.Now()
	rt := p.issue()
	if err := s.Store.CreateSession(context.Background(),
		store.Session{Key: store.Hash(id), User: signin.User{Subject: "alice"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		store.Tokens{Token: signin.Token{AccessToken: "at-old", RefreshToken: rt, Expiry: now.Add(-time.Minute)}, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	// Fields set after SessionsFromEnvWith and before the first call apply:
	// on a clock past the session's expiry it is not signed in.
	late, err := auth.SessionsFromEnvWith(context.Background(), func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("SessionsFromEnvWith() error = %v", err)
	}
	late.Now = func() time.Time { return now.Add(2 * time.Hour) }
	if _, err := late.FromCookie(context.Background(), id); !errors.Is(err, auth.ErrNotSignedIn) {
		t.Errorf("FromCookie() on a clock set after SessionsFromEnvWith, past the expiry = %v; want ErrNotSignedIn", err)
	}
	sess, err := s.FromCookie(context.Background(), id)
	if err != nil {
		t.Fatalf("FromCookie() error = %v", err)
	}
	tok, err := s.AccessToken(context.Background(), sess)
	if err != nil || !strings.HasPrefix(tok, "at-") || tok == "at-old" {
		t.Errorf("AccessToken() = %q, %v; want a refreshed token", tok, err)
	}
}
