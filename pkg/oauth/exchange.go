package oauth

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/oauth2"
)

// Exchange trades an authorization code for tokens (RFC 6749 §4.1.3 with the
// PKCE verifier of RFC 7636), authenticating as the client. The redirect URI
// must be exactly the one sent in the authorization request.
func (c *Client) Exchange(ctx context.Context, code, verifier, redirectURI string) (*Token, error) {
	switch {
	case code == "":
		return nil, errors.New("oauth: exchange code: empty code")
	case verifier == "":
		return nil, errors.New("oauth: exchange code: empty PKCE verifier")
	}
	eps, err := c.resolve(ctx, needToken)
	if err != nil {
		return nil, opError("exchange code", err)
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	start := c.now()
	tok, err := eps.oauth2.Exchange(context.WithValue(ctx, oauth2.HTTPClient, c.hc), code,
		oauth2.VerifierOption(verifier),
		oauth2.SetAuthURLParam("redirect_uri", redirectURI))
	if err != nil {
		return nil, fmt.Errorf("oauth: exchange code: %w", tokenError(err, code, verifier, c.cfg.ClientSecret))
	}
	return newToken(tok, start), nil
}

// tokenError maps an error from x/oauth2 to ours. *oauth2.RetrieveError
// keeps the whole response body and prints it, and its parse errors may
// quote the body, so neither is ever passed on: §5.2 fields become an
// *ErrorResponse (with the request's secrets blanked out), anything else an
// *HTTPError naming the status only.
func tokenError(err error, secrets ...string) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		if re.ErrorCode != "" {
			return errorResponse("token", status, re.ErrorCode, re.ErrorDescription, re.ErrorURI, secrets)
		}
		return &HTTPError{Endpoint: "token", StatusCode: status, Reason: "not an OAuth error response"}
	}
	if transportError(err) {
		return fmt.Errorf("token endpoint: %w", err)
	}
	return &HTTPError{Endpoint: "token", Reason: "malformed token response"}
}

// SignIn completes a sign-in at the callback: Exchange, then VerifyIDToken
// with the nonce sent, checking at_hash when present, then UserInfo, whose
// sub must equal the ID token's. The openid scope is always requested, so a
// token response without an ID token is an error (ErrMissingIDToken).
func (c *Client) SignIn(ctx context.Context, code, verifier, redirectURI, nonce string) (*Token, *IDToken, *User, error) {
	tok, err := c.Exchange(ctx, code, verifier, redirectURI)
	if err != nil {
		return nil, nil, nil, err
	}
	if tok.IDToken == "" {
		return nil, nil, nil, ErrMissingIDToken
	}
	idt, raw, err := c.verifyIDToken(ctx, tok.IDToken, nonce, true)
	if err != nil {
		return nil, nil, nil, err
	}
	if raw.AccessTokenHash != "" {
		if err := raw.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, nil, nil, fmt.Errorf("%w: at_hash does not match the access token", ErrInvalidIDToken)
		}
	}
	user, err := c.UserInfo(ctx, tok.AccessToken, idt.Subject)
	if err != nil {
		return nil, nil, nil, err
	}
	return tok, idt, user, nil
}
