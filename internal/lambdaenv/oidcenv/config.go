package oidcenv

import (
	"errors"
	"strings"
	"time"

	"github.com/serverless-signin/signin/pkg/oauth"
)

// Environment variables read by Config.
const (
	EnvIssuer          = "OAUTH_ISSUER"
	EnvClientID        = "OAUTH_CLIENT_ID"
	EnvClientSecret    = "OAUTH_CLIENT_SECRET"
	EnvScopes          = "OAUTH_SCOPES" // space-separated; must contain openid; empty: openid profile email
	EnvPrompt          = "OAUTH_PROMPT"
	EnvAuthorizeURL    = "OAUTH_AUTHORIZE_URL"
	EnvTokenURL        = "OAUTH_TOKEN_URL"
	EnvUserinfoURL     = "OAUTH_USERINFO_URL"
	EnvRevokeURL       = "OAUTH_REVOKE_URL"
	EnvEndSessionURL   = "OAUTH_END_SESSION_URL"
	EnvJWKSURL         = "OAUTH_JWKS_URL"
	EnvTokenAuthMethod = "OAUTH_TOKEN_AUTH_METHOD" // client_secret_basic or client_secret_post; empty: auto
	EnvTimeout         = "OAUTH_TIMEOUT"           // Go duration, e.g. 3s
)

// variables names, for each oauth.Config field set from the environment,
// the variable an operator sets: problems are reported under that name.
var variables = map[string]string{
	"Issuer":        EnvIssuer,
	"ClientID":      EnvClientID,
	"ClientSecret":  EnvClientSecret,
	"Scopes":        EnvScopes,
	"Prompt":        EnvPrompt,
	"AuthorizeURL":  EnvAuthorizeURL,
	"TokenURL":      EnvTokenURL,
	"UserinfoURL":   EnvUserinfoURL,
	"RevokeURL":     EnvRevokeURL,
	"EndSessionURL": EnvEndSessionURL,
	"JWKSURL":       EnvJWKSURL,
	"AuthStyle":     EnvTokenAuthMethod,
	"Timeout":       EnvTimeout,
}

// Config reads the OAUTH_* variables through getenv (os.Getenv in
// production) and validates the result as oauth.NewClient will. It reports
// every missing or invalid variable, by its name and never with its value,
// in one *oauth.ConfigError. OAUTH_CLIENT_SECRET is optional here: in AWS it
// comes from Secrets Manager or SSM and the caller sets
// oauth.Config.ClientSecret itself.
func Config(getenv func(string) string) (oauth.Config, error) {
	get := func(name string) string { return strings.TrimSpace(getenv(name)) }
	cfg := oauth.Config{
		Issuer:        get(EnvIssuer),
		ClientID:      get(EnvClientID),
		ClientSecret:  get(EnvClientSecret), // a pasted secret often drags a newline along
		Prompt:        get(EnvPrompt),
		AuthorizeURL:  get(EnvAuthorizeURL),
		TokenURL:      get(EnvTokenURL),
		UserinfoURL:   get(EnvUserinfoURL),
		RevokeURL:     get(EnvRevokeURL),
		EndSessionURL: get(EnvEndSessionURL),
		JWKSURL:       get(EnvJWKSURL),
	}
	if s := get(EnvScopes); s != "" {
		cfg.Scopes = strings.Fields(s)
	}
	var problems []oauth.SettingError
	switch m := get(EnvTokenAuthMethod); m {
	case "":
	case "client_secret_basic":
		cfg.AuthStyle = oauth.AuthStyleBasic
	case "client_secret_post":
		cfg.AuthStyle = oauth.AuthStylePost
	default:
		problems = append(problems, oauth.SettingError{Name: EnvTokenAuthMethod, Reason: "must be client_secret_basic or client_secret_post"})
	}
	if s := get(EnvTimeout); s != "" {
		if d, err := time.ParseDuration(s); err != nil || d <= 0 {
			problems = append(problems, oauth.SettingError{Name: EnvTimeout, Reason: "must be a positive duration such as 3s"})
		} else {
			cfg.Timeout = d
		}
	}
	var ce *oauth.ConfigError
	if err := cfg.Validate(); errors.As(err, &ce) {
		for _, s := range ce.Settings {
			if v, ok := variables[s.Name]; ok {
				s.Name = v
			}
			problems = append(problems, s)
		}
	} else if err != nil {
		return oauth.Config{}, err
	}
	if len(problems) > 0 {
		return oauth.Config{}, &oauth.ConfigError{Settings: problems}
	}
	return cfg, nil
}
