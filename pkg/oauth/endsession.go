package oauth

import (
	"context"
	"fmt"
	"net/url"
)

// EndSessionURL builds the provider's end-session URL (OpenID Connect
// RP-Initiated Logout 1.0 §2) with id_token_hint, post_logout_redirect_uri,
// client_id and state; empty arguments are left out. It makes no network
// call when Config.EndSessionURL is set.
//
// Written by hand: x/oauth2 and go-oidc do not build logout URLs.
func (c *Client) EndSessionURL(ctx context.Context, idTokenHint, postLogoutRedirectURI, state string) (string, error) {
	eps, err := c.resolve(ctx, needEndSession)
	if err != nil {
		return "", opError("end session", err)
	}
	u, err := url.Parse(eps.endSession)
	if err != nil {
		return "", fmt.Errorf("oauth: end session: %w", err)
	}
	q := u.Query() // keep parameters the endpoint URL already carries
	q.Set("client_id", c.cfg.ClientID)
	for k, v := range map[string]string{
		"id_token_hint":            idTokenHint,
		"post_logout_redirect_uri": postLogoutRedirectURI,
		"state":                    state,
	} {
		if v != "" {
			q.Set(k, v)
		}
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}
