package oauth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
)

// asymmetricAlgs are the ID token algorithms we can ever accept. "none" is
// absent, and so is HMAC: its key would be the client secret, which the
// provider and every holder of the secret share.
var asymmetricAlgs = map[string]bool{
	oidc.RS256: true, oidc.RS384: true, oidc.RS512: true,
	oidc.ES256: true, oidc.ES384: true, oidc.ES512: true,
	oidc.PS256: true, oidc.PS384: true, oidc.PS512: true,
	oidc.EdDSA: true,
}

var allAsymmetricAlgs = func() []jose.SignatureAlgorithm {
	var algs []jose.SignatureAlgorithm
	for a := range asymmetricAlgs {
		algs = append(algs, jose.SignatureAlgorithm(a))
	}
	return algs
}()

// signingAlgs picks the accepted algorithms: the configured ones, else the
// asymmetric ones the provider advertises, else RS256 (mandatory in OpenID
// Connect Core §15.1).
func signingAlgs(configured, advertised []string) []string {
	if len(configured) > 0 {
		return configured
	}
	var algs []string
	for _, a := range advertised {
		if asymmetricAlgs[a] {
			algs = append(algs, a)
		}
	}
	if len(algs) == 0 {
		return []string{oidc.RS256}
	}
	return algs
}

func joseAlgs(algs []string) []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, len(algs))
	for i, a := range algs {
		out[i] = jose.SignatureAlgorithm(a)
	}
	return out
}

// IDToken is a verified ID token.
type IDToken struct {
	Issuer   string
	Subject  string
	Audience []string
	Expiry   time.Time
	IssuedAt time.Time
	Nonce    string
	Claims   map[string]any // every claim, as decoded from JSON
	Raw      string
}

// VerifyIDToken verifies an ID token as OpenID Connect Core §3.1.3.7 asks:
// signature against the provider's JWKS with an advertised asymmetric
// algorithm (never none or HMAC), iss, aud containing the client id, azp
// equal to the client id when present or when there are several audiences,
// exp strictly (an ID token is checked seconds after it is issued, so a
// leeway there would only widen the window for a stolen one), iat and nbf
// within Config.ClockSkew, a non-empty sub, and nonce
// equal to the nonce sent. Every failure wraps ErrInvalidIDToken; a nonce
// mismatch also wraps ErrNonceMismatch. A JWKS outage is reported as such,
// not as an invalid token.
func (c *Client) VerifyIDToken(ctx context.Context, rawIDToken, nonce string) (*IDToken, error) {
	idt, _, err := c.verifyIDToken(ctx, rawIDToken, nonce, true)
	return idt, err
}

// verifyIDToken is VerifyIDToken, with the nonce check skippable for
// refreshed ID tokens, which OpenID Connect Core §12.2 does not bind to the
// original nonce.
func (c *Client) verifyIDToken(ctx context.Context, raw, nonce string, checkNonce bool) (*IDToken, *oidc.IDToken, error) {
	invalid := func(format string, args ...any) error {
		// clip: parse errors may quote header values chosen by the sender.
		return fmt.Errorf("%w: %s", ErrInvalidIDToken, clip(fmt.Sprintf(format, args...), 300))
	}
	eps, err := c.resolve(ctx, needKeys)
	if err != nil {
		return nil, nil, opError("verify id token", err)
	}
	if eps.verifier == nil {
		if eps.discoveryErr != nil {
			return nil, nil, fmt.Errorf("oauth: verify id token: no JWKS URL (set JWKSURL): %w", eps.discoveryErr)
		}
		return nil, nil, errors.New("oauth: verify id token: no JWKS URL: the discovery document has no jwks_uri and JWKSURL is empty")
	}

	// Parse once to learn the kid (and refuse a disallowed alg before any
	// network work); go-oidc then does the verification proper.
	jws, err := jose.ParseSignedCompact(raw, eps.algs)
	if err != nil {
		return nil, nil, invalid("%v", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, nil, invalid("not exactly one signature")
	}
	fctx, cancel := c.withTimeout(ctx)
	err = eps.keys.ensure(fctx, jws.Signatures[0].Header.KeyID)
	cancel()
	if err != nil {
		return nil, nil, opError("verify id token", err)
	}
	t, err := eps.verifier.Verify(context.WithValue(ctx, parsedJWS{}, jws), raw)
	if err != nil {
		// go-oidc's messages name the failed check (issuer, audience,
		// signature) and carry no secrets.
		return nil, nil, invalid("%v", err)
	}

	var claims map[string]any
	if err := t.Claims(&claims); err != nil {
		return nil, nil, invalid("claims are not a JSON object")
	}
	now := c.now()
	skew := c.cfg.ClockSkew
	switch {
	case t.Subject == "":
		return nil, nil, invalid("no sub")
	case t.Expiry.IsZero():
		return nil, nil, invalid("no exp")
	case !now.Before(t.Expiry):
		return nil, nil, invalid("expired at %s", t.Expiry.UTC().Format(time.RFC3339))
	case t.IssuedAt.IsZero():
		return nil, nil, invalid("no iat")
	case t.IssuedAt.After(now.Add(skew)):
		return nil, nil, invalid("issued in the future (iat %s)", t.IssuedAt.UTC().Format(time.RFC3339))
	}
	if nbf, ok := claims["nbf"].(float64); ok && now.Add(skew).Before(time.Unix(int64(nbf), 0)) {
		return nil, nil, invalid("not valid before %s", time.Unix(int64(nbf), 0).UTC().Format(time.RFC3339))
	}
	azp, hasAzp := claims["azp"]
	switch {
	case hasAzp && azp != c.cfg.ClientID:
		return nil, nil, invalid("azp is not this client")
	case !hasAzp && len(t.Audience) > 1:
		return nil, nil, invalid("several audiences and no azp")
	}
	if checkNonce && subtle.ConstantTimeCompare([]byte(t.Nonce), []byte(nonce)) != 1 {
		return nil, nil, ErrNonceMismatch
	}
	return &IDToken{
		Issuer:   t.Issuer,
		Subject:  t.Subject,
		Audience: t.Audience,
		Expiry:   t.Expiry,
		IssuedAt: t.IssuedAt,
		Nonce:    t.Nonce,
		Claims:   claims,
		Raw:      raw,
	}, t, nil
}
