package oidcenv

import (
	"context"
	"errors"
	"fmt"

	"github.com/serverless-signin/signin/internal/routes"
	"github.com/serverless-signin/signin/pkg/oauth"
	"github.com/serverless-signin/signin/pkg/session"
	"github.com/serverless-signin/signin/pkg/signin"
)

// Provider adapts an *oauth.Client to the small interfaces the routes and
// the session core consume, translating its types to pkg/signin's. It goes
// away once pkg/oauth speaks those types itself.
type Provider struct {
	Client *oauth.Client
}

var (
	_ routes.Provider   = (*Provider)(nil)
	_ session.Revoker   = (*Provider)(nil)
	_ session.Refresher = (*Provider)(nil)
)

// Adapt returns c as a Provider (nil for a nil client).
func Adapt(c *oauth.Client) *Provider {
	if c == nil {
		return nil
	}
	return &Provider{Client: c}
}

// AuthCodeURL starts a sign-in (see oauth.Client.AuthCodeURL).
func (p *Provider) AuthCodeURL(ctx context.Context, redirectURI string) (string, signin.AuthRequest, error) {
	ar, err := p.Client.AuthCodeURL(ctx, redirectURI)
	if err != nil {
		return "", signin.AuthRequest{}, err
	}
	return ar.URL, signin.AuthRequest{State: ar.State, Nonce: ar.Nonce, Verifier: ar.Verifier, RedirectURI: redirectURI}, nil
}

// SignIn completes a sign-in (see oauth.Client.SignIn). The user is
// userinfo's, falling back to the ID token's claims; the issuer is the ID
// token's.
func (p *Provider) SignIn(ctx context.Context, code string, req signin.AuthRequest) (signin.Result, error) {
	tok, idTok, user, err := p.Client.SignIn(ctx, code, req.Verifier, req.RedirectURI, req.Nonce)
	if err != nil {
		return signin.Result{}, err
	}
	if tok == nil {
		return signin.Result{}, errors.New("oauth: sign-in returned no token")
	}
	res := signin.Result{Issuer: p.Client.Config().Issuer, Token: token(tok)}
	if user != nil {
		res.User = signin.User{Subject: user.Subject, Email: user.Email, Name: user.Name}
	}
	if idTok != nil {
		res.Issuer = idTok.Issuer
		if res.User.Subject == "" {
			res.User.Subject = idTok.Subject
		}
		if res.User.Email == "" {
			res.User.Email = stringClaim(idTok.Claims, "email")
		}
		if res.User.Name == "" {
			res.User.Name = stringClaim(idTok.Claims, "name")
		}
	}
	return res, nil
}

// Issuer is the configured issuer.
func (p *Provider) Issuer() string { return p.Client.Config().Issuer }

// IssParameterSupported is false: today's client does not read
// authorization_response_iss_parameter_supported, so only the mismatch rule
// applies.
func (p *Provider) IssParameterSupported(context.Context) bool { return false }

// EndSessionURL is the provider's end-session URL (see
// oauth.Client.EndSessionURL).
func (p *Provider) EndSessionURL(ctx context.Context, idTokenHint, postLogoutRedirectURI, state string) (string, error) {
	return p.Client.EndSessionURL(ctx, idTokenHint, postLogoutRedirectURI, state)
}

// Revoke revokes a token (RFC 7009).
func (p *Provider) Revoke(ctx context.Context, token, tokenTypeHint string) error {
	return p.Client.Revoke(ctx, token, tokenTypeHint)
}

// Refresh redeems t's refresh token. Errors meaning the grant is dead
// (invalid_grant, no refresh token, a refreshed ID token that is invalid or
// names another subject or issuer) also satisfy
// errors.Is(err, signin.ErrGrantEnded).
func (p *Provider) Refresh(ctx context.Context, t signin.Token) (signin.Token, error) {
	nt, err := p.Client.Refresh(ctx, &oauth.Token{
		AccessToken:  t.AccessToken,
		TokenType:    t.TokenType,
		RefreshToken: t.RefreshToken,
		IDToken:      t.IDToken,
		Scope:        t.Scope,
		Expiry:       t.Expiry,
	})
	switch {
	case err != nil && grantEnded(err):
		return signin.Token{}, grantEndedError{err}
	case err != nil:
		return signin.Token{}, err
	case nt == nil:
		return signin.Token{}, fmt.Errorf("oauth: refresh returned no token")
	}
	return token(nt), nil
}

func grantEnded(err error) bool {
	return oauth.IsInvalidGrant(err) ||
		errors.Is(err, oauth.ErrNoRefreshToken) ||
		errors.Is(err, oauth.ErrInvalidIDToken) ||
		errors.Is(err, oauth.ErrSubjectMismatch) ||
		errors.Is(err, oauth.ErrIssuerMismatch)
}

// grantEndedError is a refresh error that is also signin.ErrGrantEnded.
type grantEndedError struct{ err error }

func (e grantEndedError) Error() string        { return e.err.Error() }
func (e grantEndedError) Unwrap() error        { return e.err }
func (e grantEndedError) Is(target error) bool { return target == signin.ErrGrantEnded }

func token(t *oauth.Token) signin.Token {
	return signin.Token{
		AccessToken:  t.AccessToken,
		TokenType:    t.TokenType,
		RefreshToken: t.RefreshToken,
		IDToken:      t.IDToken,
		Scope:        t.Scope,
		Expiry:       t.Expiry,
	}
}

func stringClaim(claims map[string]any, name string) string {
	s, _ := claims[name].(string)
	return s
}
