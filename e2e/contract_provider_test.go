//go:build linux

package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/serverless-signin/signin/internal/oidctest"
)

// adversary is a small OpenID provider that a test can switch, per subtest, to misbehave in one
// precise way. Its well-behaved answers follow the specs closely enough to sign a user in: S256
// PKCE, client authentication (basic or post), single-use codes bound to their redirect URI, RS256
// ID tokens with a kid, userinfo behind the access token, RFC 7009 revocation.
//
// Authorization is not an HTTP round trip: the test hands the login's Location to authorize, which
// checks the request and returns the redirect the browser would follow back to the callback.
type adversary struct {
	t        *testing.T
	srv      *httptest.Server
	issuer   string
	clientID string
	secret   string
	quit     chan struct{} // closed at cleanup: releases hanging handlers

	mu              sync.Mutex
	key             *rsa.PrivateKey // current signing key ...
	kid             string          // ... and its kid
	published       []jose.JSONWebKey
	keyN            int
	discoveryIssuer string // the issuer the discovery document names; "" is the real one
	noDiscovery     bool   // the discovery document is 404
	issSupported    bool   // the discovery document advertises authorization_response_iss_parameter_supported
	user            map[string]any
	grants          map[string]*grant // by code
	access          map[string]string // access token → subject
	calls           map[string]int    // requests by path
	revocations     []revocation
	verifiers       []string // code_verifier of each token request
	minted          map[string]string
	bad             misbehaviour
}

// grant is one authorization: what the authorize request carried, until its code is redeemed.
type grant struct {
	redirectURI, challenge, nonce, scope string
	used                                 bool
}

// revocation is one authenticated request the revocation endpoint received.
type revocation struct{ token, hint string }

// misbehaviour is how the adversary deviates during one subtest. The zero value behaves.
type misbehaviour struct {
	claims      func(c map[string]any)                           // edits the ID token's claims
	sign        func(a *adversary, claims map[string]any) string // replaces RS256 with the published key
	omitIDToken bool
	response    func(r map[string]any)                                        // edits the token response
	token       func(w http.ResponseWriter, r *http.Request, form url.Values) // replaces the token endpoint's answer
	userinfo    func(c map[string]any)                                        // edits the userinfo claims
	userinfoAns func(w http.ResponseWriter, r *http.Request)                  // replaces the userinfo endpoint's answer
	revoke      func(w http.ResponseWriter, r *http.Request)                  // replaces the revocation endpoint's answer
}

// Endpoint paths of the adversary, relative to its issuer.
const (
	advAuthorize       = "/authorize"
	advDiscoveredAuthz = "/discovered/authorize" // the discovery document's authorization_endpoint
	advToken           = "/oauth/token"
	advUserinfo        = "/userinfo"
	advRevoke          = "/revoke"
	advEndSession      = "/end_session"
	advJWKS            = "/jwks"
	advDiscovery       = "/.well-known/openid-configuration"
	advAltToken        = "/alt/token"    // the same token endpoint, for OAUTH_TOKEN_URL
	advAltUserinfo     = "/alt/userinfo" // the same userinfo endpoint, for OAUTH_USERINFO_URL
	advCapture         = "/capture"      // where a misbehaving endpoint redirects to
	advClientID        = "contract-client"
	advClientSecret    = "contract-client-secret-4f1d9a7c2b8e6035d1" // 40 bytes: also a valid HS256 key
	advSubject         = "adv-user-7f3a"
	advEmail           = "ada@example.com"
	advName            = "Ada Lovelace"
	advAccessTokenLife = 300
)

// newAdversary starts an adversary on its own httptest server; the issuer is the server's URL.
func newAdversary(t *testing.T) *adversary {
	t.Helper()
	a := &adversary{
		t: t, clientID: advClientID, secret: advClientSecret, quit: make(chan struct{}),
		grants: map[string]*grant{}, access: map[string]string{}, calls: map[string]int{}, minted: map[string]string{},
		user: map[string]any{"sub": advSubject, "email": advEmail, "name": advName},
	}
	a.rotate()
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+advDiscovery, a.discovery)
	mux.HandleFunc("GET "+advJWKS, a.jwks)
	mux.HandleFunc("POST "+advToken, a.token)
	mux.HandleFunc("GET "+advUserinfo, a.userinfo)
	mux.HandleFunc("POST "+advAltToken, a.token)
	mux.HandleFunc("GET "+advAltUserinfo, a.userinfo)
	mux.HandleFunc("POST "+advRevoke, a.revoke)
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.calls[r.URL.Path]++
		a.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	a.issuer = a.srv.URL
	t.Cleanup(func() {
		close(a.quit)
		a.srv.Close()
	})
	return a
}

