// Package session is the session core: whether a cookie names a live
// session (and when to move its idle expiry), ending one session or all of a
// user's with their grants revoked, and a usable access token with one
// refresh across containers. The route handlers and the app-facing library
// both use it, so each rule has one implementation. It reaches the provider
// only through Revoker and Refresher, so a binary that never revokes or
// refreshes links no OpenID Connect client.
package session

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/serverless-signin/signin/pkg/signin"
	"github.com/serverless-signin/signin/pkg/store"
)

// Defaults for the zero values of Config.
const (
	DefaultRevokeTimeout = 2 * time.Second
	// DefaultRefreshSkew: an access token expiring within this is refreshed
	// before use, so it does not expire on its way to the provider.
	DefaultRefreshSkew = 60 * time.Second
	// DefaultLeaseTimeout is how long one refresher may hold a token record
	// before another caller may take over. The provider call gets three
	// quarters of it, so it should exceed the provider call's own timeout
	// (5 s by default).
	DefaultLeaseTimeout = 15 * time.Second

	// touchInterval bounds how often a lookup writes the idle expiry: one
	// GetItem per lookup, one UpdateItem at most every five minutes.
	touchInterval = 5 * time.Minute
)

// Revoker revokes a token at the provider (RFC 7009).
type Revoker interface {
	Revoke(ctx context.Context, token, tokenTypeHint string) error
}

// Refresher redeems a refresh token. An error that also satisfies
// errors.Is(err, signin.ErrGrantEnded) means the grant is dead and the
// session must end; any other error may succeed on retry.
type Refresher interface {
	Refresh(ctx context.Context, t signin.Token) (signin.Token, error)
}

// Config configures a Manager. Store is required; every other zero value is
// usable.
type Config struct {
	Store store.Store

	// IdleTimeout signs a session out after this long without a lookup; 0:
	// off. Lookups then move the idle expiry (at most every few minutes).
	IdleTimeout time.Duration
	// RevokeTimeout bounds the best-effort revocations; 0:
	// DefaultRevokeTimeout.
	RevokeTimeout time.Duration
	// RefreshSkew: AccessToken refreshes a token that expires within it; 0:
	// DefaultRefreshSkew. Keep it below the provider's access token
	// lifetime, or every call refreshes.
	RefreshSkew time.Duration
	// LeaseTimeout bounds one refresh; 0: DefaultLeaseTimeout. The
	// provider call gets three quarters of it and the save at most 5 s
	// (half the lease when shorter); when the provider leaves too little of
	// the lease for the save, the lease is extended first, so the save
	// always lands inside it. Callers waiting for another container's
	// refresh wait while the lease lives, then take over.
	LeaseTimeout time.Duration

	Revoker   Revoker   // nil: no revocation
	Refresher Refresher // nil: an expired access token cannot be renewed

	Logger *slog.Logger     // nil: JSON to stderr
	Now    func() time.Time // nil: time.Now
}

// Manager applies the session rules over a store. It holds no per-request
// state: build one per container and share it.
type Manager struct {
	cfg Config
}

// New returns a Manager. It fills the defaults of cfg, the one place they
// are filled: Config returns the result for callers that share them.
func New(cfg Config) *Manager {
	if cfg.IdleTimeout < 0 {
		cfg.IdleTimeout = 0
	}
	if cfg.RevokeTimeout <= 0 {
		cfg.RevokeTimeout = DefaultRevokeTimeout
	}
	if cfg.RefreshSkew <= 0 {
		cfg.RefreshSkew = DefaultRefreshSkew
	}
	if cfg.LeaseTimeout <= 0 {
		cfg.LeaseTimeout = DefaultLeaseTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = NewLogger(os.Stderr)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Manager{cfg: cfg}
}

// Config returns the configuration with its defaults filled.
func (m *Manager) Config() Config { return m.cfg }

// NewLogger returns the JSON logger the sign-in code writes to.
func NewLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, nil))
}

// Session is a signed-in browser as the app's own functions see it.
type Session struct {
	Key       string // store key: the SHA-256 of the cookie value, never the value itself
	User      signin.User
	Issuer    string
	ExpiresAt time.Time // absolute expiry
}

// ErrNotSignedIn: no session cookie, or one that names no live session
// (unknown, expired, signed out, malformed). Answer 401.
var ErrNotSignedIn = errors.New("session: not signed in")

// ErrSignInAgain: the session had to be ended because its tokens can no
// longer be refreshed (the provider ended the grant, the refresh token is
// missing or expired, or the refreshed ID token names another user). The
// session and token records are deleted, so /auth/me reports the browser
// signed out. It is also an ErrNotSignedIn: one errors.Is check covers both.
var ErrSignInAgain error = signInAgain{}

type signInAgain struct{}

func (signInAgain) Error() string        { return "session: sign in again" }
func (signInAgain) Is(target error) bool { return target == ErrNotSignedIn }

// NotSignedInError is the ErrNotSignedIn of a lookup, with the reason for
// the logs (never for the client).
type NotSignedInError struct {
	Reason string // "malformed session cookie", "no live session", "session expired", ...
}

func (e *NotSignedInError) Error() string        { return "session: not signed in: " + e.Reason }
func (e *NotSignedInError) Is(target error) bool { return target == ErrNotSignedIn }

func notSignedIn(reason string) error { return &NotSignedInError{Reason: reason} }
