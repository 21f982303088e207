package oauth_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/serverless-signin/signin/pkg/oauth"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestConfigFromEnv(t *testing.T) {
	got, err := oauth.ConfigFromEnv(env(map[string]string{
		"OAUTH_ISSUER":            "https://id.example",
		"OAUTH_CLIENT_ID":         "client-1",
		"OAUTH_CLIENT_SECRET":     "secret",
		"OAUTH_SCOPES":            " openid  email ",
		"OAUTH_PROMPT":            "consent",
		"OAUTH_AUTHORIZE_URL":     "https://id.example/a",
		"OAUTH_TOKEN_URL":         "https://id.example/t",
		"OAUTH_USERINFO_URL":      "https://id.example/u",
		"OAUTH_REVOKE_URL":        "https://id.example/r",
		"OAUTH_END_SESSION_URL":   "https://id.example/e",
		"OAUTH_JWKS_URL":          "https://id.example/k",
		"OAUTH_TOKEN_AUTH_METHOD": "client_secret_post",
		"OAUTH_TIMEOUT":           "3s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := oauth.Config{
		Issuer: "https://id.example", ClientID: "client-1", ClientSecret: "secret",
		Scopes: []string{"openid", "email"}, Prompt: "consent",
		AuthorizeURL: "https://id.example/a", TokenURL: "https://id.example/t", UserinfoURL: "https://id.example/u",
		RevokeURL: "https://id.example/r", EndSessionURL: "https://id.example/e", JWKSURL: "https://id.example/k",
		AuthStyle: oauth.AuthStylePost, Timeout: 3 * time.Second,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ConfigFromEnv() = %+v; want %+v", got, want)
	}
}

func TestConfigFromEnvMinimal(t *testing.T) {
	got, err := oauth.ConfigFromEnv(env(map[string]string{"OAUTH_ISSUER": "https://id.example", "OAUTH_CLIENT_ID": "c"}))
	if err != nil {
		t.Fatalf("ConfigFromEnv() = %v; want nil (the client secret is optional here)", err)
	}
	c, err := oauth.NewClient(got)
	if err != nil {
		t.Fatal(err)
	}
	cfg := c.Config()
	if !slices.Equal(cfg.Scopes, []string{"openid", "profile", "email"}) || cfg.Timeout != 5*time.Second ||
		cfg.ExpirySkew != time.Minute || cfg.ClockSkew != time.Minute || cfg.DiscoveryTTL != time.Hour {
		t.Errorf("Config() = %+v; want the defaults", cfg)
	}
}

func TestConfigFromEnvNamesEveryProblem(t *testing.T) {
	_, err := oauth.ConfigFromEnv(env(map[string]string{
		"OAUTH_PROMPT":            "always",
		"OAUTH_TOKEN_URL":         "not a url",
		"OAUTH_USERINFO_URL":      "http://id.example/userinfo", // http off loopback
		"OAUTH_TOKEN_AUTH_METHOD": "private_key_jwt",
		"OAUTH_TIMEOUT":           "soon",
		"OAUTH_SCOPES":            `openid "quoted"`,
	}))
	var ce *oauth.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("ConfigFromEnv() = %v; want *ConfigError", err)
	}
	for _, name := range []string{
		"OAUTH_ISSUER", "OAUTH_CLIENT_ID", "OAUTH_PROMPT", "OAUTH_TOKEN_URL", "OAUTH_USERINFO_URL",
		"OAUTH_TOKEN_AUTH_METHOD", "OAUTH_TIMEOUT", "OAUTH_SCOPES",
	} {
		if !ce.Has(name) || !strings.Contains(err.Error(), name) {
			t.Errorf("ConfigFromEnv() error = %q; want it to name %s", err, name)
		}
	}
	if len(ce.Settings) != 8 {
		t.Errorf("ConfigFromEnv() problems = %v; want 8", ce.Settings)
	}
}

func TestConfigErrorsNeverEchoValues(t *testing.T) {
	const secretish = "sk_live_0123456789"
	_, err := oauth.ConfigFromEnv(env(map[string]string{"OAUTH_ISSUER": secretish, "OAUTH_CLIENT_ID": "c", "OAUTH_PROMPT": secretish}))
	if err == nil || strings.Contains(err.Error(), secretish) {
		t.Errorf("ConfigFromEnv() error = %v; want an error that does not echo the value", err)
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
		_, err := oauth.ConfigFromEnv(env(map[string]string{"OAUTH_ISSUER": "https://id.example", "OAUTH_CLIENT_ID": "c", "OAUTH_PROMPT": tt.prompt}))
		var ce *oauth.ConfigError
		if tt.ok && err != nil {
			t.Errorf("ConfigFromEnv(OAUTH_PROMPT=%q) = %v; want nil", tt.prompt, err)
		}
		if !tt.ok && (!errors.As(err, &ce) || !ce.Has("OAUTH_PROMPT")) {
			t.Errorf("ConfigFromEnv(OAUTH_PROMPT=%q) = %v; want a ConfigError naming OAUTH_PROMPT", tt.prompt, err)
		}
	}
}

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
	_, err := oauth.ConfigFromEnv(env(map[string]string{"OAUTH_ISSUER": "https://id.example", "OAUTH_CLIENT_ID": "c", "OAUTH_SCOPES": "profile email"}))
	var ce *oauth.ConfigError
	if !errors.As(err, &ce) || !ce.Has("OAUTH_SCOPES") {
		t.Errorf("ConfigFromEnv(OAUTH_SCOPES without openid) = %v; want a ConfigError naming OAUTH_SCOPES", err)
	}
}
