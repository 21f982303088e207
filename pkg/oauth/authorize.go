package oauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"

	"golang.org/x/oauth2"
)

// AuthRequest is an authorization request: the URL to send the browser to
// and what the caller must remember until the callback. State, Nonce and
// Verifier are secrets of this sign-in; store them server-side only.
type AuthRequest struct {
	URL      string
	State    string
	Nonce    string
	Verifier string // PKCE code verifier; its S256 challenge is in URL
}

// AuthCodeURL starts an authorization code flow: a fresh state, nonce and
// PKCE (S256) pair, and the provider's authorize URL carrying them with
// response_type=code, client_id, redirect_uri, scope and prompt.
//
// It makes no network call when Config.AuthorizeURL is set; otherwise it
// uses the cached discovery document, fetching it once, and falls back to
// {issuer}/authorize when discovery fails.
func (c *Client) AuthCodeURL(ctx context.Context, redirectURI string) (AuthRequest, error) {
	if redirectURI == "" {
		return AuthRequest{}, errors.New("oauth: authorize: empty redirect URI")
	}
	eps, err := c.resolve(ctx, needAuthorize)
	if err != nil {
		return AuthRequest{}, opError("authorize", err)
	}
	r := AuthRequest{State: randomString(), Nonce: randomString(), Verifier: oauth2.GenerateVerifier()}
	opts := []oauth2.AuthCodeOption{
		oauth2.SetAuthURLParam("redirect_uri", redirectURI),
		oauth2.SetAuthURLParam("nonce", r.Nonce),
		oauth2.S256ChallengeOption(r.Verifier),
	}
	if c.cfg.Prompt != "" {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", c.cfg.Prompt))
	}
	r.URL = eps.oauth2.AuthCodeURL(r.State, opts...)
	return r, nil
}

// randomString returns 256 bits from crypto/rand, base64url without padding.
// (oauth2.GenerateVerifier makes the PKCE verifier the same way.)
func randomString() string {
	var b [32]byte
	rand.Read(b[:]) // never fails since Go 1.24: it crashes the program instead
	return base64.RawURLEncoding.EncodeToString(b[:])
}
