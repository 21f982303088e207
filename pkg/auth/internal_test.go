package auth

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestStrictQuery(t *testing.T) {
	tests := []struct {
		name   string
		raw    string
		params map[string]string
		want   map[string]string
	}{
		{name: "plain", raw: "code=abc&state=xyz", want: map[string]string{"code": "abc", "state": "xyz"}},
		{name: "decoded", raw: "code=a%2Bb&state=x+y", want: map[string]string{"code": "a+b", "state": "x y"}},
		{name: "empty value kept", raw: "code=&state=s", want: map[string]string{"code": "", "state": "s"}},
		{name: "duplicate", raw: "state=a&state=b"},
		{name: "duplicate other param", raw: "state=a&code=c&iss=x&iss=y"},
		{name: "duplicate after encoding", raw: "state=a&st%61te=b"},
		{name: "bad escape", raw: "state=%zz&code=c"},
		{name: "truncated escape", raw: "state=a&code=c%"},
		{name: "bad escape in key", raw: "st%zzate=a"},
		{name: "semicolon", raw: "state=a;code=c"},
		{name: "fallback map", params: map[string]string{"state": "s", "code": "c"}, want: map[string]string{"state": "s", "code": "c"}},
		{name: "fallback joined duplicates", params: map[string]string{"state": "a,b", "code": "c"}},
		{name: "fallback comma in code", params: map[string]string{"state": "s", "code": "c,d"}},
		{name: "fallback comma in error", params: map[string]string{"state": "s", "error": "x,y"}},
		{name: "fallback comma in iss", params: map[string]string{"state": "s", "iss": "https://a.example,https://b.example"}},
		{name: "fallback comma elsewhere", params: map[string]string{"state": "s", "error_description": "no, thanks"},
			want: map[string]string{"state": "s", "error_description": "no, thanks"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := events.APIGatewayV2HTTPRequest{RawQueryString: tt.raw, QueryStringParameters: tt.params}
			got, err := strictQuery(req, "state", "code", "error", "iss")
			if tt.want == nil {
				if !errors.Is(err, errBadQuery) {
					t.Fatalf("strictQuery(%q, %v) = %v, %v; want errBadQuery", tt.raw, tt.params, got, err)
				}
				return
			}
			if err != nil || !maps.Equal(got, tt.want) {
				t.Fatalf("strictQuery(%q, %v) = %v, %v; want %v", tt.raw, tt.params, got, err, tt.want)
			}
		})
	}
}

