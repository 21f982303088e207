// Package devprovider is a real OpenID Connect provider (zitadel/oidc op) with in-memory storage and a
// demo user, for the dev server and for integration tests. It is not meant for production.
package devprovider

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// Endpoint paths, relative to the issuer. They match the Agentuity issuer.
const (
	PathAuthorize  = "/authorize"
	PathToken      = "/oauth/token"
	PathUserinfo   = "/userinfo"
	PathRevoke     = "/revoke"
	PathEndSession = "/end_session"
	PathKeys       = "/keys"
	PathDiscovery  = "/.well-known/openid-configuration"
	PathLogin      = "/login"
	PathLoggedOut  = "/logged-out"
	// pathAuthorizeCallback is where the login page sends the browser back to op, which then redirects
	// to the client with a code.
	pathAuthorizeCallback = PathAuthorize + "/callback"
)

// Client is a confidential client; it may authenticate with client_secret_basic or client_secret_post.
type Client struct {
	ID, Secret                           string
	RedirectURIs, PostLogoutRedirectURIs []string // exact match
}

// User is an account that can sign in on the login page.
type User struct {
	Subject, Username, Password, Email, Name string
	EmailVerified                            bool
}

// DemoUser is the default account; the login page shows its credentials.
var DemoUser = User{
	Subject:       "demo-user-0001",
	Username:      "demo",
	Password:      "demo",
	Email:         "demo@example.com",
	Name:          "Demo User",
	EmailVerified: true,
}

// Default client credentials, used when Options.Clients is empty.
const (
	DefaultClientID     = "dev-client"
	DefaultClientSecret = "dev-secret"
)

// Options configures a Provider. The zero value is usable.
type Options struct {
	Clients []Client // default: DefaultClientID/DefaultClientSecret with no redirect URIs (see AllowRedirectURI)
	Users   []User   // default: DemoUser

	AccessTokenLifetime  time.Duration // default 5m
	RefreshTokenLifetime time.Duration // default 24h

	// Logger receives the provider's own events (sign-in attempts). op itself logs through
	// slog.Default. nil discards.
	Logger *slog.Logger
}

// Provider is an in-process OpenID provider.
type Provider struct {
	issuer  string
	prefix  string // the issuer's path, "" or "/oidc"
	storage *storage
	handler http.Handler
	logger  *slog.Logger

	callsMu sync.Mutex
	calls   map[string]int

	server *http.Server // only for Start
}

// Start runs a provider on its own server at http://127.0.0.1:<free port>; the issuer is that URL.
// Close stops it.
func Start(opts Options) (*Provider, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("devprovider: listen: %w", err)
	}
	p, err := New("http://"+ln.Addr().String(), opts)
	if err != nil {
		ln.Close()
		return nil, err
	}
	p.server = &http.Server{Handler: p.handler, ReadHeaderTimeout: 10 * time.Second}
	go p.server.Serve(ln) //nolint:errcheck // Serve returns ErrServerClosed after Close.
	return p, nil
}

// New builds a provider for issuer (http allowed, a path prefix allowed) to be served by the caller's
// server through Handler.
func New(issuer string, opts Options) (*Provider, error) {
	issuer = strings.TrimSuffix(issuer, "/")
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("devprovider: issuer %q is not an absolute http(s) URL without query", issuer)
	}
	if opts.AccessTokenLifetime <= 0 {
		opts.AccessTokenLifetime = 5 * time.Minute
	}
	if opts.RefreshTokenLifetime <= 0 {
		opts.RefreshTokenLifetime = 24 * time.Hour
	}
	if len(opts.Clients) == 0 {
		opts.Clients = []Client{{ID: DefaultClientID, Secret: DefaultClientSecret}}
	}
	if len(opts.Users) == 0 {
		opts.Users = []User{DemoUser}
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("devprovider: generate signing key: %w", err)
	}
	st, err := newStorage(issuer, opts, key)
	if err != nil {
		return nil, err
	}

	// The crypto key encrypts authorization codes and opaque access tokens; a fresh one per provider
	// means tokens from an earlier run are simply invalid.
	var cryptoKey [32]byte
	rand.Read(cryptoKey[:])
	config := &op.Config{
		CryptoKey:                cryptoKey,
		CryptoKeyId:              rand.Text(),
		DefaultLogoutRedirectURI: issuer + PathLoggedOut,
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
	}
	// op's defaults already are our paths; set them anyway so a change upstream cannot move them.
	endpoint := func(path string) *op.Endpoint { return op.NewEndpoint(strings.TrimPrefix(path, "/")) }
	provider, err := op.NewProvider(config, st, op.StaticIssuer(issuer),
		op.WithAllowInsecure(),
		op.WithCustomEndpoints(endpoint(PathAuthorize), endpoint(PathToken), endpoint(PathUserinfo),
			endpoint(PathRevoke), endpoint(PathEndSession), endpoint(PathKeys)),
	)
	if err != nil {
		return nil, fmt.Errorf("devprovider: create provider: %w", err)
	}

	p := &Provider{
		issuer:  issuer,
		prefix:  u.Path,
		storage: st,
		logger:  logger,
		calls:   make(map[string]int),
	}
	mux := http.NewServeMux()
	mux.Handle(PathLogin, &loginHandler{storage: st, logger: logger, action: u.Path + PathLogin, callback: issuer + pathAuthorizeCallback})
	mux.HandleFunc(PathLoggedOut, loggedOut)
	mux.Handle("/", provider)
	p.handler = p.serve(mux)
	return p, nil
}

// Issuer returns the issuer URL (no trailing slash).
func (p *Provider) Issuer() string { return p.issuer }

// Handler serves the provider. Requests may carry the issuer's path prefix (mounted as is) or not
// (mounted behind http.StripPrefix).
func (p *Provider) Handler() http.Handler { return p.handler }

// Close stops the server started by Start; for a provider from New it does nothing.
func (p *Provider) Close() {
	if p.server != nil {
		p.server.Close()
	}
}

// AllowRedirectURI registers uri as a redirect URI and a post-logout redirect URI of the client, for
// tests that learn their URL only after starting their servers. Unknown clients are ignored.
func (p *Provider) AllowRedirectURI(clientID, uri string) {
	p.storage.allowRedirectURI(clientID, uri)
}

// Calls reports how many requests the provider received for an endpoint path relative to the issuer,
// e.g. "/oauth/token".
func (p *Provider) Calls(path string) int {
	p.callsMu.Lock()
	defer p.callsMu.Unlock()
	return p.calls[path]
}

func (p *Provider) serve(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.prefix != "" && (r.URL.Path == p.prefix || strings.HasPrefix(r.URL.Path, p.prefix+"/")) {
			http.StripPrefix(p.prefix, p.count(next)).ServeHTTP(w, r)
			return
		}
		p.count(next).ServeHTTP(w, r)
	})
}

func (p *Provider) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.callsMu.Lock()
		p.calls[r.URL.Path]++
		p.callsMu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func loggedOut(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprint(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Signed out</title></head>`+
		`<body><p id="signed-out">You are signed out of the development provider.</p></body></html>`)
}

// ErrInvalidCredentials is returned by Authorize when the login page rejects the username or password.
var ErrInvalidCredentials = errors.New("devprovider: username or password rejected")