// misbehave makes the adversary deviate as m says until the (sub)test ends.
func (a *adversary) misbehave(t *testing.T, m misbehaviour) {
	a.mu.Lock()
	a.bad = m
	a.mu.Unlock()
	t.Cleanup(func() {
		a.mu.Lock()
		a.bad = misbehaviour{}
		a.mu.Unlock()
	})
}

// count is the number of requests received for path; "" counts every path.
func (a *adversary) count(path string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if path != "" {
		return a.calls[path]
	}
	n := 0
	for _, c := range a.calls {
		n += c
	}
	return n
}

// secrets returns every code, token and verifier the adversary minted or received, by value.
func (a *adversary) secrets() map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.minted)
}

func (a *adversary) remember(what, value string) {
	if value != "" {
		a.minted[value] = what
	}
}

// rotate makes a new key the signing key and publishes only it: what a provider's rotation looks
// like to a client that cached the old set.
func (a *adversary) rotate() {
	key := oidctest.NewKey(a.t)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.keyN++
	a.key, a.kid = key, fmt.Sprintf("adv-key-%d", a.keyN)
	a.published = []jose.JSONWebKey{oidctest.JWK(key, a.kid)}
}

// setUser replaces the signed-in user's claims (both the ID token's and userinfo's) until the
// test ends.
func (a *adversary) setUser(t *testing.T, claims map[string]any) {
	a.mu.Lock()
	old := a.user
	a.user = claims
	a.mu.Unlock()
	t.Cleanup(func() {
		a.mu.Lock()
		a.user = old
		a.mu.Unlock()
	})
}

// authorize plays the provider's authorization endpoint for the URL the login redirected to: it
// checks the request as a strict provider would and returns the query the provider would send the
// browser back with (code, state and, with withIss, iss as RFC 9207 has it).
func (a *adversary) authorize(t *testing.T, location string, withIss bool) url.Values {
	t.Helper()
	u, err := url.Parse(location)
	if err != nil {
		t.Fatalf("authorize URL %q: %v", location, err)
	}
	if base := u.Scheme + "://" + u.Host + u.Path; base != a.issuer+advAuthorize && base != a.issuer+advDiscoveredAuthz {
		t.Fatalf("login redirected to %s; want %s%s", base, a.issuer, advAuthorize)
	}
	q := u.Query()
	for _, k := range []string{"response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge", "code_challenge_method"} {
		if len(q[k]) != 1 {
			t.Fatalf("authorize URL has %d %s parameters; want 1: %s", len(q[k]), k, location)
		}
	}
	code := randomValue()
	a.mu.Lock()
	a.grants[code] = &grant{redirectURI: q.Get("redirect_uri"), challenge: q.Get("code_challenge"), nonce: q.Get("nonce"), scope: q.Get("scope")}
	a.remember("authorization code", code)
	a.mu.Unlock()
	back := url.Values{"code": {code}, "state": {q.Get("state")}}
	if withIss {
		back.Set("iss", a.issuer)
	}
	return back
}

func (a *adversary) discovery(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	issuer, none, issSupported := a.discoveryIssuer, a.noDiscovery, a.issSupported
	a.mu.Unlock()
	if none {
		http.NotFound(w, r)
		return
	}
	if issuer == "" {
		issuer = a.issuer
	}
	doc := oidctest.Discovery(a.issuer, advJWKS)
	oidctest.Set(doc, map[string]any{
		"issuer":                                issuer,
		"authorization_endpoint":                a.issuer + advDiscoveredAuthz,
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"code_challenge_methods_supported":      []string{"S256"},
	})
	if issSupported {
		doc["authorization_response_iss_parameter_supported"] = true
	}
	writeJSON(w, http.StatusOK, doc, nil)
}

func (a *adversary) jwks(w http.ResponseWriter, _ *http.Request) {
	a.mu.Lock()
	set := jose.JSONWebKeySet{Keys: a.published}
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, set, nil)
}

