package auth

import (
	"encoding/base64"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// Fuzz targets for what the handlers parse from the request: the callback's query, the cookies
// and return_to. scripts/fuzz.sh runs each with -fuzz; plain go test runs the seeds below and
// the corpus in testdata/fuzz/<FuzzName>/.

// fuzzToken is a well-formed session id / binding value.
const fuzzToken = "CReHhgKDY8KNhXer4Gj-2I2VmLV5JUry56X50Amg1l4"

// FuzzStrictQuery: the callback's query parser never panics and, when it accepts a query, reads
// it as every other reader would: url.ParseQuery and a naive split-on-& reader agree value for
// value, no parameter is repeated, and re-encoding what it read gives the same values back. raw
// empty exercises the queryStringParameters fallback with param as each single-valued value.
func FuzzStrictQuery(f *testing.F) {
	for _, s := range [][2]string{
		{"code=Xy7Lq2mVb9sT4nRk1pWc8eHd&state=q3Vd9kLzP0sY7mB2xN5wR8tF1gJ4hC6aE9uI2oKvMn0", ""},
		{"state=a&state=b", ""},
		{"state=a&st%61te=b", ""},
		{"code=%zz&state=s", ""},
		{"code=c&state=s%", ""},
		{"state=a;code=c", ""},
		{"error=access_denied&state=s&error_description=no%2C+thanks", ""},
		{"&&=&state=+%20%2B", ""},
		{"", "a,b"},
		{"", "plain"},
	} {
		f.Add(s[0], s[1])
	}
	single := []string{"state", "code", "error"}
	f.Fuzz(func(t *testing.T, raw, param string) {
		req := events.APIGatewayV2HTTPRequest{RawQueryString: raw}
		if raw == "" {
			req.QueryStringParameters = map[string]string{"state": param, "code": param, "other": param}
		}
		q, err := strictQuery(req, single...)
		if err != nil {
			if !errors.Is(err, errBadQuery) {
				t.Fatalf("strictQuery(%q) error %v; want errBadQuery", raw, err)
			}
			return
		}
		if raw == "" {
			// API Gateway joins repeated parameters with commas.
			if strings.Contains(param, ",") {
				t.Fatalf("strictQuery(params %q) accepted a comma in a single-valued parameter", param)
			}
			if q["state"] != param || q["code"] != param {
				t.Fatalf("strictQuery(params %q) = %v; want the parameters as given", param, q)
			}
			return
		}

		values, err := url.ParseQuery(raw)
		if err != nil {
			t.Fatalf("strictQuery(%q) accepted a query url.ParseQuery rejects: %v", raw, err)
		}
		if len(values) != len(q) {
			t.Fatalf("strictQuery(%q) = %v; url.ParseQuery reads %v", raw, q, values)
		}
		for k, vs := range values {
			if len(vs) != 1 || q[k] != vs[0] {
				t.Fatalf("strictQuery(%q)[%q] = %q; url.ParseQuery reads %q", raw, k, q[k], vs)
			}
		}
		for _, k := range single {
			got, ok := q[k]
			naive, nok := naiveQuery(raw)[k]
			if ok != nok || (ok && !slices.Equal(naive, []string{got})) {
				t.Fatalf("strictQuery(%q)[%q] = %q (present %v); a split-on-& reader reads %q", raw, k, got, ok, naive)
			}
		}
		enc := url.Values{}
		for k, v := range q {
			enc.Set(k, v)
		}
		back, err := url.ParseQuery(enc.Encode())
		if err != nil || !maps.EqualFunc(back, values, slices.Equal) {
			t.Fatalf("strictQuery(%q) = %v; re-encoded as %q it reads %v, %v", raw, q, enc.Encode(), back, err)
		}
	})
}

// naiveQuery is the simplest reader of a query string: split on "&", then on the first "=",
// then unescape. Values it cannot unescape are left as they are.
func naiveQuery(raw string) map[string][]string {
	out := map[string][]string{}
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		if u, err := url.QueryUnescape(k); err == nil {
			k = u
		}
		if u, err := url.QueryUnescape(v); err == nil {
			v = u
		}
		out[k] = append(out[k], v)
	}
	return out
}

