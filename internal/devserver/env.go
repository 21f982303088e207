package devserver

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"

	"github.com/serverless-signin/signin/examples/profile/profile"
	"github.com/serverless-signin/signin/internal/devprovider"
	"github.com/serverless-signin/signin/internal/lambdaenv"
	"github.com/serverless-signin/signin/internal/lambdaenv/oidcenv"
	"github.com/serverless-signin/signin/internal/lambdaenv/secretenv"
	"github.com/serverless-signin/signin/internal/routes"
	"github.com/serverless-signin/signin/pkg/auth"
	"github.com/serverless-signin/signin/pkg/store"
)

// handlers are what the functions run: the sign-in routes and the
// authorizer (one routes.Handler), and the example behind the authorizer.
type handlers struct {
	routes  *routes.Handler
	profile *profile.Handler
	table   string // "" for the memory store
}

// newHandlers builds the handlers for every route from getenv. With
// TABLE_NAME and AWS_ENDPOINT_URL_DYNAMODB it is exactly what the Lambda
// functions build (secretenv.All, and auth.SessionsFromEnvWith for the
// example) over DynamoDB, after creating the table when it is missing (the
// functions never do); otherwise the embedded memory store backs the same
// handlers.
func newHandlers(ctx context.Context, getenv func(string) string, logger *slog.Logger) (handlers, error) {
	if table := getenv(lambdaenv.EnvTable); table != "" && getenv(lambdaenv.EnvDynamoDBEndpoint) != "" {
		if err := ensureTable(ctx, getenv, table); err != nil {
			return handlers{}, fmt.Errorf("devserver: %w", err)
		}
		h, err := secretenv.All(ctx, getenv)
		if err != nil {
			return handlers{}, fmt.Errorf("devserver: %w", err)
		}
		sessions, err := auth.SessionsFromEnvWith(ctx, getenv)
		if err != nil {
			return handlers{}, fmt.Errorf("devserver: %w", err)
		}
		return handlers{routes: h, profile: &profile.Handler{Sessions: sessions, Logger: logger}, table: table}, nil
	}

	// The same variables as the functions, read by the same code, so what
	// works here works deployed; the embedded store replaces TABLE_NAME.
	e := lambdaenv.Env{Getenv: getenv}
	cfg := e.Routes()
	oauthCfg := oidcenv.ReadConfig(&e)
	if strings.TrimSpace(getenv(oidcenv.EnvClientSecret)) == "" {
		e.Problem("OAUTH_CLIENT_SECRET missing: with the memory store the dev server reads the client secret from the environment only")
	}
	if err := e.Err("devserver"); err != nil {
		return handlers{}, err
	}
	p, err := oidcenv.NewClient(oauthCfg)
	if err != nil {
		return handlers{}, fmt.Errorf("devserver: %w", err)
	}
	cfg.Provider = p
	cfg.Session.Store = store.NewMemory()
	cfg.Session.Revoker, cfg.Session.Refresher = p, p
	cfg.Session.Logger = logger
	sessions := &auth.Sessions{Store: cfg.Session.Store, OAuth: p, IdleTimeout: cfg.Session.IdleTimeout, Logger: logger}
	return handlers{routes: routes.New(cfg), profile: &profile.Handler{Sessions: sessions, Logger: logger}}, nil
}

// ensureTable creates the DynamoDB table when it is missing.
func ensureTable(ctx context.Context, getenv func(string) string, table string) error {
	awsCfg, err := lambdaenv.AWSConfig(ctx, getenv)
	if err != nil {
		return err
	}
	if err := store.EnsureTable(ctx, lambdaenv.DynamoDB(awsCfg, getenv), table); err != nil {
		return fmt.Errorf("local table: %w", err)
	}
	return nil
}

// newBuiltinProvider is the development provider mounted at base +
// ProviderPath. Its client accepts the callback and post-logout URIs of
// base and, for a loopback base, of the other loopback spellings, so
// http://127.0.0.1:<port> works as well as http://localhost:<port>.
func newBuiltinProvider(base *url.URL, logger *slog.Logger) (*devprovider.Provider, error) {
	p, err := devprovider.New(base.String()+ProviderPath, devprovider.Options{Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("devserver: %w", err)
	}
	for _, o := range appOrigins(base) {
		p.AllowRedirectURI(devprovider.DefaultClientID, o+"/auth/callback")
		p.AllowRedirectURI(devprovider.DefaultClientID, o+"/")
	}
	return p, nil
}

// appOrigins are the origins a browser may reach the server at.
func appOrigins(base *url.URL) []string {
	origins := []string{base.Scheme + "://" + base.Host}
	host, port := base.Hostname(), base.Port()
	if !isLoopback(host) {
		return origins
	}
	for _, h := range []string{"localhost", "127.0.0.1", "::1"} {
		if h != host {
			hp := h
			if port != "" {
				hp = net.JoinHostPort(h, port)
			} else if h == "::1" {
				hp = "[::1]"
			}
			origins = append(origins, base.Scheme+"://"+hp)
		}
	}
	return origins
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// builtinProviderEnv points the OAuth configuration at the built-in
// provider and its default client; the other variables pass through.
func builtinProviderEnv(getenv func(string) string, issuer string) func(string) string {
	set := map[string]string{
		oidcenv.EnvIssuer:               issuer,
		oidcenv.EnvClientID:             devprovider.DefaultClientID,
		oidcenv.EnvClientSecret:         devprovider.DefaultClientSecret,
		"OAUTH_CLIENT_SECRET_ARN":       "",
		"OAUTH_CLIENT_SECRET_PARAMETER": "",
	}
	return func(name string) string {
		if v, ok := set[name]; ok {
			return v
		}
		return getenv(name)
	}
}
