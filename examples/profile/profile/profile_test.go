package profile_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-signin/signin/examples/profile/profile"
	"github.com/serverless-signin/signin/internal/devprovider"
	"github.com/serverless-signin/signin/internal/dynamotest"
	"github.com/serverless-signin/signin/internal/routes"
	"github.com/serverless-signin/signin/internal/sessiontest"
	"github.com/serverless-signin/signin/pkg/auth"
	"github.com/serverless-signin/signin/pkg/oauth"
	"github.com/serverless-signin/signin/pkg/session"
	"github.com/serverless-signin/signin/pkg/store"
)

const appHost = "app.example.test"

// app is the sign-in handlers, the authorizer and the example over one
// store and the real dev provider, on a settable clock.
type app struct {
	t        *testing.T
	provider *devprovider.Provider
	client   *oauth.Client
	store    store.Store
	routes   *routes.Handler
	profile  *profile.Handler
	clock    *sessiontest.Clock
	logs     *sessiontest.LogBuffer
}

func newApp(t *testing.T, k sessiontest.StoreKind) *app {
	t.Helper()
	p, err := devprovider.Start(devprovider.Options{})
	if err != nil {
		t.Fatalf("devprovider.Start: %v", err)
	}
	t.Cleanup(p.Close)
	p.AllowRedirectURI(devprovider.DefaultClientID, "https://"+appHost+"/auth/callback")
	a := &app{t: t, provider: p, clock: sessiontest.NewClock(), logs: &sessiontest.LogBuffer{}}
	// On the test's clock: the expiry the client computes for a refreshed
	// token must agree with the one Sessions compares it to.
	client, err := oauth.NewClient(oauth.Config{Issuer: p.Issuer(), ClientID: devprovider.DefaultClientID, ClientSecret: devprovider.DefaultClientSecret, Now: a.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	a.client = client
	a.store, _ = k.Open(t, a.clock.Now)
	logger := session.NewLogger(a.logs)
	a.routes = routes.New(routes.Config{Provider: client, Session: session.Config{
		Store: a.store, Revoker: client, Refresher: client, Logger: logger, Now: a.clock.Now,
	}})
	a.profile = &profile.Handler{
		Sessions: &auth.Sessions{Store: a.store, OAuth: client, Logger: logger, Now: a.clock.Now},
		Logger:   logger,
	}
	t.Cleanup(func() {
		// The token never reaches the logs (nor the answers, checked below).
		if strings.Contains(a.logs.String(), "Bearer") {
			t.Errorf("logs mention a bearer token:\n%s", a.logs)
		}
	})
	return a
}

func event(method, target string, cookies ...string) events.APIGatewayV2HTTPRequest {
	path, query, _ := strings.Cut(target, "?")
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: method + " " + path, RawPath: path, RawQueryString: query, Cookies: cookies,
		Headers: map[string]string{"host": appHost, "x-forwarded-proto": "https", "origin": "https://" + appHost},
	}
	ev.RequestContext.DomainName = appHost
	ev.RequestContext.RequestID = "gw-test"
	ev.RequestContext.RouteKey = ev.RouteKey
	ev.RequestContext.HTTP.Method, ev.RequestContext.HTTP.Path = method, path
	return ev
}

// signIn runs a whole sign-in and returns the session cookie ("name=value").
func (a *app) signIn() string {
	a.t.Helper()
	ctx := context.Background()
	resp, _ := a.routes.Login(ctx, event("GET", "/auth/login"))
	binding := strings.Split(resp.Cookies[0], ";")[0]
	back, err := devprovider.Authorize(ctx, nil, resp.Headers["Location"], devprovider.DemoUser.Username, devprovider.DemoUser.Password)
	if err != nil {
		a.t.Fatalf("devprovider.Authorize: %v", err)
	}
	resp, _ = a.routes.Callback(ctx, event("GET", "/auth/callback?"+back.RawQuery, binding))
	if resp.StatusCode != http.StatusFound {
		a.t.Fatalf("callback = %d %s; want 302", resp.StatusCode, resp.Body)
	}
	for _, c := range resp.Cookies {
		if strings.HasPrefix(c, "__Host-session=") {
			return strings.Split(c, ";")[0]
		}
	}
	a.t.Fatalf("callback set no session cookie: %q", resp.Cookies)
	return ""
}

// get is GET /api/profile as the gateway runs it: the authorizer first
// (a refusal is the gateway's 403), then the example with the context,
// passed through JSON as the gateway passes it.
func (a *app) get(cookie string) events.APIGatewayV2HTTPResponse {
	a.t.Helper()
	ctx := context.Background()
	ev := event("GET", "/api/profile", cookie)
	answer, err := a.routes.Authorize(ctx, events.APIGatewayV2CustomAuthorizerV2Request{
		Version: "2.0", Type: "REQUEST", IdentitySource: []string{cookie}, RouteKey: ev.RouteKey, RawPath: ev.RawPath,
		Cookies: ev.Cookies, Headers: ev.Headers, RequestContext: ev.RequestContext,
	})
	if err != nil || !answer.IsAuthorized {
		a.t.Fatalf("Authorize = %+v, %v; want allowed", answer, err)
	}
	ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: answer.Context}
	data, err := json.Marshal(ev)
	if err != nil {
		a.t.Fatal(err)
	}
	var received events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(data, &received); err != nil {
		a.t.Fatal(err)
	}
	resp, err := a.profile.Profile(ctx, received)
	if err != nil {
		a.t.Fatalf("Profile error = %v; want errors as answers", err)
	}
	if resp.Headers["Content-Type"] != "application/json" || resp.Headers["Cache-Control"] != "no-store" || !json.Valid([]byte(resp.Body)) {
		a.t.Errorf("Profile = %d %v %q; want a JSON answer that is not cached", resp.StatusCode, resp.Headers, resp.Body)
	}
	return resp
}

