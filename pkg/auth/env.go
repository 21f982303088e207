package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/serverless-signin/signin/pkg/oauth"
	"github.com/serverless-signin/signin/pkg/oauth/store"
)

// Environment variables read by FromEnv besides oauth.ConfigFromEnv's
// OAUTH_* names. README.md documents each.
const (
	envTable                 = "TABLE_NAME"
	envDynamoDBEndpoint      = "AWS_ENDPOINT_URL_DYNAMODB"
	envSecretsEndpoint       = "AWS_ENDPOINT_URL_SECRETS_MANAGER"
	envSSMEndpoint           = "AWS_ENDPOINT_URL_SSM"
	envRegion                = "AWS_REGION"
	envClientSecret          = "OAUTH_CLIENT_SECRET"
	envClientSecretARN       = "OAUTH_CLIENT_SECRET_ARN"       // Secrets Manager: plain string or JSON {"client_secret": ...}
	envClientSecretParameter = "OAUTH_CLIENT_SECRET_PARAMETER" // SSM SecureString name
	envSessionLifetime       = "SESSION_LIFETIME"              // Go duration or seconds; default 168h
	envIdleTimeout           = "SESSION_IDLE_TIMEOUT"          // Go duration or seconds; default 0 (off)
	envRedirectURI           = "OAUTH_REDIRECT_URI"
	envPostLogoutRedirectURI = "OAUTH_POST_LOGOUT_REDIRECT_URI"
	envAppOrigin             = "APP_ORIGIN"
)

const (
	// awsCallTimeout bounds one AWS HTTP attempt; the request context
	// (Lambda deadline minus a margin) bounds the whole call.
	awsCallTimeout = 3 * time.Second
	awsMaxAttempts = 2
	// secretTimeout bounds the cold-start secret read.
	secretTimeout = 5 * time.Second
)

// FromEnv builds a Handler for one route from the process environment, at
// cold start. See FromEnvWith.
func FromEnv(ctx context.Context, route Route) (*Handler, error) {
	return FromEnvWith(ctx, route, os.Getenv)
}

// FromEnvWith builds a Handler for one route from getenv. It reads only
// what the route needs: /auth/me needs TABLE_NAME alone; login needs the
// OAUTH_* configuration but no client secret; callback and logout (and
// RouteAll) also need the client secret: OAUTH_CLIENT_SECRET, else the
// Secrets Manager secret OAUTH_CLIENT_SECRET_ARN, else the SSM SecureString
// OAUTH_CLIENT_SECRET_PARAMETER. They also read the optional token
// encryption key (TOKEN_ENCRYPTION_KEY, else the Secrets Manager secret
// TOKEN_ENCRYPTION_KEY_ARN; see NewTokenSealer): with it the provider tokens
// are sealed at rest, and records sealed with another key cannot be read.
// One error names every missing or invalid variable. The only network I/O
// is the secret reads and, when AWS_ENDPOINT_URL_DYNAMODB is set (local
// use), creating the table if it is missing.
func FromEnvWith(ctx context.Context, route Route, getenv func(string) string) (*Handler, error) {
	opts, problems := optionsFromEnv(getenv)
	needsOAuth := route != RouteMe
	// Login writes only state records; me reads only sessions.
	tokens := route == RouteCallback || route == RouteLogout || route == RouteAll
	w, err := wire(ctx, getenv, route.String(), wiring{oauth: needsOAuth, secret: tokens, tokenKey: tokens}, problems)
	if err != nil {
		return nil, err
	}
	return New(w.client, w.store, opts), nil
}

// OptionsFromEnv reads the handler options from getenv: SESSION_LIFETIME,
// SESSION_IDLE_TIMEOUT, OAUTH_REDIRECT_URI, OAUTH_POST_LOGOUT_REDIRECT_URI
// and APP_ORIGIN (README.md documents each). Unset variables keep the
// defaults. One error names every invalid variable, without its value.
// FromEnvWith reads the same; servers that build their own store (the dev
// server's memory store) call this to honour them too.
func OptionsFromEnv(getenv func(string) string) (Options, error) {
	opts, problems := optionsFromEnv(getenv)
	if len(problems) > 0 {
		return Options{}, fmt.Errorf("auth: configuration: %s", strings.Join(problems, "; "))
	}
	return opts, nil
}

