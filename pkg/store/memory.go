package store

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Memory is the embedded store for the dev server and tests: the same
// semantics as DynamoDB in one process. Records hold only strings, numbers
// and times, so storing and returning them by value copies them deeply.
type Memory struct {
	Now func() time.Time // nil: time.Now

	mu       sync.Mutex
	states   map[string]memoryState // by Hash(state)
	sessions map[string]Session
	tokens   map[string]Tokens
	// writes counts the writes since the last sweep, which runs again once
	// it reaches sweepAfter.
	writes, sweepAfter int
}

// minSweepWrites keeps a store with a handful of records from sweeping on
// every write.
const minSweepWrites = 64

type memoryState struct {
	State
	consumed bool
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty embedded store.
func NewMemory() *Memory {
	return &Memory{
		states:   make(map[string]memoryState),
		sessions: make(map[string]Session),
		tokens:   make(map[string]Tokens),
	}
}

func (m *Memory) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// PutState implements Store.
func (m *Memory) PutState(ctx context.Context, s State) error {
	if err := s.validate(); err != nil {
		return fmt.Errorf("store: put state: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.maybeSweep(now)
	key := Hash(s.State)
	if old, ok := m.states[key]; ok && live(old.ExpiresAt, now) {
		return fmt.Errorf("store: put state: %w", ErrConflict)
	}
	m.states[key] = memoryState{State: s.normalized()}
	return nil
}

// maybeSweep drops expired records so a long-running dev server does not
// grow without bound (DynamoDB's TTL does this job there). A sweep visits
// every record, so it runs only once as many writes have happened as
// records survived the previous one (at least minSweepWrites): a write
// costs O(1) amortized however many records are live, and the maps hold at
// most a few times the live records. The expired records kept meanwhile
// are invisible: every read checks the expiry itself.
func (m *Memory) maybeSweep(now time.Time) {
	if m.writes++; m.writes < m.sweepAfter {
		return
	}
	m.sweep(now)
	m.writes = 0
	m.sweepAfter = max(minSweepWrites, len(m.states)+len(m.sessions)+len(m.tokens))
}

func (m *Memory) sweep(now time.Time) {
	for k, s := range m.states {
		if !live(s.ExpiresAt, now) {
			delete(m.states, k)
		}
	}
	// Like DynamoDB's TTL, only the absolute expiry removes a session: an
	// idle-expired one stays findable by SessionKeys until then.
	for k, s := range m.sessions {
		if !live(s.ExpiresAt, now) {
			delete(m.sessions, k)
		}
	}
	for k, t := range m.tokens {
		if !live(t.ExpiresAt, now) {
			delete(m.tokens, k)
		}
	}
}

// ConsumeState implements Store.
func (m *Memory) ConsumeState(ctx context.Context, state, bindingHash string) (State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := Hash(state)
	s, ok := m.states[key]
	if err := consumeProblem(s.State, s.consumed, ok, bindingHash, m.now()); err != nil {
		return State{}, fmt.Errorf("store: consume state: %w", err)
	}
	s.consumed = true
	m.states[key] = s
	return s.State, nil
}

// CreateSession implements Store.
func (m *Memory) CreateSession(ctx context.Context, s Session, t Tokens) error {
	t, err := tokensFor(s, t)
	if err == nil {
		err = s.validate()
	}
	if err != nil {
		return fmt.Errorf("store: create session: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.maybeSweep(now)
	if old, ok := m.sessions[s.Key]; ok && old.Live(now) {
		return fmt.Errorf("store: create session: %w", ErrConflict)
	}
	if old, ok := m.tokens[s.Key]; ok && live(old.ExpiresAt, now) {
		return fmt.Errorf("store: create session: %w", ErrConflict)
	}
	m.sessions[s.Key] = s.normalized()
	m.tokens[s.Key] = t.normalized()
	return nil
}

// GetSession implements Store.
func (m *Memory) GetSession(ctx context.Context, key string) (Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[key]
	if !ok || !s.Live(m.now()) {
		return Session{}, fmt.Errorf("store: get session: %w", ErrNotFound)
	}
	return s, nil
}

// PeekSession implements Store.
func (m *Memory) PeekSession(ctx context.Context, key string) (Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[key]
	if !ok {
		return Session{}, fmt.Errorf("store: peek session: %w", ErrNotFound)
	}
	return s, nil
}

// TouchSession implements Store.
func (m *Memory) TouchSession(ctx context.Context, key string, idleExpiresAt time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[key]
	if !ok || !s.Live(m.now()) {
		return fmt.Errorf("store: touch session: %w", ErrNotFound)
	}
	s.IdleExpiresAt = msTime(idleExpiresAt)
	m.sessions[key] = s
	return nil
}

// DeleteSession implements Store.
func (m *Memory) DeleteSession(ctx context.Context, key string) (Session, Tokens, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, sok := m.sessions[key]
	t, tok := m.tokens[key]
	if !sok && !tok {
		return Session{}, Tokens{}, fmt.Errorf("store: delete session: %w", ErrNotFound)
	}
	delete(m.sessions, key)
	delete(m.tokens, key)
	return s, t, nil
}

// SessionKeys implements Store.
func (m *Memory) SessionKeys(ctx context.Context, issuer, subject string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var keys []string
	for k, s := range m.sessions {
		if s.Issuer == issuer && s.User.Subject == subject {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// GetTokens implements Store.
func (m *Memory) GetTokens(ctx context.Context, key string) (Tokens, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tokens[key]
	if !ok || !live(t.ExpiresAt, m.now()) {
		return Tokens{}, fmt.Errorf("store: get tokens: %w", ErrNotFound)
	}
	return t, nil
}

// AcquireRefreshLease implements Store.
func (m *Memory) AcquireRefreshLease(ctx context.Context, key string, version int64, owner string, until time.Time) (Tokens, error) {
	if owner == "" {
		return Tokens{}, errEmptyOwner
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	t, ok := m.tokens[key]
	switch {
	case !ok || !live(t.ExpiresAt, now):
		return Tokens{}, fmt.Errorf("store: acquire refresh lease: %w", ErrNotFound)
	case t.Version != version || t.leasedByOther(owner, now):
		return Tokens{}, fmt.Errorf("store: acquire refresh lease: %w", ErrConflict)
	}
	t.LeaseOwner, t.LeaseUntil = owner, msTime(until)
	m.tokens[key] = t
	return t, nil
}

// SaveRefreshed implements Store.
func (m *Memory) SaveRefreshed(ctx context.Context, t Tokens, owner string) error {
	if err := t.validate(); err != nil {
		return fmt.Errorf("store: save refreshed: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.tokens[t.Key]
	switch {
	case !ok || !live(old.ExpiresAt, m.now()):
		return fmt.Errorf("store: save refreshed: %w", ErrNotFound)
	case old.Version != t.Version-1 || old.LeaseOwner != owner || owner == "":
		return fmt.Errorf("store: save refreshed: %w", ErrConflict)
	}
	t.LeaseOwner, t.LeaseUntil = "", time.Time{}
	m.tokens[t.Key] = t.normalized()
	return nil
}
