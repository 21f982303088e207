// Package auth is the app-facing library for the app's own Lambda
// functions: who is signed in (FromAuthorizer behind the SessionAuthorizer,
// else FromRequest, FromCookie), a usable provider access token for calling
// provider APIs on the user's behalf (AccessToken), and sign out
// everywhere. The rules behind it are the session core's (pkg/session), the
// same the sign-in routes use.
package auth

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-signin/signin/internal/lambdaenv/secretenv"
	"github.com/serverless-signin/signin/pkg/oauth"
	"github.com/serverless-signin/signin/pkg/session"
	"github.com/serverless-signin/signin/pkg/store"
)

// Defaults for the zero values of Sessions' fields.
const (
	DefaultRefreshSkew   = session.DefaultRefreshSkew
	DefaultLeaseTimeout  = session.DefaultLeaseTimeout
	DefaultRevokeTimeout = session.DefaultRevokeTimeout
)

// ErrNotSignedIn: the request carries no session cookie, or one that names
// no live session (unknown, expired, signed out, malformed). Answer 401.
var ErrNotSignedIn = session.ErrNotSignedIn

// ErrSignInAgain: the session had to be ended because its tokens can no
// longer be refreshed (the provider answered invalid_grant, the refresh
// token is missing or expired, or the refreshed ID token names another
// user). The session and token records are deleted, so /auth/me reports the
// browser signed out. It is also an ErrNotSignedIn: one errors.Is check
// covers both.
var ErrSignInAgain = session.ErrSignInAgain

// Session is a signed-in browser as the app's own functions see it: its
// store key (the SHA-256 of the cookie value, never the value itself), the
// user, the issuer and the absolute expiry.
type Session = session.Session

// NewLogger returns the JSON logger the sign-in code writes to.
func NewLogger(w io.Writer) *slog.Logger { return session.NewLogger(w) }

// Sessions is the app-facing API. Build it once per container
// (SessionsFromEnv) and share it: it holds no per-request state. Store is
// required; OAuth is needed by AccessToken (to refresh) and by
// SignOutEverywhere (to revoke). Set the fields before the first call.
type Sessions struct {
	Store store.Store
	OAuth *oauth.Client

	// Skew: refresh an access token that expires within Skew; 0:
	// DefaultRefreshSkew. Keep it below the provider's access token
	// lifetime, or every call refreshes.
	Skew time.Duration
	// LeaseTimeout bounds one refresh; 0: DefaultLeaseTimeout. The
	// provider call and the save of its result finish inside it (the lease
	// is extended before saving after a slow provider call). Callers
	// waiting for another container's refresh wait while it lives, then
	// take over.
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

	once sync.Once
	core *session.Manager
}

// manager is the session core over the fields, built on first use.
func (s *Sessions) manager() *session.Manager {
	s.once.Do(func() {
		cfg := session.Config{
			Store:         s.Store,
			IdleTimeout:   s.IdleTimeout,
			RevokeTimeout: s.RevokeTimeout,
			RefreshSkew:   s.Skew,
			LeaseTimeout:  s.LeaseTimeout,
			Logger:        s.Logger,
			Now:           s.Now,
		}
		if s.OAuth != nil {
			cfg.Revoker, cfg.Refresher = s.OAuth, s.OAuth
		}
		s.core = session.New(cfg)
	})
	return s.core
}

// FromRequest returns the session named by the request's session cookie,
// read exactly as /auth/me reads it: __Host-session on https, session on
// http, from the event's cookies (else the Cookie header), refused unless it
// has the shape of a session id. Errors: ErrNotSignedIn when there is no
// live session; anything else (wrapping store.ErrUnavailable) is a storage
// failure, which must never be answered as "signed out".
func (s *Sessions) FromRequest(ctx context.Context, req events.APIGatewayV2HTTPRequest) (*Session, error) {
	id, ok := session.CookieValue(req)
	if !ok {
		return nil, ErrNotSignedIn
	}
	return s.FromCookie(ctx, id)
}

// FromCookie returns the session named by a session cookie value, with the
// errors of FromRequest. Round trips: one GetItem (plus, with an IdleTimeout,
// an UpdateItem at most every few minutes).
func (s *Sessions) FromCookie(ctx context.Context, value string) (*Session, error) {
	sess, err := s.manager().Lookup(ctx, value)
	if err != nil {
		return nil, err
	}
	return &sess, nil
}

// AccessToken returns a usable access token of the session's user, for
// calling provider APIs on the user's behalf. Never hand it to the browser.
// A token about to expire is refreshed, once across all containers sharing
// the table (see session.Manager.AccessToken for the lease).
//
// Errors: ErrSignInAgain (also an ErrNotSignedIn) when the tokens cannot be
// refreshed any more: the session has been ended. ErrNotSignedIn when the
// session ended meanwhile. Anything else (store.ErrUnavailable, a provider
// outage, ctx done) wraps its cause, after which the session stays signed
// in. An expired access token is never returned as usable.
//
// Round trips for a fresh token: one GetItem, no provider call.
func (s *Sessions) AccessToken(ctx context.Context, sess *Session) (string, error) {
	if sess == nil {
		return "", ErrNotSignedIn
	}
	return s.manager().AccessToken(ctx, sess.Key)
}

// SignOutEverywhere ends every session of one user still in the store
// (every browser and device, expired sessions included: their grants may
// still be live) and returns how many it ended; each session's refresh
// token (else its access token) is then revoked, best effort within
// RevokeTimeout. The
// sessions are found through the store's user index, which in DynamoDB is
// eventually consistent: a session created a moment ago may survive.
// Sessions that could not be deleted are reported in the error (wrapping
// store.ErrUnavailable), together with the count of those that were.
func (s *Sessions) SignOutEverywhere(ctx context.Context, issuer, subject string) (int, error) {
	return s.manager().EndAll(ctx, issuer, subject)
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
// invalid variable. The only network I/O is the secret reads. OAuth is set
// to the OpenID client it builds, for calling the provider on the user's
// behalf (OAuth.UserInfo with a token from AccessToken).
func SessionsFromEnvWith(ctx context.Context, getenv func(string) string) (*Sessions, error) {
	cfg, err := secretenv.Sessions(ctx, getenv)
	if err != nil {
		return nil, err
	}
	client, _ := cfg.Refresher.(*oauth.Client) // the client the core refreshes and revokes with
	// The core is built from the fields on first use, so a caller may still
	// tune them (Skew, Logger, ...) before its first call.
	return &Sessions{Store: cfg.Store, OAuth: client, IdleTimeout: cfg.IdleTimeout}, nil
}