// wiring says what one function needs from the environment besides
// TABLE_NAME.
type wiring struct {
	oauth    bool // the OAUTH_* configuration and an OAuth client
	secret   bool // the client secret too (token endpoint, revocation)
	tokenKey bool // the token encryption key, if any: the function reads or writes token records
}

// wired is what a function builds once per container.
type wired struct {
	client *oauth.Client // nil unless wiring.oauth
	store  *store.DynamoDB
}

// wire is the cold start shared by FromEnvWith and SessionsFromEnvWith: it
// validates everything w needs (adding to the caller's problems) before any
// I/O, so one error, prefixed "auth: <what> configuration:", names every
// missing or invalid variable; then it loads the AWS configuration, reads
// the client secret and the token key (concurrently: one round trip at cold
// start), and builds the OAuth client and the DynamoDB store, creating the
// table when AWS_ENDPOINT_URL_DYNAMODB is set (local use).
func wire(ctx context.Context, getenv func(string) string, what string, w wiring, problems []string) (wired, error) {
	// Problems read "NAME reason", like oauth.ConfigError, and never echo
	// a value: a secret pasted into the wrong variable must not be logged.
	table := getenv(envTable)
	if table == "" {
		problems = append(problems, envTable+" missing")
	}
	var cfg oauth.Config
	if w.oauth {
		c, err := oauth.ConfigFromEnv(getenv)
		var cerr *oauth.ConfigError
		switch {
		case errors.As(err, &cerr):
			for _, s := range cerr.Settings {
				problems = append(problems, s.Name+" "+s.Reason)
			}
		case err != nil:
			problems = append(problems, err.Error())
		}
		cfg = c
	}
	if w.secret && getenv(envClientSecret) == "" && getenv(envClientSecretARN) == "" && getenv(envClientSecretParameter) == "" {
		problems = append(problems, envClientSecret+" missing (or set "+envClientSecretARN+" or "+envClientSecretParameter+")")
	}
	if v := getenv(envTokenKey); w.tokenKey && v != "" {
		if _, err := tokenSealer(v); err != nil {
			problems = append(problems, envTokenKey+" "+err.Error())
		}
	}
	if len(problems) > 0 {
		return wired{}, fmt.Errorf("auth: %s configuration: %s", what, strings.Join(problems, "; "))
	}

	awsCfg, err := loadAWSConfig(ctx, getenv)
	if err != nil {
		return wired{}, err
	}
	var (
		wg                sync.WaitGroup
		sealer            *store.Sealer
		secretErr, keyErr error
	)
	if w.oauth && w.secret {
		wg.Go(func() { cfg.ClientSecret, secretErr = clientSecret(ctx, awsCfg, getenv) })
	}
	if w.tokenKey {
		wg.Go(func() { sealer, keyErr = tokenSealerFromEnv(ctx, awsCfg, getenv) })
	}
	wg.Wait()
	if err := errors.Join(secretErr, keyErr); err != nil {
		return wired{}, err
	}
	var out wired
	if w.oauth {
		if out.client, err = oauth.NewClient(cfg); err != nil {
			return wired{}, fmt.Errorf("auth: oauth client: %w", err)
		}
	}

	// Endpoint overrides are read through getenv (the SDK reads the process
	// environment itself) so an injected environment decides alone.
	endpoint := getenv(envDynamoDBEndpoint)
	ddb := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
	if endpoint != "" {
		if err := store.EnsureTable(ctx, ddb, table); err != nil {
			return wired{}, fmt.Errorf("auth: local table: %w", err)
		}
	}
	out.store = store.NewDynamoDB(ddb, table)
	out.store.Sealer = sealer
	return out, nil
}

