//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/serverless-signin/signin/internal/devprovider"
	"github.com/serverless-signin/signin/internal/dynamotest"
	"github.com/serverless-signin/signin/pkg/store"
)

const (
	bodyInvalidCallback = `{"error":"Invalid OAuth callback"}`
	bodyDemoUser        = `{"authenticated":true,"user":{"id":"demo-user-0001","email":"demo@example.com","name":"Demo User"}}`
	bodyUnauthenticated = `{"authenticated":false}`
)

// lambdaApp is the four built functions and the authorizer, each under its own emulator, against
// one DynamoDB Local table and one in-process OpenID provider: what `sam deploy` would run, minus
// API Gateway, whose part (building payload-2.0 events, applying the answers' cookies, asking the
// authorizer) the test plays.
type lambdaApp struct {
	provider *devprovider.Provider
	ddb      *dynamodb.Client
	table    string
	fns      map[string]*emulator // by logical id
	sizes    map[string]int64     // bootstrap sizes by logical id
	seq      int
}

func startLambdaApp(t *testing.T) *lambdaApp {
	t.Helper()
	if testing.Short() {
		t.Skip("builds five binaries and runs them under the Lambda runtime emulator; skipped with -short")
	}
	ddb, table := dynamotest.NewTable(t) // skips (or fails under REQUIRE_DYNAMODB=1) without DynamoDB Local
	endpoint := ddb.Options().BaseEndpoint
	p, err := devprovider.Start(devprovider.Options{})
	if err != nil {
		t.Fatalf("devprovider.Start: %v", err)
	}
	t.Cleanup(p.Close)
	// The sample events' API domain; login derives the redirect URI from it.
	p.AllowRedirectURI(devprovider.DefaultClientID, "https://"+loadEvent(t, "login.json").RequestContext.DomainName+"/auth/callback")

	rie, bootstraps := buildLambdas(t)
	a := &lambdaApp{provider: p, ddb: ddb, table: table, fns: map[string]*emulator{}, sizes: map[string]int64{}}
	for _, fn := range emulatedFunctions {
		env := lambdaEnv(fn, table, p.Issuer(), devprovider.DefaultClientID, devprovider.DefaultClientSecret,
			map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": aws.ToString(endpoint)})
		a.fns[fn.logicalID] = startEmulator(t, fn.logicalID, rie, bootstraps[fn.logicalID], env)
		a.sizes[fn.logicalID] = fileSize(bootstraps[fn.logicalID])
	}
	return a
}

// invoke runs one event through a function and checks what every answer carries.
func (a *lambdaApp) invoke(t *testing.T, logicalID string, ev events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	t.Helper()
	a.seq++
	resp, _ := a.fns[logicalID].invoke(t, fmt.Sprintf("e2e-%02d-%s", a.seq, logicalID), ev)
	if got := resp.Headers["Cache-Control"]; got != "no-store" {
		t.Errorf("%s: Cache-Control = %q; want no-store", logicalID, got)
	}
	if resp.Body != "" && resp.Headers["Content-Type"] != "application/json" {
		t.Errorf("%s: Content-Type = %q for a body; want application/json", logicalID, resp.Headers["Content-Type"])
	}
	return resp
}

// authorize asks the authorizer about events/authorizer.json (GET /api/profile) carrying
// exactly these cookies, as the gateway sends it: the cookies array, and the Cookie header as
// a header and the identity source.
func (a *lambdaApp) authorize(t *testing.T, jar map[string]string) events.APIGatewayV2CustomAuthorizerSimpleResponse {
	t.Helper()
	ev := loadAuthorizerEvent(t)
	ev.Cookies = withCookies(events.APIGatewayV2HTTPRequest{}, jar).Cookies
	line := strings.Join(ev.Cookies, "; ")
	ev.Headers = maps.Clone(ev.Headers)
	ev.Headers["cookie"], ev.IdentitySource = line, []string{line}
	a.seq++
	return a.fns[authorizerFunction.logicalID].invokeAuthorizer(t, fmt.Sprintf("e2e-%02d-%s", a.seq, authorizerFunction.logicalID), ev)
}

// loadAuthorizerEvent reads events/authorizer.json.
func loadAuthorizerEvent(tb testing.TB) events.APIGatewayV2CustomAuthorizerV2Request {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(tb), "events", authorizerFunction.event()))
	if err != nil {
		tb.Fatal(err)
	}
	var ev events.APIGatewayV2CustomAuthorizerV2Request
	if err := json.Unmarshal(data, &ev); err != nil {
		tb.Fatalf("decode events/%s: %v", authorizerFunction.event(), err)
	}
	return ev
}

