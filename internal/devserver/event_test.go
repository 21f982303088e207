package devserver

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/serverless-signin/signin/pkg/session"
)

func TestNewEvent(t *testing.T) {
	now := time.Date(2026, 3, 12, 19, 3, 58, 0, time.UTC)
	r := httptest.NewRequest("GET", "http://localhost:8080/auth/me?b=2&a=1&a=3&x=%20y", nil)
	r.RemoteAddr = "192.0.2.7:50123"
	r.Header["X-Dup"] = []string{"one", "two"}
	r.Header["Cookie"] = []string{"a=1; b=2", "c=3"}
	r.Header.Set("User-Agent", "test-agent")
	r.Header.Set("X-Forwarded-Proto", "https") // the client's claim; the gateway overwrites it

	ev := newEvent(r, nil, now, "req-1")

	want := events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       "GET /auth/me",
		RawPath:        "/auth/me",
		RawQueryString: "b=2&a=1&a=3&x=%20y",
		Cookies:        []string{"a=1", "b=2", "c=3"},
		Headers: map[string]string{
			"host":              "localhost:8080",
			"user-agent":        "test-agent",
			"x-dup":             "one,two",
			"x-forwarded-proto": "http",
			"x-forwarded-port":  "8080",
			"x-forwarded-for":   "192.0.2.7",
		},
		QueryStringParameters: map[string]string{"a": "1,3", "b": "2", "x": " y"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     "GET /auth/me",
			AccountID:    "000000000000",
			Stage:        "$default",
			RequestID:    "req-1",
			APIID:        "devserver",
			DomainName:   "localhost:8080",
			DomainPrefix: "localhost",
			Time:         "12/Mar/2026:19:03:58 +0000",
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: "GET", Path: "/auth/me", Protocol: "HTTP/1.1", SourceIP: "192.0.2.7", UserAgent: "test-agent",
			},
		},
	}
	if !reflect.DeepEqual(ev, want) {
		t.Errorf("newEvent(GET /auth/me) =\n%+v\nwant\n%+v", ev, want)
	}
}

func TestNewEventDetails(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name  string
		req   func() *http.Request
		body  []byte
		check func(t *testing.T, ev events.APIGatewayV2HTTPRequest)
	}{
		{
			name: "raw query verbatim, even when undecodable or repeated",
			req: func() *http.Request {
				return httptest.NewRequest("GET", "/auth/callback?state=a&state=b&code=%zz;x", nil)
			},
			check: func(t *testing.T, ev events.APIGatewayV2HTTPRequest) {
				if got, want := ev.RawQueryString, "state=a&state=b&code=%zz;x"; got != want {
					t.Errorf("RawQueryString = %q; want %q", got, want)
				}
				if got := ev.QueryStringParameters["state"]; got != "a,b" {
					t.Errorf("QueryStringParameters[state] = %q; want %q", got, "a,b")
				}
			},
		},
		{
			name: "no query, no cookies",
			req:  func() *http.Request { return httptest.NewRequest("GET", "/auth/login", nil) },
			check: func(t *testing.T, ev events.APIGatewayV2HTTPRequest) {
				if ev.RawQueryString != "" || ev.QueryStringParameters != nil || ev.Cookies != nil {
					t.Errorf("event = query %q %v, cookies %v; want all empty", ev.RawQueryString, ev.QueryStringParameters, ev.Cookies)
				}
				if _, ok := ev.Headers["cookie"]; ok {
					t.Errorf("Headers has a cookie entry; want cookies only in the cookies array")
				}
			},
		},
		{
			name: "domain name keeps the port, prefix is the first label",
			req: func() *http.Request {
				r := httptest.NewRequest("GET", "/auth/me", nil)
				r.Host = "abc123.execute-api.us-east-1.amazonaws.com:3000"
				return r
			},
			check: func(t *testing.T, ev events.APIGatewayV2HTTPRequest) {
				rc := ev.RequestContext
				if rc.DomainName != "abc123.execute-api.us-east-1.amazonaws.com:3000" || rc.DomainPrefix != "abc123" {
					t.Errorf("DomainName, DomainPrefix = %q, %q; want the host with its port, abc123", rc.DomainName, rc.DomainPrefix)
				}
			},
		},
		{
			name: "unknown route is $default",
			req:  func() *http.Request { return httptest.NewRequest("GET", "/auth/logout", nil) },
			check: func(t *testing.T, ev events.APIGatewayV2HTTPRequest) {
				if ev.RouteKey != "$default" || ev.RequestContext.RouteKey != "$default" {
					t.Errorf("RouteKey = %q; want $default", ev.RouteKey)
				}
			},
		},
		{
			name: "https",
			req: func() *http.Request {
				r := httptest.NewRequest("POST", "https://app.example.test/auth/logout", nil)
				r.TLS = &tls.ConnectionState{}
				return r
			},
			check: func(t *testing.T, ev events.APIGatewayV2HTTPRequest) {
				if got := ev.Headers["x-forwarded-proto"]; got != "https" {
					t.Errorf("x-forwarded-proto = %q; want https", got)
				}
				if ev.RouteKey != "POST /auth/logout" {
					t.Errorf("RouteKey = %q; want POST /auth/logout", ev.RouteKey)
				}
			},
		},
		{
			name: "text body as is",
			req:  func() *http.Request { return httptest.NewRequest("POST", "/auth/logout", nil) },
			body: []byte("a=1&b=é"),
			check: func(t *testing.T, ev events.APIGatewayV2HTTPRequest) {
				if ev.Body != "a=1&b=é" || ev.IsBase64Encoded {
					t.Errorf("Body, IsBase64Encoded = %q, %v; want the text, false", ev.Body, ev.IsBase64Encoded)
				}
			},
		},
		{
			name: "binary body in base64",
			req:  func() *http.Request { return httptest.NewRequest("POST", "/auth/logout", nil) },
			body: []byte{0xff, 0x00, 0xfe},
			check: func(t *testing.T, ev events.APIGatewayV2HTTPRequest) {
				if ev.Body != "/wD+" || !ev.IsBase64Encoded {
					t.Errorf("Body, IsBase64Encoded = %q, %v; want /wD+, true", ev.Body, ev.IsBase64Encoded)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, newEvent(tt.req(), tt.body, now, "id"))
		})
	}
}

