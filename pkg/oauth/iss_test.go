package oauth_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/serverless-signin/signin/pkg/oauth"
)

// RFC 9207: a callback may require the iss parameter only when the
// discovery document it uses promises one.
func TestIssParameterSupported(t *testing.T) {
	explicit := func(p *provider) func(*oauth.Config) {
		return func(cfg *oauth.Config) {
			cfg.TokenURL, cfg.UserinfoURL, cfg.JWKSURL = p.Issuer+"/oauth/token", p.Issuer+"/userinfo", p.Issuer+"/keys"
			cfg.AuthStyle, cfg.SigningAlgs = oauth.AuthStyleBasic, []string{"RS256"}
		}
	}
	tests := []struct {
		name          string
		advertised    any // the metadata value; nil: absent
		setup         func(p *provider) func(*oauth.Config)
		discoveryDown bool
		wantFetches   int
		want          bool
	}{
		{name: "advertised true", advertised: true, wantFetches: 1, want: true},
		{name: "advertised false", advertised: false, wantFetches: 1},
		{name: "not advertised", wantFetches: 1},
		// Not the JSON true: read as false, and the rest of the document
		// still serves (SignIn below would fail without its jwks_uri).
		{name: "advertised as a string", advertised: "true", wantFetches: 1},
		{name: "every endpoint the callback uses configured: no discovery", advertised: true, setup: explicit, wantFetches: 0},
		{
			name: "some endpoints configured: the callback still discovers", advertised: true, wantFetches: 1, want: true,
			setup: func(p *provider) func(*oauth.Config) {
				return func(cfg *oauth.Config) { cfg.TokenURL, cfg.AuthStyle = p.Issuer+"/oauth/token", oauth.AuthStyleBasic }
			},
		},
		{
			name: "discovery failed", advertised: true, discoveryDown: true, wantFetches: 1,
			setup: func(p *provider) func(*oauth.Config) {
				// The issuer-derived fallback has no JWKS URL of its own.
				return func(cfg *oauth.Config) { cfg.JWKSURL = p.Issuer + "/keys" }
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t)
			p.setMeta("authorization_response_iss_parameter_supported", tt.advertised)
			if tt.discoveryDown {
				p.handle(discoveryPath, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) })
			}
			var edit []func(*oauth.Config)
			if tt.setup != nil {
				edit = append(edit, tt.setup(p))
			}
			c := p.client(edit...)
			ctx := context.Background()

			if got := c.IssParameterSupported(ctx); got != tt.want {
				t.Errorf("IssParameterSupported() = %t; want %t", got, tt.want)
			}
			// The callback goes on with SignIn on the same document: no
			// second fetch.
			if _, err := c.SignIn(ctx, testCode, testReq); err != nil {
				t.Fatalf("SignIn() = %v", err)
			}
			if got := c.IssParameterSupported(ctx); got != tt.want {
				t.Errorf("IssParameterSupported() after SignIn = %t; want %t", got, tt.want)
			}
			if n := p.count(discoveryPath); n != tt.wantFetches {
				t.Errorf("discovery fetched %d times; want %d", n, tt.wantFetches)
			}
		})
	}
}

// A discovery document naming another issuer is never trusted, also not
// for its promise.
func TestIssParameterSupportedIssuerMismatch(t *testing.T) {
	p := newProvider(t)
	p.setMeta("authorization_response_iss_parameter_supported", true)
	p.setMeta("issuer", "https://evil.example")
	if p.client().IssParameterSupported(context.Background()) {
		t.Error("IssParameterSupported() with a discovery document of another issuer = true; want false")
	}
}

func TestIssuer(t *testing.T) {
	c, err := oauth.NewClient(oauth.Config{Issuer: "https://id.example/tenant/", ClientID: "c", HTTPClient: newNoNetworkClient(t)})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Issuer(); got != "https://id.example/tenant/" {
		t.Errorf("Issuer() = %q; want the configured https://id.example/tenant/", got)
	}
}
