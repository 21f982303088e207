package secretenv

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-signin/signin/internal/lambdaenv"
	"github.com/serverless-signin/signin/internal/lambdaenv/oidcenv"
	"github.com/serverless-signin/signin/internal/routes"
	"github.com/serverless-signin/signin/internal/sessiontest"
	"github.com/serverless-signin/signin/pkg/oauth"
	"github.com/serverless-signin/signin/pkg/session"
	"github.com/serverless-signin/signin/pkg/store"
)

// Route names a function's builder.
type Route string

const (
	RouteMe       Route = "me"
	RouteLogin    Route = "login"
	RouteCallback Route = "callback"
	RouteLogout   Route = "logout"
	RouteAll      Route = "all"
)

// FromEnvWith returns the configuration the function's builder builds its
// handler from.
func FromEnvWith(ctx context.Context, route Route, getenv func(string) string) (routes.Config, error) {
	switch route {
	case RouteMe:
		return lambdaenv.MeConfig(ctx, getenv)
	case RouteLogin:
		return oidcenv.LoginConfig(ctx, getenv)
	}
	return RoutesConfig(ctx, getenv, string(route))
}

// client is the OpenID client a configuration carries (nil: none).
func client(cfg routes.Config) *oauth.Client {
	if c, ok := cfg.Provider.(*oauth.Client); ok {
		return c
	}
	return nil
}

// Options are the route options the variables set.
type Options struct {
	SessionLifetime       time.Duration
	IdleTimeout           time.Duration
	RedirectURL           string
	PostLogoutRedirectURL string
	AppOrigin             string
}

func optionsOf(c routes.Config) Options {
	return Options{SessionLifetime: c.SessionLifetime, IdleTimeout: c.Session.IdleTimeout, RedirectURL: c.RedirectURL,
		PostLogoutRedirectURL: c.PostLogoutRedirectURL, AppOrigin: c.AppOrigin}
}

// OptionsFromEnv reads the route options alone.
func OptionsFromEnv(getenv func(string) string) (Options, error) {
	e := lambdaenv.Env{Getenv: getenv}
	o := optionsOf(e.Routes())
	if err := e.Err("options"); err != nil {
		return Options{}, err
	}
	return o, nil
}

// env is a getenv over a map.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func with(base map[string]string, extra map[string]string) map[string]string {
	m := map[string]string{}
	for k, v := range base {
		m[k] = v
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

var oauthEnv = map[string]string{
	"OAUTH_ISSUER":    "https://issuer.example.com",
	"OAUTH_CLIENT_ID": "client-1",
	"TABLE_NAME":      "signin",
	"AWS_REGION":      "us-east-1",
}

func TestFromEnvMissing(t *testing.T) {
	sessiontest.IsolateAWS(t)
	tests := []struct {
		route   Route
		want    []string
		notWant []string
	}{
		{RouteMe, []string{"TABLE_NAME"}, []string{"OAUTH_"}},
		{RouteLogin, []string{"OAUTH_ISSUER", "OAUTH_CLIENT_ID", "TABLE_NAME"}, []string{"OAUTH_CLIENT_SECRET"}},
		{RouteCallback, []string{"OAUTH_ISSUER", "OAUTH_CLIENT_ID", "TABLE_NAME", "OAUTH_CLIENT_SECRET"}, nil},
		{RouteLogout, []string{"OAUTH_ISSUER", "OAUTH_CLIENT_ID", "TABLE_NAME", "OAUTH_CLIENT_SECRET"}, nil},
		{RouteAll, []string{"OAUTH_ISSUER", "OAUTH_CLIENT_ID", "TABLE_NAME", "OAUTH_CLIENT_SECRET"}, nil},
	}
	for _, tt := range tests {
		_, err := FromEnvWith(context.Background(), tt.route, env(nil))
		if err == nil {
			t.Errorf("FromEnvWith(%s, empty) = nil error; want an error", tt.route)
			continue
		}
		for _, name := range tt.want {
			if !strings.Contains(err.Error(), name) {
				t.Errorf("FromEnvWith(%s, empty) = %q; want it to name %s", tt.route, err, name)
			}
		}
		for _, name := range tt.notWant {
			if strings.Contains(err.Error(), name) {
				t.Errorf("FromEnvWith(%s, empty) = %q; want no mention of %s", tt.route, err, name)
			}
		}
	}
}

func TestFromEnvInvalid(t *testing.T) {
	sessiontest.IsolateAWS(t)
	vars := with(oauthEnv, map[string]string{
		"OAUTH_CLIENT_SECRET":            "dev-secret",
		"SESSION_LIFETIME":               "soon",
		"SESSION_IDLE_TIMEOUT":           "-5m",
		"OAUTH_REDIRECT_URI":             "pasted-secret-value",
		"OAUTH_POST_LOGOUT_REDIRECT_URI": "ftp://example.com/bye",
		"APP_ORIGIN":                     "https://app.example.com/path",
		"OAUTH_PROMPT":                   "always",
	})
	_, err := FromEnvWith(context.Background(), RouteCallback, env(vars))
	if err == nil {
		t.Fatal("FromEnvWith(invalid values) = nil error")
	}
	for _, name := range []string{"SESSION_LIFETIME", "SESSION_IDLE_TIMEOUT", "OAUTH_REDIRECT_URI", "OAUTH_POST_LOGOUT_REDIRECT_URI", "APP_ORIGIN", "OAUTH_PROMPT"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("FromEnvWith error %q; want it to name %s", err, name)
		}
	}
	if strings.Contains(err.Error(), "pasted-secret-value") {
		t.Errorf("FromEnvWith error %q echoes a value", err)
	}
}

