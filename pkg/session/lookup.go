package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/serverless-signin/signin/pkg/store"
)

// Lookup returns the live session named by a session cookie value, refused
// unless it has the shape of a session id. With an IdleTimeout it moves the
// idle expiry when the last move is a few minutes old, so using the app
// counts as activity.
//
// Errors: a *NotSignedInError (errors.Is ErrNotSignedIn) when the value
// names no live session; anything else (wrapping store.ErrUnavailable) is a
// storage failure, which must never be answered as "signed out". A failed
// idle touch is logged, not returned: the session was live a moment ago.
//
// Round trips: one GetItem, plus an UpdateItem at most every few minutes
// when an idle timeout is configured.
func (m *Manager) Lookup(ctx context.Context, cookieValue string) (Session, error) {
	if !ValidToken(cookieValue) {
		return Session{}, notSignedIn("malformed session cookie")
	}
	key := store.Hash(cookieValue)
	rec, err := m.cfg.Store.GetSession(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Session{}, notSignedIn("no live session")
	case err != nil:
		return Session{}, fmt.Errorf("session: lookup: %w", err)
	}
	// The store already hides expired records; checking again here keeps
	// the rule independent of each implementation's clock handling.
	now := m.cfg.Now()
	if !now.Before(rec.ExpiresAt) {
		return Session{}, notSignedIn("session expired")
	}
	if !rec.IdleExpiresAt.IsZero() && !now.Before(rec.IdleExpiresAt) {
		return Session{}, notSignedIn("session idle")
	}
	if next, ok := m.nextTouch(now, rec); ok {
		err := m.cfg.Store.TouchSession(ctx, key, next)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return Session{}, notSignedIn("session gone before touch")
		case err != nil:
			// A missed touch only means the idle clock did not move this
			// time.
			m.cfg.Logger.WarnContext(ctx, "session: touch session", slog.String("error", err.Error()))
		}
	}
	return Session{
		Key:       key,
		User:      rec.User,
		Issuer:    rec.Issuer,
		ExpiresAt: rec.ExpiresAt,
	}, nil
}

// NewIdleExpiry is the idle expiry of a session created at now that expires
// at expiresAt (zero without an idle timeout).
func (m *Manager) NewIdleExpiry(now, expiresAt time.Time) time.Time {
	if m.cfg.IdleTimeout <= 0 {
		return time.Time{}
	}
	return minTime(now.Add(m.cfg.IdleTimeout), expiresAt)
}

// nextTouch returns the new idle expiry when the current one is old enough
// to move: the last touch was more than touchInterval ago (half the idle
// timeout when that is shorter), so most lookups cost no write. The idle
// expiry never passes the absolute one.
func (m *Manager) nextTouch(now time.Time, rec store.Session) (time.Time, bool) {
	idle := m.cfg.IdleTimeout
	if idle <= 0 || rec.IdleExpiresAt.IsZero() {
		return time.Time{}, false
	}
	interval := min(touchInterval, idle/2)
	if rec.IdleExpiresAt.Sub(now) >= idle-interval {
		return time.Time{}, false
	}
	next := minTime(now.Add(idle), rec.ExpiresAt)
	return next, next.After(rec.IdleExpiresAt)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
