package oauth

import (
	"time"

	"golang.org/x/oauth2"

	"github.com/serverless-signin/signin/pkg/signin"
)

// newToken converts an oauth2 token. start is when the request was sent:
// expires_in counts from the provider's answer, so measuring from before
// the request errs on the early side. (oauth2's own Expiry uses time.Now,
// which ignores the injected clock.)
func newToken(t *oauth2.Token, start time.Time) signin.Token {
	out := signin.Token{AccessToken: t.AccessToken, TokenType: t.TokenType, RefreshToken: t.RefreshToken}
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
