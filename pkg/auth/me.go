package auth

import (
	"context"
	"errors"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-signin/signin/pkg/oauth/store"
)

// me tells the page who is signed in. Round trips: one GetItem, plus one
// UpdateItem at most every few minutes when an idle timeout is configured.
// A storage failure is a 500 that leaves the cookie alone: an outage must
// not sign anybody out.
func (h *Handler) me(ctx context.Context, x *exchange) events.APIGatewayV2HTTPResponse {
	id, ok := requestCookie(x.req, sessionCookieName(x.https))
	if !ok {
		return jsonResponse(200, bodyUnauthenticated)
	}
	if !validToken(id) {
		return signedOut(x, "malformed session cookie")
	}

	// Bounded here rather than for every request: most answers without a
	// live session make no call at all.
	ctx, cancel := boundContext(ctx)
	defer cancel()
	key := store.Hash(id)
	sess, err := h.store.GetSession(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return signedOut(x, "no live session")
	case err != nil:
		return x.fail(jsonResponse(500, bodySessionLookupFailed), "get session", err)
	}
	// The store already hides expired records; checking again here keeps
	// the rule independent of each implementation's clock handling.
	if !x.now.Before(sess.ExpiresAt) {
		return signedOut(x, "session expired")
	}
	if !sess.IdleExpiresAt.IsZero() && !x.now.Before(sess.IdleExpiresAt) {
		return signedOut(x, "session idle")
	}

	if next, ok := h.nextTouch(x.now, sess); ok {
		err := h.store.TouchSession(ctx, key, next)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return signedOut(x, "session gone before touch")
		case err != nil:
			// The session was live a moment ago; a missed touch only
			// means the idle clock did not move this time.
			x.note("touch session", err)
		}
	}
	return jsonResponse(200, meBody(sess.User))
}

// signedOut answers a cookie that names no live session: 401 and a
// Set-Cookie that clears it.
func signedOut(x *exchange, detail string) events.APIGatewayV2HTTPResponse {
	return x.fail(jsonResponse(401, bodyUnauthenticated, clearSession(x.https)), detail, nil)
}

// meBody renders the signed-in answer,
// {"authenticated":true,"user":{"id":…,"email":…|null,"name":…|null}}, by
// hand: through json.Marshal's reflection it took a sixth of the handler's
// time. Strings are escaped exactly as encoding/json escapes them
// (FuzzAppendJSONString compares the two).
func meBody(u store.User) string {
	var buf [256]byte // on the stack: the string below is the one allocation
	b := append(buf[:0], `{"authenticated":true,"user":{"id":`...)
	b = appendJSONString(b, u.Subject)
	b = append(b, `,"email":`...)
	b = appendOptionalJSONString(b, u.Email)
	b = append(b, `,"name":`...)
	b = appendOptionalJSONString(b, u.Name)
	return string(append(b, "}}"...))
}

// appendOptionalJSONString appends s, or null for "" (unknown).
func appendOptionalJSONString(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendJSONString(b, s)
}

// appendJSONString appends s as a JSON string the way encoding/json does
// with its default HTML-safe escaping: quotes, backslashes and control
// characters escaped, <, > and & as \u003c, \u003e, \u0026 (the body may
// end up in a page), U+2028 and U+2029 escaped for JavaScript, and each
// byte of invalid UTF-8 as \ufffd.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0 // s[start:i] is still to be copied as is
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// nextTouch returns the new idle expiry when the current one is old enough
// to move: the last touch was more than touchInterval ago (half the idle
// timeout when that is shorter), so most requests cost no write. The idle
// expiry never passes the absolute one.
func (h *Handler) nextTouch(now time.Time, sess store.Session) (time.Time, bool) {
	if h.opts.IdleTimeout <= 0 || sess.IdleExpiresAt.IsZero() {
		return time.Time{}, false
	}
	interval := min(touchInterval, h.opts.IdleTimeout/2)
	if sess.IdleExpiresAt.Sub(now) >= h.opts.IdleTimeout-interval {
		return time.Time{}, false
	}
	next := minTime(now.Add(h.opts.IdleTimeout), sess.ExpiresAt)
	return next, next.After(sess.IdleExpiresAt)
}