// setCookies parses an answer's cookies by name.
func setCookies(t *testing.T, resp events.APIGatewayV2HTTPResponse) map[string]*http.Cookie {
	t.Helper()
	out := map[string]*http.Cookie{}
	for _, line := range resp.Cookies {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatalf("Set-Cookie %q: %v", line, err)
		}
		out[c.Name] = c
	}
	return out
}

// checkCookie checks the attributes docs/contract.md §1 gives every cookie on https, and the Max-Age.
func checkCookie(t *testing.T, c *http.Cookie, name string, maxAge int) {
	t.Helper()
	if c == nil {
		t.Fatalf("no Set-Cookie for %s", name)
	}
	if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" || c.MaxAge != maxAge {
		t.Errorf("Set-Cookie %s = %q; want HttpOnly, Secure, SameSite=Lax, Path=/, no Domain, MaxAge %d", name, c.Raw, maxAge)
	}
}

// TestLambdaSignIn signs in and out through the built bootstrap binaries under the Lambda runtime
// emulator, with payload-2.0 events made from the samples in events/: login → provider → callback →
// me → logout → me, plus the callback's refusals. It also logs each function's cold start.
func TestLambdaSignIn(t *testing.T) {
	a := startLambdaApp(t)
	issuer := a.provider.Issuer()
	loginEv, callbackEv := loadEvent(t, "login.json"), loadEvent(t, "callback.json")
	meEv, logoutEv := loadEvent(t, "me.json"), loadEvent(t, "logout.json")
	origin := "https://" + loginEv.RequestContext.DomainName
	jar := map[string]string{} // the browser's cookies
	apply := func(resp events.APIGatewayV2HTTPResponse) {
		for name, c := range setCookies(t, resp) {
			if c.MaxAge < 0 {
				delete(jar, name)
			} else {
				jar[name] = c.Value
			}
		}
	}

	// Login: a state record, the binding cookie, a redirect to the provider.
	resp := a.invoke(t, "LoginFunction", withCookies(loginEv, jar))
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("login: status %d %s; want 302", resp.StatusCode, resp.Body)
	}
	checkCookie(t, setCookies(t, resp)["__Host-signin_binding"], "__Host-signin_binding", 600)
	apply(resp)
	binding := jar["__Host-signin_binding"]
	authorize, err := url.Parse(resp.Headers["Location"])
	if err != nil || authorize.Scheme+"://"+authorize.Host+authorize.Path != issuer+devprovider.PathAuthorize {
		t.Fatalf("login: Location = %q; want %s%s?...", resp.Headers["Location"], issuer, devprovider.PathAuthorize)
	}
	q := authorize.Query()
	for k, want := range map[string]string{
		"response_type": "code", "client_id": devprovider.DefaultClientID, "redirect_uri": origin + "/auth/callback",
		"scope": "openid profile email", "code_challenge_method": "S256",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("authorize URL %s = %q; want %q", k, got, want)
		}
	}
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if q.Get(k) == "" {
			t.Errorf("authorize URL has no %s", k)
		}
	}
	if n := a.provider.Calls(devprovider.PathDiscovery); n != 0 {
		t.Errorf("login fetched the discovery document %d times; want 0 with OAUTH_AUTHORIZE_URL set", n)
	}

	// The provider's login form, as the browser would fill it in.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	back, err := devprovider.Authorize(ctx, nil, authorize.String(), devprovider.DemoUser.Username, devprovider.DemoUser.Password)
	if err != nil {
		t.Fatalf("devprovider.Authorize: %v", err)
	}
	if got := back.Scheme + "://" + back.Host + back.Path; got != origin+"/auth/callback" {
		t.Fatalf("provider redirected to %s; want %s/auth/callback", got, origin)
	}
	code, state := back.Query().Get("code"), back.Query().Get("state")
	if code == "" || state != q.Get("state") {
		t.Fatalf("provider redirect query %q; want a code and the state sent", back.RawQuery)
	}

	// Refusals that must not spend the state: an unknown state, a repeated parameter.
	for _, raw := range []string{
		url.Values{"code": {code}, "state": {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}.Encode(),
		"code=" + url.QueryEscape(code) + "&state=" + url.QueryEscape(state) + "&state=" + url.QueryEscape(state),
		"code=" + url.QueryEscape(code) + "&state=%zz",
	} {
		resp = a.invoke(t, "CallbackFunction", withCookies(withQuery(callbackEv, raw), jar))
		if resp.StatusCode != http.StatusBadRequest || resp.Body != bodyInvalidCallback || len(resp.Cookies) != 0 {
			t.Errorf("callback ?%s = %d %s, cookies %q; want 400 %s and no cookies", raw, resp.StatusCode, resp.Body, resp.Cookies, bodyInvalidCallback)
		}
	}

	// Callback: the session cookie, back to return_to. The binding cookie is left to expire: a
	// sign-in pending in another tab still needs it.
	signedIn := withCookies(withQuery(callbackEv, back.RawQuery), jar)
	resp = a.invoke(t, "CallbackFunction", signedIn)
	if resp.StatusCode != http.StatusFound || resp.Headers["Location"] != "/app/settings?tab=profile" {
		t.Fatalf("callback: %d Location %q %s; want 302 to the login's return_to /app/settings?tab=profile", resp.StatusCode, resp.Headers["Location"], resp.Body)
	}
	cookies := setCookies(t, resp)
	checkCookie(t, cookies["__Host-session"], "__Host-session", int((168 * time.Hour).Seconds()))
	if c, ok := cookies["__Host-signin_binding"]; ok {
		t.Errorf("callback: Set-Cookie %s; want the binding cookie left alone", c.Name)
	}
	apply(resp)
	sessionID := jar["__Host-session"]
	if len(sessionID) < 22 { // 128 bits in base64url
		t.Fatalf("session cookie value has %d characters; want at least 128 bits", len(sessionID))
	}

	// The same callback again: a state is usable exactly once.
	resp = a.invoke(t, "CallbackFunction", signedIn)
	if resp.StatusCode != http.StatusBadRequest || resp.Body != bodyInvalidCallback {
		t.Errorf("replayed callback = %d %s; want 400 %s", resp.StatusCode, resp.Body, bodyInvalidCallback)
	}

	resp = a.invoke(t, "MeFunction", withCookies(meEv, jar))
	if resp.StatusCode != http.StatusOK || resp.Body != bodyDemoUser {
		t.Fatalf("me = %d %s; want 200 %s", resp.StatusCode, resp.Body, bodyDemoUser)
	}

	// The authorizer allows the session's cookie (among others) with the user in the context.
	withTheme := maps.Clone(jar)
	withTheme["theme"] = "dark"
	allowed := a.authorize(t, withTheme)
	wantContext := map[string]any{"sub": devprovider.DemoUser.Subject, "email": devprovider.DemoUser.Email, "name": devprovider.DemoUser.Name,
		"iss": issuer, "session": store.Hash(sessionID)}
	exp, _ := allowed.Context["expires_at"].(float64)
	delete(allowed.Context, "expires_at")
	lifetime := time.Until(time.Unix(int64(exp), 0))
	if !allowed.IsAuthorized || !maps.Equal(allowed.Context, wantContext) || lifetime < 167*time.Hour || lifetime > 168*time.Hour {
		t.Errorf("authorizer with the session cookie = %v %v (expires_at in %v); want allowed with %v and expires_at in about 168h",
			allowed.IsAuthorized, allowed.Context, lifetime, wantContext)
	}

	// A cross-site logout changes nothing.
	resp = a.invoke(t, "LogoutFunction", withCookies(withHeader(logoutEv, "origin", "https://evil.example"), jar))
	if resp.StatusCode != http.StatusForbidden || len(resp.Cookies) != 0 {
		t.Errorf("cross-site logout = %d, cookies %q; want 403 and no cookies", resp.StatusCode, resp.Cookies)
	}
	revocations := a.provider.Calls(devprovider.PathRevoke)

	// Logout from the app's own origin (the sample's Origin header).
	resp = a.invoke(t, "LogoutFunction", withCookies(logoutEv, jar))
	if resp.StatusCode != http.StatusFound || resp.Headers["Location"] != "/" {
		t.Fatalf("logout = %d Location %q; want 302 to /", resp.StatusCode, resp.Headers["Location"])
	}
	checkCookie(t, setCookies(t, resp)["__Host-session"], "__Host-session", -1)
	if n := a.provider.Calls(devprovider.PathRevoke) - revocations; n != 1 {
		t.Errorf("logout made %d revocation calls; want 1", n)
	}
	apply(resp)
	if _, ok := jar["__Host-session"]; ok {
		t.Errorf("cookies after logout = %v; want no session cookie (the binding cookie expires by itself)", jar)
	}

	// The authorizer refuses the old cookie on the very next request (no cache), and a request
	// with other cookies only.
	if resp := a.authorize(t, map[string]string{"__Host-session": sessionID, "theme": "dark"}); resp.IsAuthorized || resp.Context != nil {
		t.Errorf("authorizer with the signed-out cookie = %+v; want refused", resp)
	}
	if resp := a.authorize(t, map[string]string{"theme": "dark"}); resp.IsAuthorized {
		t.Errorf("authorizer without a session cookie = %+v; want refused", resp)
	}

	// The old cookie (a browser that kept it) names no session any more.
	resp = a.invoke(t, "MeFunction", withCookies(meEv, map[string]string{"__Host-session": sessionID}))
	if resp.StatusCode != http.StatusUnauthorized || resp.Body != bodyUnauthenticated {
		t.Errorf("me after logout = %d %s; want 401 %s", resp.StatusCode, resp.Body, bodyUnauthenticated)
	}
	checkCookie(t, setCookies(t, resp)["__Host-session"], "__Host-session", -1)

	// Logout removed the session and token records, not just the cookie.
	out, err := a.ddb.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(a.table), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	for _, item := range out.Items {
		if pk, ok := item["pk"].(*types.AttributeValueMemberS); ok && !strings.HasPrefix(pk.Value, "state#") {
			t.Errorf("item %s left in the table after logout", pk.Value)
		}
	}

	a.checkLogs(t, map[string]string{"session id": sessionID, "code": code, "state": state,
		"binding cookie": binding, "client secret": devprovider.DefaultClientSecret})
	a.logColdStarts(t)
}

