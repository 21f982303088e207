// Package oidcenv wires the OpenID Connect client: the OAUTH_* variables
// become an oauth.Config (so that pkg/oauth itself reads no environment),
// and the client serves the routes and the session core through their
// small interfaces. It builds the login handler, which needs no secret.
package oidcenv

import (
	"context"
	"errors"
	"fmt"

	"github.com/serverless-signin/signin/internal/lambdaenv"
	"github.com/serverless-signin/signin/internal/routes"
	"github.com/serverless-signin/signin/pkg/oauth"
)

// ReadConfig reads the OAUTH_* configuration into an oauth.Config, adding
// every problem to e (named by variable, never echoing a value).
func ReadConfig(e *lambdaenv.Env) oauth.Config {
	c, err := Config(e.Getenv)
	var cerr *oauth.ConfigError
	switch {
	case errors.As(err, &cerr):
		for _, s := range cerr.Settings {
			e.Problem(s.Name + " " + s.Reason)
		}
	case err != nil:
		e.Problem(err.Error())
	}
	return c
}

// NewClient returns the OpenID client for cfg.
func NewClient(cfg oauth.Config) (*oauth.Client, error) {
	c, err := oauth.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("oauth client: %w", err)
	}
	return c, nil
}

// Login builds the /auth/login handler from getenv: TABLE_NAME, the route
// options and the OAUTH_* configuration, without the client secret (login
// never calls the token endpoint). No network I/O: discovery, when needed,
// happens on the first request.
func Login(ctx context.Context, getenv func(string) string) (*routes.Handler, error) {
	cfg, err := LoginConfig(ctx, getenv)
	if err != nil {
		return nil, err
	}
	return routes.New(cfg), nil
}

// LoginConfig is the configuration Login builds its handler from.
func LoginConfig(ctx context.Context, getenv func(string) string) (routes.Config, error) {
	e := lambdaenv.Env{Getenv: getenv}
	cfg := e.Routes()
	table := e.Table()
	oauthCfg := ReadConfig(&e)
	if err := e.Err("login"); err != nil {
		return routes.Config{}, err
	}
	p, err := NewClient(oauthCfg)
	if err != nil {
		return routes.Config{}, err
	}
	awsCfg, err := lambdaenv.AWSConfig(ctx, getenv)
	if err != nil {
		return routes.Config{}, err
	}
	cfg.Provider = p
	cfg.Session.Store = lambdaenv.Store(awsCfg, getenv, table)
	return cfg, nil
}
