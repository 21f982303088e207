//go:build linux

package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/serverless-signin/signin/internal/dynamotest"
	"github.com/serverless-signin/signin/pkg/store"
)

// Values the contract tests share.
const (
	bodySignInFailed = `{"error":"OAuth sign-in failed"}`
	httpsHost        = "abc123defg.execute-api.us-east-1.amazonaws.com" // the sample events' API
	httpHost         = "localhost:3000"                                 // a local gateway, with a port
	defaultLifetime  = 7 * 24 * 60 * 60                                 // SESSION_LIFETIME=168h, in seconds
)

// TestContract is the black-box check of docs/contract.md §1 (and the parts of §5, §6 and §7 a client can
// observe) through the built bootstrap binaries under the Lambda runtime emulator, driven with
// payload-2.0 events as API Gateway would send them. DevProvider signs in through the real
// in-process OpenID provider and attacks the routes as a hostile browser would; Adversary runs an
// OpenID provider that misbehaves in one precise way per subtest; Config and StorageOutage break
// the configuration and DynamoDB. Every answer is checked for
// Cache-Control: no-store and a JSON Content-Type on bodies; every failure for the exact body, no
// session cookie and no session or token record; and every function's output, at the end, for
// each code, token, verifier, state, nonce, cookie value and client secret the test saw.
func TestContract(t *testing.T) {
	if testing.Short() {
		t.Skip("builds four binaries and runs them under the Lambda runtime emulator; skipped with -short")
	}
	c := newContract(t)
	t.Run("Config", c.config)
	t.Run("DevProvider", c.devProvider)
	t.Run("Adversary", c.adversary)
	t.Run("StorageOutage", c.storageOutage)
}

// contract is what the subtests share: the binaries, the table, the sample events and the me
// function (which needs nothing but the table).
type contract struct {
	rie        string
	bootstraps map[string]string
	ddb        *dynamodb.Client
	table      string
	endpoint   string
	seq        atomic.Int64

	loginEv, callbackEv, meEv, logoutEv events.APIGatewayV2HTTPRequest
	me                                  *function

	mu      sync.Mutex
	fns     []*function       // every function started, for the log check
	secrets map[string]string // value → what it is: must appear in no output
}

// newContract builds the binaries and the emulator, creates the table and starts me; at the end
// it checks every function's output and the table for leaked secrets.
func newContract(t *testing.T) *contract {
	t.Helper()
	ddb, table := dynamotest.NewTable(t) // skips (or fails under REQUIRE_DYNAMODB=1) without DynamoDB Local
	rie, bootstraps := buildLambdas(t)
	c := &contract{
		rie: rie, bootstraps: bootstraps, ddb: ddb, table: table, endpoint: aws.ToString(ddb.Options().BaseEndpoint),
		loginEv: loadEvent(t, "login.json"), callbackEv: loadEvent(t, "callback.json"),
		meEv: loadEvent(t, "me.json"), logoutEv: loadEvent(t, "logout.json"),
		secrets: map[string]string{},
	}
	c.me = c.start(t, "MeFunction", "me", "", "", "", nil)
	t.Cleanup(func() {
		c.checkLogs(t)
		c.checkTable(t)
	})
	return c
}

// checkTable dumps the table: no raw session id, binding cookie value or state may be in it (docs/contract.md
// §5: a table dump yields no usable cookie).
func (c *contract) checkTable(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	p := dynamodb.NewScanPaginator(c.ddb, &dynamodb.ScanInput{TableName: aws.String(c.table)})
	n := 0
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("Scan: %v", err)
		}
		for _, item := range out.Items {
			n++
			for attr, av := range item {
				s, ok := av.(*types.AttributeValueMemberS)
				if !ok {
					continue
				}
				for v, what := range c.secrets {
					if (what == "session id" || what == "binding cookie" || what == "state") && strings.Contains(s.Value, v) {
						t.Errorf("table item %s attribute %s holds a raw %s", item["pk"].(*types.AttributeValueMemberS).Value, attr, what)
					}
				}
			}
		}
	}
	t.Logf("table dump: %d items checked", n)
}

