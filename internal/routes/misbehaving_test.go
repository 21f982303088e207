package routes_test

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/serverless-signin/signin/internal/oidctest"
	"github.com/serverless-signin/signin/pkg/oauth"
	"github.com/serverless-signin/signin/pkg/session"
	"github.com/serverless-signin/signin/pkg/signin"
	"github.com/serverless-signin/signin/pkg/store"
)

// misbehavingProvider is a small OpenID provider whose token and userinfo
// answers each test shapes: the real dev provider cannot be made to lie.
// It signs ID tokens with a real RSA key published at /keys.
type misbehavingProvider struct {
	*httptest.Server
	key, otherKey *rsa.PrivateKey

	mu       sync.Mutex
	nonce    string // of the sign-in in progress
	behavior misbehavior
}

// misbehavior shapes one token response; nil fields keep the good answer.
type misbehavior struct {
	claims      func(c map[string]any)                                     // edit the ID token claims
	sign        func(p *misbehavingProvider, claims map[string]any) string // sign differently
	token       func(t map[string]any)                                     // edit the token response
	tokenStatus int                                                        // 0: 200
	rawToken    string                                                     // a body that is not JSON
	userinfo    func(u map[string]any)
}

const (
	fakeClientID = "fake-client"
	fakeSubject  = "fake-user-42"
	fakeSecret   = "fake-secret-long-enough-for-an-hmac-key"
)

func startMisbehavingProvider(t *testing.T) *misbehavingProvider {
	t.Helper()
	p := &misbehavingProvider{key: oidctest.Key(t, 0), otherKey: oidctest.Key(t, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		doc := oidctest.Discovery(p.URL, "/keys")
		doc["response_types_supported"] = []string{"code"}
		doc["subject_types_supported"] = []string{"public"}
		doc["code_challenge_methods_supported"] = []string{"S256"}
		writeJSON(w, 200, doc)
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{oidctest.JWK(p.key, "k1")}})
	})
	mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		b, nonce := p.behavior, p.nonce
		p.mu.Unlock()
		if r.FormValue("grant_type") != "authorization_code" || r.FormValue("code") == "" || r.FormValue("code_verifier") == "" {
			writeJSON(w, 400, map[string]string{"error": "invalid_request"})
			return
		}
		if b.rawToken != "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(200)
			w.Write([]byte(b.rawToken))
			return
		}
		claims := oidctest.Claims(p.URL, fakeClientID, nonce, time.Now(), 5*time.Minute)
		oidctest.Set(claims, map[string]any{"sub": fakeSubject, "email": "fake@example.com", "name": "Fake User"})
		if b.claims != nil {
			b.claims(claims)
		}
		sign := b.sign
		if sign == nil {
			sign = func(p *misbehavingProvider, c map[string]any) string {
				return oidctest.Sign(t, jose.RS256, p.key, "k1", c)
			}
		}
		resp := map[string]any{
			"access_token": "fake-access-token",
			"token_type":   "Bearer",
			"expires_in":   300,
			"id_token":     sign(p, claims),
		}
		if b.token != nil {
			b.token(resp)
		}
		status := b.tokenStatus
		if status == 0 {
			status = 200
		}
		writeJSON(w, status, resp)
	})
	mux.HandleFunc("GET /userinfo", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		b := p.behavior
		p.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer fake-access-token" {
			writeJSON(w, 401, map[string]string{"error": "invalid_token"})
			return
		}
		u := map[string]any{"sub": fakeSubject, "email": "fake@example.com", "name": "Fake User"}
		if b.userinfo != nil {
			b.userinfo(u)
		}
		writeJSON(w, 200, u)
	})
	p.Server = httptest.NewServer(mux)
	t.Cleanup(p.Close)
	return p
}

func (p *misbehavingProvider) set(nonce string, b misbehavior) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nonce, p.behavior = nonce, b
}

