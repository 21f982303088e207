package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-signin/signin/pkg/oauth"
	"github.com/serverless-signin/signin/pkg/oauth/store"
)

// Defaults for the zero values of Sessions' fields.
const (
	// DefaultRefreshSkew: an access token expiring within this is refreshed
	// before use, so it does not expire on its way to the provider.
	DefaultRefreshSkew = 60 * time.Second
	// DefaultLeaseTimeout is how long one refresher may hold a token record
	// before another caller may take over. It must exceed the provider
	// call's timeout (oauth.Config.Timeout, 5s by default).
	DefaultLeaseTimeout = 15 * time.Second
)

// ErrNotSignedIn: the request carries no session cookie, or one that names
// no live session (unknown, expired, signed out, malformed). Answer 401.
var ErrNotSignedIn = errors.New("auth: not signed in")

// ErrSignInAgain: the session had to be ended because its tokens can no
// longer be refreshed (the provider answered invalid_grant, the refresh
// token is missing or expired, or the refreshed ID token names another
// user). The session and token records are deleted, so /auth/me reports the
// browser signed out. It is also an ErrNotSignedIn: one errors.Is check
// covers both.
var ErrSignInAgain error = signInAgain{}

type signInAgain struct{}

func (signInAgain) Error() string        { return "auth: sign in again" }
func (signInAgain) Is(target error) bool { return target == ErrNotSignedIn }

// Session is a signed-in browser as the app's own functions see it.
type Session struct {
	Key       string // store key: the SHA-256 of the cookie value, never the value itself
	User      store.User
	Issuer    string
	ExpiresAt time.Time // absolute expiry
}

// Sessions is the app-facing API for the app's own Lambda functions: who is
// signed in (FromRequest), a usable provider access token for calling
// provider APIs on the user's behalf (AccessToken), and sign out everywhere.
// Build it once per container (SessionsFromEnv) and share it: it holds no
// per-request state. Store is required; OAuth is needed by AccessToken (to
// refresh) and by SignOutEverywhere (to revoke).
type Sessions struct {
	Store store.Store
	OAuth *oauth.Client

	// Skew: refresh an access token that expires within Skew; 0:
	// DefaultRefreshSkew. Keep it below the provider's access token
	// lifetime, or every call refreshes.
	Skew time.Duration
	// LeaseTimeout bounds one refresh; 0: DefaultLeaseTimeout. Callers
	// waiting for another container's refresh wait at most about this long
	// before they take over.
	LeaseTimeout time.Duration
	// IdleTimeout is the session idle timeout (SESSION_IDLE_TIMEOUT) the
	// handlers use; when set, FromRequest extends the idle expiry as
	// /auth/me does, so using the app counts as activity. 0: no touch.
	IdleTimeout time.Duration
	// RevokeTimeout bounds the best-effort revocations of
	// SignOutEverywhere; 0: DefaultRevokeTimeout.
	RevokeTimeout time.Duration

	Logger *slog.Logger     // nil: JSON to stderr
	Now    func() time.Time // nil: time.Now
}

// Sessions returns the app-facing API over the handler's store, OAuth client
// and options (logout uses it for "sign out everywhere").
func (h *Handler) Sessions() *Sessions {
	return &Sessions{
		Store:         h.store,
		OAuth:         h.oauth,
		IdleTimeout:   h.opts.IdleTimeout,
		RevokeTimeout: h.opts.RevokeTimeout,
		Logger:        h.opts.Logger,
		Now:           h.opts.Now,
	}
}

func (s *Sessions) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Sessions) skew() time.Duration {
	if s.Skew > 0 {
		return s.Skew
	}
	return DefaultRefreshSkew
}

func (s *Sessions) leaseTimeout() time.Duration {
	if s.LeaseTimeout > 0 {
		return s.LeaseTimeout
	}
	return DefaultLeaseTimeout
}

func (s *Sessions) revokeTimeout() time.Duration {
	if s.RevokeTimeout > 0 {
		return s.RevokeTimeout
	}
	return DefaultRevokeTimeout
}

func (s *Sessions) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return NewLogger(os.Stderr)
}