// function is one emulator serving one bootstrap with one environment.
type function struct {
	c         *contract
	logicalID string
	name      string
	e         *emulator
}

// unset, as a value in start's extra, removes the variable.
const unset = "\x00unset"

// start runs a function of template.yaml under its own emulator, with the template's environment
// for issuer and client, extra on top. It stops when t ends.
func (c *contract) start(t *testing.T, logicalID, name, issuer, clientID, secret string, extra map[string]string) *function {
	t.Helper()
	i := slices.IndexFunc(samFunctions, func(f samFunction) bool { return f.logicalID == logicalID })
	env := lambdaEnv(samFunctions[i], c.table, issuer, clientID, secret, map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": c.endpoint})
	for k, v := range extra {
		if v == unset {
			delete(env, k)
		} else {
			env[k] = v
		}
	}
	f := &function{c: c, logicalID: logicalID, name: name, e: startEmulator(t, name, c.rie, c.bootstraps[logicalID], env)}
	c.mu.Lock()
	c.fns = append(c.fns, f)
	if secret != "" {
		c.secrets[secret] = "client secret"
	}
	c.mu.Unlock()
	return f
}

// warm runs the function's cold start with a request it answers without any outbound call, so
// that a test about deadlines times requests, not cold starts.
func (f *function) warm(t *testing.T) {
	t.Helper()
	var ev events.APIGatewayV2HTTPRequest
	switch f.logicalID {
	case "LoginFunction":
		ev = f.c.loginEv // without a host, login has no redirect URI: a 500 before any call
		ev.RequestContext.DomainName = ""
		ev.Headers = maps.Clone(ev.Headers)
		delete(ev.Headers, "host")
	case "CallbackFunction":
		ev = withQuery(f.c.callbackEv, "") // no state: a 400 before any call
	case "LogoutFunction":
		ev = withHeader(f.c.logoutEv, "origin", "https://evil.example") // a 403 before any call
	default:
		ev = withCookies(f.c.meEv, nil) // no cookie: a 200 before any call
	}
	f.e.invoke(t, f.c.requestID(), ev)
}

// invoke runs one event and checks what docs/contract.md §1 asks of every answer.
func (f *function) invoke(t *testing.T, ev events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	t.Helper()
	resp, _ := f.e.invoke(t, f.c.requestID(), ev)
	checkAnswer(t, f.name, resp)
	return resp
}

func (c *contract) requestID() string {
	return fmt.Sprintf("contract-%04d", c.seq.Add(1))
}

// checkAnswer checks what every answer carries: Cache-Control: no-store, a JSON Content-Type and
// valid JSON on a body, a Location on a redirect, and cookies only in the cookies field.
func checkAnswer(t *testing.T, name string, resp events.APIGatewayV2HTTPResponse) {
	t.Helper()
	if got := resp.Headers["Cache-Control"]; got != "no-store" {
		t.Errorf("%s %d: Cache-Control = %q; want no-store", name, resp.StatusCode, got)
	}
	if resp.Body != "" {
		if got := resp.Headers["Content-Type"]; got != "application/json" {
			t.Errorf("%s %d: Content-Type = %q for body %s; want application/json", name, resp.StatusCode, got, resp.Body)
		}
		if !json.Valid([]byte(resp.Body)) {
			t.Errorf("%s %d: body %q is not JSON", name, resp.StatusCode, resp.Body)
		}
	}
	if resp.StatusCode == http.StatusFound && resp.Headers["Location"] == "" {
		t.Errorf("%s: 302 without a Location", name)
	}
	for k := range resp.Headers {
		if strings.EqualFold(k, "Set-Cookie") {
			t.Errorf("%s: Set-Cookie in headers; payload 2.0 cookies go in the cookies field", name)
		}
	}
	if len(resp.MultiValueHeaders) != 0 {
		t.Errorf("%s: multiValueHeaders %v; payload 2.0 has none", name, resp.MultiValueHeaders)
	}
}

// secret records a value that no function may ever write to its output.
func (c *contract) secret(what, value string) {
	if len(value) < 8 {
		return
	}
	c.mu.Lock()
	c.secrets[value] = what
	c.mu.Unlock()
}

// checkLogs checks every function's output for every secret value seen.
func (c *contract) checkLogs(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var pairs []string
	for v, what := range c.secrets {
		pairs = append(pairs, v, "<"+what+">")
	}
	blank := strings.NewReplacer(pairs...)
	for _, f := range c.fns {
		out := f.e.out.String()
		if os.Getenv("CONTRACT_DUMP") != "" {
			os.WriteFile(filepath.Join(os.Getenv("CONTRACT_DUMP"), f.name+".log"), []byte(out), 0o644)
		}
		for line := range strings.Lines(out) {
			for v, what := range c.secrets {
				if strings.Contains(line, v) {
					// The line, with the values blanked out, shows where it leaked.
					t.Errorf("%s output contains a %s: %s", f.name, what, blank.Replace(strings.TrimSpace(line)))
				}
			}
		}
	}
}

// sessionRecords lists the session and token records in the table (their keys).
func (c *contract) sessionRecords(t *testing.T) []string {
	t.Helper()
	var keys []string
	p := dynamodb.NewScanPaginator(c.ddb, &dynamodb.ScanInput{TableName: aws.String(c.table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		out, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatalf("Scan: %v", err)
		}
		for _, item := range out.Items {
			pk, _ := item["pk"].(*types.AttributeValueMemberS)
			if pk != nil && !strings.HasPrefix(pk.Value, "state#") {
				keys = append(keys, pk.Value)
			}
		}
	}
	slices.Sort(keys)
	return keys
}

// noNewRecords fails when the table holds session or token records that were not in before.
func (c *contract) noNewRecords(t *testing.T, what string, before []string) {
	t.Helper()
	for _, k := range c.sessionRecords(t) {
		if !slices.Contains(before, k) {
			t.Errorf("%s left record %s in the table; want no session or token record", what, k)
		}
	}
}

// record reads one item by key (nil when absent).
func (c *contract) record(t *testing.T, pk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := c.ddb.GetItem(t.Context(), &dynamodb.GetItemInput{
		TableName: aws.String(c.table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}},
	})
	if err != nil {
		t.Fatalf("GetItem %s: %v", pk, err)
	}
	return out.Item
}

// agent is one browser behind the gateway: its scheme and host, and its cookie jar.
type agent struct {
	https bool
	host  string
	jar   map[string]string
}

func newAgent(https bool) *agent {
	if https {
		return &agent{https: true, host: httpsHost, jar: map[string]string{}}
	}
	return &agent{host: httpHost, jar: map[string]string{}}
}

func (b *agent) origin() string {
	if b.https {
		return "https://" + b.host
	}
	return "http://" + b.host
}

// sessionCookie and bindingCookie are the cookie names ARCHITECTURE.md gives this scheme.
func (b *agent) sessionCookie() string {
	if b.https {
		return "__Host-session"
	}
	return "session"
}

func (b *agent) bindingCookie() string {
	if b.https {
		return "__Host-signin_binding"
	}
	return "signin_binding"
}

// request makes a sample event this browser's: its query, host, scheme, Origin and cookies.
func (b *agent) request(ev events.APIGatewayV2HTTPRequest, rawQuery string) events.APIGatewayV2HTTPRequest {
	ev = withQuery(ev, rawQuery)
	ev.RequestContext.DomainName = b.host
	ev.Headers = maps.Clone(ev.Headers)
	ev.Headers["host"] = b.host
	if b.https {
		ev.Headers["x-forwarded-proto"], ev.Headers["x-forwarded-port"] = "https", "443"
	} else {
		ev.Headers["x-forwarded-proto"], ev.Headers["x-forwarded-port"] = "http", "3000"
	}
	if _, ok := ev.Headers["origin"]; ok {
		ev.Headers["origin"] = b.origin()
	}
	if r, ok := ev.Headers["referer"]; ok && strings.HasPrefix(r, "https://"+httpsHost) {
		ev.Headers["referer"] = b.origin() + strings.TrimPrefix(r, "https://"+httpsHost)
	}
	return withCookies(ev, b.jar)
}

// apply stores an answer's cookies as a browser would (Max-Age=0 deletes).
func (b *agent) apply(t *testing.T, resp events.APIGatewayV2HTTPResponse) {
	t.Helper()
	for name, c := range setCookies(t, resp) {
		if c.MaxAge < 0 {
			delete(b.jar, name)
		} else {
			b.jar[name] = c.Value
		}
	}
}

// checkSetCookie finds the one Set-Cookie named name and checks it against docs/contract.md §1: HttpOnly,
// SameSite=Lax, Path=/, no Domain, Secure exactly on https, and Max-Age maxAge; maxAge 0 means a
// clearing cookie, Max-Age=0 with an empty value.
func checkSetCookie(t *testing.T, what string, resp events.APIGatewayV2HTTPResponse, name string, https bool, maxAge int) *http.Cookie {
	t.Helper()
	var found []string
	for _, line := range resp.Cookies {
		if c, err := http.ParseSetCookie(line); err == nil && c.Name == name {
			found = append(found, line)
		}
	}
	if len(found) != 1 {
		t.Errorf("%s: %d Set-Cookie for %s in %q; want 1", what, len(found), name, resp.Cookies)
		return nil
	}
	c, _ := http.ParseSetCookie(found[0])
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" || c.Secure != https {
		t.Errorf("%s: Set-Cookie %q; want HttpOnly; SameSite=Lax; Path=/; no Domain; Secure %v", what, found[0], https)
	}
	if maxAge == 0 {
		if c.Value != "" || !strings.Contains(found[0], "Max-Age=0") {
			t.Errorf("%s: Set-Cookie %q; want %s cleared: an empty value and Max-Age=0", what, found[0], name)
		}
	} else if c.MaxAge != maxAge {
		t.Errorf("%s: Set-Cookie %q has Max-Age %d; want %d", what, found[0], c.MaxAge, maxAge)
	}
	return c
}

