package routes_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/serverless-signin/signin/internal/devprovider"
	"github.com/serverless-signin/signin/internal/dynamotest"
	"github.com/serverless-signin/signin/internal/routes"
	"github.com/serverless-signin/signin/pkg/oauth"
	"github.com/serverless-signin/signin/pkg/session"
	"github.com/serverless-signin/signin/pkg/signin"
	"github.com/serverless-signin/signin/pkg/store"
)

// Per-route handler latency against the memory store and DynamoDB Local, with the real dev
// provider where a route calls one. scripts/bench.sh runs these with DynamoDB Local started;
// BENCHMARKS.md records the figures. Logs are formatted as in production but discarded.

const benchHost = "bench.example.test"

// benchStores are the store implementations each route is measured against.
var benchStores = []struct {
	name string
	open func(b *testing.B) store.Store
}{
	{"memory", func(*testing.B) store.Store { return store.NewMemory() }},
	{"dynamodb", func(b *testing.B) store.Store {
		client, table := dynamotest.NewTable(b) // skips without DynamoDB Local
		return store.NewDynamoDB(client, table)
	}},
}

// benchProvider starts the dev provider and a client for it whose authorize endpoint is
// configured, so login makes no provider call, as in production.
func benchProvider(b *testing.B) (*devprovider.Provider, *oauth.Client) {
	b.Helper()
	p, err := devprovider.Start(devprovider.Options{})
	if err != nil {
		b.Fatalf("devprovider.Start: %v", err)
	}
	b.Cleanup(p.Close)
	p.AllowRedirectURI(devprovider.DefaultClientID, "https://"+benchHost+"/auth/callback")
	client, err := oauth.NewClient(oauth.Config{
		Issuer: p.Issuer(), ClientID: devprovider.DefaultClientID, ClientSecret: devprovider.DefaultClientSecret,
		AuthorizeURL: p.Issuer() + devprovider.PathAuthorize,
	})
	if err != nil {
		b.Fatalf("oauth.NewClient: %v", err)
	}
	return p, client
}

func benchHandler(client *oauth.Client, st store.Store) *routes.Handler {
	return newHandler(client, st, options{Logger: session.NewLogger(io.Discard)})
}

// benchEvent is a payload-2.0 event as API Gateway sends it over https.
func benchEvent(method, path, rawQuery string, cookies ...string) events.APIGatewayV2HTTPRequest {
	headers := map[string]string{
		"accept":            "text/html,application/json",
		"host":              benchHost,
		"user-agent":        "Mozilla/5.0 (X11; Linux x86_64) bench",
		"x-forwarded-for":   "203.0.113.10",
		"x-forwarded-port":  "443",
		"x-forwarded-proto": "https",
	}
	if method == http.MethodPost {
		headers["origin"] = "https://" + benchHost
	}
	return events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: method + " " + path, RawPath: path, RawQueryString: rawQuery, Cookies: cookies,
		Headers: headers,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: method + " " + path, DomainName: benchHost, RequestID: "bench-request",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path},
		},
	}
}

// benchSession writes a live session with tokens, as a callback would, and returns its id.
func benchSession(b *testing.B, st store.Store) string {
	b.Helper()
	raw := make([]byte, 32)
	rand.Read(raw)
	id := base64.RawURLEncoding.EncodeToString(raw)
	now := time.Now()
	err := st.CreateSession(context.Background(), store.Session{
		Key:    store.Hash(id),
		User:   signin.User{Subject: "bench-user-0001", Email: "bench@example.com", Name: "Bench User"},
		Issuer: "https://issuer.example", CreatedAt: now, ExpiresAt: now.Add(time.Hour),
	}, store.Tokens{
		Token:     signin.Token{AccessToken: "bench-access-token", RefreshToken: "bench-refresh-token", TokenType: "Bearer", Expiry: now.Add(5 * time.Minute)},
		ExpiresAt: now.Add(time.Hour),
	})
	if err != nil {
		b.Fatalf("CreateSession: %v", err)
	}
	return id
}