// FromRequest returns the session named by the request's session cookie,
// read exactly as /auth/me reads it: __Host-session on https, session on
// http, from the event's cookies (else the Cookie header), refused unless it
// has the shape of a session id. Errors: ErrNotSignedIn when there is no
// live session; anything else (wrapping store.ErrUnavailable) is a storage
// failure, which must never be answered as "signed out".
func (s *Sessions) FromRequest(ctx context.Context, req events.APIGatewayV2HTTPRequest) (*Session, error) {
	id, ok := requestCookie(req, sessionCookieName(isHTTPS(req)))
	if !ok {
		return nil, ErrNotSignedIn
	}
	return s.FromCookie(ctx, id)
}

// FromCookie returns the session named by a session cookie value, with the
// errors of FromRequest. Round trips: one GetItem (plus, with an IdleTimeout,
// an UpdateItem at most every few minutes).
func (s *Sessions) FromCookie(ctx context.Context, value string) (*Session, error) {
	if !validToken(value) {
		return nil, ErrNotSignedIn
	}
	key := store.Hash(value)
	rec, err := s.Store.GetSession(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrNotSignedIn
	case err != nil:
		return nil, fmt.Errorf("auth: session: %w", err)
	}
	// The store hides expired records already; checking here keeps the
	// rule independent of each implementation's clock, as /auth/me does.
	now := s.now()
	if !now.Before(rec.ExpiresAt) || (!rec.IdleExpiresAt.IsZero() && !now.Before(rec.IdleExpiresAt)) {
		return nil, ErrNotSignedIn
	}
	if next, ok := s.nextTouch(now, rec); ok {
		err := s.Store.TouchSession(ctx, key, next)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil, ErrNotSignedIn
		case err != nil:
			// The session was live a moment ago; a missed touch only means
			// the idle clock did not move this time.
			s.logger().WarnContext(ctx, "auth: touch session", slog.String("error", err.Error()))
		}
	}
	return &Session{Key: key, User: rec.User, Issuer: rec.Issuer, ExpiresAt: rec.ExpiresAt}, nil
}

// nextTouch is /auth/me's rule: move the idle expiry when the last touch is
// more than touchInterval (or half the idle timeout) old, never past the
// absolute expiry, so most requests cost no write.
func (s *Sessions) nextTouch(now time.Time, rec store.Session) (time.Time, bool) {
	if s.IdleTimeout <= 0 || rec.IdleExpiresAt.IsZero() {
		return time.Time{}, false
	}
	interval := min(touchInterval, s.IdleTimeout/2)
	if rec.IdleExpiresAt.Sub(now) >= s.IdleTimeout-interval {
		return time.Time{}, false
	}
	next := minTime(now.Add(s.IdleTimeout), rec.ExpiresAt)
	return next, next.After(rec.IdleExpiresAt)
}

// SessionsFromEnv builds Sessions for one of the app's own functions from
// the process environment, at cold start. See SessionsFromEnvWith.
func SessionsFromEnv(ctx context.Context) (*Sessions, error) {
	return SessionsFromEnvWith(ctx, os.Getenv)
}

// SessionsFromEnvWith builds Sessions from getenv with the handlers'
// variables: TABLE_NAME, the OAUTH_* configuration, the client secret
// (OAUTH_CLIENT_SECRET, else OAUTH_CLIENT_SECRET_ARN in Secrets Manager,
// else the SSM SecureString OAUTH_CLIENT_SECRET_PARAMETER: refreshing and
// revoking authenticate as the client), the token encryption key the
// handlers use (TOKEN_ENCRYPTION_KEY or TOKEN_ENCRYPTION_KEY_ARN, when they
// use one) and SESSION_IDLE_TIMEOUT. One error names every missing or
// invalid variable. The only network I/O is the secret reads and, when
// AWS_ENDPOINT_URL_DYNAMODB is set (local use), creating the table if it is
// missing.
func SessionsFromEnvWith(ctx context.Context, getenv func(string) string) (*Sessions, error) {
	var problems []string
	idle, ok := envDuration(getenv, envIdleTimeout, 0, true)
	if !ok {
		problems = append(problems, idleTimeoutProblem)
	}
	w, err := wire(ctx, getenv, "sessions", wiring{oauth: true, secret: true, tokenKey: true}, problems)
	if err != nil {
		return nil, err
	}
	return &Sessions{Store: w.store, OAuth: w.client, IdleTimeout: idle}, nil
}