// noCookie fails when the answer sets (or clears) the named cookie.
func noCookie(t *testing.T, what string, resp events.APIGatewayV2HTTPResponse, name string) {
	t.Helper()
	for _, line := range resp.Cookies {
		if c, err := http.ParseSetCookie(line); err == nil && c.Name == name {
			t.Errorf("%s: Set-Cookie %q; want none for %s", what, line, name)
		}
	}
}

// wantAnswer checks status and exact body.
func wantAnswer(t *testing.T, what string, resp events.APIGatewayV2HTTPResponse, status int, body string) {
	t.Helper()
	if resp.StatusCode != status || resp.Body != body {
		t.Errorf("%s = %d %s; want %d %s", what, resp.StatusCode, resp.Body, status, body)
	}
}

// bits is the entropy a random base64url value can carry (0 when it is not base64url).
func bits(v string) int {
	if _, err := base64.RawURLEncoding.DecodeString(v); err != nil || strings.ContainsAny(v, "=+/") {
		return 0
	}
	return len(v) * 6
}

// authorizeRequest is what a login redirected to.
type authorizeRequest struct {
	url   *url.URL
	query url.Values
}

// login runs GET /auth/login for b and checks the answer: 302, a binding cookie per docs/contract.md §1 (kept
// in b's jar), and an authorize URL with every required parameter once. rawQuery is the login's
// query (return_to).
func (c *contract) login(t *testing.T, fn *function, b *agent, rawQuery string) authorizeRequest {
	t.Helper()
	resp := fn.invoke(t, b.request(c.loginEv, rawQuery))
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("login ?%s = %d %s; want 302", rawQuery, resp.StatusCode, resp.Body)
	}
	checkSetCookie(t, "login", resp, b.bindingCookie(), b.https, 600)
	b.apply(t, resp)
	c.secret("binding cookie", b.jar[b.bindingCookie()])
	u, err := url.Parse(resp.Headers["Location"])
	if err != nil {
		t.Fatalf("login Location %q: %v", resp.Headers["Location"], err)
	}
	q := u.Query()
	for _, k := range []string{"response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge", "code_challenge_method"} {
		if len(q[k]) != 1 || q.Get(k) == "" {
			t.Errorf("authorize URL has %q for %s; want one value", q[k], k)
		}
	}
	for k, want := range map[string]string{
		"response_type": "code", "redirect_uri": b.origin() + "/auth/callback",
		"scope": "openid profile email", "code_challenge_method": "S256",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("authorize URL %s = %q; want %q", k, got, want)
		}
	}
	for _, k := range []string{"state", "nonce"} {
		if n := bits(q.Get(k)); n < 128 {
			t.Errorf("authorize URL %s %q carries %d random bits; want >= 128", k, q.Get(k), n)
		}
	}
	if got := q.Get("code_challenge"); bits(got) != 43*6 {
		t.Errorf("code_challenge %q is not a base64url SHA-256 (43 characters)", got)
	}
	c.secret("state", q.Get("state"))
	c.secret("nonce", q.Get("nonce"))
	return authorizeRequest{url: u, query: q}
}

