// Package secretenv wires what needs the client secret and the token
// encryption key, read from the environment, Secrets Manager or SSM at cold
// start (one signed AWS JSON call each, without the SDK's service clients):
// the callback and logout handlers, every route at once (the dev server)
// and the app-facing Sessions' session core.
package secretenv

import (
	"context"
	"errors"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/serverless-signin/signin/internal/lambdaenv"
	"github.com/serverless-signin/signin/internal/lambdaenv/oidcenv"
	"github.com/serverless-signin/signin/internal/routes"
	"github.com/serverless-signin/signin/pkg/oauth"
	"github.com/serverless-signin/signin/pkg/session"
	"github.com/serverless-signin/signin/pkg/store"
)

// Callback builds the /auth/callback handler from getenv.
func Callback(ctx context.Context, getenv func(string) string) (*routes.Handler, error) {
	return handler(ctx, getenv, "callback")
}

// Logout builds the /auth/logout handler from getenv.
func Logout(ctx context.Context, getenv func(string) string) (*routes.Handler, error) {
	return handler(ctx, getenv, "logout")
}

// All builds one handler serving every route from getenv (the dev server
// over DynamoDB).
func All(ctx context.Context, getenv func(string) string) (*routes.Handler, error) {
	return handler(ctx, getenv, "all")
}

// handler reads TABLE_NAME, the route options, the OAUTH_* configuration,
// the client secret (OAUTH_CLIENT_SECRET, else the Secrets Manager secret
// OAUTH_CLIENT_SECRET_ARN, else the SSM SecureString
// OAUTH_CLIENT_SECRET_PARAMETER) and the optional token encryption key
// (TOKEN_ENCRYPTION_KEY, else the Secrets Manager secret
// TOKEN_ENCRYPTION_KEY_ARN; see NewTokenSealer): with it the provider tokens
// are sealed at rest, and records sealed with another key cannot be read.
// One error names every missing or invalid variable. The only network I/O
// is the secret reads, concurrently.
func handler(ctx context.Context, getenv func(string) string, what string) (*routes.Handler, error) {
	cfg, err := RoutesConfig(ctx, getenv, what)
	if err != nil {
		return nil, err
	}
	return routes.New(cfg), nil
}

// RoutesConfig is the configuration Callback, Logout and All build their
// handler from; what names the function in errors.
func RoutesConfig(ctx context.Context, getenv func(string) string, what string) (routes.Config, error) {
	e := lambdaenv.Env{Getenv: getenv}
	cfg := e.Routes()
	w, err := wire(ctx, &e, what)
	if err != nil {
		return routes.Config{}, err
	}
	cfg.Provider = w.provider
	cfg.Session.Store = w.store
	cfg.Session.Revoker = w.provider
	cfg.Session.Refresher = w.provider
	return cfg, nil
}

// Sessions reads the session core's configuration for the app's own
// functions (the app-facing Sessions) from getenv: the handlers' TABLE_NAME,
// OAUTH_* configuration, client secret (refreshing and revoking
// authenticate as the client), token encryption key and
// SESSION_IDLE_TIMEOUT. The only network I/O is the secret reads.
func Sessions(ctx context.Context, getenv func(string) string) (session.Config, error) {
	e := lambdaenv.Env{Getenv: getenv}
	idle := e.IdleTimeout()
	w, err := wire(ctx, &e, "sessions")
	if err != nil {
		return session.Config{}, err
	}
	return session.Config{Store: w.store, IdleTimeout: idle, Revoker: w.provider, Refresher: w.provider}, nil
}

// wired is what a function builds once per container.
type wired struct {
	provider *oauth.Client
	store    *store.DynamoDB
}

// wire validates everything (adding to e's problems) before any I/O, then
// loads the AWS configuration, reads the client secret and the token key
// concurrently (one round trip at cold start), and builds the OpenID client
// and the DynamoDB store.
func wire(ctx context.Context, e *lambdaenv.Env, what string) (wired, error) {
	table := e.Table()
	oauthCfg := oidcenv.ReadConfig(e)
	getenv := e.Getenv
	if getenv(EnvClientSecret) == "" && getenv(EnvClientSecretARN) == "" && getenv(EnvClientSecretParameter) == "" {
		e.Problem(EnvClientSecret + " missing (or set " + EnvClientSecretARN + " or " + EnvClientSecretParameter + ")")
	}
	if v := getenv(envTokenKey); v != "" {
		if _, err := tokenSealer(v); err != nil {
			e.Problem(envTokenKey + " " + err.Error())
		}
	}
	if err := e.Err(what); err != nil {
		return wired{}, err
	}

	awsCfg, err := lambdaenv.AWSConfig(ctx, getenv)
	if err != nil {
		return wired{}, err
	}
	sealer, err := secrets(ctx, awsCfg, getenv, &oauthCfg)
	if err != nil {
		return wired{}, err
	}
	p, err := oidcenv.NewClient(oauthCfg)
	if err != nil {
		return wired{}, err
	}
	st := lambdaenv.Store(awsCfg, getenv, table)
	st.Sealer = sealer
	return wired{provider: p, store: st}, nil
}

// secrets reads the client secret into cfg and the token key, concurrently.
func secrets(ctx context.Context, awsCfg aws.Config, getenv func(string) string, cfg *oauth.Config) (*store.Sealer, error) {
	var (
		wg                sync.WaitGroup
		sealer            *store.Sealer
		secretErr, keyErr error
	)
	wg.Go(func() { cfg.ClientSecret, secretErr = clientSecret(ctx, awsCfg, getenv) })
	wg.Go(func() { sealer, keyErr = tokenSealerFromEnv(ctx, awsCfg, getenv) })
	wg.Wait()
	return sealer, errors.Join(secretErr, keyErr)
}
