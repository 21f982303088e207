package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"

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

	cfg, err := oauth.ConfigFromEnv(getenv)
	if err != nil {
		return nil, "", fmt.Errorf("devserver: %w", err)
	}
	if cfg.ClientSecret == "" {
		return nil, "", errors.New("devserver: OAUTH_CLIENT_SECRET missing: with the memory store the dev server reads the client secret from the environment only")
	}
	client, err := oauth.NewClient(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("devserver: oauth client: %w", err)
	}
	opts := auth.Options{Logger: logger}
	// auth reads these in FromEnvWith only, together with the DynamoDB
	// store; until it exports its option parsing they apply to the
	// DynamoDB mode alone. Say so rather than ignore them silently.
	for _, name := range []string{"SESSION_LIFETIME", "SESSION_IDLE_TIMEOUT", "OAUTH_REDIRECT_URI", "OAUTH_POST_LOGOUT_REDIRECT_URI", "APP_ORIGIN"} {
		if getenv(name) != "" {
			logger.WarnContext(ctx, "devserver: variable ignored with the memory store (set TABLE_NAME and AWS_ENDPOINT_URL_DYNAMODB to use it)", "variable", name)
		}
	}
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
