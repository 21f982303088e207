package session

import (
	"crypto/rand"
	"encoding/base64"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// Cookie names. On https the __Host- prefix makes the browser refuse a cookie
// set by a sibling domain or without Secure and Path=/ (cookie tossing).
const (
	CookieHTTPS        = "__Host-session"
	CookieHTTP         = "session"
	BindingCookieHTTPS = "__Host-signin_binding"
	BindingCookieHTTP  = "signin_binding"
)

// tokenBytes is the entropy of session ids and binding values; tokenLen is
// their base64url (unpadded) length.
const (
	tokenBytes = 32
	tokenLen   = 43
)

// CookieName is the session cookie's name on https or plain http.
func CookieName(https bool) string {
	if https {
		return CookieHTTPS
	}
	return CookieHTTP
}

// BindingCookieName is the name of the cookie that binds a sign-in to the
// browser that started it.
func BindingCookieName(https bool) string {
	if https {
		return BindingCookieHTTPS
	}
	return BindingCookieHTTP
}

// NewToken returns 32 random bytes, base64url without padding: a session id
// or a binding value.
func NewToken() string {
	b := make([]byte, tokenBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it crashes the program instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

// strictToken decodes only the canonical form (no set trailing bits).
// Strict copies the whole Encoding, so it is made once.
var strictToken = base64.RawURLEncoding.Strict()

// ValidToken reports whether v has the exact shape NewToken produces, so a
// forged or garbage cookie is refused before any store call.
func ValidToken(v string) bool {
	if len(v) != tokenLen {
		return false
	}
	b, err := strictToken.DecodeString(v)
	return err == nil && len(b) == tokenBytes
}

// CookieValue returns the request's session cookie: __Host-session on
// https, session on plain http (see IsHTTPS).
func CookieValue(req events.APIGatewayV2HTTPRequest) (string, bool) {
	return RequestCookie(req, CookieName(IsHTTPS(req)))
}

// RequestCookie returns the first cookie called name. Payload 2.0 puts the
// cookies in the event's cookies array; other emitters leave the Cookie
// header.
func RequestCookie(req events.APIGatewayV2HTTPRequest, name string) (string, bool) {
	pairs := req.Cookies
	if len(pairs) == 0 {
		line, _ := Header(req, "cookie")
		pairs = strings.Split(line, ";")
	}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		// Only ASCII blanks are trimmed: with Unicode trimming a cookie
		// named "\u00a0__Host-session", which a sibling domain may set,
		// would pass for __Host-session, whose rules browsers enforce on
		// the exact name only.
		if ok && strings.Trim(k, " \t") == name {
			return strings.Trim(v, " \t"), true
		}
	}
	return "", false
}

// Header returns a request header. API Gateway lower-cases names; local
// emulators may not.
func Header(req events.APIGatewayV2HTTPRequest, name string) (string, bool) {
	if v, ok := req.Headers[name]; ok {
		return v, true
	}
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// IsHTTPS reports whether the browser talks https to the gateway: the first
// X-Forwarded-Proto value, https when absent (API Gateway always sends it).
func IsHTTPS(req events.APIGatewayV2HTTPRequest) bool {
	v, ok := Header(req, "x-forwarded-proto")
	if !ok {
		return true
	}
	first, _, _ := strings.Cut(v, ",")
	return strings.EqualFold(strings.TrimSpace(first), "https")
}
