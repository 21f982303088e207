// Package store keeps the sign-in records (pending states, sessions and their
// provider tokens) in one DynamoDB table, or in memory for local development.
package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"
)

// Conditions callers branch on. A storage outage wraps ErrUnavailable so it
// never looks like "signed out".
var (
	// ErrNotFound: the record does not exist or, for a read that decides
	// whether someone is signed in, has expired.
	ErrNotFound = errors.New("store: not found")
	// ErrConsumed: the state was already used once.
	ErrConsumed = errors.New("store: state already consumed")
	// ErrBindingMismatch: the state exists but belongs to another browser.
	// The state is left unconsumed.
	ErrBindingMismatch = errors.New("store: state bound to another browser")
	// ErrConflict: a conditional write lost (record exists, version moved,
	// lease held by another owner).
	ErrConflict = errors.New("store: conflict")
	// ErrUnavailable: the storage backend failed (network, throttling, ...).
	ErrUnavailable = errors.New("store: unavailable")
)

// The partition key of every item is one of these prefixes followed by a
// hash: Hash(state) for a state, the session key for a session and its
// tokens. IAM policies may grant each method only the prefixes it uses
// (see Permissions).
const (
	StatePrefix   = "state#"
	SessionPrefix = "session#"
	TokensPrefix  = "tokens#"
)

// Hash returns the hex SHA-256 of a secret value (state, session id, binding
// cookie). Records are keyed and compared by hash so a table dump holds no
// usable value.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Store is what the session core and the routes need.
//
// Reads that decide whether someone is signed in, or whether a state or
// token record is usable, treat an expired record as absent (ErrNotFound):
// TTL deletion lags by hours, so the record's expiry is checked on every
// read. A record is live while now < ExpiresAt (and, for a session, now <
// IdleExpiresAt when set). PeekSession, DeleteSession and SessionKeys see
// expired records too: ending a session must reach every record still in
// the table.
//
// Both implementations keep ExpiresAt at one-second precision (it is the
// DynamoDB TTL attribute, in epoch seconds, truncated) and every other time
// at millisecond precision, and return times in UTC, so records read back
// from either store compare equal with ==. Every record needs an ExpiresAt;
// states also need State and BindingHash.
type Store interface {
	// PutState writes a new state record (ErrConflict if a live one with the
	// same state exists).
	PutState(ctx context.Context, s State) error
	// ConsumeState atomically marks the state used and returns it, exactly
	// once across concurrent callers. Errors: ErrNotFound (unknown or
	// expired), ErrBindingMismatch (checked before ErrConsumed; the state
	// stays usable by the right browser), ErrConsumed, ErrUnavailable.
	ConsumeState(ctx context.Context, state, bindingHash string) (State, error)

	// CreateSession writes the session and its tokens in one atomic write;
	// the tokens are keyed by s.Key (t.Key must be "" or equal) and start at
	// Version 1 when t.Version is 0. ErrConflict when a live session or
	// token record with that key exists.
	CreateSession(ctx context.Context, s Session, t Tokens) error
	// GetSession reads a live session (strongly consistent); ErrNotFound
	// when absent or expired.
	GetSession(ctx context.Context, key string) (Session, error)
	// PeekSession reads the session record even when it has expired, to
	// learn whose it was (sign out everywhere); ErrNotFound only when no
	// record is left. Never use it to decide whether someone is signed in.
	PeekSession(ctx context.Context, key string) (Session, error)
	// TouchSession sets a live session's idle expiry (ErrNotFound when the
	// session is gone or expired). The absolute expiry never moves.
	TouchSession(ctx context.Context, key string, idleExpiresAt time.Time) error
	// DeleteSession removes the session and its tokens and returns what
	// was deleted, expired records included (a zero value for a record that
	// did not exist): the caller checks liveness and revokes the tokens.
	// ErrNotFound only when neither record existed.
	DeleteSession(ctx context.Context, key string) (Session, Tokens, error)
	// SessionKeys lists the keys of every session record of the user still
	// in the store, expired ones included (sign out everywhere ends and
	// revokes them too), in no particular order. In DynamoDB it reads a
	// global secondary index, which is eventually consistent: a session
	// created a moment ago may be missing.
	SessionKeys(ctx context.Context, issuer, subject string) ([]string, error)

	// GetTokens reads a live token record (strongly consistent).
	GetTokens(ctx context.Context, key string) (Tokens, error)
	// AcquireRefreshLease takes the refresh lease on the token record if its
	// version is still `version` and no other lease is live; it returns the
	// record as leased. ErrConflict when the version moved or another lease
	// is live, ErrNotFound when the record is gone. The lease's own owner
	// may take it again (to extend it).
	AcquireRefreshLease(ctx context.Context, key string, version int64, owner string, until time.Time) (Tokens, error)
	// SaveRefreshed stores refreshed tokens (t.Version must be the leased
	// version + 1) and releases the lease, only if `owner` still holds the
	// lease on the previous version. ErrConflict otherwise, ErrNotFound when
	// the record is gone. A lease past its LeaseUntil that nobody took over
	// still counts as held: the provider may already have rotated the
	// refresh token, so the result must not be thrown away. t replaces the
	// whole record (start from the leased one); its lease fields are ignored.
	SaveRefreshed(ctx context.Context, t Tokens, owner string) error
}

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

func live(expiresAt, now time.Time) bool { return now.Before(expiresAt) }
