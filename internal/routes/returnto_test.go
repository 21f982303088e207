package routes

import (
	"strings"
	"testing"
)

func TestSafeReturnTo(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		// Kept.
		{"/", "/"},
		{"/app/x?y=1", "/app/x?y=1"},
		{"/app/x?y=1&z=%2F#frag", "/app/x?y=1&z=%2F#frag"},
		{"/caf%C3%A9", "/caf%C3%A9"},
		{"/search?q=100%25", "/search?q=100%25"},
		{"/a:b", "/a:b"},
		{"/app/", "/app/"},
		{"/..app", "/..app"},

		// Protocol-relative and backslash tricks, raw and encoded.
		{"//evil.com", "/"},
		{"///evil.com", "/"},
		{"/\\evil.com", "/"},
		{"\\\\evil.com", "/"},
		{"/app\\..\\..\\evil.com", "/"},
		{"/%5Cevil.com", "/"},
		{"/%5cevil.com", "/"},
		{"/%2F%2Fevil.com", "/"},
		{"/%2f/evil.com", "/"},
		{"%2F%2Fevil.com", "/"},
		{"/%252F%252Fevil.com", "/"}, // double encoded
		{"/%255Cevil.com", "/"},

		// Absolute URLs and schemes.
		{"https://evil.com", "/"},
		{"http://evil.com/", "/"},
		{"javascript:alert(1)", "/"},
		{"JAVASCRIPT:alert(1)", "/"},
		{"data:text/html,x", "/"},
		{"evil.com", "/"},
		{"app/x", "/"},
		{"", "/"},

		// Control characters and whitespace, raw and encoded.
		{"\t//evil.com", "/"},
		{"/\t/evil.com", "/"},
		{"/%09/evil.com", "/"},
		{"/\n/evil.com", "/"},
		{"/%0d%0aSet-Cookie:x=y", "/"},
		{"/%00", "/"},
		{"/%7f", "/"},
		{"/%C2%85", "/"},     // U+0085 NEL
		{"/%E2%80%A8x", "/"}, // U+2028
		{" /app", "/"},
		{"/app x", "/"},
		{"/caf\u00e9", "/"}, // raw non-ASCII: not a valid Location value

		// Dot segments that could collapse into "//".
		{"/../evil.com", "/"},
		{"/./x", "/"},
		{"/a/..//evil.com", "/"},
		{"/%2e%2e/x", "/"},
		{"/a/..?x", "/"},

		// Undecodable percent-encoding in the path.
		{"/%zz", "/"},

		// Too long.
		{"/" + strings.Repeat("a", maxReturnTo), "/"},
	}
	for _, tt := range tests {
		if got := safeReturnTo(tt.in); got != tt.want {
			t.Errorf("safeReturnTo(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzSafeReturnTo(f *testing.F) {
	for _, s := range []string{"/app/x?y=1", "//evil.com", "/%5Cevil.com", "/\\evil", "/%2F%2Fx", "/a/../b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := safeReturnTo(in)
		if got == "/" {
			return
		}
		if got != in {
			t.Fatalf("safeReturnTo(%q) = %q; want the input or /", in, got)
		}
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.ContainsAny(got, "\\\r\n\t ") {
			t.Fatalf("safeReturnTo(%q) = %q: unsafe value accepted", in, got)
		}
	})
}
