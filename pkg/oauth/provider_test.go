package oauth_test

import (
	"bytes"
	"crypto/rsa"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/serverless-signin/signin/internal/oidctest"
	"github.com/serverless-signin/signin/pkg/oauth"
	"github.com/serverless-signin/signin/pkg/signin"
)

// The client registered at every test provider.
const (
	testClientID     = "client-1"
	testClientSecret = "s3cret-value-0123456789-abcdefghijkl"
	testSubject      = "user-0001"
	testRedirectURI  = "https://app.example/auth/callback"
)

// clock is a settable clock shared by a provider and its clients.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// request is what a provider endpoint received.
type request struct {
	Method string
	Header http.Header
	Query  url.Values
	Form   url.Values // POST body, form-decoded
}

// provider is a small OpenID provider on httptest that signs real RS256
// tokens. Endpoints behave well by default; tests replace them with handle
// and read what they received with last and calls.
type provider struct {
	t      testing.TB
	srv    *httptest.Server
	Issuer string
	clock  *clock

	mu        sync.Mutex
	meta      map[string]any // discovery document
	key       *rsa.PrivateKey
	kid       string
	keyN      int
	published []jose.JSONWebKey
	handlers  map[string]http.HandlerFunc
	calls     map[string]int
	requests  map[string][]request
}

func newProvider(t testing.TB) *provider {
	t.Helper()
	p := &provider{t: t, clock: newClock(), handlers: map[string]http.HandlerFunc{}, calls: map[string]int{}, requests: map[string][]request{}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	p.Issuer = p.srv.URL
	p.meta = oidctest.Discovery(p.Issuer, "/keys")
	p.meta["token_endpoint_auth_methods_supported"] = []string{"client_secret_basic", "client_secret_post"}
	p.rotate()
	p.handle("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		writeJSON(w, 200, p.meta)
	})
	p.handle("/keys", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		writeJSON(w, 200, jose.JSONWebKeySet{Keys: p.published})
	})
	p.handle("/oauth/token", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, p.tokenResponse(nil))
	})
	p.handle("/userinfo", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"sub": testSubject, "email": "ada@example.com", "name": "Ada", "email_verified": true})
	})
	p.handle("/revoke", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	return p
}

func (p *provider) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	form, _ := url.ParseQuery(string(body))
	p.mu.Lock()
	p.calls[r.URL.Path]++
	p.requests[r.URL.Path] = append(p.requests[r.URL.Path], request{Method: r.Method, Header: r.Header.Clone(), Query: r.URL.Query(), Form: form})
	h := p.handlers[r.URL.Path]
	p.mu.Unlock()
	if h == nil {
		http.NotFound(w, r)
		return
	}
	h(w, r)
}

// handle replaces the handler of an endpoint path.
func (p *provider) handle(path string, h http.HandlerFunc) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.handlers[path] = h
}

// setMeta changes a discovery document field (nil deletes it).
func (p *provider) setMeta(k string, v any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if v == nil {
		delete(p.meta, k)
		return
	}
	p.meta[k] = v
}

func (p *provider) count(path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[path]
}

// last returns the last request to path; the test fails if there was none.
func (p *provider) last(path string) request {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	rs := p.requests[path]
	if len(rs) == 0 {
		p.t.Fatalf("no request to %s", path)
	}
	return rs[len(rs)-1]
}

// Keys are shared by index: provider n's i-th key is testKey(i).
var (
	testKey   = oidctest.Key
	signWith  = oidctest.Sign
	writeJSON = oidctest.WriteJSON
)

// rotate switches to a new signing key and publishes only it.
func (p *provider) rotate() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.key = testKey(p.t, p.keyN)
	p.keyN++
	p.kid = fmt.Sprintf("key-%d", p.keyN)
	p.published = []jose.JSONWebKey{oidctest.JWK(p.key, p.kid)}
}

// claims returns valid ID token claims for the test client, changed by set
// (a nil value deletes the claim).
func (p *provider) claims(set map[string]any) map[string]any {
	c := oidctest.Claims(p.Issuer, testClientID, "nonce-1", p.clock.Now(), time.Hour)
	c["sub"] = testSubject
	oidctest.Set(c, set)
	return c
}

// sign signs claims with the current key (RS256, kid in the header).
func (p *provider) sign(claims map[string]any) string {
	p.mu.Lock()
	key, kid := p.key, p.kid
	p.mu.Unlock()
	return signWith(p.t, jose.RS256, key, kid, claims)
}

// tokenResponse is a successful token response with an ID token made of
// p.claims(set); extra fields override the response's.
func (p *provider) tokenResponse(set map[string]any, extra ...map[string]any) map[string]any {
	res := map[string]any{
		"access_token":  "access-token-1",
		"token_type":    "Bearer",
		"expires_in":    3600,
		"refresh_token": "refresh-token-1",
		"id_token":      p.sign(p.claims(set)),
		"scope":         "openid profile email",
	}
	for _, e := range extra {
		oidctest.Set(res, e)
	}
	return res
}

// config is a Config for this provider and the test client.
func (p *provider) config() oauth.Config {
	return oauth.Config{
		Issuer:       p.Issuer,
		ClientID:     testClientID,
		ClientSecret: testClientSecret,
		HTTPClient:   p.srv.Client(),
		Now:          p.clock.Now,
		Timeout:      5 * time.Second,
	}
}

// client builds a Client for p, its config changed by edit.
func (p *provider) client(edit ...func(*oauth.Config)) *oauth.Client {
	p.t.Helper()
	cfg := p.config()
	for _, e := range edit {
		e(&cfg)
	}
	c, err := oauth.NewClient(cfg)
	if err != nil {
		p.t.Fatalf("NewClient: %v", err)
	}
	return c
}

// testReq is the AuthRequest of the test sign-ins: its nonce is the one of
// the provider's ID tokens.
var testReq = signin.AuthRequest{State: "state-1", Nonce: "nonce-1", Verifier: testVerifier, RedirectURI: testRedirectURI}
