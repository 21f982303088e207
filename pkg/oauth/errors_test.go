package oauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/serverless-signin/signin/pkg/oauth"
	"github.com/serverless-signin/signin/pkg/signin"
)

// A provider's §5.2 error may echo what it was sent; our errors go to logs,
// so the code, verifier, tokens and client secret of the request must not
// survive in them, neither as sent nor form-encoded.
func TestErrorResponseRedactsEchoedSecrets(t *testing.T) {
	const (
		secret       = "p@ss wörd/+secret-0123456789" // form-encoding changes it
		accessToken  = "access-SECRET-9f8e7d6c5b4a"
		refreshToken = "refresh-SECRET-1a2b3c4d5e6f"
		revoked      = "revoked-SECRET-0f1e2d3c4b5a"
	)
	// echo answers a §5.2 error whose description and URI repeat the whole
	// request: form values, Basic credentials as sent and decoded, bearer.
	echo := func(status int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			var said []string
			for _, vs := range r.PostForm {
				said = append(said, vs...)
			}
			if id, pw, ok := r.BasicAuth(); ok {
				plain, _ := url.QueryUnescape(pw)
				said = append(said, id, pw, plain)
			}
			said = append(said, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
			text := "you sent " + strings.Join(said, " and ")
			writeJSON(w, status, map[string]any{
				"error":             "invalid_grant",
				"error_description": text,
				"error_uri":         "https://provider.example/e?" + url.Values{"said": said}.Encode(),
			})
		}
	}
	tests := []struct {
		name     string
		path     string
		call     func(c *oauth.Client) error
		endpoint string
	}{
		{"exchange", "/oauth/token", func(c *oauth.Client) error {
			_, err := c.Exchange(context.Background(), testCode, testReq)
			return err
		}, "token"},
		{"refresh", "/oauth/token", func(c *oauth.Client) error {
			_, err := c.Refresh(context.Background(), signin.Token{AccessToken: accessToken, RefreshToken: refreshToken})
			return err
		}, "token"},
		{"userinfo", "/userinfo", func(c *oauth.Client) error {
			_, err := c.UserInfo(context.Background(), accessToken, testSubject)
			return err
		}, "userinfo"},
		{"revoke", "/revoke", func(c *oauth.Client) error {
			return c.Revoke(context.Background(), revoked, "refresh_token")
		}, "revocation"},
	}
	for _, tt := range tests {
		for _, style := range []oauth.AuthStyle{oauth.AuthStyleBasic, oauth.AuthStylePost} {
			t.Run(tt.name+" "+style.String(), func(t *testing.T) {
				p := newProvider(t)
				p.handle(tt.path, echo(http.StatusBadRequest))
				c := p.client(func(cfg *oauth.Config) { cfg.ClientSecret, cfg.AuthStyle = secret, style })

				err := tt.call(c)
				var er *oauth.ErrorResponse
				if !errors.As(err, &er) || er.Endpoint != tt.endpoint || er.Code != "invalid_grant" {
					t.Fatalf("%s = %v; want an *ErrorResponse from the %s endpoint with code invalid_grant", tt.name, err, tt.endpoint)
				}
				if !strings.Contains(er.Description, "[redacted]") {
					t.Errorf("ErrorResponse.Description = %q; want the echoed values blanked out as [redacted]", er.Description)
				}
				msg := err.Error() + " " + er.URI
				for what, v := range map[string]string{
					"code": testCode, "verifier": testVerifier, "client secret": secret,
					"form-encoded client secret": url.QueryEscape(secret),
					"access token":               accessToken, "refresh token": refreshToken, "revoked token": revoked,
				} {
					if strings.Contains(msg, v) {
						t.Errorf("%s error %q contains the %s", tt.name, msg, what)
					}
				}
			})
		}
	}
}
