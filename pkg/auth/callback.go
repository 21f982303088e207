package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-signin/signin/pkg/oauth"
	"github.com/serverless-signin/signin/pkg/oauth/store"
)

// errorCodePattern is what a provider's error code must look like to be
// echoed as "reason". RFC 6749 codes (access_denied, login_required, ...)
// all match. Anything else is reported as "invalid_request": the provider's
// answer was malformed, and we never reflect arbitrary text.
var errorCodePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// callback finishes a sign-in: it consumes the state (exactly once, only by
// the browser that started it), checks the response's iss (RFC 9207) when
// present, exchanges the code, verifies the ID token, fetches userinfo and
// writes the session.
// Round trips: one UpdateItem (consume), token + userinfo (+ JWKS when not
// cached) at the provider, one TransactWriteItems (session + tokens).
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
	binding, ok := requestCookie(x.req, bindingCookieName(x.https))
	if !ok || !validToken(binding) {
		return x.fail(invalid, "missing or malformed binding cookie", nil)
	}
	if h.oauth == nil {
		return x.fail(fail, "no oauth client", errors.New("auth: handler built without an oauth client"))
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
	// code must never reach our token endpoint, nor its error the user. The
	// state is spent either way: the flow cannot be trusted any more.
	if hasIss && !sameIssuer(iss, h.oauth.Config().Issuer) {
		return x.fail(fail, "iss mismatch", fmt.Errorf("auth: callback iss %q is not the configured issuer %q", clip(iss, 200), h.oauth.Config().Issuer))
	}

	// The provider refused (access_denied, login_required, ...). The state
	// is spent, so a retry starts from /auth/login. An error wins over a
	// code sent alongside it: we never exchange a code the provider itself
	// disowned.
	if providerErr != "" {
		reason := providerErr
		if !errorCodePattern.MatchString(reason) {
			reason = "invalid_request"
		}
		body, _ := json.Marshal(struct {
			Error  string `json:"error"`
			Reason string `json:"reason"`
		}{"OAuth sign-in failed", reason})
		return x.fail(jsonResponse(400, string(body)), "provider error: "+reason, nil)
	}

	tok, idTok, user, err := h.oauth.SignIn(ctx, code, st.Verifier, st.RedirectURI, st.Nonce)
	if err != nil {
		return x.fail(fail, "sign in", err)
	}
	sess, tokens, err := h.newSession(x, tok, idTok, user)
	if err != nil {
		return x.fail(fail, "session", err)
	}
	id := newToken()
	sess.Key, tokens.Key = store.Hash(id), store.Hash(id)
	if err := h.store.CreateSession(ctx, sess, tokens); err != nil {
		return x.fail(fail, "create session", err)
	}

	return redirect(safeReturnTo(st.ReturnTo),
		cookie(sessionCookieName(x.https), id, h.opts.SessionLifetime, x.https),
		cookie(bindingCookieName(x.https), "", 0, x.https))
}

// newSession builds the session and token records from a verified sign-in.
// The user comes from userinfo, falling back to the ID token's claims.
func (h *Handler) newSession(x *exchange, tok *oauth.Token, idTok *oauth.IDToken, user *oauth.User) (store.Session, store.Tokens, error) {
	if tok == nil {
		return store.Session{}, store.Tokens{}, errors.New("auth: sign-in returned no token")
	}
	var u store.User
	if user != nil {
		u = store.User{Subject: user.Subject, Email: user.Email, Name: user.Name}
	}
	issuer := h.oauth.Config().Issuer
	if idTok != nil {
		issuer = idTok.Issuer
		if u.Subject == "" {
			u.Subject = idTok.Subject
		}
		if u.Email == "" {
			u.Email = stringClaim(idTok.Claims, "email")
		}
		if u.Name == "" {
			u.Name = stringClaim(idTok.Claims, "name")
		}
	}
	if u.Subject == "" {
		return store.Session{}, store.Tokens{}, fmt.Errorf("auth: sign-in returned no subject")
	}

	expires := x.now.Add(h.opts.SessionLifetime)
	sess := store.Session{User: u, Issuer: issuer, CreatedAt: x.now, ExpiresAt: expires}
	if h.opts.IdleTimeout > 0 {
		sess.IdleExpiresAt = minTime(x.now.Add(h.opts.IdleTimeout), expires)
	}
	tokens := store.Tokens{
		AccessToken:  tok.AccessToken,
		RefreshToken: tok.RefreshToken,
		IDToken:      tok.IDToken,
		TokenType:    tok.TokenType,
		Scope:        tok.Scope,
		Expiry:       tok.Expiry,
		ExpiresAt:    expires,
		Version:      1,
	}
	return sess, tokens, nil
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

func stringClaim(claims map[string]any, name string) string {
	s, _ := claims[name].(string)
	return s
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