// stubServer is a Server whose function is fn instead of the handlers.
func stubServer(t *testing.T, fn any) *Server {
	t.Helper()
	s := newTestServer(t, "http://localhost:8080", nil)
	s.fn = lambda.NewHandler(fn)
	return s
}

func TestServeFunctionEvent(t *testing.T) {
	var got events.APIGatewayV2HTTPRequest
	s := stubServer(t, func(_ context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		got = ev
		return events.APIGatewayV2HTTPResponse{StatusCode: 204}, nil
	})
	body := []byte{0x89, 'P', 'N', 'G', 0xff}
	r := httptest.NewRequest("POST", "/auth/logout?x=1", strings.NewReader(string(body)))
	r.Header.Set("Cookie", "session=abc; other=1")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)

	if w.Code != 204 {
		t.Fatalf("POST /auth/logout status = %d; want 204", w.Code)
	}
	if got.RouteKey != "POST /auth/logout" || got.RawQueryString != "x=1" || !reflect.DeepEqual(got.Cookies, []string{"session=abc", "other=1"}) {
		t.Errorf("event = route %q, query %q, cookies %q; want POST /auth/logout, x=1, [session=abc other=1]", got.RouteKey, got.RawQueryString, got.Cookies)
	}
	if dec, err := base64.StdEncoding.DecodeString(got.Body); err != nil || !got.IsBase64Encoded || string(dec) != string(body) {
		t.Errorf("event body = %q (base64 %v); want the request body in base64", got.Body, got.IsBase64Encoded)
	}
	if w.Header().Get("Apigw-Requestid") != got.RequestContext.RequestID || got.RequestContext.RequestID == "" {
		t.Errorf("Apigw-Requestid = %q; want the event's requestId %q", w.Header().Get("Apigw-Requestid"), got.RequestContext.RequestID)
	}
}

func TestServeFunctionResponse(t *testing.T) {
	binary := []byte{0x00, 0xff, 0x10}
	tests := []struct {
		name        string
		resp        events.APIGatewayV2HTTPResponse
		wantStatus  int
		wantBody    string
		wantHeaders http.Header
	}{
		{
			name: "headers, multi-value headers, one Set-Cookie per cookie",
			resp: events.APIGatewayV2HTTPResponse{
				StatusCode:        302,
				Headers:           map[string]string{"Location": "/", "Cache-Control": "no-store"},
				MultiValueHeaders: map[string][]string{"X-Multi": {"a", "b"}},
				Cookies:           []string{"session=; Path=/; Max-Age=0", "signin_binding=x; Path=/; Max-Age=600; HttpOnly"},
			},
			wantStatus: 302,
			wantHeaders: http.Header{
				"Location":      {"/"},
				"Cache-Control": {"no-store"},
				"X-Multi":       {"a", "b"},
				"Set-Cookie":    {"session=; Path=/; Max-Age=0", "signin_binding=x; Path=/; Max-Age=600; HttpOnly"},
			},
		},
		{
			name:       "base64 body decoded",
			resp:       events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: base64.StdEncoding.EncodeToString(binary), IsBase64Encoded: true},
			wantStatus: 200,
			wantBody:   string(binary),
		},
		{
			name:       "text body",
			resp:       events.APIGatewayV2HTTPResponse{StatusCode: 401, Headers: map[string]string{"Content-Type": "application/json"}, Body: `{"authenticated":false}`},
			wantStatus: 401,
			wantBody:   `{"authenticated":false}`,
			wantHeaders: http.Header{
				"Content-Type":   {"application/json"},
				"Content-Length": {"23"},
			},
		},
		{
			name:       "no status code is a gateway error",
			resp:       events.APIGatewayV2HTTPResponse{Body: "x"},
			wantStatus: 500,
			wantBody:   bodyGatewayError,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := stubServer(t, func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
				return tt.resp, nil
			})
			w := httptest.NewRecorder()
			s.ServeHTTP(w, httptest.NewRequest("GET", "/auth/me", nil))
			res := w.Result()
			got, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.wantStatus || string(got) != tt.wantBody {
				t.Errorf("response = %d %q; want %d %q", res.StatusCode, got, tt.wantStatus, tt.wantBody)
			}
			for name, want := range tt.wantHeaders {
				if got := res.Header.Values(name); !reflect.DeepEqual(got, want) {
					t.Errorf("header %s = %q; want %q", name, got, want)
				}
			}
		})
	}
}

