package routes

import (
	"errors"
	"maps"
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
