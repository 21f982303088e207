package store

import (
	"errors"
	"time"
)

// What both implementations share, so that they cannot drift apart: time
// precision, validation, liveness and why a state cannot be consumed.

// expiryTime is how ExpiresAt is kept: epoch seconds, the TTL attribute.
func expiryTime(t time.Time) time.Time {
	return time.Unix(t.Unix(), 0).UTC()
}

// msTime is how every other time is kept: Unix milliseconds; zero stays zero.
func msTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.UnixMilli(t.UnixMilli()).UTC()
}

func (s State) normalized() State {
	s.CreatedAt = msTime(s.CreatedAt)
	s.ExpiresAt = expiryTime(s.ExpiresAt)
	return s
}

func (s Session) normalized() Session {
	s.CreatedAt = msTime(s.CreatedAt)
	s.ExpiresAt = expiryTime(s.ExpiresAt)
	s.IdleExpiresAt = msTime(s.IdleExpiresAt)
	return s
}

func (t Tokens) normalized() Tokens {
	t.Expiry = msTime(t.Expiry)
	t.ExpiresAt = expiryTime(t.ExpiresAt)
	t.LeaseUntil = msTime(t.LeaseUntil)
	return t
}

// Records without an expiry would never leave the table; a state without a
// binding would let any browser finish the sign-in.
func (s State) validate() error {
	switch {
	case s.State == "":
		return errors.New("empty state")
	case s.BindingHash == "":
		return errors.New("empty binding hash")
	case s.ExpiresAt.IsZero():
		return errors.New("no expiry")
	}
	return nil
}

func (s Session) validate() error {
	switch {
	case s.Key == "":
		return errors.New("empty key")
	case s.ExpiresAt.IsZero():
		return errors.New("no expiry")
	}
	return nil
}

func (t Tokens) validate() error {
	switch {
	case t.Key == "":
		return errors.New("empty key")
	case t.ExpiresAt.IsZero():
		return errors.New("no expiry")
	}
	return nil
}

// tokensFor keys t by the session and sets the first version.
func tokensFor(s Session, t Tokens) (Tokens, error) {
	if t.Key != "" && t.Key != s.Key {
		return Tokens{}, errors.New("tokens key differs from session key")
	}
	t.Key = s.Key
	if t.Version == 0 {
		t.Version = 1
	}
	return t, t.validate()
}

var errEmptyOwner = errors.New("store: acquire refresh lease: empty owner")

func live(expiresAt, now time.Time) bool { return now.Before(expiresAt) }

func (s Session) live(now time.Time) bool {
	return live(s.ExpiresAt, now) && (s.IdleExpiresAt.IsZero() || live(s.IdleExpiresAt, now))
}

// leasedByOther reports whether someone other than owner holds a live lease.
func (t Tokens) leasedByOther(owner string, now time.Time) bool {
	return t.LeaseOwner != "" && t.LeaseOwner != owner && live(t.LeaseUntil, now)
}

// consumeProblem says why a state record cannot be consumed by the browser
// with bindingHash, or nil when it can. found is false for a missing record.
func consumeProblem(s State, consumed, found bool, bindingHash string, now time.Time) error {
	switch {
	case !found || !live(s.ExpiresAt, now):
		return ErrNotFound
	case s.BindingHash != bindingHash:
		return ErrBindingMismatch
	case consumed:
		return ErrConsumed
	}
	return nil
}
