package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"

	"github.com/serverless-signin/signin/internal/devprovider"
	"github.com/serverless-signin/signin/pkg/auth"
	"github.com/serverless-signin/signin/pkg/oauth"
	"github.com/serverless-signin/signin/pkg/oauth/store"
)

// newHandler builds the handlers for every route from getenv. With
// TABLE_NAME and AWS_ENDPOINT_URL_DYNAMODB it is exactly what the Lambda
// functions build (auth.FromEnvWith: DynamoDB, table created when missing);
// otherwise the embedded memory store backs the same handlers. It returns
// the table name, "" for the memory store.
func newHandler(ctx context.Context, getenv func(string) string, logger *slog.Logger) (*auth.Handler, string, error) {
	if table := getenv("TABLE_NAME"); table != "" && getenv("AWS_ENDPOINT_URL_DYNAMODB") != "" {
		h, err := auth.FromEnvWith(ctx, auth.RouteAll, getenv)
		if err != nil {
			return nil, "", fmt.Errorf("devserver: %w", err)
		}
		return h, table, nil
	}

	// The same variables as the functions, read by the same code, so what
	// works here works deployed; the embedded store replaces TABLE_NAME.
	cfg, cfgErr := oauth.ConfigFromEnv(getenv)
	opts, optsErr := auth.OptionsFromEnv(getenv)
	var secretErr error
	if strings.TrimSpace(getenv(oauth.EnvClientSecret)) == "" {
		secretErr = errors.New("OAUTH_CLIENT_SECRET missing: with the memory store the dev server reads the client secret from the environment only")
	}
	if err := errors.Join(cfgErr, optsErr, secretErr); err != nil {
		return nil, "", fmt.Errorf("devserver: %w", err)
	}
	client, err := oauth.NewClient(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("devserver: oauth client: %w", err)
	}
	opts.Logger = logger
	return auth.New(client, store.NewMemory(), opts), "", nil
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
		oauth.EnvIssuer:                 issuer,
		oauth.EnvClientID:               devprovider.DefaultClientID,
		oauth.EnvClientSecret:           devprovider.DefaultClientSecret,
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