// FuzzRequestCookie: reading the session and binding cookies never panics, never reads another
// cookie's value, and a value that passes validToken is exactly what net/http's cookie parser
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
	names := []string{sessionCookieHTTPS, sessionCookieHTTP, bindingCookieHTTPS, bindingCookieHTTP}
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
			v, ok := requestCookie(req, name)
			if !ok {
				continue
			}
			if !hasPair(cookies, name, v) {
				t.Fatalf("requestCookie(%q, %q) = %q, which no %s=... pair holds", cookies, name, v, name)
			}
			if !validToken(v) {
				continue // the handlers refuse it before any lookup
			}
			c, err := std.Cookie(name)
			if err != nil || c.Value != v || c.Quoted {
				t.Fatalf("requestCookie(%q, %q) = %q; net/http reads %v, %v", cookies, name, v, c, err)
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

// FuzzValidToken: validToken accepts exactly the canonical unpadded base64url encodings of 32
// bytes, so two cookie strings never name one session.
func FuzzValidToken(f *testing.F) {
	for _, s := range []string{fuzzToken, strings.Repeat("A", 43), strings.Repeat("A", 42) + "B", fuzzToken + "=", fuzzToken[:42] + "+", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := base64.RawURLEncoding.DecodeString(s)
		want := err == nil && len(b) == tokenBytes && base64.RawURLEncoding.EncodeToString(b) == s
		if got := validToken(s); got != want {
			t.Fatalf("validToken(%q) = %v; want %v", s, got, want)
		}
	})
}

// FuzzReturnToStaysOnSite: safeReturnTo returns "/" or its input, and what it returns lands on
// the app's own host however it is read: resolved by net/url against https://app.example/, by a
// browser (which drops tabs and newlines, trims control characters and spaces and reads "\" as
// "/" in http(s) URLs), and after one or two rounds of percent-decoding by some proxy or framework.
func FuzzReturnToStaysOnSite(f *testing.F) {
	for _, s := range []string{
		"/app/settings?tab=profile", "/", "//evil.example", "/\\evil.example", "/\t/evil.example",
		"/%2F%2Fevil.example", "/%5Cevil.example", "/%252F%252Fevil.example", "https://evil.example",
		"/../evil.example", "/a/..//evil.example", "/%09/evil.example", " //evil.example", "/x#//evil",
	} {
		f.Add(s)
	}
	base, err := url.Parse("https://app.example/")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := safeReturnTo(in)
		if got != "/" && got != in {
			t.Fatalf("safeReturnTo(%q) = %q; want the input or /", in, got)
		}
		ref, err := url.Parse(got)
		if err != nil {
			t.Fatalf("safeReturnTo(%q) = %q, which net/url cannot parse: %v", in, got, err)
		}
		if u := base.ResolveReference(ref); u.Scheme != "https" || u.Host != "app.example" || u.User != nil {
			t.Fatalf("safeReturnTo(%q) = %q resolves to %s; want a URL on https://app.example", in, got, u)
		}
		form := got
		for round := range 3 {
			if !browserStaysOnSite(form) {
				t.Fatalf("safeReturnTo(%q) = %q; after %d percent-decodings %q leaves the site in a browser", in, got, round, form)
			}
			next, err := url.PathUnescape(form)
			if err != nil || next == form {
				break
			}
			form = next
		}
	})
}

// browserStaysOnSite reports whether a browser resolving Location: s against an https page
// stays on that page's host: after the WHATWG URL parser's clean-up, s must be a path-absolute
// reference ("/x"), not a scheme-relative one ("//host") or anything with a scheme.
func browserStaysOnSite(s string) bool {
	s = strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
	s = strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(s)
	return strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//")
}
