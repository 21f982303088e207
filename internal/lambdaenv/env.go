// Package lambdaenv is the functions' wiring: it reads the environment at
// cold start and builds exactly what a route needs, so the libraries read no
// environment and a binary links only what its route uses. This package
// builds the me handler and the session authorizer (DynamoDB only); oidcenv
// adds the OpenID client (login), secretenv the client secret and token key
// (callback, logout, the dev server and the app-facing Sessions).
package lambdaenv

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/serverless-signin/signin/internal/routes"
	"github.com/serverless-signin/signin/pkg/store"
)

// Environment variables every function reads besides the OAUTH_* ones.
// README.md documents each.
const (
	EnvTable                 = "TABLE_NAME"
	EnvDynamoDBEndpoint      = "AWS_ENDPOINT_URL_DYNAMODB"
	EnvRegion                = "AWS_REGION"
	EnvSessionLifetime       = "SESSION_LIFETIME"     // Go duration or seconds; default 168h
	EnvIdleTimeout           = "SESSION_IDLE_TIMEOUT" // Go duration or seconds; default 0 (off)
	EnvRedirectURI           = "OAUTH_REDIRECT_URI"
	EnvPostLogoutRedirectURI = "OAUTH_POST_LOGOUT_REDIRECT_URI"
	EnvAppOrigin             = "APP_ORIGIN"
)

const (
	// awsCallTimeout bounds one AWS HTTP attempt; the request context
	// (Lambda deadline minus a margin) bounds the whole call.
	awsCallTimeout = 3 * time.Second
	awsMaxAttempts = 2
)

// Env reads variables and collects every problem found, so one error names
// every missing or invalid variable. Problems read "NAME reason" and never
// echo a value: a secret pasted into the wrong variable must not be logged.
type Env struct {
	Getenv   func(string) string
	Problems []string
}

// Problem records one problem.
func (e *Env) Problem(p string) { e.Problems = append(e.Problems, p) }

// Err is nil without problems, else one error naming them all, for the
// function what ("me", "login", ...).
func (e *Env) Err(what string) error {
	if len(e.Problems) == 0 {
		return nil
	}
	return fmt.Errorf("%s configuration: %s", what, strings.Join(e.Problems, "; "))
}

// Table reads TABLE_NAME (required).
func (e *Env) Table() string {
	table := e.Getenv(EnvTable)
	if table == "" {
		e.Problem(EnvTable + " missing")
	}
	return table
}

// IdleTimeout reads SESSION_IDLE_TIMEOUT (0: off).
func (e *Env) IdleTimeout() time.Duration {
	d, ok := Duration(e.Getenv, EnvIdleTimeout, 0, true)
	if !ok {
		e.Problem(EnvIdleTimeout + " must be a duration such as 30m, or seconds (0: off)")
	}
	return d
}

// Routes reads the route options: SESSION_LIFETIME, SESSION_IDLE_TIMEOUT,
// OAUTH_REDIRECT_URI, OAUTH_POST_LOGOUT_REDIRECT_URI and APP_ORIGIN. Unset
// variables keep the defaults. The store and provider are the caller's.
func (e *Env) Routes() routes.Config {
	var (
		cfg routes.Config
		ok  bool
	)
	if cfg.SessionLifetime, ok = Duration(e.Getenv, EnvSessionLifetime, routes.DefaultSessionLifetime, false); !ok {
		e.Problem(EnvSessionLifetime + " must be a positive duration such as 168h, or seconds")
	}
	cfg.Session.IdleTimeout = e.IdleTimeout()
	if v := strings.TrimSpace(e.Getenv(EnvRedirectURI)); v != "" {
		if !absoluteHTTPURL(v) {
			e.Problem(EnvRedirectURI + " must be an absolute http(s) URL")
		}
		cfg.RedirectURL = v
	}
	if v := strings.TrimSpace(e.Getenv(EnvPostLogoutRedirectURI)); v != "" {
		if !absoluteHTTPURL(v) {
			e.Problem(EnvPostLogoutRedirectURI + " must be an absolute http(s) URL")
		}
		cfg.PostLogoutRedirectURL = v
	}
	cfg.AppOrigin = e.AppOrigin()
	return cfg
}

// AppOrigin reads APP_ORIGIN ("": the request's own origin).
func (e *Env) AppOrigin() string {
	v := strings.TrimSuffix(strings.TrimSpace(e.Getenv(EnvAppOrigin)), "/")
	if v != "" && !routes.ValidOrigin(v) {
		e.Problem(EnvAppOrigin + " must be an origin: scheme://host[:port]")
	}
	return v
}

// Duration reads a Go duration ("168h", "30m") or plain seconds ("3600");
// def when unset. ok is false for anything else, a negative value, or 0
// unless zeroOK.
func Duration(getenv func(string) string, name string, def time.Duration, zeroOK bool) (d time.Duration, ok bool) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return def, true
	}
	d, err := time.ParseDuration(v)
	if n, nerr := strconv.ParseInt(v, 10, 64); nerr == nil {
		if n > int64(math.MaxInt64/time.Second) {
			return 0, false
		}
		d, err = time.Duration(n)*time.Second, nil
	}
	if err != nil || d < 0 || (d == 0 && !zeroOK) {
		return 0, false
	}
	return d, true
}