// signedIn checks a successful callback: 302 to want, the session cookie per docs/contract.md §1 with
// Max-Age lifetime, the binding cookie left alone (another tab's sign-in may still need it), and
// the session and token records in the table. It returns the session id (kept in b's jar).
func (c *contract) signedIn(t *testing.T, resp events.APIGatewayV2HTTPResponse, b *agent, want string, lifetime int) string {
	t.Helper()
	if resp.StatusCode != http.StatusFound || resp.Headers["Location"] != want {
		t.Fatalf("callback = %d Location %q %s; want 302 to %s", resp.StatusCode, resp.Headers["Location"], resp.Body, want)
	}
	checkSetCookie(t, "callback", resp, b.sessionCookie(), b.https, lifetime)
	noCookie(t, "callback", resp, b.bindingCookie())
	b.apply(t, resp)
	id := b.jar[b.sessionCookie()]
	c.secret("session id", id)
	if n := bits(id); n < 128 {
		t.Errorf("session id %q carries %d random bits; want >= 128", id, n)
	}
	for _, pk := range []string{"session#" + store.Hash(id), "tokens#" + store.Hash(id)} {
		if c.record(t, pk) == nil {
			t.Errorf("no record %s after sign-in", pk)
		}
	}
	return id
}

// meBody is /auth/me's signed-in answer for a user, keys in the contract's order.
func meBody(sub, email, name string) string {
	out, _ := json.Marshal(map[string]any{"authenticated": true, "user": struct {
		ID    string `json:"id"`
		Email string `json:"email"`
		Name  string `json:"name"`
	}{sub, email, name}})
	return string(out)
}

