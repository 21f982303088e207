package oauth

import (
	"time"

	"golang.org/x/oauth2"
)

// Token is what the token endpoint returned, with an absolute expiry.
type Token struct {
	AccessToken  string
	TokenType    string
	RefreshToken string
	IDToken      string    // raw JWT; after a refresh without one, the previous one
	Scope        string    // as granted, when the provider says
	Expiry       time.Time // of the access token; zero: no expiry known
}

// Expired reports whether the access token expires within skew of now. A
// token without a known expiry never expires.
func (t *Token) Expired(now time.Time, skew time.Duration) bool {
	if t.Expiry.IsZero() {
		return false
	}
	return !now.Add(skew).Before(t.Expiry)
}

// TokenExpired is t.Expired at the client's clock with Config.ExpirySkew.
func (c *Client) TokenExpired(t *Token) bool {
	return t.Expired(c.now(), c.cfg.ExpirySkew)
}

// newToken converts an oauth2 token. start is when the request was sent:
// expires_in counts from the provider's answer, so measuring from before
// the request errs on the early side. (oauth2's own Expiry uses time.Now,
// which ignores the injected clock.)
func newToken(t *oauth2.Token, start time.Time) *Token {
	out := &Token{AccessToken: t.AccessToken, TokenType: t.TokenType, RefreshToken: t.RefreshToken}
	switch {
	case t.ExpiresIn != 0:
		out.Expiry = start.Add(time.Duration(t.ExpiresIn) * time.Second)
	case !t.Expiry.IsZero():
		out.Expiry = t.Expiry // form-encoded responses only set Expiry
	}
	if s, ok := t.Extra("id_token").(string); ok {
		out.IDToken = s
	}
	if s, ok := t.Extra("scope").(string); ok {
		out.Scope = s
	}
	return out
}