func checkAnswer(t *testing.T, what string, resp events.APIGatewayV2HTTPResponse, status int, body string) {
	t.Helper()
	if resp.StatusCode != status || (body != "" && resp.Body != body) {
		t.Errorf("%s = %d %s; want %d %s", what, resp.StatusCode, resp.Body, status, body)
	}
}

// The signed-in user and the provider's userinfo, fetched with the user's
// access token; an expired one is refreshed first, once.
func TestProfile(t *testing.T) {
	sessiontest.ForEachStore(t, func(t *testing.T, k sessiontest.StoreKind) {
		a := newApp(t, k)
		cookie := a.signIn()

		for _, step := range []struct {
			name      string
			advance   time.Duration
			refreshes int
		}{
			{"fresh token", 0, 0},
			{"expired token", 10 * time.Minute, 1}, // the dev provider's access tokens live 5 minutes
		} {
			a.clock.Advance(step.advance)
			tokenCalls, userinfoCalls := a.provider.Calls(devprovider.PathToken), a.provider.Calls(devprovider.PathUserinfo)
			resp := a.get(cookie)
			var got profile.Answer
			if err := json.Unmarshal([]byte(resp.Body), &got); err != nil || resp.StatusCode != 200 {
				t.Fatalf("%s: Profile = %d %s; want 200 and the profile\nlogs:\n%s", step.name, resp.StatusCode, resp.Body, a.logs)
			}
			u := devprovider.DemoUser
			if got.User.ID != u.Subject || got.User.Email == nil || *got.User.Email != u.Email || got.User.Name == nil || *got.User.Name != u.Name {
				t.Errorf("%s: user = %+v; want the demo user", step.name, got.User)
			}
			if got.UserInfo["sub"] != u.Subject || got.UserInfo["email"] != u.Email {
				t.Errorf("%s: userinfo = %v; want the provider's claims of the demo user", step.name, got.UserInfo)
			}
			if n := a.provider.Calls(devprovider.PathUserinfo) - userinfoCalls; n != 1 {
				t.Errorf("%s: userinfo calls = %d; want 1", step.name, n)
			}
			if n := a.provider.Calls(devprovider.PathToken) - tokenCalls; n != step.refreshes {
				t.Errorf("%s: token endpoint calls = %d; want %d", step.name, n, step.refreshes)
			}
			tok, err := a.store.GetTokens(context.Background(), store.Hash(strings.TrimPrefix(cookie, "__Host-session=")))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(resp.Body, tok.AccessToken) || strings.Contains(a.logs.String(), tok.AccessToken) {
				t.Errorf("%s: the access token reached the answer or the logs", step.name)
			}
		}
	})
}

// The refusals: no authorizer context, a grant the provider has ended
// (ErrSignInAgain), a session signed out after the authorizer let the
// request through (ErrNotSignedIn); and the failures, which are 500s.
func TestProfileRefused(t *testing.T) {
	ctx := context.Background()
	t.Run("no authorizer context", func(t *testing.T) {
		a := newApp(t, sessiontest.StoreKinds[0])
		resp, err := a.profile.Profile(ctx, event("GET", "/api/profile", a.signIn()))
		if err != nil {
			t.Fatal(err)
		}
		checkAnswer(t, "Profile without the authorizer", resp, 401, `{"error":"Sign in again"}`)
	})
	sessiontest.ForEachStore(t, func(t *testing.T, k sessiontest.StoreKind) {
		t.Run("grant ended", func(t *testing.T) {
			a := newApp(t, k)
			cookie := a.signIn()
			key := store.Hash(strings.TrimPrefix(cookie, "__Host-session="))
			tok, err := a.store.GetTokens(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.client.Revoke(ctx, tok.RefreshToken, "refresh_token"); err != nil {
				t.Fatal(err)
			}
			a.clock.Advance(10 * time.Minute)
			checkAnswer(t, "Profile with a revoked grant", a.get(cookie), 401, `{"error":"Sign in again"}`)
			if _, err := a.store.GetSession(ctx, key); err == nil {
				t.Errorf("the session survived ErrSignInAgain; want it ended")
			}
		})
		t.Run("signed out meanwhile", func(t *testing.T) {
			a := newApp(t, k)
			cookie := a.signIn()
			// The authorizer allows, then the tokens go before the example reads them.
			a.profile.Sessions.Store = &dropTokens{Store: a.store}
			checkAnswer(t, "Profile after sign-out", a.get(cookie), 401, `{"error":"Sign in again"}`)
		})
		t.Run("provider down", func(t *testing.T) {
			a := newApp(t, k)
			cookie := a.signIn()
			a.provider.Close()
			checkAnswer(t, "Profile with the provider down", a.get(cookie), 500, `{"error":"Internal error"}`)
		})
	})
	t.Run("storage down", func(t *testing.T) {
		a := newApp(t, sessiontest.StoreKinds[0])
		cookie := a.signIn()
		a.profile.Sessions.Store = store.NewDynamoDB(dynamotest.Unreachable(t), "unreachable")
		checkAnswer(t, "Profile with DynamoDB down", a.get(cookie), 500, `{"error":"Internal error"}`)
	})
}

// dropTokens deletes a session's records just before reading its tokens: a
// sign-out between the authorizer's decision and the function's read.
type dropTokens struct{ store.Store }

func (d *dropTokens) GetTokens(ctx context.Context, key string) (store.Tokens, error) {
	if _, _, err := d.Store.DeleteSession(ctx, key); err != nil {
		return store.Tokens{}, err
	}
	return d.Store.GetTokens(ctx, key)
}