var writeJSON = oidctest.WriteJSON

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// Every way an ID token or the provider's answers can be wrong ends in a
// 500 with the fixed body, no session record and no session cookie.
func TestCallbackMisbehavingProvider(t *testing.T) {
	tests := []struct {
		name string
		b    misbehavior
		ok   bool
	}{
		{name: "well behaved", ok: true},
		{name: "bad nonce", b: misbehavior{claims: func(c map[string]any) { c["nonce"] = "not-the-nonce" }}},
		{name: "no nonce", b: misbehavior{claims: func(c map[string]any) { delete(c, "nonce") }}},
		{name: "wrong audience", b: misbehavior{claims: func(c map[string]any) { c["aud"] = "another-client" }}},
		{name: "several audiences, azp another client", b: misbehavior{claims: func(c map[string]any) {
			c["aud"], c["azp"] = []string{fakeClientID, "another-client"}, "another-client"
		}}},
		{name: "wrong issuer", b: misbehavior{claims: func(c map[string]any) { c["iss"] = "https://evil.example" }}},
		{name: "expired", b: misbehavior{claims: func(c map[string]any) {
			c["exp"], c["iat"] = time.Now().Add(-10*time.Minute).Unix(), time.Now().Add(-20*time.Minute).Unix()
		}}},
		{name: "issued in the future", b: misbehavior{claims: func(c map[string]any) {
			c["iat"], c["exp"] = time.Now().Add(time.Hour).Unix(), time.Now().Add(2*time.Hour).Unix()
		}}},
		{name: "alg none", b: misbehavior{sign: func(p *misbehavingProvider, c map[string]any) string {
			return oidctest.Unsigned(t, "k1", c)
		}}},
		{name: "HS256 keyed with the client secret", b: misbehavior{sign: func(p *misbehavingProvider, c map[string]any) string {
			return oidctest.Sign(t, jose.HS256, []byte(fakeSecret), "k1", c)
		}}},
		{name: "signed by an unpublished key", b: misbehavior{sign: func(p *misbehavingProvider, c map[string]any) string {
			return oidctest.Sign(t, jose.RS256, p.otherKey, "k1", c)
		}}},
		{name: "payload swapped after signing", b: misbehavior{sign: func(p *misbehavingProvider, c map[string]any) string {
			good := strings.Split(oidctest.Sign(t, jose.RS256, p.key, "k1", c), ".")
			c["sub"] = "admin"
			payload, _ := json.Marshal(c)
			return good[0] + "." + b64(string(payload)) + "." + good[2]
		}}},
		{name: "at_hash mismatch", b: misbehavior{claims: func(c map[string]any) {
			sum := sha256.Sum256([]byte("another-access-token"))
			c["at_hash"] = base64.RawURLEncoding.EncodeToString(sum[:16])
		}}},
		{name: "userinfo for another subject", b: misbehavior{userinfo: func(u map[string]any) { u["sub"] = "someone-else" }}},
		{name: "no id token", b: misbehavior{token: func(t map[string]any) { delete(t, "id_token") }}},
		{name: "no access token", b: misbehavior{token: func(t map[string]any) { delete(t, "access_token") }}},
		{name: "invalid_grant", b: misbehavior{tokenStatus: 400, token: func(t map[string]any) {
			clear(t)
			t["error"], t["error_description"] = "invalid_grant", "code expired"
		}}},
		{name: "token endpoint error page", b: misbehavior{tokenStatus: 502}},
		{name: "token response not JSON", b: misbehavior{rawToken: "<html>oops</html>"}},
	}

	p := startMisbehavingProvider(t)
	client, err := oauth.NewClient(oauth.Config{Issuer: p.URL, ClientID: fakeClientID, ClientSecret: fakeSecret})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &app{t: t, client: client, logs: &logBuffer{}, clock: newClock(), scheme: "https"}
			a.store = &countingStore{Store: store.NewMemory()}
			a.h = newHandler(client, a.store, options{Logger: session.NewLogger(a.logs), Now: a.clock.Now})
			b := a.browser()
			state := b.login("/dest").Query()
			p.set(state.Get("nonce"), tt.b)
			a.store.Take()

			resp := b.get("/auth/callback?code=fake-code&state=" + state.Get("state"))
			calls := a.store.Take()
			keys, err := a.store.SessionKeys(context.Background(), p.URL, fakeSubject)
			if err != nil {
				t.Fatal(err)
			}
			if tt.ok {
				checkResponse(t, "callback", resp, 302, "")
				sess, err := a.session(b.sessionID())
				if want := (signin.User{Subject: fakeSubject, Email: "fake@example.com", Name: "Fake User"}); err != nil || sess.User != want {
					t.Errorf("session user = %+v, %v; want %+v", sess.User, err, want)
				}
				return
			}
			checkResponse(t, "callback", resp, 500, signInFailed)
			checkCookies(t, "callback", resp)
			if calls["CreateSession"] != 0 || len(keys) != 0 {
				t.Errorf("store calls %v, sessions %v; want no session written", calls, keys)
			}
			if l := a.logs.Lines(t); l[len(l)-1]["level"] != "ERROR" || l[len(l)-1]["error"] == nil {
				t.Errorf("log line %v; want an ERROR with the error", l[len(l)-1])
			}
		})
	}
}

// The user's email and name fall back to the ID token when userinfo omits
// them.
func TestCallbackUserFromIDToken(t *testing.T) {
	p := startMisbehavingProvider(t)
	client, err := oauth.NewClient(oauth.Config{Issuer: p.URL, ClientID: fakeClientID, ClientSecret: fakeSecret})
	if err != nil {
		t.Fatal(err)
	}
	a := &app{t: t, client: client, logs: &logBuffer{}, clock: newClock(), scheme: "https"}
	a.store = &countingStore{Store: store.NewMemory()}
	a.h = newHandler(client, a.store, options{Logger: session.NewLogger(a.logs), Now: a.clock.Now})
	b := a.browser()
	state := b.login("").Query()
	p.set(state.Get("nonce"), misbehavior{userinfo: func(u map[string]any) { delete(u, "email"); delete(u, "name") }})
	resp := b.get("/auth/callback?code=fake-code&state=" + state.Get("state"))
	checkResponse(t, "callback", resp, 302, "")
	checkResponse(t, "me", b.get("/auth/me"), 200,
		`{"authenticated":true,"user":{"id":"fake-user-42","email":"fake@example.com","name":"Fake User"}}`)
}
