package lambdaenv_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-signin/signin/internal/lambdaenv"
	"github.com/serverless-signin/signin/internal/sessiontest"
	"github.com/serverless-signin/signin/pkg/session"
	"github.com/serverless-signin/signin/pkg/store"
)

// recordingEnv is a getenv over vars that records the names asked for.
type recordingEnv struct {
	vars map[string]string
	mu   sync.Mutex
	read []string
}

func (e *recordingEnv) getenv(name string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !slices.Contains(e.read, name) {
		e.read = append(e.read, name)
	}
	return e.vars[name]
}

// The authorizer reads TABLE_NAME, SESSION_IDLE_TIMEOUT and APP_ORIGIN (and
// the AWS SDK's own variables), nothing of the OAUTH_* set, so an OAuth
// misconfiguration elsewhere cannot stop it.
func TestAuthorizerEnv(t *testing.T) {
	sessiontest.IsolateAWS(t)
	env := &recordingEnv{vars: map[string]string{
		"TABLE_NAME": "signin", "SESSION_IDLE_TIMEOUT": "30m", "APP_ORIGIN": "https://www.example.com/",
		"OAUTH_SCOPES": "profile", "OAUTH_ISSUER": "not a url", "SESSION_LIFETIME": "-1",
	}}
	if _, err := lambdaenv.Authorizer(context.Background(), env.getenv); err != nil {
		t.Fatalf("Authorizer() = %v; want the OAUTH_* and SESSION_LIFETIME variables ignored", err)
	}
	allowed := []string{"TABLE_NAME", "SESSION_IDLE_TIMEOUT", "APP_ORIGIN", "AWS_REGION", "AWS_ENDPOINT_URL_DYNAMODB"}
	for _, name := range env.read {
		if !slices.Contains(allowed, name) {
			t.Errorf("Authorizer read %s; want only %v", name, allowed)
		}
	}
}

// One error names every missing or invalid variable, never a value.
func TestAuthorizerEnvProblems(t *testing.T) {
	sessiontest.IsolateAWS(t)
	vars := map[string]string{"SESSION_IDLE_TIMEOUT": "soon-ish", "APP_ORIGIN": "https://www.example.com/path"}
	_, err := lambdaenv.Authorizer(context.Background(), func(k string) string { return vars[k] })
	if err == nil {
		t.Fatal("Authorizer() = nil error; want the problems named")
	}
	for _, name := range []string{"authorizer configuration", "TABLE_NAME", "SESSION_IDLE_TIMEOUT", "APP_ORIGIN"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("Authorizer() error = %q; want it to name %s", err, name)
		}
	}
	for _, v := range vars {
		if strings.Contains(err.Error(), v) {
			t.Errorf("Authorizer() error = %q echoes the value %q", err, v)
		}
	}
}

// The cold start makes no DynamoDB call: with DynamoDB unreachable the
// builder succeeds, and the first request that needs the table fails as a
// storage error (never a refusal). APP_ORIGIN decides the cross-site rule:
// a POST from it reaches the store, one from the API's own domain is
// refused before it.
func TestAuthorizerNoTableWork(t *testing.T) {
	sessiontest.IsolateAWS(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close()
	vars := map[string]string{"TABLE_NAME": "missing", "AWS_ENDPOINT_URL_DYNAMODB": down, "APP_ORIGIN": "https://www.example.com"}
	h, err := lambdaenv.Authorizer(context.Background(), func(k string) string { return vars[k] })
	if err != nil {
		t.Fatalf("Authorizer() with DynamoDB down = %v; want a cold start without DynamoDB calls", err)
	}
	ask := func(origin string) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
		req := events.APIGatewayV2CustomAuthorizerV2Request{
			RouteKey: "POST /api/items",
			Cookies:  []string{"__Host-session=" + session.NewToken()},
			Headers:  map[string]string{"origin": origin, "x-forwarded-proto": "https"},
		}
		req.RequestContext.DomainName = "abc.execute-api.us-east-1.amazonaws.com"
		req.RequestContext.HTTP.Method = "POST"
		return h.Authorize(context.Background(), req)
	}
	if resp, err := ask("https://www.example.com"); !errors.Is(err, store.ErrUnavailable) || resp.IsAuthorized {
		t.Errorf("Authorize(POST from APP_ORIGIN) with DynamoDB down = %+v, %v; want a storage error", resp, err)
	}
	if resp, err := ask("https://abc.execute-api.us-east-1.amazonaws.com"); err != nil || resp.IsAuthorized {
		t.Errorf("Authorize(POST from the API's domain, APP_ORIGIN set) = %+v, %v; want refused without a read", resp, err)
	}
}
