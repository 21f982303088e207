package auth

import (
	"math"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-signin/signin/pkg/signin"
)

// FromAuthorizer returns the session the HTTP API's SessionAuthorizer
// allowed the request with, read from the context it passes to the route
// (requestContext.authorizer.lambda: sub, email, name, iss, session,
// expires_at). It makes no store read: the authorizer looked the session up
// for this very request (its results are not cached), so a function behind
// it gets the user for free, and a usable access token with
// Sessions.AccessToken.
//
// Errors: ErrNotSignedIn when the request carries no such context, or one
// that is not the SessionAuthorizer's (a route it does not guard, another
// authorizer, a missing key or a wrong type): answer 401.
func FromAuthorizer(req events.APIGatewayV2HTTPRequest) (*Session, error) {
	a := req.RequestContext.Authorizer
	if a == nil || a.Lambda == nil {
		return nil, ErrNotSignedIn
	}
	c := a.Lambda
	str := func(key string) (string, bool) {
		s, ok := c[key].(string) // every key is present: "" stands for unknown
		return s, ok
	}
	sub, ok1 := str("sub")
	email, ok2 := str("email")
	name, ok3 := str("name")
	iss, ok4 := str("iss")
	key, ok5 := str("session")
	exp, ok6 := epochSeconds(c["expires_at"])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || sub == "" || !storeKey(key) {
		return nil, ErrNotSignedIn
	}
	return &Session{
		Key:       key,
		User:      signin.User{Subject: sub, Email: email, Name: name},
		Issuer:    iss,
		ExpiresAt: exp,
	}, nil
}

// epochSeconds reads expires_at: a JSON number, which encoding/json decodes
// into a map as float64 (the integer types cover a context built in Go).
func epochSeconds(v any) (time.Time, bool) {
	var f float64
	switch n := v.(type) {
	case float64:
		f = n
	case int64:
		f = float64(n)
	case int:
		f = float64(n)
	default:
		return time.Time{}, false
	}
	if f <= 0 || f != math.Trunc(f) || f > math.MaxInt64/2 {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

// storeKey reports whether k has the shape of a session's store key: the
// SHA-256 of the cookie value in lower-case hex.
func storeKey(k string) bool {
	if len(k) != 64 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
