package routes_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/serverless-signin/signin/pkg/store"
)

func TestMain(m *testing.M) {
	// zitadel's op logs every provider-side event through slog.Default.
	slog.SetDefault(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}

// One JSON line per request with the request id, route, status and
// duration, and no secret anywhere in the logs.
func TestLogs(t *testing.T) {
	a := newApp(t, setup{})
	b := a.browser()
	authorizeURL := b.login("/app")
	binding := b.jar[bindingCookie(true)]
	callback := b.authorize(authorizeURL)
	b.get(callback)
	id := b.sessionID()
	tok, err := a.store.GetTokens(context.Background(), store.Hash(id))
	if err != nil {
		t.Fatal(err)
	}
	b.get("/auth/me")
	b.jar[bindingCookie(true)] = binding
	b.get(callback) // a refused replay
	b.logout(nil)

	q := mustQuery(t, callback)
	secrets := map[string]string{
		"state":          q.Get("state"),
		"code":           q.Get("code"),
		"nonce":          authorizeURL.Query().Get("nonce"),
		"code challenge": authorizeURL.Query().Get("code_challenge"),
		"binding cookie": binding,
		"session cookie": id,
		"access token":   tok.AccessToken,
		"id token":       tok.IDToken,
		"client secret":  "dev-secret",
	}
	if tok.RefreshToken != "" {
		secrets["refresh token"] = tok.RefreshToken
	}
	logs := a.logs.String()
	for what, s := range secrets {
		if s == "" {
			t.Fatalf("test setup: no %s", what)
		}
		if strings.Contains(logs, s) {
			t.Errorf("logs contain the %s", what)
		}
	}

	lines := a.logs.Lines(t)
	wantRoutes := []string{"login", "callback", "me", "callback", "logout"}
	if len(lines) != len(wantRoutes) {
		t.Fatalf("%d log lines; want %d:\n%s", len(lines), len(wantRoutes), logs)
	}
	for i, l := range lines {
		if l["route"] != wantRoutes[i] || !strings.HasPrefix(l["request_id"].(string), "gw-") ||
			l["status"] == nil || l["duration_us"] == nil || l["msg"] != "request" {
			t.Errorf("log line %d = %v; want route %s, request_id, status, duration_us", i, l, wantRoutes[i])
		}
	}
	if l := lines[3]; l["level"] != "WARN" || l["status"] != 400.0 || l["detail"] != "state already used" {
		t.Errorf("refused replay logged as %v; want WARN, status 400, detail \"state already used\"", l)
	}
}

// In Lambda the invocation id names the request.
func TestLogsLambdaRequestID(t *testing.T) {
	a := newApp(t, setup{})
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"})
	if _, err := a.h.Me(ctx, a.browser().event("GET", "/auth/me", nil)); err != nil {
		t.Fatal(err)
	}
	if l := a.logs.Lines(t)[0]; l["request_id"] != "c6af9ac6-7b61-11e6-9a41-93e8deadbeef" {
		t.Errorf("request_id = %v; want the Lambda request id", l["request_id"])
	}
}

// unavailableStore fails every session read as DynamoDB being down would.
type unavailableStore struct{ store.Store }

func (unavailableStore) GetSession(context.Context, string) (store.Session, error) {
	return store.Session{}, fmt.Errorf("store: get session: %w: connection refused", store.ErrUnavailable)
}

// The logger's level filters the request lines; a failure's line carries
// both why (detail) and the underlying error.
func TestLogsLevel(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	h := newHandler(nil, unavailableStore{store.NewMemory()}, options{Logger: logger})
	me := func(cookie string) {
		t.Helper()
		req := events.APIGatewayV2HTTPRequest{RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "gw-" + cookie}}
		if cookie != "" {
			req.Cookies = []string{"__Host-session=" + cookie}
		}
		if _, err := h.Me(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	me("")                      // 200: below the level
	me("malformed")             // 401
	me(strings.Repeat("A", 43)) // 500
	var lines []map[string]any
	for l := range strings.Lines(buf.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 2 {
		t.Fatalf("logged %d lines at level WARN; want 2 (the 401 and the 500):\n%s", len(lines), buf.String())
	}
	if l := lines[0]; l["level"] != "WARN" || l["status"] != 401.0 || l["request_id"] != "gw-malformed" || l["detail"] != "malformed session cookie" || l["error"] != nil {
		t.Errorf("401 logged as %v; want WARN, status 401, its request id, detail and no error", l)
	}
	if l := lines[1]; l["level"] != "ERROR" || l["status"] != 500.0 || l["route"] != "me" || l["detail"] != "get session" ||
		l["error"] != "session: lookup: store: get session: store: unavailable: connection refused" || l["duration_us"] == nil || l["time"] == nil {
		t.Errorf("500 logged as %v; want ERROR, status 500, route, detail, the error, duration and time", l)
	}
}

// panicStore fails in the worst way.
type panicStore struct{ store.Store }

func (panicStore) GetSession(context.Context, string) (store.Session, error) { panic("boom") }

func TestPanicIsA500(t *testing.T) {
	a := newApp(t, setup{store: func(s store.Store) store.Store { return panicStore{s} }})
	b := a.browser()
	b.jar[sessionCookie(true)] = strings.Repeat("A", 43)
	resp, err := a.h.Me(context.Background(), b.event("GET", "/auth/me", nil))
	if err != nil {
		t.Fatalf("Me with a panicking store: error %v; want nil", err)
	}
	checkResponse(t, "me with a panicking store", resp, 500, `{"error":"Session lookup failed"}`)
	checkCookies(t, "me with a panicking store", resp)
	if l := a.logs.Lines(t)[0]; l["level"] != "ERROR" || l["detail"] != "panic" {
		t.Errorf("log line = %v; want level ERROR, detail panic", l)
	}
}

// blockingStore hangs in every call a route starts with until the request
// context ends, and records the deadline it was given.
type blockingStore struct {
	store.Store
	deadline chan time.Time
}

func (s blockingStore) block(ctx context.Context) error {
	d, _ := ctx.Deadline()
	s.deadline <- d
	<-ctx.Done()
	return ctx.Err()
}

func (s blockingStore) GetSession(ctx context.Context, _ string) (store.Session, error) {
	return store.Session{}, s.block(ctx)
}

func (s blockingStore) PutState(ctx context.Context, _ store.State) error { return s.block(ctx) }

func (s blockingStore) ConsumeState(ctx context.Context, _, _ string) (store.State, error) {
	return store.State{}, s.block(ctx)
}

func (s blockingStore) DeleteSession(ctx context.Context, _ string) (store.Session, store.Tokens, error) {
	return store.Session{}, store.Tokens{}, s.block(ctx)
}

// Outbound calls end before the Lambda deadline, leaving time to answer,
// on every route.
func TestDeadline(t *testing.T) {
	bs := blockingStore{deadline: make(chan time.Time, 1)}
	a := newApp(t, setup{store: func(s store.Store) store.Store { bs.Store = s; return bs }})
	b := a.browser()
	b.jar[sessionCookie(true)] = strings.Repeat("A", 43)
	b.jar[bindingCookie(true)] = strings.Repeat("Q", 43)
	routes := []struct {
		name   string
		serve  func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)
		event  events.APIGatewayV2HTTPRequest
		status int
		body   string
	}{
		{"me", a.h.Me, b.event("GET", "/auth/me", nil), 500, `{"error":"Session lookup failed"}`},
		{"login", a.h.Login, b.event("GET", "/auth/login", nil), 500, `{"error":"OAuth sign-in failed"}`},
		{"callback", a.h.Callback, b.event("GET", "/auth/callback?code=c&state=s", nil), 500, `{"error":"OAuth sign-in failed"}`},
		{"logout", a.h.Logout, b.event("POST", "/auth/logout", map[string]string{"origin": a.origin()}), 500, `{"error":"Sign-out failed"}`},
	}
	for _, r := range routes {
		t.Run(r.name, func(t *testing.T) {
			lambdaDeadline := time.Now().Add(time.Second)
			ctx, cancel := context.WithDeadline(context.Background(), lambdaDeadline)
			defer cancel()
			resp, _ := r.serve(ctx, r.event)
			checkResponse(t, r.name+" with a hanging store", resp, r.status, r.body)
			select {
			case got := <-bs.deadline:
				if !got.Before(lambdaDeadline.Add(-400 * time.Millisecond)) {
					t.Errorf("store call deadline = %v; want at least 400ms before the Lambda deadline %v", got, lambdaDeadline)
				}
			default:
				t.Fatalf("%s made no store call; want one", r.name)
			}

			// Without a Lambda deadline there is still one.
			ctx, cancel = context.WithCancel(context.Background())
			defer cancel()
			done := make(chan events.APIGatewayV2HTTPResponse)
			go func() {
				resp, _ := r.serve(ctx, r.event)
				done <- resp
			}()
			if got := <-bs.deadline; got.IsZero() {
				t.Errorf("store call without a Lambda deadline had no deadline; want a default bound")
			}
			cancel()
			checkResponse(t, r.name+" cancelled", <-done, r.status, r.body)
		})
	}
}

func TestRoute(t *testing.T) {
	a := newApp(t, setup{})
	b := a.browser()
	tests := []struct {
		method, path string
		status       int
		body, allow  string
	}{
		{"GET", "/auth/unknown", 404, `{"error":"Not found"}`, ""},
		{"GET", "/", 404, `{"error":"Not found"}`, ""},
		{"GET", "/auth/logout", 405, `{"error":"Method not allowed"}`, "POST"},
		{"POST", "/auth/me", 405, `{"error":"Method not allowed"}`, "GET"},
		{"GET", "/auth/me", 200, unauthenticated, ""},
	}
	for _, tt := range tests {
		resp, err := a.h.Route(context.Background(), b.event(tt.method, tt.path, nil))
		if err != nil {
			t.Fatal(err)
		}
		checkResponse(t, tt.method+" "+tt.path, resp, tt.status, tt.body)
		if resp.Headers["Allow"] != tt.allow {
			t.Errorf("%s %s: Allow = %q; want %q", tt.method, tt.path, resp.Headers["Allow"], tt.allow)
		}
	}
}

// The handlers speak the Lambda JSON contract as the runtime invokes them.
func TestLambdaInvoke(t *testing.T) {
	a := newApp(t, setup{})
	payload, err := os.ReadFile("testdata/me-event.json")
	if err != nil {
		t.Fatal(err)
	}
	out, err := lambda.NewHandler(a.h.Me).Invoke(context.Background(), payload)
	if err != nil {
		t.Fatalf("Invoke(me event) = %v", err)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("response %s: %v", out, err)
	}
	checkResponse(t, "me (forged cookie) through the Lambda runtime", resp, 401, unauthenticated)
	checkCookies(t, "me (forged cookie) through the Lambda runtime", resp, wantCookie("__Host-session", "", 0, true))

	// No cookies to set is an empty list, not null.
	out, err = lambda.NewHandler(a.h.Me).Invoke(context.Background(), []byte(`{"rawPath":"/auth/me","requestContext":{"http":{"method":"GET"}}}`))
	if err != nil || !strings.Contains(string(out), `"cookies":[]`) {
		t.Errorf("Invoke(me without cookie) = %s, %v; want \"cookies\":[]", out, err)
	}
}

// The zero Options are usable.
func TestNewDefaults(t *testing.T) {
	h := newHandler(nil, store.NewMemory(), options{Logger: slog.New(slog.DiscardHandler)})
	resp, err := h.Me(context.Background(), events.APIGatewayV2HTTPRequest{})
	if err != nil {
		t.Fatal(err)
	}
	checkResponse(t, "me on zero Options", resp, 200, unauthenticated)
	// Login without an OAuth client (the me-only binary) fails cleanly.
	resp, _ = h.Login(context.Background(), events.APIGatewayV2HTTPRequest{})
	checkResponse(t, "login without client", resp, 500, `{"error":"OAuth sign-in failed"}`)
}
