package session

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// fuzzToken is a well-formed session id / binding value.
const fuzzToken = "CReHhgKDY8KNhXer4Gj-2I2VmLV5JUry56X50Amg1l4"

// FuzzRequestCookie: reading the session and binding cookies never panics, never reads another
// cookie's value, and a value that passes ValidToken is exactly what net/http's cookie parser
// reads for that name, so the __Host- prefix (which browsers enforce on the exact name) cannot be
// sidestepped with a look-alike name. cookies is one Cookie header line; inHeader false sends it
// as payload 2.0's cookies array instead (the line split on ";", as API Gateway does).
func FuzzRequestCookie(f *testing.F) {
	for _, s := range []struct {
		cookies  string
		inHeader bool
	}{
		{"__Host-session=" + fuzzToken, false},
		{"theme=dark; __Host-session=" + fuzzToken + "; __Host-signin_binding=" + fuzzToken, true},
		{"session=" + fuzzToken + "; session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", true},
		{"x__Host-session=" + fuzzToken, false},
		{"__Host-session=\"" + fuzzToken + "\"", true},
		{" __Host-session = " + fuzzToken + " ;", true},
		{"__Host-session", false},
		{"=__Host-session=" + fuzzToken, true},
	} {
		f.Add(s.cookies, s.inHeader)
	}
	names := []string{CookieHTTPS, CookieHTTP, BindingCookieHTTPS, BindingCookieHTTP}
	f.Fuzz(func(t *testing.T, cookies string, inHeader bool) {
		var req events.APIGatewayV2HTTPRequest
		if inHeader {
			req.Headers = map[string]string{"cookie": cookies}
		} else {
			req.Cookies = strings.Split(cookies, ";")
		}
		// net/http refuses blanks inside a value ("k=\tv") where RFC 6265 readers trim them;
		// it reads the names as they are, which is what this target is about.
		std := http.Request{Header: http.Header{"Cookie": {trimValues(cookies)}}}
		for _, name := range names {
			v, ok := RequestCookie(req, name)
			if !ok {
				continue
			}
			if !hasPair(cookies, name, v) {
				t.Fatalf("RequestCookie(%q, %q) = %q, which no %s=... pair holds", cookies, name, v, name)
			}
			if !ValidToken(v) {
				continue // the handlers refuse it before any lookup
			}
			c, err := std.Cookie(name)
			if err != nil || c.Value != v || c.Quoted {
				t.Fatalf("RequestCookie(%q, %q) = %q; net/http reads %v, %v", cookies, name, v, c, err)
			}
		}
	})
}

// trimValues trims space and tab around each value of a Cookie line, leaving the names alone,
// and drops parts without "=": RFC 6265bis reads "session" alone as a nameless cookie whose value
// is "session" (what browsers send for one), where net/http reads a cookie named "session".
func trimValues(line string) string {
	var parts []string
	for p := range strings.SplitSeq(line, ";") {
		if k, v, ok := strings.Cut(p, "="); ok {
			parts = append(parts, k+"="+strings.Trim(v, " \t"))
		}
	}
	return strings.Join(parts, ";")
}

// hasPair reports whether the Cookie line has a pair called name with value v, allowing the
// blanks around names and values that RFC 6265 readers trim (space and tab, nothing else).
func hasPair(line, name, v string) bool {
	for part := range strings.SplitSeq(line, ";") {
		k, val, ok := strings.Cut(part, "=")
		if ok && strings.Trim(k, " \t") == name && strings.Trim(val, " \t") == v {
			return true
		}
	}
	return false
}

// FuzzValidToken: ValidToken accepts exactly the canonical unpadded base64url encodings of 32
// bytes, so two cookie strings never name one session.
func FuzzValidToken(f *testing.F) {
	for _, s := range []string{fuzzToken, strings.Repeat("A", 43), strings.Repeat("A", 42) + "B", fuzzToken + "=", fuzzToken[:42] + "+", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := base64.RawURLEncoding.DecodeString(s)
		want := err == nil && len(b) == tokenBytes && base64.RawURLEncoding.EncodeToString(b) == s
		if got := ValidToken(s); got != want {
			t.Fatalf("ValidToken(%q) = %v; want %v", s, got, want)
		}
	})
}
