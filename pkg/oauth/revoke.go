package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Revoke revokes a token at the revocation endpoint (RFC 7009),
// authenticated as the client like the token endpoint. tokenTypeHint is
// "refresh_token", "access_token" or empty. A 200 is success whatever the
// token's state (§2.2: an invalid or already revoked token is not an error).
//
// Written by hand: x/oauth2 and go-oidc have no revocation.
func (c *Client) Revoke(ctx context.Context, token, tokenTypeHint string) error {
	if token == "" {
		return errors.New("oauth: revoke: empty token")
	}
	eps, err := c.resolve(ctx, needRevoke)
	if err != nil {
		return opError("revoke", err)
	}
	form := url.Values{"token": {token}}
	if tokenTypeHint != "" {
		form.Set("token_type_hint", tokenTypeHint)
	}
	if eps.revokeAuth == AuthStylePost {
		form.Set("client_id", c.cfg.ClientID)
		if c.cfg.ClientSecret != "" {
			form.Set("client_secret", c.cfg.ClientSecret)
		}
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, eps.revoke, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("oauth: revoke: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if eps.revokeAuth == AuthStyleBasic {
		// RFC 6749 §2.3.1: form-encode id and secret before Basic, as
		// x/oauth2 does at the token endpoint.
		req.SetBasicAuth(url.QueryEscape(c.cfg.ClientID), url.QueryEscape(c.cfg.ClientSecret))
	}
	res, err := c.send(req, "revocation")
	if err != nil {
		return fmt.Errorf("oauth: revoke: %w", err)
	}
	if res.status == http.StatusOK {
		return nil
	}
	if er := parseErrorBody("revocation", res, token, c.cfg.ClientSecret); er != nil {
		return fmt.Errorf("oauth: revoke: %w", er)
	}
	return fmt.Errorf("oauth: revoke: %w", &HTTPError{Endpoint: "revocation", StatusCode: res.status, Reason: "unexpected status"})
}
