package oauth_test

import (
	"errors"
	"testing"
	"time"

	"github.com/serverless-signin/signin/pkg/oauth"
)

func TestIssuerValidation(t *testing.T) {
	for _, tt := range []struct {
		issuer string
		ok     bool
	}{
		{"https://id.example", true},
		{"https://id.example/tenant/", true},
		{"http://localhost:8080", true},
		{"http://127.0.0.1:9000", true},
		{"http://[::1]:9000", true},
		{"http://id.example", false},
		{"id.example", false},
		{"https://id.example?x=1", false},
		{"https://user:pw@id.example", false},
		{"ftp://id.example", false},
	} {
		_, err := oauth.NewClient(oauth.Config{Issuer: tt.issuer, ClientID: "c"})
		var ce *oauth.ConfigError
		if tt.ok && err != nil {
			t.Errorf("NewClient(Issuer %q) = %v; want nil", tt.issuer, err)
		}
		if !tt.ok && (!errors.As(err, &ce) || !ce.Has("Issuer")) {
			t.Errorf("NewClient(Issuer %q) = %v; want a ConfigError naming Issuer", tt.issuer, err)
		}
	}
}

func TestNewClientNamesFields(t *testing.T) {
	_, err := oauth.NewClient(oauth.Config{
		Prompt:      "sometimes",
		AuthStyle:   oauth.AuthStyle(9),
		Timeout:     -time.Second,
		SigningAlgs: []string{"HS256"},
	})
	var ce *oauth.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("NewClient() = %v; want *ConfigError", err)
	}
	for _, name := range []string{"Issuer", "ClientID", "Prompt", "AuthStyle", "Timeout", "SigningAlgs"} {
		if !ce.Has(name) {
			t.Errorf("NewClient() error = %q; want it to name %s", err, name)
		}
	}
}

// Config returns a copy: changing it does not change the client.
func TestConfigIsACopy(t *testing.T) {
	c, err := oauth.NewClient(oauth.Config{Issuer: "https://id.example", ClientID: "c"})
	if err != nil {
		t.Fatal(err)
	}
	c.Config().Scopes[0] = "changed"
	if got := c.Config().Scopes[0]; got != "openid" {
		t.Errorf("Config().Scopes[0] = %q after changing a copy; want openid", got)
	}
}

// Without openid the provider sends no ID token and nothing would be
// verified: such a configuration is refused, not run as plain OAuth 2.0.
func TestScopesMustContainOpenID(t *testing.T) {
	for _, tt := range []struct {
		name   string
		scopes []string
		ok     bool
	}{
		{"nil: the defaults", nil, true},
		{"openid alone", []string{"openid"}, true},
		{"openid among others", []string{"profile", "openid"}, true},
		{"without openid", []string{"profile", "email"}, false},
		{"empty", []string{}, false},
		{"openid in another case", []string{"OpenID"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := oauth.NewClient(oauth.Config{Issuer: "https://id.example", ClientID: "c", Scopes: tt.scopes})
			var ce *oauth.ConfigError
			if tt.ok && err != nil {
				t.Errorf("NewClient(Scopes %q) = %v; want nil", tt.scopes, err)
			}
			if !tt.ok && (!errors.As(err, &ce) || !ce.Has("Scopes")) {
				t.Errorf("NewClient(Scopes %q) = %v; want a ConfigError naming Scopes", tt.scopes, err)
			}
		})
	}
}

func TestPromptValidation(t *testing.T) {
	for _, tt := range []struct {
		prompt string
		ok     bool
	}{
		{"", true}, {"login", true}, {"consent", true}, {"none", true}, {"select_account", true},
		{"Login", false}, {"login consent", false}, {"create", false}, {"always", false},
	} {
		_, err := oauth.NewClient(oauth.Config{Issuer: "https://id.example", ClientID: "c", Prompt: tt.prompt})
		var ce *oauth.ConfigError
		if tt.ok && err != nil {
			t.Errorf("NewClient(Prompt %q) = %v; want nil", tt.prompt, err)
		}
		if !tt.ok && (!errors.As(err, &ce) || !ce.Has("Prompt")) {
			t.Errorf("NewClient(Prompt %q) = %v; want a ConfigError naming Prompt", tt.prompt, err)
		}
	}
}