func TestFromEnvOptions(t *testing.T) {
	sessiontest.IsolateAWS(t)
	tests := []struct {
		vars map[string]string
		want Options
	}{
		{nil, Options{SessionLifetime: 168 * time.Hour}},
		{map[string]string{"SESSION_LIFETIME": "12h", "SESSION_IDLE_TIMEOUT": "30m"},
			Options{SessionLifetime: 12 * time.Hour, IdleTimeout: 30 * time.Minute}},
		{map[string]string{"SESSION_LIFETIME": "3600", "SESSION_IDLE_TIMEOUT": "0"},
			Options{SessionLifetime: time.Hour}},
		{map[string]string{"SESSION_IDLE_TIMEOUT": "900"},
			Options{SessionLifetime: 168 * time.Hour, IdleTimeout: 15 * time.Minute}},
		{map[string]string{
			"OAUTH_REDIRECT_URI":             "https://app.example.com/auth/callback",
			"OAUTH_POST_LOGOUT_REDIRECT_URI": "https://app.example.com/bye",
			"APP_ORIGIN":                     "https://www.example.com/",
		}, Options{
			SessionLifetime:       168 * time.Hour,
			RedirectURL:           "https://app.example.com/auth/callback",
			PostLogoutRedirectURL: "https://app.example.com/bye",
			AppOrigin:             "https://www.example.com",
		}},
	}
	for _, tt := range tests {
		h, err := FromEnvWith(context.Background(), RouteLogin, env(with(oauthEnv, tt.vars)))
		if err != nil {
			t.Errorf("FromEnvWith(%v) = %v", tt.vars, err)
			continue
		}
		got := optionsOf(h)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("FromEnvWith(%v) options = %+v; want %+v", tt.vars, got, tt.want)
		}
		if c := client(h); c == nil || c.Config().ClientSecret != "" {
			t.Errorf("login handler: want an OAuth client without secret")
		}
	}
}

