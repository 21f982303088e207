// Package oidctest is a misbehaving OpenID provider for tests: the parts every test provider
// shares (RSA keys, the JWKS and discovery documents, ID token claims and RS256 signing with a
// kid), so that each test package keeps only the endpoints and the misbehaviour it needs.
package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// RSA key generation dominates the test time, so shared keys are made once per test binary.
var keys struct {
	mu   sync.Mutex
	keys []*rsa.PrivateKey
}

// Key returns the binary's i-th shared 2048-bit RSA key, generating it on first use.
func Key(t testing.TB, i int) *rsa.PrivateKey {
	t.Helper()
	keys.mu.Lock()
	defer keys.mu.Unlock()
	for len(keys.keys) <= i {
		keys.keys = append(keys.keys, NewKey(t))
	}
	return keys.keys[i]
}

// NewKey generates a fresh 2048-bit RSA key that no other test shares.
func NewKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// JWK is key's public half as a provider publishes it: RS256, for signatures, named kid.
func JWK(key *rsa.PrivateKey, kid string) jose.JSONWebKey {
	return jose.JSONWebKey{Key: key.Public(), KeyID: kid, Algorithm: string(jose.RS256), Use: "sig"}
}

// Discovery is the discovery document of a provider at issuer whose endpoints sit at the usual
// paths and whose key set is at jwksPath. Callers add or override fields.
func Discovery(issuer, jwksPath string) map[string]any {
	return map[string]any{
		"issuer":                                issuer,
		"authorization_endpoint":                issuer + "/authorize",
		"token_endpoint":                        issuer + "/oauth/token",
		"userinfo_endpoint":                     issuer + "/userinfo",
		"revocation_endpoint":                   issuer + "/revoke",
		"end_session_endpoint":                  issuer + "/end_session",
		"jwks_uri":                              issuer + jwksPath,
		"id_token_signing_alg_values_supported": []string{"RS256"},
	}
}

// Claims are valid ID token claims from iss for the client aud, issued at now and good for life.
func Claims(iss, aud, nonce string, now time.Time, life time.Duration) map[string]any {
	return map[string]any{
		"iss":   iss,
		"aud":   aud,
		"exp":   now.Add(life).Unix(),
		"iat":   now.Unix(),
		"nonce": nonce,
	}
}

// Set copies set into m, deleting the keys whose value is nil.
func Set(m, set map[string]any) {
	for k, v := range set {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
}

// Sign signs claims as a compact JWS with alg and key, naming kid in the header when not empty.
func Sign(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatalf("jose.NewSigner(%s): %v", alg, err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// Unsigned is an "alg": "none" token naming kid (go-jose refuses to make one).
func Unsigned(t testing.TB, kid string, claims map[string]any) string {
	t.Helper()
	header, err := json.Marshal(map[string]string{"alg": "none", "typ": "JWT", "kid": kid})
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc(header) + "." + enc(payload) + "."
}

// WriteJSON answers v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