// checkLogs checks the functions' output: one JSON request line per invocation naming its
// invocation id, and none of the secret values anywhere.
func (a *lambdaApp) checkLogs(t *testing.T, secrets map[string]string) {
	t.Helper()
	for _, fn := range emulatedFunctions {
		e := a.fns[fn.logicalID]
		out := e.out.String()
		for what, v := range secrets {
			if v != "" && strings.Contains(out, v) {
				t.Errorf("%s output contains the %s", fn.logicalID, what)
			}
		}
		seen := map[string]bool{}
		for _, line := range e.requestLogs() {
			id, _ := line["request_id"].(string)
			if !strings.HasPrefix(id, "e2e-") || !strings.HasSuffix(id, "-"+fn.logicalID) {
				t.Errorf("%s request log line has request_id %q; want the invocation id", fn.logicalID, id)
			}
			seen[id] = true
		}
		if len(seen) == 0 {
			t.Errorf("%s wrote no request log line; output:\n%s", fn.logicalID, out)
		}
	}
}

// logColdStarts logs each function's INIT duration under the emulator and its size. Locally the
// INIT phase includes store.EnsureTable against DynamoDB Local (AWS_ENDPOINT_URL_DYNAMODB is set);
// BenchmarkColdStart measures without it.
func (a *lambdaApp) logColdStarts(t *testing.T) {
	t.Helper()
	for _, fn := range emulatedFunctions {
		d, ok := a.fns[fn.logicalID].initDuration()
		if !ok {
			t.Errorf("%s: no INIT REPORT line in the emulator's output", fn.logicalID)
			continue
		}
		t.Logf("%-18s init %7.1f ms  bootstrap %5.2f MiB (linux/%s)", fn.logicalID,
			float64(d)/float64(time.Millisecond), float64(a.sizes[fn.logicalID])/(1<<20), runtime.GOARCH)
	}
}
