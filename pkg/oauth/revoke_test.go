package oauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/serverless-signin/signin/pkg/oauth"
)

func TestRevokeRequest(t *testing.T) {
	tests := []struct {
		name       string
		advertised []string // revocation_endpoint_auth_methods_supported
		hint       string
		wantAuth   string
		wantForm   url.Values
	}{
		{
			name: "basic", hint: "refresh_token",
			wantAuth: basicAuth(testClientID, testClientSecret),
			wantForm: url.Values{"token": {"refresh-token-1"}, "token_type_hint": {"refresh_token"}},
		},
		{
			name: "no hint", hint: "",
			wantAuth: basicAuth(testClientID, testClientSecret),
			wantForm: url.Values{"token": {"refresh-token-1"}},
		},
		{
			name: "post advertised for revocation", advertised: []string{"client_secret_post"}, hint: "access_token",
			wantForm: url.Values{"token": {"refresh-token-1"}, "token_type_hint": {"access_token"},
				"client_id": {testClientID}, "client_secret": {testClientSecret}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t)
			if tt.advertised != nil {
				p.setMeta("revocation_endpoint_auth_methods_supported", tt.advertised)
			}
			if err := p.client().Revoke(context.Background(), "refresh-token-1", tt.hint); err != nil {
				t.Fatalf("Revoke() = %v; want nil", err)
			}
			req := p.last("/revoke")
			if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
				t.Errorf("revocation request = %s %q; want a form POST", req.Method, req.Header.Get("Content-Type"))
			}
			if got := req.Header.Get("Authorization"); got != tt.wantAuth {
				t.Errorf("revocation Authorization = %q; want %q", got, tt.wantAuth)
			}
			if !reflect.DeepEqual(req.Form, tt.wantForm) {
				t.Errorf("revocation form = %v; want %v", req.Form, tt.wantForm)
			}
		})
	}
}

func TestRevokeResponses(t *testing.T) {
	tests := []struct {
		name   string
		status int
		ctype  string
		body   string
		check  func(t *testing.T, err error)
	}{
		{
			// RFC 7009 §2.2: an unknown or already revoked token is a 200 too.
			name: "200", status: 200,
			check: func(t *testing.T, err error) {
				if err != nil {
					t.Fatalf("Revoke() = %v; want nil", err)
				}
			},
		},
		{
			name: "unsupported_token_type", status: 400, ctype: "application/json",
			body: `{"error":"unsupported_token_type"}`,
			check: func(t *testing.T, err error) {
				var er *oauth.ErrorResponse
				if !errors.As(err, &er) || er.Code != "unsupported_token_type" || er.Endpoint != "revocation" {
					t.Fatalf("Revoke() = %v; want *ErrorResponse unsupported_token_type", err)
				}
			},
		},
		{
			name: "HTML 503", status: 503, ctype: "text/html", body: "<html>refresh-token-1</html>",
			check: func(t *testing.T, err error) {
				var he *oauth.HTTPError
				if !errors.As(err, &he) || he.StatusCode != 503 || he.Endpoint != "revocation" {
					t.Fatalf("Revoke() = %v; want *HTTPError{revocation, 503}", err)
				}
				if strings.Contains(err.Error(), "refresh-token-1") {
					t.Errorf("Revoke() error = %q; must not contain the token", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t)
			p.handle("/revoke", func(w http.ResponseWriter, r *http.Request) {
				if tt.ctype != "" {
					w.Header().Set("Content-Type", tt.ctype)
				}
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			})
			tt.check(t, p.client().Revoke(context.Background(), "refresh-token-1", "refresh_token"))
		})
	}
}

func TestRevokeExplicitEndpointNeedsNoDiscovery(t *testing.T) {
	p := newProvider(t)
	c := p.client(func(cfg *oauth.Config) {
		cfg.RevokeURL = p.Issuer + "/revoke"
		cfg.AuthStyle = oauth.AuthStyleBasic
	})
	if err := c.Revoke(context.Background(), "refresh-token-1", "refresh_token"); err != nil {
		t.Fatal(err)
	}
	if n := p.count("/.well-known/openid-configuration"); n != 0 {
		t.Errorf("discovery fetched %d times; want 0", n)
	}
}
