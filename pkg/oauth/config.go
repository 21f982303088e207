package oauth

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Defaults applied by NewClient to zero Config fields.
const (
	DefaultTimeout   = 5 * time.Second
	DefaultClockSkew = 60 * time.Second
	DefaultJWKSTTL   = time.Hour
)

// DefaultScopes returns the scopes used when Config.Scopes is nil.
func DefaultScopes() []string { return []string{"openid", "profile", "email"} }

// AuthStyle is how the client authenticates at the token and revocation
// endpoints.
type AuthStyle int

const (
	// AuthStyleAuto uses client_secret_basic when the provider advertises it
	// or advertises nothing (the OpenID default), else client_secret_post.
	AuthStyleAuto AuthStyle = iota
	// AuthStyleBasic is client_secret_basic: HTTP Basic with the client id
	// and secret.
	AuthStyleBasic
	// AuthStylePost is client_secret_post: client_id and client_secret in
	// the form body.
	AuthStylePost
)

func (s AuthStyle) String() string {
	switch s {
	case AuthStyleAuto:
		return "auto"
	case AuthStyleBasic:
		return "client_secret_basic"
	case AuthStylePost:
		return "client_secret_post"
	}
	return fmt.Sprintf("AuthStyle(%d)", int(s))
}

// Config configures a Client. The zero value of every optional field is a
// safe default.
type Config struct {
	Issuer       string
	ClientID     string
	ClientSecret string   // may be empty where only AuthCodeURL is used (the login function)
	Scopes       []string // nil: openid profile email; must contain openid
	Prompt       string   // "", login, consent, none, select_account

	// Explicit endpoints take precedence over discovery, which takes
	// precedence over the issuer-derived defaults ({issuer}/authorize,
	// /oauth/token, /userinfo, /revoke, /end_session). The JWKS URL has no
	// default: without discovery it must be set. An operation fetches the
	// discovery document only when the configuration does not answer all
	// it needs: the endpoint, plus AuthStyle (not Auto) for the token and
	// revocation endpoints, plus SigningAlgs for JWKSURL.
	AuthorizeURL, TokenURL, UserinfoURL, RevokeURL, EndSessionURL, JWKSURL string

	AuthStyle AuthStyle // how to authenticate at the token and revocation endpoints

	// SigningAlgs restricts the ID token algorithms. Empty: the provider's
	// advertised asymmetric algorithms, else RS256. none and HMAC algorithms
	// are never accepted.
	SigningAlgs []string

	HTTPClient *http.Client     // nil: a client that does not follow redirects
	Timeout    time.Duration    // per outbound call; 0: 5s
	Now        func() time.Time // nil: time.Now
	ClockSkew  time.Duration    // iat/nbf leeway (exp is strict); 0: 60s
	// JWKSTTL is how long fetched signing keys are used before the JWKS is
	// fetched again (an unknown kid refetches sooner); 0: 1h. The discovery
	// document is fetched once per Client and kept.
	JWKSTTL time.Duration

	// Logger receives warnings the caller cannot see otherwise: a failed
	// discovery (the issuer-derived endpoints are used meanwhile) or JWKS
	// fetch. nil discards them. Nothing secret is logged.
	Logger *slog.Logger
}

// SettingError is one missing or invalid setting. Values are never echoed:
// a misplaced secret must not reach the logs.
type SettingError struct {
	// Name is the Config field (Issuer, Scopes). Code that reads the
	// settings from elsewhere renames it to what the operator set (the
	// environment variable OAUTH_ISSUER, say) before reporting it.
	Name   string
	Reason string
}

// ConfigError lists every problem of a configuration, as Validate and
// NewClient report it.
type ConfigError struct {
	Settings []SettingError
}

func (e *ConfigError) Error() string {
	parts := make([]string, len(e.Settings))
	for i, s := range e.Settings {
		parts[i] = s.Name + " " + s.Reason
	}
	return "oauth: invalid configuration: " + strings.Join(parts, "; ")
}

// Has reports whether the setting name is among the problems.
func (e *ConfigError) Has(name string) bool {
	return slices.ContainsFunc(e.Settings, func(s SettingError) bool { return s.Name == name })
}

