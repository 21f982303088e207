package oauth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/serverless-signin/signin/pkg/oauth"
	"github.com/serverless-signin/signin/pkg/signin"
)

const (
	testCode     = "code-SECRET-4711"
	testVerifier = "verifier-SECRET-0123456789-0123456789-abcdef"
)

func basicAuth(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

func TestExchangeClientAuth(t *testing.T) {
	codeForm := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {testCode},
		"code_verifier": {testVerifier},
		"redirect_uri":  {testRedirectURI},
	}
	withSecretInForm := url.Values{"client_id": {testClientID}, "client_secret": {testClientSecret}}
	for k, v := range codeForm {
		withSecretInForm[k] = v
	}
	tests := []struct {
		name       string
		advertised []string // token_endpoint_auth_methods_supported; nil: absent
		style      oauth.AuthStyle
		wantAuth   string
		wantForm   url.Values
	}{
		{"advertised basic and post", []string{"client_secret_basic", "client_secret_post"}, oauth.AuthStyleAuto, basicAuth(testClientID, testClientSecret), codeForm},
		{"nothing advertised: OpenID default", nil, oauth.AuthStyleAuto, basicAuth(testClientID, testClientSecret), codeForm},
		{"post only", []string{"client_secret_post"}, oauth.AuthStyleAuto, "", withSecretInForm},
		{"configured post", []string{"client_secret_basic", "client_secret_post"}, oauth.AuthStylePost, "", withSecretInForm},
		{"configured basic", []string{"client_secret_post"}, oauth.AuthStyleBasic, basicAuth(testClientID, testClientSecret), codeForm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t)
			if tt.advertised == nil {
				p.setMeta("token_endpoint_auth_methods_supported", nil)
			} else {
				p.setMeta("token_endpoint_auth_methods_supported", tt.advertised)
			}
			c := p.client(func(cfg *oauth.Config) { cfg.AuthStyle = tt.style })

			if _, err := c.Exchange(context.Background(), testCode, testReq); err != nil {
				t.Fatalf("Exchange() = %v; want nil", err)
			}
			got := p.last("/oauth/token")
			if got.Method != http.MethodPost {
				t.Errorf("token request method = %s; want POST", got.Method)
			}
			if ct := got.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
				t.Errorf("token request Content-Type = %q; want application/x-www-form-urlencoded", ct)
			}
			if a := got.Header.Get("Authorization"); a != tt.wantAuth {
				t.Errorf("token request Authorization = %q; want %q", a, tt.wantAuth)
			}
			if !reflect.DeepEqual(got.Form, tt.wantForm) {
				t.Errorf("token request form = %v; want %v", got.Form, tt.wantForm)
			}
			if len(got.Query) != 0 {
				t.Errorf("token request query = %v; want none", got.Query)
			}
		})
	}
}

// Basic credentials are form-encoded first (RFC 6749 §2.3.1).
func TestExchangeBasicAuthEncoding(t *testing.T) {
	p := newProvider(t)
	c := p.client(func(cfg *oauth.Config) { cfg.ClientID = "id:with space"; cfg.ClientSecret = "p@ss:wörd" })
	p.handle("/oauth/token", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"access_token": "a", "token_type": "Bearer"})
	})
	if _, err := c.Exchange(context.Background(), testCode, testReq); err != nil {
		t.Fatal(err)
	}
	if got, want := p.last("/oauth/token").Header.Get("Authorization"), basicAuth("id:with space", "p@ss:wörd"); got != want {
		t.Errorf("Authorization = %q; want %q", got, want)
	}
}

func TestExchangeToken(t *testing.T) {
	p := newProvider(t)
	c := p.client()
	res := p.tokenResponse(nil)
	p.handle("/oauth/token", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, res) })

	got, err := c.Exchange(context.Background(), testCode, testReq)
	if err != nil {
		t.Fatal(err)
	}
	want := signin.Token{
		AccessToken:  "access-token-1",
		TokenType:    "Bearer",
		RefreshToken: "refresh-token-1",
		IDToken:      res["id_token"].(string),
		Scope:        "openid profile email",
		Expiry:       p.clock.Now().Add(time.Hour), // expires_in counted on the injected clock
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Exchange() = %+v; want %+v", got, want)
	}
}

