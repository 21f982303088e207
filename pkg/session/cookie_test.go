package session

import (
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestValidToken(t *testing.T) {
	good := NewToken()
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
		if got := ValidToken(tt.in); got != tt.want {
			t.Errorf("ValidToken(%q) = %v; want %v", tt.in, got, tt.want)
		}
	}
	if a, b := NewToken(), NewToken(); a == b || !ValidToken(a) {
		t.Errorf("NewToken() = %q, %q; want two distinct valid tokens", a, b)
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
		v, ok := RequestCookie(tt.req, "session")
		if v != tt.wantValue || ok != tt.wantOK {
			t.Errorf("%s: RequestCookie(session) = %q, %v; want %q, %v", tt.name, v, ok, tt.wantValue, tt.wantOK)
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
		if got := IsHTTPS(events.APIGatewayV2HTTPRequest{Headers: tt.headers}); got != tt.want {
			t.Errorf("IsHTTPS(%v) = %v; want %v", tt.headers, got, tt.want)
		}
	}
}
