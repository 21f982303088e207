package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/serverless-signin/signin/pkg/signin"
)

// UserInfo is what the userinfo endpoint says about the user an access
// token belongs to: the signed-in user, plus what only userinfo tells.
type UserInfo struct {
	signin.User
	EmailVerified bool
	Claims        map[string]any // every claim, as decoded from JSON
}

// UserInfo fetches the userinfo of an access token (OpenID Connect Core
// §5.3), sending the token in the Authorization header only. Its sub must
// equal subject, the ID token's sub (§5.3.2: else the response could be
// about another user); otherwise the error wraps ErrSubjectMismatch.
//
// Written by hand: oidc.Provider.UserInfo needs a Provider built by eager
// discovery and does not check sub.
func (c *Client) UserInfo(ctx context.Context, accessToken, subject string) (*UserInfo, error) {
	if accessToken == "" {
		return nil, errors.New("oauth: userinfo: empty access token")
	}
	eps, err := c.resolve(ctx, needUserinfo)
	if err != nil {
		return nil, opError("userinfo", err)
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, eps.userinfo, nil)
	if err != nil {
		return nil, fmt.Errorf("oauth: userinfo: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/json")
	res, err := c.send(req, "userinfo")
	if err != nil {
		return nil, fmt.Errorf("oauth: userinfo: %w", err)
	}
	if res.status != http.StatusOK {
		return nil, fmt.Errorf("oauth: userinfo: %w", bearerError("userinfo", res, accessToken))
	}
	if ct, _, _ := mime.ParseMediaType(res.header.Get("Content-Type")); ct == "application/jwt" {
		// A signed userinfo response would need its own verification;
		// providers send JSON unless the client registered otherwise.
		return nil, fmt.Errorf("oauth: userinfo: %w", &HTTPError{Endpoint: "userinfo", StatusCode: res.status, Reason: "signed (application/jwt) responses are not supported"})
	}
	var claims map[string]any
	if err := json.Unmarshal(res.body, &claims); err != nil || claims == nil {
		return nil, fmt.Errorf("oauth: userinfo: %w", &HTTPError{Endpoint: "userinfo", StatusCode: res.status, Reason: "malformed JSON"})
	}
	u := &UserInfo{Claims: claims}
	u.Subject, _ = claims["sub"].(string)
	u.Email, _ = claims["email"].(string)
	u.Name, _ = claims["name"].(string)
	switch v := claims["email_verified"].(type) {
	case bool:
		u.EmailVerified = v
	case string: // some providers (Cognito among them) send "true"
		u.EmailVerified = v == "true"
	}
	if u.Subject == "" {
		return nil, fmt.Errorf("oauth: userinfo: %w", &HTTPError{Endpoint: "userinfo", StatusCode: res.status, Reason: "response has no sub"})
	}
	if u.Subject != subject {
		return nil, fmt.Errorf("%w: userinfo names another subject than the ID token", ErrSubjectMismatch)
	}
	return u, nil
}

// bearerError turns a failed resource request into an *ErrorResponse when
// the provider said why (a §5.2 JSON body, or RFC 6750 §3's
// WWW-Authenticate: Bearer error="invalid_token"), else an *HTTPError.
// secrets are blanked out of the provider's text (see errorResponse).
func bearerError(endpoint string, res *response, secrets ...string) error {
	if er := parseErrorBody(endpoint, res, secrets...); er != nil {
		return er
	}
	if code, desc := parseBearerChallenge(res.header.Get("WWW-Authenticate")); code != "" {
		return errorResponse(endpoint, res.status, code, desc, "", secrets)
	}
	return &HTTPError{Endpoint: endpoint, StatusCode: res.status, Reason: "unexpected status"}
}

// parseErrorBody returns the §5.2 error in a JSON body, or nil; secrets are
// blanked out of it (see errorResponse).
func parseErrorBody(endpoint string, res *response, secrets ...string) *ErrorResponse {
	var body struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
		ErrorURI         string `json:"error_uri"`
	}
	if json.Unmarshal(res.body, &body) != nil || body.Error == "" {
		return nil
	}
	return errorResponse(endpoint, res.status, body.Error, body.ErrorDescription, body.ErrorURI, secrets)
}

// parseBearerChallenge reads error and error_description from a
// WWW-Authenticate: Bearer challenge (RFC 6750 §3). It is lenient: values
// are quoted strings without escapes in practice.
func parseBearerChallenge(h string) (code, desc string) {
	scheme, params, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", ""
	}
	for params != "" {
		var kv string
		kv, params = cutParam(params)
		k, v, _ := strings.Cut(kv, "=")
		v = strings.Trim(strings.TrimSpace(v), `"`)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "error":
			code = v
		case "error_description":
			desc = v
		}
	}
	return code, desc
}

// cutParam splits off the first comma-separated auth-param, honouring quotes.
func cutParam(s string) (param, rest string) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				return s[:i], s[i+1:]
			}
		}
	}
	return s, ""
}
