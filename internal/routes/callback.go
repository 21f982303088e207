package routes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-signin/signin/pkg/session"
	"github.com/serverless-signin/signin/pkg/signin"
	"github.com/serverless-signin/signin/pkg/store"
)

// validErrorCode reports whether a provider's error code may be echoed as
// "reason": 1 to 64 of A-Z, a-z, 0-9, '_', '.', '-' (what
// ^[A-Za-z0-9_.-]{1,64}$ matches). RFC 6749 codes (access_denied,
// login_required, ...) all do. Anything else is reported as
// "invalid_request": the provider's answer was malformed, and we never
// reflect arbitrary text. A byte loop rather than a regexp: compiling that
// pattern at package init cost every function 0.3 ms of cold start
// (BENCHMARKS.md).
func validErrorCode(s string) bool {
	if len(s) < 1 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '_', c == '.', c == '-':
		default:
			return false
		}
	}
	return true
}

// endOldSessionTimeout bounds ending the session a re-sign-in replaces
// (its deletes and revocation together): a slow store or provider must not
// hold up a sign-in that has already succeeded.
const endOldSessionTimeout = 3 * time.Second

// callback finishes a sign-in: it consumes the state (exactly once, only by
// the browser that started it), checks the response's iss (RFC 9207),
// exchanges the code, verifies the ID token, fetches userinfo and writes the
// session. When the browser already held a session cookie, that older
// session is then ended (docs/contract.md §6.7), best effort. The binding
// cookie is left to expire: another tab's pending sign-in still needs it
// (§6.8).
// Round trips: one UpdateItem (consume), token + userinfo (+ JWKS when not
// cached) at the provider, one TransactWriteItems (session + tokens); with
// an old session cookie, + 2 DeleteItem (concurrent) + 1 revocation.
func (h *Handler) callback(ctx context.Context, x *exchange) events.APIGatewayV2HTTPResponse {
	invalid := jsonResponse(400, bodyInvalidCallback)
	fail := jsonResponse(500, bodySignInFailed)

	// Everything that can be refused without the store is refused first,
	// so garbage never costs a DynamoDB call or consumes a state.
	q, err := strictQuery(x.req, "state", "code", "error", "iss")
	if err != nil {
		return x.fail(invalid, "bad query", err)
	}
	state, code, providerErr := q["state"], q["code"], q["error"]
	iss, hasIss := q["iss"]
	if state == "" {
		return x.fail(invalid, "missing state", nil)
	}
	if code == "" && providerErr == "" {
		return x.fail(invalid, "missing code", nil)
	}
	binding, ok := session.RequestCookie(x.req, session.BindingCookieName(x.https))
	if !ok || !session.ValidToken(binding) {
		return x.fail(invalid, "missing or malformed binding cookie", nil)
	}
	if h.provider == nil {
		return x.fail(fail, "no provider", errNoProvider)
	}

	st, err := h.store.ConsumeState(ctx, state, store.Hash(binding))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return x.fail(invalid, "unknown or expired state", nil)
	case errors.Is(err, store.ErrConsumed):
		return x.fail(invalid, "state already used", nil)
	case errors.Is(err, store.ErrBindingMismatch):
		return x.fail(invalid, "state bound to another browser", nil)
	case err != nil:
		return x.fail(fail, "consume state", err)
	}

	// RFC 9207: a response that names its issuer must name ours. Otherwise
	// the browser was sent to another provider (a mix-up attack) and its
	// code must never reach our token endpoint, nor its error the user. A
	// provider whose discovery document promises iss must send it. The
	// state is spent either way: the flow cannot be trusted any more.
	issuer := h.provider.Issuer()
	switch {
	case hasIss && !sameIssuer(iss, issuer):
		return x.fail(fail, "iss mismatch", fmt.Errorf("routes: callback iss %q is not the configured issuer %q", clip(iss, 200), issuer))
	case !hasIss && h.provider.IssParameterSupported(ctx):
		return x.fail(fail, "iss missing", errors.New("routes: callback without iss although the provider advertises authorization_response_iss_parameter_supported"))
	}

	// The provider refused (access_denied, login_required, ...). The state
	// is spent, so a retry starts from /auth/login. An error wins over a
	// code sent alongside it: we never exchange a code the provider itself
	// disowned.
	if providerErr != "" {
		reason := providerErr
		if !validErrorCode(reason) {
			reason = "invalid_request"
		}
		body, _ := json.Marshal(struct {
			Error  string `json:"error"`
			Reason string `json:"reason"`
		}{"OAuth sign-in failed", reason})
		return x.fail(jsonResponse(400, string(body)), "provider error: "+reason, nil)
	}

	res, err := h.provider.SignIn(ctx, code, st.AuthRequest)
	if err != nil {
		return x.fail(fail, "sign in", err)
	}
	if res.User.Subject == "" {
		return x.fail(fail, "session", errors.New("routes: sign-in returned no subject"))
	}
	id := session.NewToken()
	sess, tokens := h.newSession(x, store.Hash(id), res)
	if err := h.store.CreateSession(ctx, sess, tokens); err != nil {
		return x.fail(fail, "create session", err)
	}

	h.endOldSession(ctx, x)

	// The new cookie replaces the old one. The binding cookie stays: a
	// sign-in pending in another tab is bound to it, and it expires with
	// its Max-Age (a state is single use whether or not it is cleared).
	return redirect(safeReturnTo(st.ReturnTo), cookie(session.CookieName(x.https), id, h.cfg.SessionLifetime, x.https))
}

// endOldSession ends the session named by the session cookie the callback's
// request carried, if any: a leaked old cookie dies with the re-sign-in, and
// a shared browser keeps no previous user's session. It runs after the new
// session is stored and never fails the sign-in: a missing or already-ended
// session is nothing to do, anything else is noted in the log.
func (h *Handler) endOldSession(ctx context.Context, x *exchange) {
	old, ok := session.RequestCookie(x.req, session.CookieName(x.https))
	if !ok || !session.ValidToken(old) {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, endOldSessionTimeout)
	defer cancel()
	ended, err := h.sessions.End(ctx, store.Hash(old))
	switch {
	case errors.Is(err, session.ErrNotSignedIn):
	case err != nil:
		x.note("end old session", err)
	case ended.RevokeErr != nil:
		x.note("revoke old session", ended.RevokeErr)
	}
}

// newSession builds the session and token records of a verified sign-in,
// keyed by key.
func (h *Handler) newSession(x *exchange, key string, res signin.Result) (store.Session, store.Tokens) {
	expires := x.now.Add(h.cfg.SessionLifetime)
	sess := store.Session{
		Key:           key,
		User:          res.User,
		Issuer:        res.Issuer,
		CreatedAt:     x.now,
		ExpiresAt:     expires,
		IdleExpiresAt: h.sessions.NewIdleExpiry(x.now, expires),
	}
	tokens := store.Tokens{Key: key, Token: res.Token, ExpiresAt: expires, Version: 1}
	return sess, tokens
}

// sameIssuer compares issuer identifiers as RFC 9207 asks, by simple
// string comparison, tolerating only a trailing slash on either side (as
// discovery does).
func sameIssuer(a, b string) bool {
	return strings.TrimSuffix(a, "/") == strings.TrimSuffix(b, "/")
}

// clip bounds a request-supplied value before it goes to the log.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
