package routes

import (
	"net/url"
	"strings"
)

const (
	maxReturnTo = 2048
	// maxUnescapes bounds how many layers of percent-encoding we peel
	// looking for a hidden "//" or "\"; a real path has one at most.
	maxUnescapes = 3
)

// safeReturnTo returns v when it is a same-site relative path, else "/".
//
// Accepted: a path starting with exactly one "/" (optionally with query and
// fragment) in printable ASCII. Refused, in the raw value and in every
// percent-decoded form of it: a leading "//" or "/\" (protocol-relative: the
// browser would leave the site), any backslash (browsers read it as "/"),
// control characters, a scheme or host, and "." or ".." path segments (which
// can collapse into a leading "//" after normalisation).
func safeReturnTo(v string) string {
	if v == "" || len(v) > maxReturnTo {
		return "/"
	}
	for i := 0; i < len(v); i++ {
		// The raw value goes into a Location header: printable ASCII only,
		// no space. Anything else should have been percent-encoded.
		if v[i] <= ' ' || v[i] >= 0x7f {
			return "/"
		}
	}
	form := v
	for range maxUnescapes + 1 {
		if !safePathForm(form) {
			return "/"
		}
		next, err := url.PathUnescape(form)
		if err != nil || next == form {
			break
		}
		form = next
	}
	return v
}

// safePathForm checks one (possibly decoded) form of a return_to value.
func safePathForm(s string) bool {
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.ContainsRune(s, '\\') {
		return false
	}
	for _, r := range s {
		if r < ' ' || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return false
	}
	p, _, _ := strings.Cut(s, "?")
	p, _, _ = strings.Cut(p, "#")
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}
