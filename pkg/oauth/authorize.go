package oauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"

	"golang.org/x/oauth2"

	"github.com/serverless-signin/signin/pkg/signin"
)

// AuthCodeURL starts an authorization code flow: a fresh state, nonce and
// PKCE (S256) pair, and the provider's authorize URL carrying them with
// response_type=code, client_id, redirect_uri, scope and prompt. The caller
// sends the browser to url and keeps req, which holds this sign-in's
// secrets, server-side until the callback, where it goes to SignIn.
//
// It makes no network call when Config.AuthorizeURL is set; otherwise it
// uses the cached discovery document, fetching it once, and falls back to
// {issuer}/authorize when discovery fails.
func (c *Client) AuthCodeURL(ctx context.Context, redirectURI string) (url string, req signin.AuthRequest, err error) {
	if redirectURI == "" {
		return "", signin.AuthRequest{}, errors.New("oauth: authorize: empty redirect URI")
	}
	eps, err := c.resolve(ctx, needAuthorize)
	if err != nil {
		return "", signin.AuthRequest{}, opError("authorize", err)
	}
	req = signin.AuthRequest{
		State:       randomString(),
		Nonce:       randomString(),
		Verifier:    oauth2.GenerateVerifier(),
		RedirectURI: redirectURI,
	}
	opts := []oauth2.AuthCodeOption{
		oauth2.SetAuthURLParam("redirect_uri", redirectURI),
		oauth2.SetAuthURLParam("nonce", req.Nonce),
		oauth2.S256ChallengeOption(req.Verifier),
	}
	if c.cfg.Prompt != "" {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", c.cfg.Prompt))
	}
	return eps.oauth2.AuthCodeURL(req.State, opts...), req, nil
}

// randomString returns 256 bits from crypto/rand, base64url without padding.
// (oauth2.GenerateVerifier makes the PKCE verifier the same way.)
func randomString() string {
	var b [32]byte
	rand.Read(b[:]) // never fails since Go 1.24: it crashes the program instead
	return base64.RawURLEncoding.EncodeToString(b[:])
}