func TestServeFunctionFailures(t *testing.T) {
	tests := []struct {
		name string
		fn   func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)
	}{
		{"error", func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			return events.APIGatewayV2HTTPResponse{StatusCode: 200}, errors.New("boom")
		}},
		{"panic", func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			panic("boom")
		}},
		{"timeout", func(ctx context.Context, _ events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			<-ctx.Done()
			return events.APIGatewayV2HTTPResponse{StatusCode: 200}, nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := stubServer(t, tt.fn)
			s.timeout = 50 * time.Millisecond
			w := httptest.NewRecorder()
			s.ServeHTTP(w, httptest.NewRequest("GET", "/auth/me", nil))
			if w.Code != 500 || w.Body.String() != bodyGatewayError {
				t.Errorf("GET /auth/me = %d %q; want 500 %q", w.Code, w.Body.String(), bodyGatewayError)
			}
		})
	}
}

// The handlers keep a margin before the Lambda deadline; the dev server must
// give them one, and a request id, as the runtime does.
func TestServeFunctionLambdaContext(t *testing.T) {
	var (
		deadline time.Time
		hasDL    bool
		lc       *lambdacontext.LambdaContext
	)
	s := stubServer(t, func(ctx context.Context, _ events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		deadline, hasDL = ctx.Deadline()
		lc, _ = lambdacontext.FromContext(ctx)
		return events.APIGatewayV2HTTPResponse{StatusCode: 200}, nil
	})
	before := time.Now()
	s.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/auth/me", nil))
	if !hasDL || deadline.Before(before.Add(DefaultFunctionTimeout)) || deadline.After(time.Now().Add(DefaultFunctionTimeout)) {
		t.Errorf("handler deadline = %v (set %v); want %v after the request", deadline, hasDL, DefaultFunctionTimeout)
	}
	if lc == nil || len(lc.AwsRequestID) != 36 {
		t.Errorf("lambdacontext = %+v; want an AwsRequestID (a UUID)", lc)
	}
}

func TestServeFunctionTooLarge(t *testing.T) {
	called := false
	s := stubServer(t, func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		called = true
		return events.APIGatewayV2HTTPResponse{StatusCode: 200}, nil
	})
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("POST", "/auth/logout", strings.NewReader(strings.Repeat("x", maxBody+1))))
	if w.Code != 413 || called {
		t.Errorf("POST of %d bytes = %d (function called: %v); want 413 without calling it", maxBody+1, w.Code, called)
	}
}

// Handler.Route answers unknown paths and methods; the dev server passes
// them through like the gateway's $default route.
func TestServeUnknownRoutes(t *testing.T) {
	s := newTestServer(t, "http://localhost:8080", nil)
	tests := []struct {
		method, target string
		wantStatus     int
		wantAllow      string
	}{
		{"GET", "/nope", 404, ""},
		{"GET", "/favicon.ico", 404, ""},
		{"GET", "/auth/logout", 405, "POST"},
		{"DELETE", "/auth/me", 405, "GET"},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest(tt.method, tt.target, nil))
		if w.Code != tt.wantStatus || w.Header().Get("Allow") != tt.wantAllow || w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s %s = %d (Allow %q, %s); want %d (Allow %q) JSON", tt.method, tt.target, w.Code,
				w.Header().Get("Allow"), w.Header().Get("Content-Type"), tt.wantStatus, tt.wantAllow)
		}
	}
}

// newTestServer builds a Server for base with the given environment (nil:
// empty, so the built-in provider and the memory store).
func newTestServer(t *testing.T, base string, env map[string]string) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := New(ctx, Config{URL: base, Getenv: mapEnv(env), Logger: session.NewLogger(t.Output())})
	if err != nil {
		t.Fatalf("New(%s) = %v", base, err)
	}
	return s
}

func mapEnv(env map[string]string) func(string) string {
	return func(name string) string { return env[name] }
}
