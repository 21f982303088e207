package oauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/serverless-signin/signin/pkg/oauth"
)

// unsigned builds a JWT with alg "none".
func unsigned(t *testing.T, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc(payload) + "."
}

func TestVerifyIDToken(t *testing.T) {
	p := newProvider(t)
	c := p.client()
	now := p.clock.Now()
	otherRSA := testKey(t, 10) // never one of p's keys
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kid := p.published[0].KeyID

	tests := []struct {
		name    string
		token   string
		nonce   string
		wantErr error  // nil: the token verifies
		wantMsg string // part of the error message naming the failed check
	}{
		{name: "valid", token: p.sign(p.claims(nil)), nonce: "nonce-1"},
		{name: "several audiences with azp", token: p.sign(p.claims(map[string]any{"aud": []string{testClientID, "api"}, "azp": testClientID})), nonce: "nonce-1"},
		{name: "azp equal to the client", token: p.sign(p.claims(map[string]any{"azp": testClientID})), nonce: "nonce-1"},
		{name: "expires in a second", token: p.sign(p.claims(map[string]any{"exp": now.Add(time.Second).Unix()})), nonce: "nonce-1"},
		{name: "iat ahead within the clock skew", token: p.sign(p.claims(map[string]any{"iat": now.Add(30 * time.Second).Unix()})), nonce: "nonce-1"},

		{name: "bad signature", token: signWith(t, jose.RS256, otherRSA, kid, p.claims(nil)), nonce: "nonce-1",
			wantErr: oauth.ErrInvalidIDToken, wantMsg: "signature"},
		{name: "alg none", token: unsigned(t, p.claims(nil)), nonce: "nonce-1",
			wantErr: oauth.ErrInvalidIDToken, wantMsg: "none"},
		{name: "HS256 keyed with the client secret", token: signWith(t, jose.HS256, []byte(testClientSecret), kid, p.claims(nil)), nonce: "nonce-1",
			wantErr: oauth.ErrInvalidIDToken, wantMsg: "HS256"},
		{name: "alg the provider does not advertise", token: signWith(t, jose.ES256, ecKey, kid, p.claims(nil)), nonce: "nonce-1",
			wantErr: oauth.ErrInvalidIDToken, wantMsg: "ES256"},
		{name: "not a JWT", token: "not-a-jwt", nonce: "nonce-1",
			wantErr: oauth.ErrInvalidIDToken, wantMsg: "compact JWS"},
		{name: "wrong iss", token: p.sign(p.claims(map[string]any{"iss": "https://evil.example"})), nonce: "nonce-1",
			wantErr: oauth.ErrInvalidIDToken, wantMsg: "different provider"},
		{name: "wrong aud", token: p.sign(p.claims(map[string]any{"aud": "client-2"})), nonce: "nonce-1",
			wantErr: oauth.ErrInvalidIDToken, wantMsg: "audience"},
		{name: "several audiences without azp", token: p.sign(p.claims(map[string]any{"aud": []string{testClientID, "api"}})), nonce: "nonce-1",
			wantErr: oauth.ErrInvalidIDToken, wantMsg: "no azp"},
		{name: "azp mismatch with several audiences", token: p.sign(p.claims(map[string]any{"aud": []string{testClientID, "client-2"}, "azp": "client-2"})), nonce: "nonce-1",
			wantErr: oauth.ErrInvalidIDToken, wantMsg: "azp"},
		{name: "azp mismatch with one audience", token: p.sign(p.claims(map[string]any{"azp": "client-2"})), nonce: "nonce-1",
			wantErr: oauth.ErrInvalidIDToken, wantMsg: "azp"},
		{name: "expired", token: p.sign(p.claims(map[string]any{"exp": now.Add(-61 * time.Second).Unix()})), nonce: "nonce-1",
			wantErr: oauth.ErrInvalidIDToken, wantMsg: "expired"},
		// exp has no leeway: only iat and nbf get the clock skew.
		{name: "expired a second ago", token: p.sign(p.claims(map[string]any{"exp": now.Add(-time.Second).Unix()})), nonce: "nonce-1",
			wantErr: oauth.ErrInvalidIDToken, wantMsg: "expired"},
		{name: "expiring now", token: p.sign(p.claims(map[string]any{"exp": now.Unix()})), nonce: "nonce-1",
			wantErr: oauth.ErrInvalidIDToken, wantMsg: "expired"},
		{name: "no exp", token: p.sign(p.claims(map[string]any{"exp": nil})), nonce: "nonce-1",
			wantErr: oauth.ErrInvalidIDToken, wantMsg: "no exp"},
		{name: "iat in the future", token: p.sign(p.claims(map[string]any{"iat": now.Add(2 * time.Minute).Unix()})), nonce: "nonce-1",
			wantErr: oauth.ErrInvalidIDToken, wantMsg: "future"},
		{name: "no iat", token: p.sign(p.claims(map[string]any{"iat": nil})), nonce: "nonce-1",
			wantErr: oauth.ErrInvalidIDToken, wantMsg: "no iat"},
		{name: "nbf in the future", token: p.sign(p.claims(map[string]any{"nbf": now.Add(5 * time.Minute).Unix()})), nonce: "nonce-1",
			wantErr: oauth.ErrInvalidIDToken, wantMsg: "not valid before"},
		{name: "sub missing", token: p.sign(p.claims(map[string]any{"sub": nil})), nonce: "nonce-1",
			wantErr: oauth.ErrInvalidIDToken, wantMsg: "no sub"},
		{name: "nonce wrong", token: p.sign(p.claims(nil)), nonce: "nonce-2",
			wantErr: oauth.ErrNonceMismatch},
		{name: "nonce missing from the token", token: p.sign(p.claims(map[string]any{"nonce": nil})), nonce: "nonce-1",
			wantErr: oauth.ErrNonceMismatch},
		{name: "nonce not given", token: p.sign(p.claims(nil)), nonce: "",
			wantErr: oauth.ErrNonceMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.VerifyIDToken(context.Background(), tt.token, tt.nonce)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("VerifyIDToken() error = %v; want nil", err)
				}
				if got.Subject != testSubject || got.Issuer != p.Issuer || got.Raw != tt.token || got.Claims["sub"] != testSubject {
					t.Errorf("VerifyIDToken() = %+v; want sub %q, iss %q and the raw token", got, testSubject, p.Issuer)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("VerifyIDToken() error = %v; want %v", err, tt.wantErr)
			}
			// Every rejection is an invalid ID token, whatever its finer kind.
			if !errors.Is(err, oauth.ErrInvalidIDToken) {
				t.Errorf("VerifyIDToken() error = %v; want it to match ErrInvalidIDToken", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("VerifyIDToken() error = %q; want it to mention %q", err, tt.wantMsg)
			}
		})
	}
}

