package oidcenv_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/serverless-signin/signin/internal/lambdaenv/oidcenv"
	"github.com/serverless-signin/signin/pkg/oauth"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestConfig(t *testing.T) {
	got, err := oidcenv.Config(env(map[string]string{
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
		t.Errorf("Config() = %+v; want %+v", got, want)
	}
}

func TestConfigMinimal(t *testing.T) {
	got, err := oidcenv.Config(env(map[string]string{"OAUTH_ISSUER": "https://id.example", "OAUTH_CLIENT_ID": "c"}))
	if err != nil {
		t.Fatalf("Config() = %v; want nil (the client secret is optional here)", err)
	}
	c, err := oauth.NewClient(got)
	if err != nil {
		t.Fatal(err)
	}
	cfg := c.Config()
	if !slices.Equal(cfg.Scopes, []string{"openid", "profile", "email"}) || cfg.Timeout != 5*time.Second ||
		cfg.ClockSkew != time.Minute || cfg.JWKSTTL != time.Hour {
		t.Errorf("Config() = %+v; want the defaults", cfg)
	}
}

func TestConfigNamesEveryProblem(t *testing.T) {
	_, err := oidcenv.Config(env(map[string]string{
		"OAUTH_PROMPT":            "always",
		"OAUTH_TOKEN_URL":         "not a url",
		"OAUTH_USERINFO_URL":      "http://id.example/userinfo", // http off loopback
		"OAUTH_TOKEN_AUTH_METHOD": "private_key_jwt",
		"OAUTH_TIMEOUT":           "soon",
		"OAUTH_SCOPES":            `openid "quoted"`,
	}))
	var ce *oauth.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("Config() = %v; want *ConfigError", err)
	}
	for _, name := range []string{
		"OAUTH_ISSUER", "OAUTH_CLIENT_ID", "OAUTH_PROMPT", "OAUTH_TOKEN_URL", "OAUTH_USERINFO_URL",
		"OAUTH_TOKEN_AUTH_METHOD", "OAUTH_TIMEOUT", "OAUTH_SCOPES",
	} {
		if !ce.Has(name) || !strings.Contains(err.Error(), name) {
			t.Errorf("Config() error = %q; want it to name %s", err, name)
		}
	}
	if len(ce.Settings) != 8 {
		t.Errorf("Config() problems = %v; want 8", ce.Settings)
	}
}

func TestConfigErrorsNeverEchoValues(t *testing.T) {
	const secretish = "sk_live_0123456789"
	_, err := oidcenv.Config(env(map[string]string{"OAUTH_ISSUER": secretish, "OAUTH_CLIENT_ID": "c", "OAUTH_PROMPT": secretish}))
	if err == nil || strings.Contains(err.Error(), secretish) {
		t.Errorf("Config() error = %v; want an error that does not echo the value", err)
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
		_, err := oidcenv.Config(env(map[string]string{"OAUTH_ISSUER": "https://id.example", "OAUTH_CLIENT_ID": "c", "OAUTH_PROMPT": tt.prompt}))
		var ce *oauth.ConfigError
		if tt.ok && err != nil {
			t.Errorf("Config(OAUTH_PROMPT=%q) = %v; want nil", tt.prompt, err)
		}
		if !tt.ok && (!errors.As(err, &ce) || !ce.Has("OAUTH_PROMPT")) {
			t.Errorf("Config(OAUTH_PROMPT=%q) = %v; want a ConfigError naming OAUTH_PROMPT", tt.prompt, err)
		}
	}
}

func TestConfigScopesWithoutOpenID(t *testing.T) {
	_, err := oidcenv.Config(env(map[string]string{"OAUTH_ISSUER": "https://id.example", "OAUTH_CLIENT_ID": "c", "OAUTH_SCOPES": "profile email"}))
	var ce *oauth.ConfigError
	if !errors.As(err, &ce) || !ce.Has("OAUTH_SCOPES") || len(ce.Settings) != 1 {
		t.Errorf("Config(OAUTH_SCOPES without openid) = %v; want a ConfigError naming OAUTH_SCOPES only", err)
	}
}

// A bad OAUTH_TIMEOUT is one problem, reported once, whatever it parses to.
func TestConfigTimeout(t *testing.T) {
	for _, v := range []string{"soon", "-3s", "0s"} {
		_, err := oidcenv.Config(env(map[string]string{"OAUTH_ISSUER": "https://id.example", "OAUTH_CLIENT_ID": "c", "OAUTH_TIMEOUT": v}))
		var ce *oauth.ConfigError
		if !errors.As(err, &ce) || len(ce.Settings) != 1 || !ce.Has("OAUTH_TIMEOUT") {
			t.Errorf("Config(OAUTH_TIMEOUT=%q) = %v; want one problem, OAUTH_TIMEOUT", v, err)
		}
	}
}