func absoluteHTTPURL(v string) bool {
	u, err := url.Parse(v)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.Fragment == ""
}

// localCredential is the access key and secret used against DynamoDB Local
// when the environment has none.
const localCredential = "local"

// AWSConfig is the AWS configuration of Lambda's environment, with tight
// timeouts and few retries: a slow dependency must become the route's 500
// answer well within the function timeout. It makes no network call.
//
// It is built directly rather than by config.LoadDefaultConfig: the region
// from AWS_REGION (through getenv, else the process environment, else
// AWS_DEFAULT_REGION) and the execution role's credentials that Lambda puts
// in the process environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN), which is where the SDK's default chain finds them in
// Lambda too. Linking the default chain (shared config files, SSO, STS,
// IMDS and their service clients) cost every function about a millisecond
// of package initialisation and 2 MB of binary; BENCHMARKS.md has the
// cold-start figures. Outside Lambda (the dev server over DynamoDB, an app
// using pkg/auth elsewhere) profiles are therefore not read: export the
// credentials, e.g. `eval "$(aws configure export-credentials --format env)"`.
// Missing credentials fail the first AWS call, as with the SDK's chain,
// except against DynamoDB Local (AWS_ENDPOINT_URL_DYNAMODB set), which
// accepts any key: there a missing key is the placeholder "local", so a
// function started locally without AWS credentials still reaches it.
func AWSConfig(_ context.Context, getenv func(string) string) (aws.Config, error) {
	hc := awshttp.NewBuildableClient().
		WithTimeout(awsCallTimeout).
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = time.Second })
	region := cmp.Or(getenv(EnvRegion), os.Getenv(EnvRegion), os.Getenv("AWS_DEFAULT_REGION"))
	id := cmp.Or(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_ACCESS_KEY"))
	secret := cmp.Or(os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SECRET_KEY"))
	if id == "" && secret == "" && getenv(EnvDynamoDBEndpoint) != "" {
		id, secret = localCredential, localCredential
	}
	creds := credentials.NewStaticCredentialsProvider(id, secret, os.Getenv("AWS_SESSION_TOKEN"))
	return aws.Config{
		Region:           region,
		Credentials:      creds,
		HTTPClient:       hc,
		RetryMaxAttempts: awsMaxAttempts,
	}, nil
}

// Store is the DynamoDB store over table. It neither creates nor checks the
// table (tests, scripts and the dev server do): a cold start makes no
// DynamoDB call, so an outage or throttling then is the route's own JSON 500
// on the first request rather than a failed start. AWS_ENDPOINT_URL_DYNAMODB
// is read through getenv (the SDK reads the process environment itself) so
// an injected environment decides alone.
func Store(awsCfg aws.Config, getenv func(string) string, table string) *store.DynamoDB {
	return store.NewDynamoDB(DynamoDB(awsCfg, getenv), table)
}

// DynamoDB is the DynamoDB client Store uses (the dev server also creates
// its table with it).
func DynamoDB(awsCfg aws.Config, getenv func(string) string) *dynamodb.Client {
	endpoint := getenv(EnvDynamoDBEndpoint)
	return dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
}

// Me builds the /auth/me handler from getenv: TABLE_NAME and the route
// options (SESSION_IDLE_TIMEOUT moves the idle expiry). No secret, no
// provider, no network I/O.
func Me(ctx context.Context, getenv func(string) string) (*routes.Handler, error) {
	cfg, err := MeConfig(ctx, getenv)
	if err != nil {
		return nil, err
	}
	return routes.New(cfg), nil
}

// MeConfig is the configuration Me builds its handler from.
func MeConfig(ctx context.Context, getenv func(string) string) (routes.Config, error) {
	e := Env{Getenv: getenv}
	cfg := e.Routes()
	table := e.Table()
	if err := e.Err("me"); err != nil {
		return routes.Config{}, err
	}
	awsCfg, err := AWSConfig(ctx, getenv)
	if err != nil {
		return routes.Config{}, err
	}
	cfg.Session.Store = Store(awsCfg, getenv, table)
	return cfg, nil
}

// Authorizer builds the HTTP API's session authorizer (Handler.Authorize)
// from getenv: TABLE_NAME, SESSION_IDLE_TIMEOUT (lookups move the idle
// expiry as /auth/me does) and APP_ORIGIN (the cross-site rule), nothing
// else. No secret, no provider, no network I/O, no table check.
func Authorizer(ctx context.Context, getenv func(string) string) (*routes.Handler, error) {
	e := Env{Getenv: getenv}
	var cfg routes.Config
	cfg.Session.IdleTimeout = e.IdleTimeout()
	cfg.AppOrigin = e.AppOrigin()
	table := e.Table()
	if err := e.Err("authorizer"); err != nil {
		return nil, err
	}
	awsCfg, err := AWSConfig(ctx, getenv)
	if err != nil {
		return nil, err
	}
	cfg.Session.Store = Store(awsCfg, getenv, table)
	return routes.New(cfg), nil
}