func TestVerifyIDTokenFields(t *testing.T) {
	p := newProvider(t)
	c := p.client()
	now := p.clock.Now()
	raw := p.sign(p.claims(map[string]any{"aud": []string{testClientID, "api"}, "azp": testClientID, "email": "ada@example.com"}))

	got, err := c.VerifyIDToken(context.Background(), raw, "nonce-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Issuer != p.Issuer || got.Subject != testSubject || got.Nonce != "nonce-1" ||
		len(got.Audience) != 2 || got.Audience[0] != testClientID || got.Audience[1] != "api" ||
		!got.Expiry.Equal(now.Add(time.Hour)) || !got.IssuedAt.Equal(now) ||
		got.Claims["email"] != "ada@example.com" || got.Raw != raw {
		t.Errorf("VerifyIDToken() = %+v; want the token's claims", got)
	}
}

func TestVerifyIDTokenKeyRotation(t *testing.T) {
	p := newProvider(t)
	c := p.client()
	ctx := context.Background()
	verify := func() error {
		_, err := c.VerifyIDToken(ctx, p.sign(p.claims(nil)), "nonce-1")
		return err
	}

	if err := verify(); err != nil {
		t.Fatalf("VerifyIDToken() = %v; want nil", err)
	}
	if err := verify(); err != nil {
		t.Fatalf("VerifyIDToken() again = %v; want nil", err)
	}
	if n := p.count("/keys"); n != 1 {
		t.Fatalf("JWKS fetched %d times for two tokens with a known kid; want 1", n)
	}

	// Right after that first fetch, a token under a kid nobody published is
	// refused (after one refetch), and then the provider rotates to a key it
	// signs with before publishing it, then publishes it: the client follows
	// at once, with no time passing.
	bogus := signWith(t, jose.RS256, p.key, "never-published", p.claims(nil))
	if _, err := c.VerifyIDToken(ctx, bogus, "nonce-1"); !errors.Is(err, oauth.ErrInvalidIDToken) {
		t.Fatalf("VerifyIDToken() with an unpublished kid = %v; want ErrInvalidIDToken", err)
	}
	p.mu.Lock()
	old := p.published
	p.mu.Unlock()
	p.rotate()
	p.mu.Lock()
	rotated := p.published
	p.published = old
	p.mu.Unlock()
	if err := verify(); !errors.Is(err, oauth.ErrInvalidIDToken) {
		t.Fatalf("VerifyIDToken() signed with a key not yet published = %v; want ErrInvalidIDToken", err)
	}
	p.mu.Lock()
	p.published = rotated
	p.mu.Unlock()
	fetches := p.count("/keys")
	if err := verify(); err != nil {
		t.Fatalf("VerifyIDToken() once the rotated key is published = %v; want nil", err)
	}
	if n := p.count("/keys") - fetches; n != 1 {
		t.Fatalf("JWKS fetched %d times to follow the rotation; want 1", n)
	}
	if n := p.count("/keys"); n != 4 {
		t.Fatalf("JWKS fetched %d times in all; want 4", n)
	}

	// A flood of made-up kids: the budget (5 back to back) is spent, and no
	// more fetches happen until time passes.
	for i := range 10 {
		raw := signWith(t, jose.RS256, p.key, fmt.Sprintf("made-up-%d", i), p.claims(nil))
		if _, err := c.VerifyIDToken(ctx, raw, "nonce-1"); !errors.Is(err, oauth.ErrInvalidIDToken) {
			t.Fatalf("VerifyIDToken() with made-up kid %d = %v; want ErrInvalidIDToken", i, err)
		}
	}
	if n := p.count("/keys"); n != 5 {
		t.Fatalf("JWKS fetched %d times after a flood of made-up kids; want 5 (the budget)", n)
	}
	// Known keys keep verifying meanwhile, from the cache.
	if err := verify(); err != nil {
		t.Fatalf("VerifyIDToken() with the budget spent = %v; want nil", err)
	}

	// One fetch comes back per 10 s: the next rotation is followed then.
	p.rotate()
	if err := verify(); !errors.Is(err, oauth.ErrInvalidIDToken) {
		t.Fatalf("VerifyIDToken() after a rotation with the budget spent = %v; want ErrInvalidIDToken", err)
	}
	p.clock.Advance(10 * time.Second)
	if err := verify(); err != nil {
		t.Fatalf("VerifyIDToken() after the rotation, 10 s later = %v; want nil", err)
	}
	if n := p.count("/keys"); n != 6 {
		t.Fatalf("JWKS fetched %d times; want 6", n)
	}
}

func TestVerifyIDTokenJWKSOutage(t *testing.T) {
	p := newProvider(t)
	p.handle("/keys", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("<html>down</html>"))
	})
	c := p.client()

	_, err := c.VerifyIDToken(context.Background(), p.sign(p.claims(nil)), "nonce-1")
	var he *oauth.HTTPError
	if !errors.As(err, &he) || he.Endpoint != "jwks" || he.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("VerifyIDToken() with the JWKS down = %v; want *HTTPError{jwks, 503}", err)
	}
	// An outage is not a forged token: callers may tell them apart.
	if errors.Is(err, oauth.ErrInvalidIDToken) {
		t.Errorf("VerifyIDToken() with the JWKS down = %v; want no ErrInvalidIDToken", err)
	}
}