// optionsFromEnv reads the handler options; it returns every problem.
func optionsFromEnv(getenv func(string) string) (Options, []string) {
	var (
		opts     Options
		problems []string
		ok       bool
	)
	if opts.SessionLifetime, ok = envDuration(getenv, envSessionLifetime, DefaultSessionLifetime, false); !ok {
		problems = append(problems, envSessionLifetime+" must be a positive duration such as 168h, or seconds")
	}
	if opts.IdleTimeout, ok = envDuration(getenv, envIdleTimeout, 0, true); !ok {
		problems = append(problems, idleTimeoutProblem)
	}
	if v := strings.TrimSpace(getenv(envRedirectURI)); v != "" {
		if !absoluteHTTPURL(v) {
			problems = append(problems, envRedirectURI+" must be an absolute http(s) URL")
		}
		opts.RedirectURL = v
	}
	if v := strings.TrimSpace(getenv(envPostLogoutRedirectURI)); v != "" {
		if !absoluteHTTPURL(v) {
			problems = append(problems, envPostLogoutRedirectURI+" must be an absolute http(s) URL")
		}
		opts.PostLogoutRedirectURL = v
	}
	if v := strings.TrimSuffix(strings.TrimSpace(getenv(envAppOrigin)), "/"); v != "" {
		if _, ok := originKey(v); !ok {
			problems = append(problems, envAppOrigin+" must be an origin: scheme://host[:port]")
		}
		opts.AppOrigin = v
	}
	return opts, problems
}

const idleTimeoutProblem = envIdleTimeout + " must be a duration such as 30m, or seconds (0: off)"

// envDuration reads a Go duration ("168h", "30m") or plain seconds ("3600").
func envDuration(getenv func(string) string, name string, def time.Duration, zeroOK bool) (time.Duration, bool) {
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

// loadAWSConfig is the SDK's default chain with tight timeouts and few
// retries: a slow dependency must become our 500 answer well within the
// function timeout.
func loadAWSConfig(ctx context.Context, getenv func(string) string) (aws.Config, error) {
	hc := awshttp.NewBuildableClient().
		WithTimeout(awsCallTimeout).
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = time.Second })
	loadOpts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(hc),
		config.WithRetryMaxAttempts(awsMaxAttempts),
	}
	if r := getenv(envRegion); r != "" {
		loadOpts = append(loadOpts, config.WithRegion(r))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("auth: aws config: %w", err)
	}
	return cfg, nil
}

// clientSecret resolves the OAuth client secret: plain variable (local use),
// else Secrets Manager, else SSM Parameter Store.
func clientSecret(ctx context.Context, awsCfg aws.Config, getenv func(string) string) (string, error) {
	if v := getenv(envClientSecret); v != "" {
		return v, nil
	}
	ctx, cancel := context.WithTimeout(ctx, secretTimeout)
	defer cancel()
	if id := getenv(envClientSecretARN); id != "" {
		s, err := secretString(ctx, awsCfg, getenv, id)
		if err != nil {
			return "", fmt.Errorf("auth: read client secret %s from Secrets Manager: %w", envClientSecretARN, err)
		}
		secret, err := parseSecretString(s)
		if err != nil {
			return "", fmt.Errorf("auth: client secret %s: %w", envClientSecretARN, err)
		}
		return secret, nil
	}
	name := getenv(envClientSecretParameter)
	client := ssm.NewFromConfig(awsCfg, func(o *ssm.Options) {
		if ep := getenv(envSSMEndpoint); ep != "" {
			o.BaseEndpoint = aws.String(ep)
		}
	})
	out, err := client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
	if err != nil {
		return "", fmt.Errorf("auth: read client secret %s from SSM: %w", envClientSecretParameter, err)
	}
	if out.Parameter == nil || strings.TrimSpace(aws.ToString(out.Parameter.Value)) == "" {
		return "", fmt.Errorf("auth: client secret %s: empty parameter", envClientSecretParameter)
	}
	return strings.TrimSpace(aws.ToString(out.Parameter.Value)), nil
}

// secretString reads the string value of a Secrets Manager secret ("" for
// a binary one).
func secretString(ctx context.Context, awsCfg aws.Config, getenv func(string) string, id string) (string, error) {
	sm := secretsmanager.NewFromConfig(awsCfg, func(o *secretsmanager.Options) {
		if ep := getenv(envSecretsEndpoint); ep != "" {
			o.BaseEndpoint = aws.String(ep)
		}
	})
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.SecretString), nil
}

// parseSecretString accepts the secret itself or a JSON object with a
// "client_secret" key (the shape the Secrets Manager console writes).
func parseSecretString(s string) (string, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "{") {
		var obj map[string]any
		if json.Unmarshal([]byte(s), &obj) == nil {
			v, _ := obj["client_secret"].(string)
			if v == "" {
				return "", errors.New("JSON secret has no \"client_secret\" string")
			}
			return v, nil
		}
	}
	if s == "" {
		return "", errors.New("empty secret string (binary secrets are not supported)")
	}
	return s, nil
}
