package routes

import (
	"errors"
	"maps"
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