// OptionsFromEnv reads what FromEnvWith reads, for servers with their own
// store; it needs no other variable.
func TestOptionsFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		vars    map[string]string
		want    Options
		wantErr []string // variables the error must name
	}{
		{name: "defaults", want: Options{SessionLifetime: routes.DefaultSessionLifetime}},
		{name: "all set", vars: map[string]string{
			"SESSION_LIFETIME":               "12h",
			"SESSION_IDLE_TIMEOUT":           "900",
			"OAUTH_REDIRECT_URI":             " https://app.example.com/auth/callback ",
			"OAUTH_POST_LOGOUT_REDIRECT_URI": "https://app.example.com/bye",
			"APP_ORIGIN":                     "https://www.example.com/",
		}, want: Options{
			SessionLifetime:       12 * time.Hour,
			IdleTimeout:           15 * time.Minute,
			RedirectURL:           "https://app.example.com/auth/callback",
			PostLogoutRedirectURL: "https://app.example.com/bye",
			AppOrigin:             "https://www.example.com",
		}},
		{name: "every variable invalid", vars: map[string]string{
			"SESSION_LIFETIME":               "0",
			"SESSION_IDLE_TIMEOUT":           "soon",
			"OAUTH_REDIRECT_URI":             "pasted-secret-value",
			"OAUTH_POST_LOGOUT_REDIRECT_URI": "/relative",
			"APP_ORIGIN":                     "pasted-secret-value",
		}, wantErr: []string{"SESSION_LIFETIME", "SESSION_IDLE_TIMEOUT", "OAUTH_REDIRECT_URI", "OAUTH_POST_LOGOUT_REDIRECT_URI", "APP_ORIGIN"}},
		{name: "one invalid", vars: map[string]string{"SESSION_LIFETIME": "1h", "APP_ORIGIN": "https://app.example.com/x"},
			wantErr: []string{"APP_ORIGIN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := OptionsFromEnv(env(tt.vars))
			if tt.wantErr == nil {
				if err != nil || !reflect.DeepEqual(got, tt.want) {
					t.Errorf("OptionsFromEnv(%v) = %+v, %v; want %+v, nil", tt.vars, got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("OptionsFromEnv(%v) = %+v, nil; want an error naming %v", tt.vars, got, tt.wantErr)
			}
			for _, name := range tt.wantErr {
				if !strings.Contains(err.Error(), name) {
					t.Errorf("OptionsFromEnv(%v) = %q; want it to name %s", tt.vars, err, name)
				}
			}
			if n := strings.Count(err.Error(), ";") + 1; n != len(tt.wantErr) {
				t.Errorf("OptionsFromEnv(%v) = %q: %d problems; want %d", tt.vars, err, n, len(tt.wantErr))
			}
			if strings.Contains(err.Error(), "pasted-secret-value") {
				t.Errorf("OptionsFromEnv error %q echoes a value", err)
			}
		})
	}
}

func TestEnvDuration(t *testing.T) {
	tests := []struct {
		in     string
		zeroOK bool
		want   time.Duration
		ok     bool
	}{
		{"", false, time.Minute, true}, // the default
		{"168h", false, 168 * time.Hour, true},
		{"90", false, 90 * time.Second, true},
		{" 1h30m ", false, 90 * time.Minute, true},
		{"0", true, 0, true},
		{"0", false, 0, false},
		{"0s", false, 0, false},
		{"-1h", true, 0, false},
		{"-60", true, 0, false},
		{"1.5", false, 0, false},
		{"week", false, 0, false},
		{"99999999999999999999", false, 0, false},
		{"9999999999999", false, 0, false}, // overflows a Duration
	}
	for _, tt := range tests {
		got, ok := lambdaenv.Duration(env(map[string]string{"X": tt.in}), "X", time.Minute, tt.zeroOK)
		if got != tt.want || ok != tt.ok {
			t.Errorf("envDuration(%q, zeroOK %v) = %v, %v; want %v, %v", tt.in, tt.zeroOK, got, ok, tt.want, tt.ok)
		}
	}
}

// The me binary needs TABLE_NAME alone and does no I/O at start.
func TestFromEnvMeOnly(t *testing.T) {
	sessiontest.IsolateAWS(t)
	cfg, err := FromEnvWith(context.Background(), RouteMe, env(map[string]string{"TABLE_NAME": "signin", "SESSION_IDLE_TIMEOUT": "30m"}))
	if err != nil {
		t.Fatalf("FromEnvWith(me, TABLE_NAME) = %v", err)
	}
	if cfg.Provider != nil || cfg.Session.IdleTimeout != 30*time.Minute {
		t.Errorf("me handler: provider %v, idle %v; want no provider, 30m", cfg.Provider, cfg.Session.IdleTimeout)
	}
	cfg.Session.Logger = session.NewLogger(io.Discard)
	resp, _ := routes.New(cfg).Me(context.Background(), events.APIGatewayV2HTTPRequest{})
	if resp.StatusCode != 200 || resp.Body != `{"authenticated":false}` {
		t.Errorf("Me(no cookie) = %d %s; want 200 {\"authenticated\":false}", resp.StatusCode, resp.Body)
	}
}

// fakeAWS answers the JSON-protocol calls FromEnv makes for the client
// secret, and records them.
type fakeAWS struct {
	*httptest.Server
	mu      sync.Mutex
	calls   []fakeCall
	answers map[string]fakeAnswer // by "X-Amz-Target SecretId", else by X-Amz-Target
}

type fakeCall struct {
	target string
	body   map[string]any
}

type fakeAnswer struct {
	status int
	body   string
}

func startFakeAWS(t *testing.T, answers map[string]fakeAnswer) *fakeAWS {
	f := &fakeAWS{answers: answers}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.Header.Get("X-Amz-Target")
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		f.mu.Lock()
		f.calls = append(f.calls, fakeCall{target, body})
		f.mu.Unlock()
		id, _ := body["SecretId"].(string)
		a, ok := f.answers[target+" "+id]
		if !ok {
			a, ok = f.answers[target]
		}
		if !ok {
			a = fakeAnswer{400, `{"__type":"UnknownOperationException","message":"unexpected"}`}
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAWS) Calls() []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeCall(nil), f.calls...)
}

