// Package signin holds the values one sign-in carries from the authorize
// request to the stored session: the AuthRequest login remembers until the
// callback, the provider's Token, and the signed-in User. It imports only
// the standard library, so every package and every function binary can share
// these types without linking an OpenID Connect or AWS client.
package signin

import (
	"errors"
	"time"
)

// AuthRequest is what login must remember until the callback. State, Nonce
// and Verifier are secrets of this one sign-in: keep them server-side only.
type AuthRequest struct {
	State       string // the state parameter (stored only as a hash)
	Nonce       string // the ID token's nonce must equal it
	Verifier    string // PKCE code verifier; its S256 challenge went to the provider
	RedirectURI string // exactly as sent in the authorize request; the token request repeats it
}

// Token is what the provider's token endpoint granted, with an absolute
// expiry. The same type travels from the code exchange to the token record
// and back to a refresh.
type Token struct {
	AccessToken  string
	TokenType    string
	RefreshToken string    // "" when the provider granted none
	IDToken      string    // raw JWT; after a refresh without one, the previous one
	Scope        string    // as granted, when the provider says
	Expiry       time.Time // of the access token; zero: no expiry known
}

// Usable reports whether the access token is present and still good for
// skew after now. A token without a known expiry is always usable.
func (t Token) Usable(now time.Time, skew time.Duration) bool {
	return t.AccessToken != "" && (t.Expiry.IsZero() || now.Add(skew).Before(t.Expiry))
}

// User is who signed in, as the provider told us.
type User struct {
	Subject string // the provider's sub: stable and unique within the issuer
	Email   string // "" when unknown
	Name    string // "" when unknown
}

// Result is a completed, verified sign-in: who signed in, at which issuer,
// with which tokens.
type Result struct {
	Issuer string
	User   User
	Token  Token
}

// ErrGrantEnded marks a refresh the provider will never grant for this
// token again: invalid_grant, no refresh token to send, or a refreshed ID
// token that names another user or authentication. A session whose grant
// ended must sign in again; any other refresh error (an outage, a timeout)
// may succeed on retry.
var ErrGrantEnded = errors.New("signin: grant ended")
