package oauth

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
)

// Refresh redeems t.RefreshToken (grant_type=refresh_token, RFC 6749 §6).
//
// When the response carries no new refresh token the old one is kept (the
// provider did not rotate it); likewise the ID token and scope. A refreshed
// ID token is verified and, when t.IDToken is set, must keep its iss, sub,
// aud and azp (OpenID Connect Core §12.2): a change wraps ErrIssuerMismatch,
// ErrSubjectMismatch or ErrInvalidIDToken, and the caller must treat the
// session as ended. IsInvalidGrant(err) means the refresh token is dead.
func (c *Client) Refresh(ctx context.Context, t *Token) (*Token, error) {
	if t == nil || t.RefreshToken == "" {
		return nil, ErrNoRefreshToken
	}
	eps, err := c.resolve(ctx, needToken)
	if err != nil {
		return nil, opError("refresh", err)
	}
	tctx, cancel := c.withTimeout(ctx)
	start := c.now()
	src := eps.oauth2.TokenSource(context.WithValue(tctx, oauth2.HTTPClient, c.hc), &oauth2.Token{RefreshToken: t.RefreshToken})
	ot, err := src.Token()
	cancel()
	if err != nil {
		return nil, fmt.Errorf("oauth: refresh: %w", tokenError(err, t.RefreshToken, c.cfg.ClientSecret))
	}
	nt := newToken(ot, start)
	if nt.RefreshToken == "" {
		nt.RefreshToken = t.RefreshToken
	}
	if nt.Scope == "" {
		nt.Scope = t.Scope
	}
	if nt.IDToken == "" {
		nt.IDToken = t.IDToken // still good as id_token_hint at logout
		return nt, nil
	}
	idt, _, err := c.verifyIDToken(ctx, nt.IDToken, "", false)
	if err != nil {
		return nil, opError("refresh", err)
	}
	if t.IDToken != "" {
		if err := sameAuthentication(t.IDToken, idt); err != nil {
			return nil, err
		}
	}
	return nt, nil
}

// sameAuthentication checks OpenID Connect Core §12.2 between the previous
// ID token and the refreshed one. The previous token is read without
// verifying its signature: it was verified when received and comes from our
// own storage, and it may have expired since, which is fine here.
func sameAuthentication(prevRaw string, next *IDToken) error {
	jws, err := jose.ParseSignedCompact(prevRaw, allAsymmetricAlgs)
	if err != nil {
		return fmt.Errorf("%w: the previous ID token is unreadable", ErrInvalidIDToken)
	}
	var prev struct {
		Issuer   string   `json:"iss"`
		Subject  string   `json:"sub"`
		Audience audience `json:"aud"`
		AZP      string   `json:"azp"`
	}
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &prev); err != nil {
		return fmt.Errorf("%w: the previous ID token is unreadable", ErrInvalidIDToken)
	}
	nextAZP, _ := next.Claims["azp"].(string)
	switch {
	case prev.Issuer != next.Issuer:
		return fmt.Errorf("%w: the refreshed ID token names another iss", ErrIssuerMismatch)
	case prev.Subject != next.Subject:
		return fmt.Errorf("%w: the refreshed ID token names another sub", ErrSubjectMismatch)
	case !sameSet(prev.Audience, next.Audience):
		return fmt.Errorf("%w: the refreshed ID token names another aud", ErrInvalidIDToken)
	case prev.AZP != nextAZP:
		return fmt.Errorf("%w: the refreshed ID token names another azp", ErrInvalidIDToken)
	}
	return nil
}

// audience is the aud claim: one string or an array of them (RFC 7519 §4.1.3).
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}