func TestFromEnvClientSecret(t *testing.T) {
	sessiontest.IsolateAWS(t)
	const (
		arn   = "arn:aws:secretsmanager:us-east-1:123456789012:secret:oauth-client-AbCdEf"
		param = "/signin/oauth-client-secret"
	)
	secretAnswer := func(secretString string) map[string]fakeAnswer {
		b, _ := json.Marshal(map[string]string{"ARN": arn, "Name": "oauth-client", "SecretString": secretString})
		return map[string]fakeAnswer{"secretsmanager.GetSecretValue": {200, string(b)}}
	}
	ssmAnswer := map[string]fakeAnswer{"AmazonSSM.GetParameter": {200,
		`{"Parameter":{"Name":"/signin/oauth-client-secret","Type":"SecureString","Value":"from-ssm","Version":1}}`}}
	tests := []struct {
		name    string
		route   Route
		vars    map[string]string
		answers map[string]fakeAnswer
		want    string // the client secret; "" with wantErr
		wantErr string // a substring of the error
		target  string // the one AWS call expected ("" for none)
	}{
		{name: "plain variable", route: RouteCallback, vars: map[string]string{"OAUTH_CLIENT_SECRET": "plain", "OAUTH_CLIENT_SECRET_ARN": arn},
			want: "plain"},
		{name: "secrets manager string", route: RouteCallback, vars: map[string]string{"OAUTH_CLIENT_SECRET_ARN": arn},
			answers: secretAnswer("from-secrets-manager\n"), want: "from-secrets-manager", target: "secretsmanager.GetSecretValue"},
		{name: "secrets manager JSON", route: RouteLogout, vars: map[string]string{"OAUTH_CLIENT_SECRET_ARN": arn},
			answers: secretAnswer(`{"client_id":"client-1","client_secret":"from-json"}`), want: "from-json", target: "secretsmanager.GetSecretValue"},
		{name: "secrets manager JSON without client_secret", route: RouteCallback, vars: map[string]string{"OAUTH_CLIENT_SECRET_ARN": arn},
			answers: secretAnswer(`{"password":"hunter2"}`), wantErr: "client_secret", target: "secretsmanager.GetSecretValue"},
		{name: "secrets manager denied", route: RouteCallback, vars: map[string]string{"OAUTH_CLIENT_SECRET_ARN": arn},
			answers: map[string]fakeAnswer{"secretsmanager.GetSecretValue": {400, `{"__type":"AccessDeniedException","message":"no"}`}},
			wantErr: "OAUTH_CLIENT_SECRET_ARN", target: "secretsmanager.GetSecretValue"},
		{name: "ssm", route: RouteCallback, vars: map[string]string{"OAUTH_CLIENT_SECRET_PARAMETER": param},
			answers: ssmAnswer, want: "from-ssm", target: "AmazonSSM.GetParameter"},
		{name: "secrets manager before ssm", route: RouteAll, vars: map[string]string{"OAUTH_CLIENT_SECRET_ARN": arn, "OAUTH_CLIENT_SECRET_PARAMETER": param},
			answers: secretAnswer("sm"), want: "sm", target: "secretsmanager.GetSecretValue"},
		{name: "login needs no secret", route: RouteLogin, vars: map[string]string{"OAUTH_CLIENT_SECRET_ARN": arn}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFakeAWS(t, tt.answers)
			vars := with(oauthEnv, tt.vars)
			vars["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = f.URL
			vars["AWS_ENDPOINT_URL_SSM"] = f.URL
			h, err := FromEnvWith(context.Background(), tt.route, env(vars))
			calls := f.Calls()
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("FromEnvWith = %v; want an error mentioning %s", err, tt.wantErr)
				}
				if err != nil && strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error %q echoes the secret", err)
				}
			case err != nil:
				t.Fatalf("FromEnvWith = %v", err)
			default:
				if got := client(h).Config().ClientSecret; got != tt.want {
					t.Errorf("client secret = %q; want %q", got, tt.want)
				}
			}
			if tt.target == "" {
				if len(calls) != 0 {
					t.Errorf("AWS calls = %v; want none", calls)
				}
				return
			}
			if len(calls) != 1 || calls[0].target != tt.target {
				t.Fatalf("AWS calls = %v; want one %s", calls, tt.target)
			}
			switch body := calls[0].body; tt.target {
			case "secretsmanager.GetSecretValue":
				if body["SecretId"] != arn {
					t.Errorf("GetSecretValue SecretId = %v; want %s", body["SecretId"], arn)
				}
			case "AmazonSSM.GetParameter":
				if body["Name"] != param || body["WithDecryption"] != true {
					t.Errorf("GetParameter request = %v; want Name %s, WithDecryption true", body, param)
				}
			}
		})
	}
}