// checkSignedOut checks /auth/me for a cookie that names no live session: 401 and the cookie
// cleared.
func (c *contract) checkSignedOut(t *testing.T, what string, b *agent, cookies map[string]string) {
	t.Helper()
	jar := b.jar
	defer func() { b.jar = jar }()
	b.jar = cookies
	resp := c.me.invoke(t, b.request(c.meEv, ""))
	wantAnswer(t, what, resp, http.StatusUnauthorized, bodyUnauthenticated)
	checkSetCookie(t, what, resp, b.sessionCookie(), b.https, 0)
}

// checkMe checks /auth/me for b's cookies.
func (c *contract) checkMe(t *testing.T, what string, b *agent, want string) {
	t.Helper()
	resp := c.me.invoke(t, b.request(c.meEv, ""))
	wantAnswer(t, what, resp, http.StatusOK, want)
	if len(resp.Cookies) != 0 {
		t.Errorf("%s: Set-Cookie %q; want none", what, resp.Cookies)
	}
}

// storageOutage: DynamoDB accepts connections and never answers. Every route must still answer
// its 500 within the function's timeout (4 s here), never hang or be killed (docs/contract.md §6); me must
// not sign anybody out for it, logout must clear the cookie anyway.
func (c *contract) storageOutage(t *testing.T) {
	hole := blackHole(t)
	// Through an AWS config file rather than AWS_ENDPOINT_URL_DYNAMODB (internal/lambdaenv's tests
	// cover that one): the functions honour the SDK's own configuration too. Neither makes a
	// DynamoDB call at cold start.
	config := filepath.Join(t.TempDir(), "aws-config")
	err := os.WriteFile(config, fmt.Appendf(nil, "[default]\nservices = hole\n\n[services hole]\ndynamodb =\n  endpoint_url = http://%s\n", hole), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	extra := map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": unset, "AWS_CONFIG_FILE": config, "AWS_LAMBDA_FUNCTION_TIMEOUT": "4"}
	const issuer = "https://auth.example.test" // never called: every route stops at the store
	b := newAgent(true)
	b.jar = map[string]string{b.sessionCookie(): randomValue(), b.bindingCookie(): randomValue()}
	calls := []struct {
		logicalID string
		ev        events.APIGatewayV2HTTPRequest
		check     func(t *testing.T, resp events.APIGatewayV2HTTPResponse)
	}{
		{"LoginFunction", b.request(c.loginEv, ""), func(t *testing.T, resp events.APIGatewayV2HTTPResponse) {
			noCookie(t, "login", resp, b.bindingCookie())
		}},
		{"CallbackFunction", b.request(c.callbackEv, url.Values{"code": {randomValue()}, "state": {randomValue()}}.Encode()), func(t *testing.T, resp events.APIGatewayV2HTTPResponse) {
			wantAnswer(t, "callback", resp, http.StatusInternalServerError, bodySignInFailed)
			noCookie(t, "callback", resp, b.sessionCookie())
		}},
		{"MeFunction", b.request(c.meEv, ""), func(t *testing.T, resp events.APIGatewayV2HTTPResponse) {
			noCookie(t, "me", resp, b.sessionCookie())
		}},
		{"LogoutFunction", b.request(c.logoutEv, ""), func(t *testing.T, resp events.APIGatewayV2HTTPResponse) {
			checkSetCookie(t, "logout", resp, b.sessionCookie(), true, 0)
		}},
	}
	fns := make([]*function, len(calls))
	for i, call := range calls {
		fns[i] = c.start(t, call.logicalID, "outage-"+call.logicalID, issuer, "client", "outage-client-secret", extra)
		fns[i].warm(t)
	}
	resps := make([]events.APIGatewayV2HTTPResponse, len(calls))
	errs := make([]error, len(calls))
	took := make([]time.Duration, len(calls))
	var wg sync.WaitGroup
	for i, call := range calls {
		wg.Go(func() { resps[i], took[i], errs[i] = fns[i].e.tryInvoke(t.Context(), c.requestID(), call.ev) })
	}
	wg.Wait()
	for i, call := range calls {
		t.Run(call.logicalID, func(t *testing.T) {
			if errs[i] != nil {
				t.Fatalf("with DynamoDB not answering: %v", errs[i])
			}
			t.Logf("answered %d after %v", resps[i].StatusCode, took[i].Round(time.Millisecond))
			checkAnswer(t, fns[i].name, resps[i])
			if resps[i].StatusCode != http.StatusInternalServerError || !strings.Contains(resps[i].Body, `"error"`) {
				t.Errorf("with DynamoDB not answering = %d %s; want a 500 with a JSON error", resps[i].StatusCode, resps[i].Body)
			}
			call.check(t, resps[i])
		})
	}
}

// blackHole listens on a loopback port, accepts every connection and never answers.
func blackHole(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
			go io.Copy(io.Discard, conn)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, conn := range conns {
			conn.Close()
		}
	})
	return l.Addr().String()
}