func benchStatus(b *testing.B, route string, resp events.APIGatewayV2HTTPResponse, err error, want int) {
	if err != nil || resp.StatusCode != want {
		b.Fatalf("%s = %d %s, %v; want %d", route, resp.StatusCode, resp.Body, err, want)
	}
}

// BenchmarkLogin: state record (one PutItem) and the redirect; no provider call.
func BenchmarkLogin(b *testing.B) {
	_, client := benchProvider(b)
	for _, s := range benchStores {
		b.Run(s.name, func(b *testing.B) {
			h := benchHandler(client, s.open(b))
			ev := benchEvent(http.MethodGet, "/auth/login", "return_to=%2Fapp%2Fsettings%3Ftab%3Dprofile")
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				resp, err := h.Login(ctx, ev)
				benchStatus(b, "Login", resp, err, http.StatusFound)
			}
		})
	}
}

// BenchmarkMe: one session read.
func BenchmarkMe(b *testing.B) {
	for _, s := range benchStores {
		b.Run(s.name, func(b *testing.B) {
			st := s.open(b)
			h := benchHandler(nil, st)
			ev := benchEvent(http.MethodGet, "/auth/me", "", "__Host-session="+benchSession(b, st))
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				resp, err := h.Me(ctx, ev)
				benchStatus(b, "Me", resp, err, http.StatusOK)
			}
		})
	}
}

// BenchmarkLogout: the session and token deletes and the revocation at the dev provider. Each
// iteration signs out a session written (untimed) just before.
func BenchmarkLogout(b *testing.B) {
	_, client := benchProvider(b)
	for _, s := range benchStores {
		b.Run(s.name, func(b *testing.B) {
			st := s.open(b)
			h := benchHandler(client, st)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				ev := benchEvent(http.MethodPost, "/auth/logout", "", "__Host-session="+benchSession(b, st))
				b.StartTimer()
				resp, err := h.Logout(ctx, ev)
				benchStatus(b, "Logout", resp, err, http.StatusFound)
			}
		})
	}
}

// BenchmarkCallback: consume the state, the code exchange (the provider signs an ID token),
// ID token verification (JWKS cached after the first), userinfo, and the session write. Each
// iteration's login and the provider's login form run untimed.
func BenchmarkCallback(b *testing.B) {
	p, client := benchProvider(b)
	for _, s := range benchStores {
		b.Run(s.name, func(b *testing.B) {
			h := benchHandler(client, s.open(b))
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				ev := benchCallbackEvent(b, ctx, p, h)
				b.StartTimer()
				resp, err := h.Callback(ctx, ev)
				benchStatus(b, "Callback", resp, err, http.StatusFound)
			}
		})
	}
}

// benchCallbackEvent runs a login and the provider's login form and returns the callback event
// the browser would send.
func benchCallbackEvent(b *testing.B, ctx context.Context, p *devprovider.Provider, h *routes.Handler) events.APIGatewayV2HTTPRequest {
	b.Helper()
	resp, err := h.Login(ctx, benchEvent(http.MethodGet, "/auth/login", ""))
	benchStatus(b, "Login", resp, err, http.StatusFound)
	var binding string
	for _, line := range resp.Cookies {
		if c, err := http.ParseSetCookie(line); err == nil && c.Name == "__Host-signin_binding" {
			binding = c.Name + "=" + c.Value
		}
	}
	back, err := devprovider.Authorize(ctx, nil, resp.Headers["Location"], devprovider.DemoUser.Username, devprovider.DemoUser.Password)
	if err != nil {
		b.Fatalf("devprovider.Authorize: %v", err)
	}
	return benchEvent(http.MethodGet, "/auth/callback", back.RawQuery, binding)
}

