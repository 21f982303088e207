package auth

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Cookie names. On https the __Host- prefix makes the browser refuse a cookie
// set by a sibling domain or without Secure and Path=/ (cookie tossing).
const (
	sessionCookieHTTPS = "__Host-session"
	sessionCookieHTTP  = "session"
	bindingCookieHTTPS = "__Host-signin_binding"
	bindingCookieHTTP  = "signin_binding"
)

// tokenBytes is the entropy of session ids and binding values; tokenLen is
// their base64url (unpadded) length.
const (
	tokenBytes = 32
	tokenLen   = 43
)

func sessionCookieName(https bool) string {
	if https {
		return sessionCookieHTTPS
	}
	return sessionCookieHTTP
}

func bindingCookieName(https bool) string {
	if https {
		return bindingCookieHTTPS
	}
	return bindingCookieHTTP
}

// newToken returns 32 random bytes, base64url without padding.
func newToken() string {
	b := make([]byte, tokenBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it crashes the program instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

// strictToken decodes only the canonical form (no set trailing bits).
// Strict copies the whole Encoding, so it is made once.
var strictToken = base64.RawURLEncoding.Strict()

// validToken reports whether v has the exact shape newToken produces, so a
// forged or garbage cookie is refused before any store call.
func validToken(v string) bool {
	if len(v) != tokenLen {
		return false
	}
	b, err := strictToken.DecodeString(v)
	return err == nil && len(b) == tokenBytes
}

// requestCookie returns the first cookie called name. Payload 2.0 puts the
// cookies in the event's cookies array; other emitters leave the Cookie
// header.
func requestCookie(req events.APIGatewayV2HTTPRequest, name string) (string, bool) {
	pairs := req.Cookies
	if len(pairs) == 0 {
		line, _ := header(req, "cookie")
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

// The Set-Cookie values that sign a browser out never change, so they are
// rendered once.
var (
	clearSessionHTTPS = cookie(sessionCookieHTTPS, "", 0, true)
	clearSessionHTTP  = cookie(sessionCookieHTTP, "", 0, false)
)

// clearSession returns the Set-Cookie that clears the session cookie.
func clearSession(https bool) string {
	if https {
		return clearSessionHTTPS
	}
	return clearSessionHTTP
}

// cookie renders a Set-Cookie value with the attributes every cookie here
// shares: HttpOnly, SameSite=Lax, Path=/, Secure on https. maxAge 0 clears.
func cookie(name, value string, maxAge time.Duration, https bool) string {
	c := http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   int(maxAge / time.Second),
		HttpOnly: true,
		Secure:   https,
		SameSite: http.SameSiteLaxMode,
	}
	if maxAge <= 0 {
		c.Value, c.MaxAge = "", -1 // net/http writes Max-Age=0 for a negative MaxAge
	}
	return c.String()
}