// config: missing or invalid configuration fails the cold start with a message naming the
// variable (docs/contract.md §4), and never echoes a value (a secret pasted into the wrong variable).
func (c *contract) config(t *testing.T) {
	const pasted = "pasted-secret-5b7c9d1e3f"
	for _, tc := range []struct {
		name, logicalID string
		env             map[string]string
		want            []string
	}{
		{"login without an issuer", "LoginFunction", map[string]string{"OAUTH_ISSUER": ""}, []string{"OAUTH_ISSUER"}},
		{"login without a client id", "LoginFunction", map[string]string{"OAUTH_CLIENT_ID": ""}, []string{"OAUTH_CLIENT_ID"}},
		{"login with an unknown prompt", "LoginFunction", map[string]string{"OAUTH_PROMPT": pasted}, []string{"OAUTH_PROMPT"}},
		{"callback without a client secret", "CallbackFunction", map[string]string{"OAUTH_CLIENT_SECRET": ""}, []string{"OAUTH_CLIENT_SECRET"}},
		{"callback with a bad session lifetime", "CallbackFunction", map[string]string{"SESSION_LIFETIME": pasted}, []string{"SESSION_LIFETIME"}},
		{"logout without a table", "LogoutFunction", map[string]string{"TABLE_NAME": "", "OAUTH_SCOPES": pasted + `\`}, []string{"TABLE_NAME", "OAUTH_SCOPES"}},
		{"me without a table", "MeFunction", map[string]string{"TABLE_NAME": ""}, []string{"TABLE_NAME"}},
		// Without openid no ID token is checked: a configuration error, never a weaker sign-in.
		{"callback with scopes without openid", "CallbackFunction", map[string]string{"OAUTH_SCOPES": "profile email"}, []string{"OAUTH_SCOPES"}},
		{"login with scopes without openid", "LoginFunction", map[string]string{"OAUTH_SCOPES": "email"}, []string{"OAUTH_SCOPES"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const issuer = "https://auth.example.test"
			f := c.start(t, tc.logicalID, "config-"+tc.logicalID, issuer, "client", "config-client-secret", tc.env)
			resp, _, err := f.e.tryInvoke(t.Context(), c.requestID(), c.meEv)
			if err == nil {
				t.Fatalf("invoke = %d %s; want the cold start to fail", resp.StatusCode, resp.Body)
			}
			// The emulator answers as soon as the runtime dies, while the
			// bootstrap's last output may still be on its way through the
			// pipe: wait for it (bounded) before reading.
			out := waitForOutput(f.e.out.String, tc.want, 5*time.Second)
			for _, name := range tc.want {
				if !strings.Contains(out, name) {
					t.Errorf("cold start output does not name %s:\n%s", name, out)
				}
			}
			if strings.Contains(out, pasted) {
				t.Errorf("cold start output echoes a configured value:\n%s", out)
			}
		})
	}
}

// waitForOutput returns read() once it contains every one of want, or its
// last value when timeout passes first.
func waitForOutput(read func() string, want []string, timeout time.Duration) string {
	deadline := time.Now().Add(timeout)
	for {
		out := read()
		all := true
		for _, w := range want {
			all = all && strings.Contains(out, w)
		}
		if all || time.Now().After(deadline) {
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
}
