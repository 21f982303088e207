package routes

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-signin/signin/pkg/session"
	"github.com/serverless-signin/signin/pkg/signin"
)

// me tells the page who is signed in. Round trips: the session core's
// lookup (one GetItem, plus one UpdateItem at most every few minutes when an
// idle timeout is configured). A storage failure is a 500 that leaves the
// cookie alone: an outage must not sign anybody out.
func (h *Handler) me(ctx context.Context, x *exchange) events.APIGatewayV2HTTPResponse {
	id, ok := session.RequestCookie(x.req, session.CookieName(x.https))
	if !ok {
		return jsonResponse(200, bodyUnauthenticated)
	}
	if !session.ValidToken(id) {
		return signedOut(x, "malformed session cookie")
	}

	// Bounded here rather than for every request: most answers without a
	// live session make no call at all.
	ctx, cancel := boundContext(ctx)
	defer cancel()
	sess, err := h.sessions.Lookup(ctx, id)
	var notSignedIn *session.NotSignedInError
	switch {
	case errors.As(err, &notSignedIn):
		return signedOut(x, notSignedIn.Reason)
	case err != nil:
		return x.fail(jsonResponse(500, bodySessionLookupFailed), "get session", err)
	}
	body, err := meBody(sess.User)
	if err != nil {
		return x.fail(jsonResponse(500, bodySessionLookupFailed), "me body", err)
	}
	return jsonResponse(200, body)
}

// signedOut answers a cookie that names no live session: 401 and a
// Set-Cookie that clears it.
func signedOut(x *exchange, detail string) events.APIGatewayV2HTTPResponse {
	return x.fail(jsonResponse(401, bodyUnauthenticated, clearSession(x.https)), detail, nil)
}

// meUser is the signed-in answer's user; unknown email and name are null.
type meUser struct {
	ID    string  `json:"id"`
	Email *string `json:"email"`
	Name  *string `json:"name"`
}

// meBody renders {"authenticated":true,"user":{"id":…,"email":…|null,"name":…|null}}
// with encoding/json, whose default HTML-safe escaping also keeps <, >, &,
// U+2028 and U+2029 out of a body that may end up in a page.
func meBody(u signin.User) (string, error) {
	b, err := json.Marshal(struct {
		Authenticated bool   `json:"authenticated"`
		User          meUser `json:"user"`
	}{true, meUser{ID: u.Subject, Email: optional(u.Email), Name: optional(u.Name)}})
	return string(b), err
}

// optional is nil (JSON null) for "" (unknown).
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