// No function creates or checks its table at start, locally either: the
// table may be missing, or DynamoDB down, and the cold start still succeeds
// with no DynamoDB call; the first request then gets the route's own JSON
// 500 (not the gateway's generic one after a failed start).
func TestFromEnvNoTableWork(t *testing.T) {
	sessiontest.IsolateAWS(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there any more: every DynamoDB call fails at once
	vars := with(oauthEnv, map[string]string{"OAUTH_CLIENT_SECRET": "dev-secret", "AWS_ENDPOINT_URL_DYNAMODB": down, "TABLE_NAME": "missing"})
	cookie := []string{"__Host-session=" + strings.Repeat("A", 43), "__Host-signin_binding=" + strings.Repeat("A", 43)}
	for _, tt := range []struct {
		route  Route
		serve  func(*routes.Handler) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)
		method string
		query  string
		body   string
	}{
		{RouteMe, func(h *routes.Handler) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			return h.Me
		}, "GET", "", `{"error":"Session lookup failed"}`},
		{RouteLogin, func(h *routes.Handler) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			return h.Login
		}, "GET", "", `{"error":"OAuth sign-in failed"}`},
		{RouteCallback, func(h *routes.Handler) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			return h.Callback
		}, "GET", "code=c&state=s", `{"error":"OAuth sign-in failed"}`},
		{RouteLogout, func(h *routes.Handler) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			return h.Logout
		}, "POST", "", `{"error":"Sign-out failed"}`},
	} {
		t.Run(string(tt.route), func(t *testing.T) {
			cfg, err := FromEnvWith(context.Background(), tt.route, env(vars))
			if err != nil {
				t.Fatalf("FromEnvWith(%s) with DynamoDB down = %v; want a cold start without DynamoDB calls", tt.route, err)
			}
			cfg.Session.Logger = session.NewLogger(io.Discard)
			if tt.route == RouteLogin {
				cfg.RedirectURL = "https://app.example.com/auth/callback"
			}
			req := events.APIGatewayV2HTTPRequest{RawQueryString: tt.query, Cookies: cookie}
			req.RequestContext.HTTP.Method = tt.method
			resp, err := tt.serve(routes.New(cfg))(context.Background(), req)
			if err != nil || resp.StatusCode != 500 || resp.Body != tt.body || resp.Headers["Content-Type"] != "application/json" {
				t.Errorf("%s with DynamoDB down = %d %s, %v; want 500 %s", tt.route, resp.StatusCode, resp.Body, err, tt.body)
			}
		})
	}
}

