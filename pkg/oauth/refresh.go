package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/serverless-signin/signin/pkg/signin"
)

// Refresh redeems t.RefreshToken (grant_type=refresh_token, RFC 6749 §6).
//
// When the response carries no new refresh token the old one is kept (the
// provider did not rotate it); likewise the ID token and scope. A refreshed
// ID token is verified and must keep the previous one's iss, sub, aud and
// azp (OpenID Connect Core §12.2); a change wraps ErrIssuerMismatch,
// ErrSubjectMismatch or ErrInvalidIDToken. Since sign-in always stores an
// ID token, a refreshed one with no previous one to compare is refused too.
//
// Every error meaning the grant is dead, so the session must end and the
// user sign in again, also satisfies errors.Is(err, signin.ErrGrantEnded):
// invalid_grant, ErrNoRefreshToken, and a refreshed ID token that is
// invalid or names another user or issuer. Any other error (an outage, a
// timeout, a JWKS that cannot be fetched) may succeed on retry.
func (c *Client) Refresh(ctx context.Context, t signin.Token) (signin.Token, error) {
	if t.RefreshToken == "" {
		return signin.Token{}, ErrNoRefreshToken
	}
	eps, err := c.resolve(ctx, needToken)
	if err != nil {
		return signin.Token{}, opError("refresh", err)
	}
	tctx, cancel := c.withTimeout(ctx)
	start := c.now()
	src := eps.oauth2.TokenSource(context.WithValue(tctx, oauth2.HTTPClient, c.hc), &oauth2.Token{RefreshToken: t.RefreshToken})
	ot, err := src.Token()
	cancel()
	if err != nil {
		err = tokenError(err, t.RefreshToken, c.cfg.ClientSecret)
		if IsInvalidGrant(err) {
			err = grantEnded{err}
		}
		return signin.Token{}, fmt.Errorf("oauth: refresh: %w", err)
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
	if err == nil {
		err = sameAuthentication(t.IDToken, idt)
	}
	switch {
	case err == nil:
		return nt, nil
	case errors.Is(err, ErrInvalidIDToken), errors.Is(err, ErrSubjectMismatch), errors.Is(err, ErrIssuerMismatch):
		return signin.Token{}, grantEnded{opError("refresh", err)}
	}
	return signin.Token{}, opError("refresh", err) // e.g. the JWKS is unreachable: retry later
}

// grantEnded marks err as ending the grant: errors.Is(e, signin.ErrGrantEnded)
// holds, and so does every errors.Is or errors.As that held for err.
type grantEnded struct{ err error }

func (e grantEnded) Error() string   { return e.err.Error() }
func (e grantEnded) Unwrap() []error { return []error{e.err, signin.ErrGrantEnded} }

// sameAuthentication checks OpenID Connect Core §12.2 between the previous
// ID token and the refreshed one. The previous token is read without
// verifying its signature: it was verified when received and comes from our
// own storage, and it may have expired since, which is fine here.
func sameAuthentication(prevRaw string, next *IDToken) error {
	if prevRaw == "" {
		return fmt.Errorf("%w: no previous ID token to compare the refreshed one with", ErrInvalidIDToken)
	}
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