func TestExchangeErrors(t *testing.T) {
	secrets := []string{testCode, testVerifier, testClientSecret, "access-token-in-body"}
	tests := []struct {
		name    string
		status  int
		ctype   string
		body    string
		check   func(t *testing.T, err error)
		errText string // must appear in the message
	}{
		{
			name: "invalid_grant", status: 400, ctype: "application/json",
			body: `{"error":"invalid_grant","error_description":"code expired","error_uri":"https://p.example/e"}`,
			check: func(t *testing.T, err error) {
				var er *oauth.ErrorResponse
				if !errors.As(err, &er) {
					t.Fatalf("Exchange() error = %v; want *ErrorResponse", err)
				}
				want := oauth.ErrorResponse{Endpoint: "token", StatusCode: 400, Code: "invalid_grant", Description: "code expired", URI: "https://p.example/e"}
				if *er != want {
					t.Errorf("ErrorResponse = %+v; want %+v", *er, want)
				}
				if !oauth.IsInvalidGrant(err) {
					t.Errorf("IsInvalidGrant(%v) = false; want true", err)
				}
			},
			errText: "invalid_grant",
		},
		{
			name: "invalid_client", status: 401, ctype: "application/json",
			body: `{"error":"invalid_client"}`,
			check: func(t *testing.T, err error) {
				var er *oauth.ErrorResponse
				if !errors.As(err, &er) || er.Code != "invalid_client" || er.StatusCode != 401 {
					t.Fatalf("Exchange() error = %v; want *ErrorResponse invalid_client 401", err)
				}
				if oauth.IsInvalidGrant(err) {
					t.Errorf("IsInvalidGrant(%v) = true; want false", err)
				}
			},
			errText: "invalid_client",
		},
		{
			name: "error description with control characters and too long", status: 400, ctype: "application/json",
			body: `{"error":"invalid_request","error_description":"line1\nline2 ` + strings.Repeat("x", 500) + `"}`,
			check: func(t *testing.T, err error) {
				var er *oauth.ErrorResponse
				if !errors.As(err, &er) {
					t.Fatalf("Exchange() error = %v; want *ErrorResponse", err)
				}
				if strings.ContainsAny(er.Description, "\n\r") || len(er.Description) > 210 {
					t.Errorf("Description = %q; want no control characters and truncated", er.Description)
				}
			},
		},
		{
			name: "HTML 500 echoing secrets", status: 500, ctype: "text/html",
			body: "<html>Internal error for " + strings.Join(secrets, " ") + "</html>",
			check: func(t *testing.T, err error) {
				var he *oauth.HTTPError
				if !errors.As(err, &he) || he.Endpoint != "token" || he.StatusCode != 500 {
					t.Fatalf("Exchange() error = %v; want *HTTPError{token, 500}", err)
				}
			},
			errText: "token endpoint: HTTP 500",
		},
		{
			name: "JSON 503 without an error code", status: 503, ctype: "application/json",
			body: `{"message":"` + strings.Join(secrets, " ") + `"}`,
			check: func(t *testing.T, err error) {
				var he *oauth.HTTPError
				if !errors.As(err, &he) || he.StatusCode != 503 {
					t.Fatalf("Exchange() error = %v; want *HTTPError 503", err)
				}
			},
			errText: "HTTP 503",
		},
		{
			name: "200 with HTML", status: 200, ctype: "text/html",
			body: "<html>" + strings.Join(secrets, " ") + "</html>",
			check: func(t *testing.T, err error) {
				var he *oauth.HTTPError
				if !errors.As(err, &he) || he.Endpoint != "token" {
					t.Fatalf("Exchange() error = %v; want *HTTPError from the token endpoint", err)
				}
			},
			errText: "token endpoint",
		},
		{
			name: "200 without access_token", status: 200, ctype: "application/json",
			body: `{"token_type":"Bearer","id_token":"` + testCode + `"}`,
			check: func(t *testing.T, err error) {
				var he *oauth.HTTPError
				if !errors.As(err, &he) {
					t.Fatalf("Exchange() error = %v; want *HTTPError", err)
				}
			},
		},
		{
			name: "200 with an error field", status: 200, ctype: "application/json",
			body: `{"error":"invalid_grant"}`,
			check: func(t *testing.T, err error) {
				if !oauth.IsInvalidGrant(err) {
					t.Fatalf("Exchange() error = %v; want invalid_grant", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t)
			c := p.client()
			p.handle("/oauth/token", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.ctype)
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			})
			tok, err := c.Exchange(context.Background(), testCode, testReq)
			if err == nil {
				t.Fatalf("Exchange() = %+v; want an error", tok)
			}
			tt.check(t, err)
			msg := err.Error()
			if !strings.Contains(msg, tt.errText) {
				t.Errorf("Exchange() error = %q; want it to contain %q", msg, tt.errText)
			}
			for _, s := range secrets {
				if strings.Contains(msg, s) {
					t.Errorf("Exchange() error = %q; must not contain %q", msg, s)
				}
			}
		})
	}
}

func TestExchangeTimeout(t *testing.T) {
	p := newProvider(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // runs before the server closes
	p.handle("/oauth/token", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	c := p.client(func(cfg *oauth.Config) { cfg.Timeout = 50 * time.Millisecond })

	_, err := c.Exchange(context.Background(), testCode, testReq)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Exchange() against a hanging endpoint = %v; want context.DeadlineExceeded", err)
	}
	if strings.Contains(err.Error(), testCode) || strings.Contains(err.Error(), testVerifier) {
		t.Errorf("Exchange() error = %q; must not contain the code or verifier", err)
	}
}

func TestExchangeCanceled(t *testing.T) {
	p := newProvider(t)
	c := p.client()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Exchange(ctx, testCode, testReq); !errors.Is(err, context.Canceled) {
		t.Fatalf("Exchange(canceled context) = %v; want context.Canceled", err)
	}
}

func TestExchangeRequiresCodeVerifierAndRedirectURI(t *testing.T) {
	p := newProvider(t)
	c := p.client()
	noVerifier, noRedirectURI := testReq, testReq
	noVerifier.Verifier, noRedirectURI.RedirectURI = "", ""
	for _, tt := range []struct {
		code string
		req  signin.AuthRequest
	}{{"", testReq}, {testCode, noVerifier}, {testCode, noRedirectURI}} {
		if _, err := c.Exchange(context.Background(), tt.code, tt.req); err == nil {
			t.Errorf("Exchange(code %q, %+v) = nil error; want an error", tt.code, tt.req)
		}
	}
	if n := p.count("/oauth/token"); n != 0 {
		t.Errorf("token endpoint called %d times; want 0", n)
	}
}
