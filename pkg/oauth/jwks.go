package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
)

// The JWKS fetch budget: jwksRefetchBurst fetches back to back, then one
// more per jwksRefetchInterval. A provider that rotates its key is followed
// at once, even right after a cold start fetched the old set (and after a
// token with a bogus kid or two); without a bound, tokens with random kids
// would turn every request into a round trip to the provider.
const (
	jwksRefetchBurst    = 5
	jwksRefetchInterval = 10 * time.Second
)

// keySet is an oidc.KeySet over a provider's jwks_uri.
//
// Written by hand because oidc.RemoteKeySet refetches on every unknown kid
// (no rate limit), never expires keys, and takes its HTTP client and
// deadline from a context captured at construction. Network work happens in
// ensure, before verification; VerifySignature only reads the cache, so
// go-oidc's verifier stays free of I/O.
type keySet struct {
	c   *Client
	url string

	mu        sync.Mutex
	keys      []jose.JSONWebKey
	fetchedAt time.Time // last successful fetch
	budgetAt  time.Time // when the fetch budget is whole again (see spend)
	inflight  *flight
}

var _ oidc.KeySet = (*keySet)(nil)

// ensure makes the key with this kid (any key when kid is empty) available
// in the cache, fetching the JWKS when the key is unknown or the cache older
// than JWKSTTL, within the fetch budget (jwksRefetchBurst, then one per
// jwksRefetchInterval).
func (k *keySet) ensure(ctx context.Context, kid string) error {
	k.mu.Lock()
	now := k.c.now()
	known := k.hasLocked(kid)
	if known && now.Before(k.fetchedAt.Add(k.c.cfg.JWKSTTL)) {
		k.mu.Unlock()
		return nil
	}
	f := k.inflight
	if f == nil {
		if !k.spendLocked(now) {
			k.mu.Unlock()
			if known {
				return nil // stale, and the refetch is rate-limited: use what we have
			}
			return fmt.Errorf("%w: unknown signing key id (JWKS refetch rate-limited)", ErrInvalidIDToken)
		}
		f = &flight{done: make(chan struct{})}
		k.inflight = f
		go k.fetch(context.WithoutCancel(ctx), f)
	}
	k.mu.Unlock()

	if err := f.wait(ctx); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("jwks: %w", err)
		}
		if known {
			return nil // the JWKS endpoint fails; keys that verified before still do
		}
		return err
	}
	k.mu.Lock()
	known = k.hasLocked(kid)
	k.mu.Unlock()
	if !known {
		return fmt.Errorf("%w: unknown signing key id", ErrInvalidIDToken)
	}
	return nil
}

// spendLocked takes one fetch from the budget, or reports that it is spent.
// It is a generic cell rate algorithm: budgetAt moves jwksRefetchInterval
// ahead per fetch, and a fetch may start while budgetAt stays within
// jwksRefetchBurst intervals of now.
func (k *keySet) spendLocked(now time.Time) bool {
	next := k.budgetAt
	if next.Before(now) {
		next = now
	}
	next = next.Add(jwksRefetchInterval)
	if next.Sub(now) > jwksRefetchBurst*jwksRefetchInterval {
		return false
	}
	k.budgetAt = next
	return true
}

func (k *keySet) hasLocked(kid string) bool {
	if kid == "" {
		return len(k.keys) > 0
	}
	for i := range k.keys {
		if k.keys[i].KeyID == kid {
			return true
		}
	}
	return false
}

func (k *keySet) fetch(ctx context.Context, f *flight) {
	ctx, cancel := context.WithTimeout(ctx, k.c.cfg.Timeout)
	keys, err := k.c.fetchKeys(ctx, k.url)
	cancel()

	if err != nil {
		k.c.log.WarnContext(ctx, "oauth: JWKS fetch failed", "jwks_uri", k.url, "error", err.Error())
	}
	k.mu.Lock()
	if err == nil {
		k.keys, k.fetchedAt = keys, k.c.now()
	}
	k.inflight = nil
	k.mu.Unlock()

	f.err = err
	close(f.done)
}

// parsedJWS lets VerifyIDToken hand its parsed token to VerifySignature so
// the token is not parsed twice.
type parsedJWS struct{}

// VerifySignature implements oidc.KeySet against the cached keys. The
// algorithm has already been checked by the verifier.
func (k *keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	jws, ok := ctx.Value(parsedJWS{}).(*jose.JSONWebSignature)
	if !ok {
		var err error
		if jws, err = jose.ParseSignedCompact(jwt, allAsymmetricAlgs); err != nil {
			return nil, fmt.Errorf("malformed jwt: %w", err)
		}
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("not exactly one signature")
	}
	hdr := jws.Signatures[0].Header
	k.mu.Lock()
	keys := k.keys
	k.mu.Unlock()
	for i := range keys {
		key := &keys[i]
		if hdr.KeyID != "" && key.KeyID != hdr.KeyID {
			continue
		}
		// A key that names its algorithm is only used with it (RFC 7517 §4.4).
		if key.Algorithm != "" && key.Algorithm != hdr.Algorithm {
			continue
		}
		if payload, err := jws.Verify(key); err == nil {
			return payload, nil
		}
	}
	return nil, errors.New("signature does not verify with the provider's keys")
}

func (c *Client) fetchKeys(ctx context.Context, jwksURL string) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, jwksURL, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	res, err := c.send(req, "jwks")
	if err != nil {
		return nil, err
	}
	if res.status != http.StatusOK {
		return nil, &HTTPError{Endpoint: "jwks", StatusCode: res.status, Reason: "unexpected status"}
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(res.body, &set); err != nil {
		return nil, &HTTPError{Endpoint: "jwks", StatusCode: res.status, Reason: "malformed JSON"}
	}
	keys := make([]jose.JSONWebKey, 0, len(set.Keys))
	for _, raw := range set.Keys {
		var key jose.JSONWebKey
		// RFC 7517 §5: ignore keys we do not understand instead of failing
		// the whole set (providers publish Ed448, encryption keys, ...).
		if err := json.Unmarshal(raw, &key); err != nil {
			continue
		}
		if key.Use != "" && key.Use != "sig" {
			continue
		}
		// Only public asymmetric keys: a symmetric key in a JWKS must never
		// become an HMAC verification key.
		if !key.Valid() || !key.IsPublic() {
			continue
		}
		if key.Algorithm != "" && !asymmetricAlgs[key.Algorithm] {
			continue
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, &HTTPError{Endpoint: "jwks", StatusCode: res.status, Reason: "no usable signing keys"}
	}
	return keys, nil
}