// The token key is read by the routes that read or write token records
// (callback, logout, all) and by Sessions, from TOKEN_ENCRYPTION_KEY or
// else the Secrets Manager secret TOKEN_ENCRYPTION_KEY_ARN; login and me
// never touch it.
func TestFromEnvTokenKey(t *testing.T) {
	sessiontest.IsolateAWS(t)
	const (
		clientARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:oauth-client-AbCdEf"
		keyARN    = "arn:aws:secretsmanager:us-east-1:123456789012:secret:token-key-GhIjKl"
		goodKey   = "k3y-material-0123456789abcdefghijklmnop" // 38 characters
		shortKey  = "short-key-material-0123456789ab"         // 31 characters
	)
	secret := func(id, value string) map[string]fakeAnswer {
		b, _ := json.Marshal(map[string]string{"ARN": id, "Name": "x", "SecretString": value})
		return map[string]fakeAnswer{"secretsmanager.GetSecretValue " + id: {200, string(b)}}
	}
	denied := map[string]fakeAnswer{"secretsmanager.GetSecretValue " + keyARN: {400, `{"__type":"AccessDeniedException","message":"no"}`}}
	rotation, _ := json.Marshal(map[string]any{"current": goodKey, "previous": []string{strings.ToUpper(goodKey)}})
	plainSecret := map[string]string{"OAUTH_CLIENT_SECRET": "dev-secret"}
	tests := []struct {
		name       string
		route      Route
		sessions   bool // SessionsFromEnvWith instead of FromEnvWith(route)
		vars       map[string]string
		answers    map[string]fakeAnswer
		wantSealed bool
		wantErr    string   // the variable the error names; "" for success
		wantCalls  []string // SecretIds read, sorted
	}{
		{name: "no key", route: RouteCallback, vars: plainSecret},
		{name: "plain key", route: RouteCallback, vars: with(plainSecret, map[string]string{"TOKEN_ENCRYPTION_KEY": goodKey}), wantSealed: true},
		{name: "plain key with a newline", route: RouteLogout, vars: with(plainSecret, map[string]string{"TOKEN_ENCRYPTION_KEY": goodKey + "\n"}), wantSealed: true},
		{name: "plain rotation JSON", route: RouteAll, vars: with(plainSecret, map[string]string{"TOKEN_ENCRYPTION_KEY": string(rotation)}), wantSealed: true},
		{name: "short key, callback", route: RouteCallback, vars: with(plainSecret, map[string]string{"TOKEN_ENCRYPTION_KEY": shortKey}), wantErr: "TOKEN_ENCRYPTION_KEY"},
		{name: "short key, logout", route: RouteLogout, vars: with(plainSecret, map[string]string{"TOKEN_ENCRYPTION_KEY": shortKey}), wantErr: "TOKEN_ENCRYPTION_KEY"},
		{name: "short key, all", route: RouteAll, vars: with(plainSecret, map[string]string{"TOKEN_ENCRYPTION_KEY": shortKey}), wantErr: "TOKEN_ENCRYPTION_KEY"},
		{name: "short key, sessions", sessions: true, vars: with(plainSecret, map[string]string{"TOKEN_ENCRYPTION_KEY": shortKey}), wantErr: "TOKEN_ENCRYPTION_KEY"},
		{name: "short previous key", route: RouteCallback, vars: with(plainSecret, map[string]string{"TOKEN_ENCRYPTION_KEY": `{"current":"` + goodKey + `","previous":["` + shortKey + `"]}`}),
			wantErr: "TOKEN_ENCRYPTION_KEY"},
		{name: "misspelt rotation JSON", route: RouteCallback, vars: with(plainSecret, map[string]string{"TOKEN_ENCRYPTION_KEY": `{"current":"` + goodKey + `","prev":["` + shortKey + `"]}`}),
			wantErr: "TOKEN_ENCRYPTION_KEY"},
		{name: "login ignores the key", route: RouteLogin, vars: map[string]string{"TOKEN_ENCRYPTION_KEY": shortKey, "TOKEN_ENCRYPTION_KEY_ARN": keyARN}},
		{name: "me ignores the key", route: RouteMe, vars: map[string]string{"TOKEN_ENCRYPTION_KEY": shortKey, "TOKEN_ENCRYPTION_KEY_ARN": keyARN}},
		{name: "secrets manager", route: RouteCallback, vars: with(plainSecret, map[string]string{"TOKEN_ENCRYPTION_KEY_ARN": keyARN}),
			answers: secret(keyARN, goodKey+"\n"), wantSealed: true, wantCalls: []string{keyARN}},
		{name: "secrets manager, both secrets", route: RouteLogout, vars: map[string]string{"OAUTH_CLIENT_SECRET_ARN": clientARN, "TOKEN_ENCRYPTION_KEY_ARN": keyARN},
			answers: with2(secret(keyARN, goodKey), secret(clientARN, "from-secrets-manager")), wantSealed: true, wantCalls: []string{clientARN, keyARN}},
		{name: "secrets manager rotation JSON", sessions: true, vars: with(plainSecret, map[string]string{"TOKEN_ENCRYPTION_KEY_ARN": keyARN}),
			answers: secret(keyARN, string(rotation)), wantSealed: true, wantCalls: []string{keyARN}},
		{name: "plain key wins", route: RouteCallback, vars: with(plainSecret, map[string]string{"TOKEN_ENCRYPTION_KEY": goodKey, "TOKEN_ENCRYPTION_KEY_ARN": keyARN}),
			wantSealed: true},
		{name: "secrets manager denied", route: RouteCallback, vars: with(plainSecret, map[string]string{"TOKEN_ENCRYPTION_KEY_ARN": keyARN}),
			answers: denied, wantErr: "TOKEN_ENCRYPTION_KEY_ARN", wantCalls: []string{keyARN}},
		{name: "secrets manager short key", route: RouteCallback, vars: with(plainSecret, map[string]string{"TOKEN_ENCRYPTION_KEY_ARN": keyARN}),
			answers: secret(keyARN, shortKey), wantErr: "TOKEN_ENCRYPTION_KEY_ARN", wantCalls: []string{keyARN}},
		{name: "secrets manager empty", sessions: true, vars: with(plainSecret, map[string]string{"TOKEN_ENCRYPTION_KEY_ARN": keyARN}),
			answers: secret(keyARN, ""), wantErr: "TOKEN_ENCRYPTION_KEY_ARN", wantCalls: []string{keyARN}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFakeAWS(t, tt.answers)
			vars := with(oauthEnv, tt.vars)
			vars["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = f.URL
			var (
				st  store.Store
				err error
			)
			if tt.sessions {
				var c session.Config
				if c, err = Sessions(context.Background(), env(vars)); err == nil {
					st = c.Store
				}
			} else {
				var c routes.Config
				if c, err = FromEnvWith(context.Background(), tt.route, env(vars)); err == nil {
					st = c.Session.Store
				}
			}
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("FromEnvWith = %v; want an error naming %s", err, tt.wantErr)
				}
				if err != nil && (strings.Contains(err.Error(), shortKey) || strings.Contains(err.Error(), goodKey)) {
					t.Errorf("error %q echoes the key", err)
				}
			case err != nil:
				t.Fatalf("FromEnvWith = %v", err)
			default:
				d, ok := st.(*store.DynamoDB)
				if !ok || (d.Sealer != nil) != tt.wantSealed {
					t.Errorf("store = %T sealed %t; want *store.DynamoDB sealed %t", st, ok && d.Sealer != nil, tt.wantSealed)
				}
			}
			var ids []string
			for _, c := range f.Calls() {
				id, _ := c.body["SecretId"].(string)
				ids = append(ids, c.target+" "+id)
			}
			var want []string
			for _, id := range tt.wantCalls {
				want = append(want, "secretsmanager.GetSecretValue "+id)
			}
			slices.Sort(ids)
			if !slices.Equal(ids, want) {
				t.Errorf("AWS calls = %q; want %q", ids, want)
			}
		})
	}
}

func with2(a, b map[string]fakeAnswer) map[string]fakeAnswer {
	m := maps.Clone(a)
	maps.Copy(m, b)
	return m
}