// BenchmarkMeOverhead measures docs/contract.md §7's target side by side in one run: each iteration times
// a bare GetItem of the session item (what /auth/me cannot do without), Me against DynamoDB
// Local on the same item, and Me against the memory store (whose lookup costs next to nothing,
// so it is the handler's own work). The order of the first two alternates so neither always
// runs on a connection the other just warmed. Metrics are medians (DynamoDB Local, a JVM,
// has pauses that would swamp means):
//
//	getitem-ns      the bare GetItem
//	me-ns           Handler.Me on DynamoDB Local
//	me-memory-ns    Handler.Me on the memory store
//	overhead-%      median of the paired differences (Me - GetItem) / getitem-ns: handler plus
//	                the store's item decoding, measured through two noisy round trips
//	handler-%       me-memory-ns / getitem-ns: the handler's work measured directly
//
// ns/op is the sum of the three.
func BenchmarkMeOverhead(b *testing.B) {
	benchOverhead(b, "me", func(cookie string) func(*routes.Handler) time.Duration {
		ev := benchEvent(http.MethodGet, "/auth/me", "", cookie)
		return func(h *routes.Handler) time.Duration {
			start := time.Now()
			resp, err := h.Me(context.Background(), ev)
			took := time.Since(start)
			benchStatus(b, "Me", resp, err, http.StatusOK)
			return took
		}
	})
}

// benchOverhead is the side-by-side measurement of BenchmarkMeOverhead and
// BenchmarkAuthorizerOverhead: a session in DynamoDB Local and the same in the memory store;
// each iteration times a bare GetItem of the session item and the handler call on DynamoDB
// Local (alternating which goes first), then the call on the memory store. newCall gets the
// session's cookie and returns the timed call. It reports the medians as getitem-ns,
// <name>-ns, <name>-memory-ns, overhead-% and handler-%.
func benchOverhead(b *testing.B, name string, newCall func(cookie string) func(*routes.Handler) time.Duration) {
	client, table := dynamotest.NewTable(b)
	ddb, mem := store.NewDynamoDB(client, table), store.NewMemory()
	id := benchSession(b, ddb)
	ctx := context.Background()
	sess, err := ddb.GetSession(ctx, store.Hash(id))
	if err != nil {
		b.Fatal(err)
	}
	tokens, err := ddb.GetTokens(ctx, store.Hash(id))
	if err != nil {
		b.Fatal(err)
	}
	if err := mem.CreateSession(ctx, sess, tokens); err != nil {
		b.Fatal(err)
	}
	hDDB, hMem := benchHandler(nil, ddb), benchHandler(nil, mem)
	call := newCall("__Host-session=" + id)
	// The item as the store reads it: the same key, a strongly consistent read.
	get := &dynamodb.GetItemInput{
		TableName:      aws.String(table),
		Key:            map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "session#" + store.Hash(id)}},
		ConsistentRead: aws.Bool(true),
	}
	getItem := func() time.Duration {
		start := time.Now()
		out, err := client.GetItem(ctx, get)
		took := time.Since(start)
		if err != nil || len(out.Item) == 0 {
			b.Fatalf("GetItem = %v, %v; want the session item", out, err)
		}
		return took
	}
	// Connections and first-use setup out of the figures.
	getItem()
	call(hDDB)
	call(hMem)

	var gets, calls, mems, diffs []time.Duration
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		var g, c time.Duration
		if i%2 == 0 {
			g = getItem()
			c = call(hDDB)
		} else {
			c = call(hDDB)
			g = getItem()
		}
		gets, calls, diffs = append(gets, g), append(calls, c), append(diffs, c-g)
		mems = append(mems, call(hMem))
	}
	get50 := float64(benchMedian(gets))
	b.ReportMetric(get50, "getitem-ns")
	b.ReportMetric(float64(benchMedian(calls)), name+"-ns")
	b.ReportMetric(float64(benchMedian(mems)), name+"-memory-ns")
	b.ReportMetric(100*float64(benchMedian(diffs))/get50, "overhead-%")
	b.ReportMetric(100*float64(benchMedian(mems))/get50, "handler-%")
}

func benchMedian(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