var prompts = []string{"login", "consent", "none", "select_account"}

// Validate checks c as NewClient does, with no network I/O. It returns nil
// or a *ConfigError naming every bad field. ClientSecret may be empty: in
// AWS it is read from a secret store after the rest is known to be good.
func (c Config) Validate() error {
	if p := c.check(); len(p) > 0 {
		return &ConfigError{Settings: p}
	}
	return nil
}

func (c *Config) check() []SettingError {
	var p []SettingError
	add := func(name, reason string) { p = append(p, SettingError{name, reason}) }

	if c.Issuer == "" {
		add("Issuer", "is required")
	} else if reason := checkURL(c.Issuer); reason != "" {
		add("Issuer", reason)
	} else if u, _ := url.Parse(c.Issuer); u.RawQuery != "" || u.Fragment != "" {
		add("Issuer", "must have no query or fragment")
	}
	if c.ClientID == "" {
		add("ClientID", "is required")
	}
	if !slices.ContainsFunc(c.Scopes, func(s string) bool { return !validScope(s) }) {
		// Without openid the provider issues no ID token, so nothing about
		// the user would be verified: refuse rather than fall back to plain
		// OAuth 2.0.
		if c.Scopes != nil && !slices.Contains(c.Scopes, "openid") {
			add("Scopes", "must contain openid")
		}
	} else {
		add("Scopes", "must be scope tokens separated by spaces")
	}
	if c.Prompt != "" && !slices.Contains(prompts, c.Prompt) {
		add("Prompt", "must be one of "+strings.Join(prompts, ", "))
	}
	for _, e := range []struct{ name, value string }{
		{"AuthorizeURL", c.AuthorizeURL}, {"TokenURL", c.TokenURL}, {"UserinfoURL", c.UserinfoURL},
		{"RevokeURL", c.RevokeURL}, {"EndSessionURL", c.EndSessionURL}, {"JWKSURL", c.JWKSURL},
	} {
		if e.value == "" {
			continue
		}
		if reason := checkURL(e.value); reason != "" {
			add(e.name, reason)
		}
	}
	if c.AuthStyle < AuthStyleAuto || c.AuthStyle > AuthStylePost {
		add("AuthStyle", "is not a known AuthStyle")
	}
	if c.Timeout < 0 {
		add("Timeout", "must not be negative")
	}
	if c.ClockSkew < 0 {
		add("ClockSkew", "must not be negative")
	}
	if c.JWKSTTL < 0 {
		add("JWKSTTL", "must not be negative")
	}
	for _, a := range c.SigningAlgs {
		if !asymmetricAlgs[a] {
			add("SigningAlgs", "must list asymmetric JOSE algorithms only (never none or HMAC)")
			break
		}
	}
	return p
}

// checkURL requires an absolute URL that is https, or http on a loopback
// host (local development). It returns the reason it is unacceptable.
func checkURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return "must be an absolute http(s) URL"
	}
	switch u.Scheme {
	case "https":
		return ""
	case "http":
		if isLoopback(u.Hostname()) {
			return ""
		}
		return "must use https (http only for localhost)"
	}
	return "must be an absolute http(s) URL"
}

func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validScope checks RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
func validScope(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
			return false
		}
	}
	return true
}

// withDefaults returns a copy of c with zero fields set to their defaults;
// slices are copied so later changes by the caller do not leak in.
func (c Config) withDefaults() Config {
	if c.Scopes == nil {
		c.Scopes = DefaultScopes()
	} else {
		c.Scopes = slices.Clone(c.Scopes)
	}
	c.SigningAlgs = slices.Clone(c.SigningAlgs)
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.ClockSkew == 0 {
		c.ClockSkew = DefaultClockSkew
	}
	if c.JWKSTTL == 0 {
		c.JWKSTTL = DefaultJWKSTTL
	}
	return c
}

// issuerURL joins the issuer and a path without a double slash.
func issuerURL(issuer, path string) string {
	return strings.TrimSuffix(issuer, "/") + path
}