// RFC 9207 compares issuers as strings; only a trailing slash may differ.
func TestSameIssuer(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"https://auth.example.com", "https://auth.example.com", true},
		{"https://auth.example.com/", "https://auth.example.com", true},
		{"https://auth.example.com", "https://auth.example.com/", true},
		{"https://auth.example.com/tenant/", "https://auth.example.com/tenant", true},
		{"https://auth.example.com//", "https://auth.example.com", false},
		{"https://AUTH.example.com", "https://auth.example.com", false},
		{"http://auth.example.com", "https://auth.example.com", false},
		{"https://auth.example.com:443", "https://auth.example.com", false},
		{"https://auth.example.com/x", "https://auth.example.com", false},
		{"https://auth.example.com.evil.example", "https://auth.example.com", false},
		{"", "https://auth.example.com", false},
	}
	for _, tt := range tests {
		if got := sameIssuer(tt.a, tt.b); got != tt.want {
			t.Errorf("sameIssuer(%q, %q) = %t; want %t", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestValidToken(t *testing.T) {
	good := newToken()
	tests := []struct {
		in   string
		want bool
	}{
		{good, true},
		{strings.Repeat("A", 43), true},
		{good[:42], false},
		{good + "A", false},
		{strings.Repeat("A", 42) + "B", false}, // non-canonical: trailing bits set
		{strings.Repeat("+", 43), false},       // standard, not URL, alphabet
		{strings.Repeat("A", 42) + "=", false},
		{"%7B%22id%22%3A%22admin%22%7D", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := validToken(tt.in); got != tt.want {
			t.Errorf("validToken(%q) = %v; want %v", tt.in, got, tt.want)
		}
	}
	if a, b := newToken(), newToken(); a == b || !validToken(a) {
		t.Errorf("newToken() = %q, %q; want two distinct valid tokens", a, b)
	}
}

func TestRequestCookie(t *testing.T) {
	tests := []struct {
		name      string
		req       events.APIGatewayV2HTTPRequest
		wantValue string
		wantOK    bool
	}{
		{"cookies array", events.APIGatewayV2HTTPRequest{Cookies: []string{"a=1", "session=v"}}, "v", true},
		{"first wins", events.APIGatewayV2HTTPRequest{Cookies: []string{"session=v1", "session=v2"}}, "v1", true},
		{"prefix is another name", events.APIGatewayV2HTTPRequest{Cookies: []string{"__Host-session=v"}}, "", false},
		{"unicode space is part of the name", events.APIGatewayV2HTTPRequest{Cookies: []string{"\u00a0session=v"}}, "", false},
		{"ascii blanks are not", events.APIGatewayV2HTTPRequest{Headers: map[string]string{"cookie": "a=1;\tsession = v "}}, "v", true},
		{"header fallback", events.APIGatewayV2HTTPRequest{Headers: map[string]string{"cookie": "a=1; session=v"}}, "v", true},
		{"header any case", events.APIGatewayV2HTTPRequest{Headers: map[string]string{"Cookie": "session=v"}}, "v", true},
		{"array wins over header", events.APIGatewayV2HTTPRequest{Cookies: []string{"a=1"}, Headers: map[string]string{"cookie": "session=v"}}, "", false},
		{"empty value", events.APIGatewayV2HTTPRequest{Cookies: []string{"session="}}, "", true},
		{"none", events.APIGatewayV2HTTPRequest{}, "", false},
	}
	for _, tt := range tests {
		v, ok := requestCookie(tt.req, "session")
		if v != tt.wantValue || ok != tt.wantOK {
			t.Errorf("%s: requestCookie(session) = %q, %v; want %q, %v", tt.name, v, ok, tt.wantValue, tt.wantOK)
		}
	}
}

func TestSameOrigin(t *testing.T) {
	tests := []struct {
		origin, app string
		want        bool
	}{
		{"https://app.example.com", "https://app.example.com", true},
		{"https://APP.example.com", "https://app.example.com/", true},
		{"https://app.example.com:443", "https://app.example.com", true},
		{"http://localhost:3000", "http://localhost:3000", true},
		{"http://[::1]:3000", "http://[::1]:3000", true},
		{"http://app.example.com", "https://app.example.com", false},
		{"https://app.example.com:8443", "https://app.example.com", false},
		{"https://evil.example.com", "https://app.example.com", false},
		{"https://app.example.com.evil.com", "https://app.example.com", false},
		{"https://app.example.com/", "https://app.example.com", false}, // not an origin serialization
		{"https://user@app.example.com", "https://app.example.com", false},
		{"null", "https://app.example.com", false},
		{"", "https://app.example.com", false},
		{"https://app.example.com", "", false},
	}
	for _, tt := range tests {
		if got := sameOrigin(tt.origin, tt.app); got != tt.want {
			t.Errorf("sameOrigin(%q, %q) = %v; want %v", tt.origin, tt.app, got, tt.want)
		}
	}
}

func TestIsHTTPS(t *testing.T) {
	tests := []struct {
		headers map[string]string
		want    bool
	}{
		{nil, true},
		{map[string]string{"x-forwarded-proto": "https"}, true},
		{map[string]string{"X-Forwarded-Proto": "HTTPS"}, true},
		{map[string]string{"x-forwarded-proto": "http"}, false},
		{map[string]string{"x-forwarded-proto": "http, https"}, false},
		{map[string]string{"x-forwarded-proto": "https,http"}, true},
	}
	for _, tt := range tests {
		if got := isHTTPS(events.APIGatewayV2HTTPRequest{Headers: tt.headers}); got != tt.want {
			t.Errorf("isHTTPS(%v) = %v; want %v", tt.headers, got, tt.want)
		}
	}
}