func TestVerifyIDTokenJWKSIgnoresUnusableKeys(t *testing.T) {
	p := newProvider(t)
	p.mu.Lock()
	good := p.published[0]
	p.mu.Unlock()
	// A symmetric key with the same kid must never become an HMAC key, and
	// an encryption key is not for signatures.
	p.handle("/keys", func(w http.ResponseWriter, r *http.Request) {
		goodJSON, _ := good.MarshalJSON()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"keys":[` +
			`{"kty":"oct","kid":"` + good.KeyID + `","k":"` + base64.RawURLEncoding.EncodeToString([]byte(testClientSecret)) + `"},` +
			`{"kty":"OKP","crv":"X448","x":"AAAA","kid":"x448"},` +
			string(goodJSON) + `]}`))
	})
	c := p.client()
	ctx := context.Background()

	if _, err := c.VerifyIDToken(ctx, p.sign(p.claims(nil)), "nonce-1"); err != nil {
		t.Fatalf("VerifyIDToken() with unusable keys beside the good one = %v; want nil", err)
	}
	hs := signWith(t, jose.HS256, []byte(testClientSecret), good.KeyID, p.claims(nil))
	if _, err := c.VerifyIDToken(ctx, hs, "nonce-1"); !errors.Is(err, oauth.ErrInvalidIDToken) {
		t.Fatalf("VerifyIDToken(HS256) = %v; want ErrInvalidIDToken", err)
	}
}

func TestVerifyIDTokenWithoutJWKS(t *testing.T) {
	p := newProvider(t)
	p.setMeta("jwks_uri", nil)
	c := p.client()

	_, err := c.VerifyIDToken(context.Background(), p.sign(p.claims(nil)), "nonce-1")
	if err == nil || !strings.Contains(err.Error(), "no JWKS URL") {
		t.Fatalf("VerifyIDToken() without a jwks_uri = %v; want an error naming the missing JWKS URL", err)
	}
}

func TestVerifyIDTokenExplicitKeys(t *testing.T) {
	p := newProvider(t)
	c := p.client(func(cfg *oauth.Config) {
		cfg.JWKSURL = p.Issuer + "/keys"
		cfg.SigningAlgs = []string{"RS256"}
	})
	if _, err := c.VerifyIDToken(context.Background(), p.sign(p.claims(nil)), "nonce-1"); err != nil {
		t.Fatalf("VerifyIDToken() = %v; want nil", err)
	}
	if n := p.count("/.well-known/openid-configuration"); n != 0 {
		t.Errorf("discovery fetched %d times with JWKSURL and SigningAlgs configured; want 0", n)
	}
}

// Concurrent verifications on a cold cache share one JWKS fetch.
func TestVerifyIDTokenConcurrentColdStart(t *testing.T) {
	p := newProvider(t)
	c := p.client()
	raw := p.sign(p.claims(nil))
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if _, err := c.VerifyIDToken(context.Background(), raw, "nonce-1"); err != nil {
				t.Errorf("VerifyIDToken() = %v", err)
			}
		})
	}
	wg.Wait()
	if n := p.count("/keys"); n != 1 {
		t.Errorf("JWKS fetched %d times by 10 concurrent verifications; want 1", n)
	}
	if n := p.count("/.well-known/openid-configuration"); n != 1 {
		t.Errorf("discovery fetched %d times by 10 concurrent verifications; want 1", n)
	}
}
