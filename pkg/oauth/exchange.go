package oauth

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/oauth2"

	"github.com/serverless-signin/signin/pkg/signin"
)

// Exchange trades an authorization code for tokens (RFC 6749 §4.1.3 with the
// PKCE verifier of RFC 7636), authenticating as the client. From req it
// sends the Verifier and the RedirectURI, which must be exactly the one of
// the authorization request. Exchange does NOT verify the ID token: SignIn
// does, and is what a callback calls.
func (c *Client) Exchange(ctx context.Context, code string, req signin.AuthRequest) (signin.Token, error) {
	switch {
	case code == "":
		return signin.Token{}, errors.New("oauth: exchange code: empty code")
	case req.Verifier == "":
		return signin.Token{}, errors.New("oauth: exchange code: empty PKCE verifier")
	case req.RedirectURI == "":
		return signin.Token{}, errors.New("oauth: exchange code: empty redirect URI")
	}
	eps, err := c.resolve(ctx, needToken)
	if err != nil {
		return signin.Token{}, opError("exchange code", err)
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	start := c.now()
	tok, err := eps.oauth2.Exchange(context.WithValue(ctx, oauth2.HTTPClient, c.hc), code,
		oauth2.VerifierOption(req.Verifier),
		oauth2.SetAuthURLParam("redirect_uri", req.RedirectURI))
	if err != nil {
		return signin.Token{}, fmt.Errorf("oauth: exchange code: %w", tokenError(err, code, req.Verifier, c.cfg.ClientSecret))
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

// SignIn completes a sign-in at the callback, with the code the provider
// sent and the req that AuthCodeURL returned: Exchange, then VerifyIDToken
// with req.Nonce, checking at_hash when present, then UserInfo, whose sub
// must equal the ID token's. The openid scope is always requested, so a
// token response without an ID token is an error (ErrMissingIDToken).
//
// Result.User comes from userinfo, an empty email or name filled from the
// ID token's claims; Result.Issuer is the ID token's iss.
//
// Round trips: token + userinfo, plus discovery and the JWKS when not
// cached. The caller checks the state (and the iss parameter, see
// IssParameterSupported) before calling.
func (c *Client) SignIn(ctx context.Context, code string, req signin.AuthRequest) (signin.Result, error) {
	tok, err := c.Exchange(ctx, code, req)
	if err != nil {
		return signin.Result{}, err
	}
	if tok.IDToken == "" {
		return signin.Result{}, ErrMissingIDToken
	}
	idt, raw, err := c.verifyIDToken(ctx, tok.IDToken, req.Nonce, true)
	if err != nil {
		return signin.Result{}, err
	}
	if raw.AccessTokenHash != "" {
		if err := raw.VerifyAccessToken(tok.AccessToken); err != nil {
			return signin.Result{}, fmt.Errorf("%w: at_hash does not match the access token", ErrInvalidIDToken)
		}
	}
	info, err := c.UserInfo(ctx, tok.AccessToken, idt.Subject)
	if err != nil {
		return signin.Result{}, err
	}
	user := info.User
	if user.Email == "" {
		user.Email, _ = idt.Claims["email"].(string)
	}
	if user.Name == "" {
		user.Name, _ = idt.Claims["name"].(string)
	}
	return signin.Result{Issuer: idt.Issuer, User: user, Token: tok}, nil
}
