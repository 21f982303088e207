package auth

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-signin/signin/pkg/oauth/store"
)

// meBody is the signed-in answer; field order is the contract's key order.
type meBody struct {
	Authenticated bool   `json:"authenticated"`
	User          meUser `json:"user"`
}

type meUser struct {
	ID    string  `json:"id"`
	Email *string `json:"email"` // null when unknown
	Name  *string `json:"name"`  // null when unknown
}

// me tells the page who is signed in. Round trips: one GetItem, plus one
// UpdateItem at most every few minutes when an idle timeout is configured.
// A storage failure is a 500 that leaves the cookie alone: an outage must
// not sign anybody out.
func (h *Handler) me(ctx context.Context, x *exchange) events.APIGatewayV2HTTPResponse {
	name := sessionCookieName(x.https)
	id, ok := requestCookie(x.req, name)
	if !ok {
		return jsonResponse(200, bodyUnauthenticated)
	}
	gone := jsonResponse(401, bodyUnauthenticated, cookie(name, "", 0, x.https))
	if !validToken(id) {
		return x.fail(gone, "malformed session cookie", nil)
	}

	key := store.Hash(id)
	sess, err := h.store.GetSession(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return x.fail(gone, "no live session", nil)
	case err != nil:
		return x.fail(jsonResponse(500, bodySessionLookupFailed), "get session", err)
	}
	// The store already hides expired records; checking again here keeps
	// the rule independent of each implementation's clock handling.
	if !x.now.Before(sess.ExpiresAt) {
		return x.fail(gone, "session expired", nil)
	}
	if !sess.IdleExpiresAt.IsZero() && !x.now.Before(sess.IdleExpiresAt) {
		return x.fail(gone, "session idle", nil)
	}

	if next, ok := h.nextTouch(x.now, sess); ok {
		err := h.store.TouchSession(ctx, key, next)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return x.fail(gone, "session gone before touch", nil)
		case err != nil:
			// The session was live a moment ago; a missed touch only
			// means the idle clock did not move this time.
			x.note("touch session", err)
		}
	}

	u := meUser{ID: sess.User.Subject}
	if sess.User.Email != "" {
		u.Email = &sess.User.Email
	}
	if sess.User.Name != "" {
		u.Name = &sess.User.Name
	}
	body, err := json.Marshal(meBody{Authenticated: true, User: u})
	if err != nil {
		return x.fail(jsonResponse(500, bodySessionLookupFailed), "encode", err)
	}
	return jsonResponse(200, string(body))
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
