package routes

import (
	"net/http"
	"time"

	"github.com/serverless-signin/signin/pkg/session"
)

// The Set-Cookie values that sign a browser out never change, so they are
// rendered once.
var (
	clearSessionHTTPS = cookie(session.CookieHTTPS, "", 0, true)
	clearSessionHTTP  = cookie(session.CookieHTTP, "", 0, false)
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
// Which cookies exist and how requests carry them is pkg/session's.
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