// clientAuthenticated checks client_secret_basic (form-encoded id and secret, RFC 6749 §2.3.1) or
// client_secret_post.
func (a *adversary) clientAuthenticated(r *http.Request) bool {
	id, secret, ok := r.BasicAuth()
	if ok {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	return id == a.clientID && secret == a.secret
}

func (a *adversary) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"}, nil)
		return
	}
	form := r.PostForm
	a.mu.Lock()
	bad, user := a.bad, maps.Clone(a.user)
	a.remember("PKCE verifier", form.Get("code_verifier"))
	a.verifiers = append(a.verifiers, form.Get("code_verifier"))
	a.mu.Unlock()
	if bad.token != nil {
		bad.token(w, r, form)
		return
	}
	if !a.clientAuthenticated(r) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"}, nil)
		return
	}

	a.mu.Lock()
	g := a.grants[form.Get("code")]
	ok := g != nil && !g.used && form.Get("grant_type") == "authorization_code" &&
		form.Get("redirect_uri") == g.redirectURI && s256(form.Get("code_verifier")) == g.challenge &&
		len(form.Get("code_verifier")) >= 43
	if ok {
		g.used = true
	}
	a.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"}, nil)
		return
	}

	now := time.Now()
	claims := oidctest.Claims(a.issuer, a.clientID, g.nonce, now, 5*time.Minute)
	claims["auth_time"] = now.Unix()
	maps.Copy(claims, user)
	if bad.claims != nil {
		bad.claims(claims)
	}
	var idToken string
	if bad.sign != nil {
		idToken = bad.sign(a, claims)
	} else {
		a.mu.Lock()
		key, kid := a.key, a.kid
		a.mu.Unlock()
		idToken = signJWT(a.t, jose.RS256, key, kid, claims)
	}
	accessToken, refreshToken := randomValue(), randomValue()
	a.mu.Lock()
	a.access[accessToken], _ = user["sub"].(string)
	a.remember("access token", accessToken)
	a.remember("refresh token", refreshToken)
	a.remember("ID token", idToken)
	a.mu.Unlock()

	resp := map[string]any{
		"access_token": accessToken, "token_type": "Bearer", "expires_in": advAccessTokenLife,
		"refresh_token": refreshToken, "scope": g.scope, "id_token": idToken,
	}
	if bad.omitIDToken {
		delete(resp, "id_token")
	}
	writeJSON(w, http.StatusOK, resp, bad.response)
}

func (a *adversary) userinfo(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	a.mu.Lock()
	sub, known := a.access[token]
	claims, bad := maps.Clone(a.user), a.bad
	a.mu.Unlock()
	if !ok || !known {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	claims["sub"] = sub
	if bad.userinfoAns != nil {
		bad.userinfoAns(w, r)
		return
	}
	if bad.userinfo != nil {
		bad.userinfo(claims)
	}
	writeJSON(w, http.StatusOK, claims, nil)
}

func (a *adversary) revoke(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"}, nil)
		return
	}
	if !a.clientAuthenticated(r) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"}, nil)
		return
	}
	a.mu.Lock()
	a.revocations = append(a.revocations, revocation{r.PostForm.Get("token"), r.PostForm.Get("token_type_hint")})
	bad := a.bad
	a.mu.Unlock()
	if bad.revoke != nil {
		bad.revoke(w, r)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// hang holds a request until its client gives up (or the test ends): a provider that accepted
// the connection and never answers.
func (a *adversary) hang(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-a.quit:
	}
}

// revoked returns the revocations received so far.
func (a *adversary) revoked() []revocation {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]revocation(nil), a.revocations...)
}

// lastVerifier is the code_verifier of the last token request.
func (a *adversary) lastVerifier() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.verifiers) == 0 {
		return ""
	}
	return a.verifiers[len(a.verifiers)-1]
}

var (
	signJWT     = oidctest.Sign
	unsignedJWT = oidctest.Unsigned
)

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// randomValue is 256 random bits, base64url: a code or token as providers mint them.
func randomValue() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// writeJSON answers v as JSON; edit, when not nil, changes the object before it is written.
func writeJSON(w http.ResponseWriter, status int, v any, edit func(map[string]any)) {
	if edit != nil {
		data, _ := json.Marshal(v)
		var m map[string]any
		json.Unmarshal(data, &m)
		edit(m)
		v = m
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// secretStore plays Secrets Manager (GetSecretValue) and SSM Parameter Store (GetParameter with
// decryption) for one secret each, over the AWS JSON 1.1 protocol, and counts the reads.
type secretStore struct {
	url string

	mu    sync.Mutex
	calls map[string]int // by X-Amz-Target
}

func newSecretStore(t *testing.T, arn, smValue, parameter, ssmValue string) *secretStore {
	t.Helper()
	st := &secretStore{calls: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.Header.Get("X-Amz-Target")
		var in struct {
			SecretID       string `json:"SecretId"`
			Name           string `json:"Name"`
			WithDecryption bool   `json:"WithDecryption"`
		}
		json.NewDecoder(r.Body).Decode(&in)
		st.mu.Lock()
		st.calls[target]++
		st.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		switch {
		case target == "secretsmanager.GetSecretValue" && in.SecretID == arn:
			json.NewEncoder(w).Encode(map[string]any{"ARN": arn, "Name": "signin/client-secret", "SecretString": smValue, "VersionId": "v1"})
		case target == "AmazonSSM.GetParameter" && in.Name == parameter && in.WithDecryption:
			json.NewEncoder(w).Encode(map[string]any{"Parameter": map[string]any{"Name": parameter, "Type": "SecureString", "Value": ssmValue, "Version": 1}})
		default:
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"__type": "ResourceNotFoundException", "message": "no such secret"})
		}
	}))
	t.Cleanup(srv.Close)
	st.url = srv.URL
	return st
}

func (st *secretStore) count(target string) int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.calls[target]
}
