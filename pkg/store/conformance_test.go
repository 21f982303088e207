package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/serverless-signin/signin/pkg/signin"
	"github.com/serverless-signin/signin/pkg/store"
)

// clock is a settable time source shared by a store and its test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now().UTC().Truncate(time.Second)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newStoreFunc returns an empty store whose clock is now.
type newStoreFunc func(t *testing.T, now func() time.Time) store.Store

// testConformance is the behaviour every Store must have; TestMemory and
// TestDynamoDB run it.
func testConformance(t *testing.T, newStore newStoreFunc) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store, c *clock)
	}{
		{"StateRoundTrip", testStateRoundTrip},
		{"StateExpired", testStateExpired},
		{"StateUnknown", testStateUnknown},
		{"StateConsumedOnce", testStateConsumedOnce},
		{"StateConcurrentConsumers", testStateConcurrentConsumers},
		{"StateBindingMismatch", testStateBindingMismatch},
		{"StateDuplicate", testStateDuplicate},
		{"StateInvalid", testStateInvalid},
		{"SessionRoundTrip", testSessionRoundTrip},
		{"SessionExpired", testSessionExpired},
		{"SessionIdleTimeout", testSessionIdleTimeout},
		{"SessionDuplicate", testSessionDuplicate},
		{"TokensExpired", testTokensExpired},
		{"DeleteSession", testDeleteSession},
		{"DeleteSessionExpired", testDeleteSessionExpired},
		{"PeekSession", testPeekSession},
		{"SessionKeys", testSessionKeys},
		{"RefreshLease", testRefreshLease},
		{"RefreshLeaseExpired", testRefreshLeaseExpired},
		{"RefreshGone", testRefreshGone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			tt.fn(t, newStore(t, c.Now), c)
		})
	}
}

var ctx = context.Background()

func newState(c *clock, raw, binding string) store.State {
	return store.State{
		AuthRequest: signin.AuthRequest{
			State:       raw,
			Nonce:       "nonce-" + raw,
			Verifier:    "verifier-" + raw,
			RedirectURI: "https://app.example/auth/callback",
		},
		BindingHash: store.Hash(binding),
		ReturnTo:    "/app?x=1",
		CreatedAt:   c.Now(),
		ExpiresAt:   c.Now().Add(10 * time.Minute),
	}
}

func newSession(c *clock, raw, issuer, subject string) (store.Session, store.Tokens) {
	now := c.Now()
	s := store.Session{
		Key:       store.Hash(raw),
		User:      signin.User{Subject: subject, Email: subject + "@example.com", Name: "User " + subject},
		Issuer:    issuer,
		CreatedAt: now,
		ExpiresAt: now.Add(7 * 24 * time.Hour),
	}
	t := store.Tokens{
		Token: signin.Token{
			AccessToken:  "access-" + raw,
			RefreshToken: "refresh-" + raw,
			IDToken:      "id-" + raw,
			TokenType:    "Bearer",
			Scope:        "openid profile email",
			Expiry:       now.Add(time.Hour),
		},
		ExpiresAt: s.ExpiresAt,
	}
	return s, t
}

func mustPutState(t *testing.T, s store.Store, st store.State) {
	t.Helper()
	if err := s.PutState(ctx, st); err != nil {
		t.Fatalf("PutState(%q) = %v; want nil", st.State, err)
	}
}

func mustCreateSession(t *testing.T, s store.Store, sess store.Session, tok store.Tokens) {
	t.Helper()
	if err := s.CreateSession(ctx, sess, tok); err != nil {
		t.Fatalf("CreateSession(%s) = %v; want nil", sess.Key, err)
	}
}

func testStateRoundTrip(t *testing.T, s store.Store, c *clock) {
	want := newState(c, "state-1", "browser-1")
	// Precision: ExpiresAt is whole seconds (the TTL), other times ms.
	put := want
	put.CreatedAt = want.CreatedAt.Add(1500 * time.Microsecond)
	put.ExpiresAt = want.ExpiresAt.Add(999 * time.Millisecond)
	want.CreatedAt = want.CreatedAt.Add(time.Millisecond)
	mustPutState(t, s, put)

	got, err := s.ConsumeState(ctx, "state-1", store.Hash("browser-1"))
	if err != nil {
		t.Fatalf("ConsumeState = %v; want nil", err)
	}
	if got != want {
		t.Errorf("ConsumeState = %+v; want %+v", got, want)
	}
}

func testStateExpired(t *testing.T, s store.Store, c *clock) {
	past := newState(c, "state-past", "b")
	past.ExpiresAt = c.Now().Add(-time.Second)
	mustPutState(t, s, past)
	if _, err := s.ConsumeState(ctx, "state-past", store.Hash("b")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ConsumeState(TTL in the past) = %v; want ErrNotFound", err)
	}

	mustPutState(t, s, newState(c, "state-later", "b"))
	c.Advance(10 * time.Minute) // exactly at ExpiresAt: expired
	if _, err := s.ConsumeState(ctx, "state-later", store.Hash("b")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ConsumeState(at expiry) = %v; want ErrNotFound", err)
	}
}

func testStateUnknown(t *testing.T, s store.Store, c *clock) {
	if _, err := s.ConsumeState(ctx, "never-written", store.Hash("b")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ConsumeState(unknown) = %v; want ErrNotFound", err)
	}
}

func testStateConsumedOnce(t *testing.T, s store.Store, c *clock) {
	mustPutState(t, s, newState(c, "state-once", "b"))
	if _, err := s.ConsumeState(ctx, "state-once", store.Hash("b")); err != nil {
		t.Fatalf("first ConsumeState = %v; want nil", err)
	}
	if _, err := s.ConsumeState(ctx, "state-once", store.Hash("b")); !errors.Is(err, store.ErrConsumed) {
		t.Errorf("second ConsumeState = %v; want ErrConsumed", err)
	}
}

func testStateConcurrentConsumers(t *testing.T, s store.Store, c *clock) {
	const n = 16
	want := newState(c, "state-race", "b")
	mustPutState(t, s, want)

	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = s.ConsumeState(ctx, "state-race", store.Hash("b"))
		})
	}
	close(start)
	wg.Wait()

	var won, consumed int
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case errors.Is(err, store.ErrConsumed):
			consumed++
		default:
			t.Errorf("ConsumeState = %v; want nil or ErrConsumed", err)
		}
	}
	if won != 1 || consumed != n-1 {
		t.Errorf("%d concurrent ConsumeState: %d succeeded, %d ErrConsumed; want 1 and %d", n, won, consumed, n-1)
	}
}

func testStateBindingMismatch(t *testing.T, s store.Store, c *clock) {
	want := newState(c, "state-bound", "right")
	mustPutState(t, s, want)

	if _, err := s.ConsumeState(ctx, "state-bound", store.Hash("wrong")); !errors.Is(err, store.ErrBindingMismatch) {
		t.Fatalf("ConsumeState(wrong browser) = %v; want ErrBindingMismatch", err)
	}
	got, err := s.ConsumeState(ctx, "state-bound", store.Hash("right"))
	if err != nil {
		t.Fatalf("ConsumeState(right browser after a mismatch) = %v; want nil", err)
	}
	if got != want {
		t.Errorf("ConsumeState = %+v; want %+v", got, want)
	}
	if _, err := s.ConsumeState(ctx, "state-bound", store.Hash("wrong")); !errors.Is(err, store.ErrBindingMismatch) {
		t.Errorf("ConsumeState(wrong browser, consumed) = %v; want ErrBindingMismatch", err)
	}
}

func testStateDuplicate(t *testing.T, s store.Store, c *clock) {
	mustPutState(t, s, newState(c, "state-dup", "b"))
	if err := s.PutState(ctx, newState(c, "state-dup", "other")); !errors.Is(err, store.ErrConflict) {
		t.Errorf("PutState(live duplicate) = %v; want ErrConflict", err)
	}
	// The first record is intact.
	if _, err := s.ConsumeState(ctx, "state-dup", store.Hash("b")); err != nil {
		t.Errorf("ConsumeState(first) = %v; want nil", err)
	}
}

func testStateInvalid(t *testing.T, s store.Store, c *clock) {
	tests := []struct {
		name   string
		modify func(*store.State)
	}{
		{"no state", func(st *store.State) { st.State = "" }},
		{"no binding", func(st *store.State) { st.BindingHash = "" }},
		{"no expiry", func(st *store.State) { st.ExpiresAt = time.Time{} }},
	}
	for _, tt := range tests {
		st := newState(c, "state-invalid", "b")
		tt.modify(&st)
		if err := s.PutState(ctx, st); err == nil {
			t.Errorf("PutState(%s) = nil; want an error", tt.name)
		}
	}
}

func testSessionRoundTrip(t *testing.T, s store.Store, c *clock) {
	sess, tok := newSession(c, "raw-1", "https://issuer.example", "sub-1")
	sess.IdleExpiresAt = c.Now().Add(30 * time.Minute)
	mustCreateSession(t, s, sess, tok)

	got, err := s.GetSession(ctx, sess.Key)
	if err != nil || got != sess {
		t.Errorf("GetSession = %+v, %v; want %+v, nil", got, err, sess)
	}
	wantTok := tok
	wantTok.Key, wantTok.Version = sess.Key, 1
	gotTok, err := s.GetTokens(ctx, sess.Key)
	if err != nil || gotTok != wantTok {
		t.Errorf("GetTokens = %+v, %v; want %+v, nil", gotTok, err, wantTok)
	}
	if _, err := s.GetSession(ctx, store.Hash("raw-unknown")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSession(unknown) = %v; want ErrNotFound", err)
	}
	if _, err := s.GetTokens(ctx, store.Hash("raw-unknown")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetTokens(unknown) = %v; want ErrNotFound", err)
	}
	otherTok := tok
	otherTok.Key = store.Hash("another")
	other, _ := newSession(c, "raw-2", "https://issuer.example", "sub-1")
	if err := s.CreateSession(ctx, other, otherTok); err == nil {
		t.Errorf("CreateSession(tokens keyed by another session) = nil; want an error")
	}
}

func testSessionExpired(t *testing.T, s store.Store, c *clock) {
	sess, tok := newSession(c, "raw-past", "https://issuer.example", "sub-1")
	sess.ExpiresAt = c.Now().Add(-time.Second)
	tok.ExpiresAt = sess.ExpiresAt
	mustCreateSession(t, s, sess, tok)
	if _, err := s.GetSession(ctx, sess.Key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSession(TTL in the past) = %v; want ErrNotFound", err)
	}
	if _, err := s.GetTokens(ctx, sess.Key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetTokens(TTL in the past) = %v; want ErrNotFound", err)
	}
	if err := s.TouchSession(ctx, sess.Key, c.Now().Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TouchSession(expired) = %v; want ErrNotFound", err)
	}
	// An expired record that TTL has not deleted yet does not block the key.
	sess.ExpiresAt = c.Now().Add(time.Hour)
	tok.ExpiresAt = sess.ExpiresAt
	if err := s.CreateSession(ctx, sess, tok); err != nil {
		t.Errorf("CreateSession(over an expired one) = %v; want nil", err)
	}

	idle, idleTok := newSession(c, "raw-idled", "https://issuer.example", "sub-1")
	idle.IdleExpiresAt = c.Now().Add(-time.Second)
	idleTok.ExpiresAt = c.Now().Add(-time.Second)
	mustCreateSession(t, s, idle, idleTok)
	idle.IdleExpiresAt = time.Time{}
	if err := s.CreateSession(ctx, idle, idleTok); err != nil {
		t.Errorf("CreateSession(over an idle-expired one) = %v; want nil", err)
	}

	live, liveTok := newSession(c, "raw-ages", "https://issuer.example", "sub-1")
	mustCreateSession(t, s, live, liveTok)
	c.Advance(7 * 24 * time.Hour)
	if _, err := s.GetSession(ctx, live.Key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSession(at absolute expiry) = %v; want ErrNotFound", err)
	}
}

func testSessionIdleTimeout(t *testing.T, s store.Store, c *clock) {
	sess, tok := newSession(c, "raw-idle", "https://issuer.example", "sub-1")
	sess.IdleExpiresAt = c.Now().Add(30 * time.Minute)
	mustCreateSession(t, s, sess, tok)

	c.Advance(20 * time.Minute)
	idle := c.Now().Add(30 * time.Minute)
	if err := s.TouchSession(ctx, sess.Key, idle); err != nil {
		t.Fatalf("TouchSession = %v; want nil", err)
	}
	got, err := s.GetSession(ctx, sess.Key)
	if err != nil || !got.IdleExpiresAt.Equal(idle) || !got.ExpiresAt.Equal(sess.ExpiresAt) {
		t.Errorf("GetSession after touch = %+v, %v; want idle expiry %v, expiry %v", got, err, idle, sess.ExpiresAt)
	}

	c.Advance(30 * time.Minute)
	if _, err := s.GetSession(ctx, sess.Key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSession(idle expired) = %v; want ErrNotFound", err)
	}
	if err := s.TouchSession(ctx, sess.Key, c.Now().Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TouchSession(idle expired) = %v; want ErrNotFound", err)
	}
	if err := s.TouchSession(ctx, store.Hash("raw-unknown"), c.Now().Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TouchSession(unknown) = %v; want ErrNotFound", err)
	}
}

func testSessionDuplicate(t *testing.T, s store.Store, c *clock) {
	sess, tok := newSession(c, "raw-dup", "https://issuer.example", "sub-1")
	mustCreateSession(t, s, sess, tok)

	other, otherTok := newSession(c, "raw-dup", "https://issuer.example", "sub-2")
	otherTok.AccessToken = "another access token"
	if err := s.CreateSession(ctx, other, otherTok); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateSession(same key) = %v; want ErrConflict", err)
	}
	got, err := s.GetSession(ctx, sess.Key)
	if err != nil || got.User != sess.User {
		t.Errorf("GetSession after conflict = %+v, %v; want user %+v", got, err, sess.User)
	}
	gotTok, err := s.GetTokens(ctx, sess.Key)
	if err != nil || gotTok.AccessToken != tok.AccessToken {
		t.Errorf("GetTokens after conflict = %q, %v; want %q", gotTok.AccessToken, err, tok.AccessToken)
	}
}

func testTokensExpired(t *testing.T, s store.Store, c *clock) {
	sess, tok := newSession(c, "raw-tok", "https://issuer.example", "sub-1")
	tok.ExpiresAt = c.Now().Add(-time.Second)
	mustCreateSession(t, s, sess, tok)
	if _, err := s.GetSession(ctx, sess.Key); err != nil {
		t.Errorf("GetSession = %v; want nil", err)
	}
	if _, err := s.GetTokens(ctx, sess.Key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetTokens(TTL in the past) = %v; want ErrNotFound", err)
	}
}

func testDeleteSession(t *testing.T, s store.Store, c *clock) {
	sess, tok := newSession(c, "raw-del", "https://issuer.example", "sub-1")
	mustCreateSession(t, s, sess, tok)
	wantTok := tok
	wantTok.Key, wantTok.Version = sess.Key, 1

	gotSess, gotTok, err := s.DeleteSession(ctx, sess.Key)
	if err != nil || gotSess != sess || gotTok != wantTok {
		t.Fatalf("DeleteSession = %+v, %+v, %v; want %+v, %+v, nil", gotSess, gotTok, err, sess, wantTok)
	}
	if _, err := s.GetSession(ctx, sess.Key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSession(deleted) = %v; want ErrNotFound", err)
	}
	if _, err := s.GetTokens(ctx, sess.Key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetTokens(deleted) = %v; want ErrNotFound", err)
	}
	if _, _, err := s.DeleteSession(ctx, sess.Key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteSession(again) = %v; want ErrNotFound", err)
	}
}

// Ending a session reaches records TTL has not deleted yet: the caller
// learns whose they were and revokes the tokens even when both expired.
func testDeleteSessionExpired(t *testing.T, s store.Store, c *clock) {
	const iss = "https://issuer.example"
	expired, expiredTok := newSession(c, "raw-del-expired", iss, "sub-1")
	expired.ExpiresAt = c.Now().Add(-time.Second)
	expiredTok.ExpiresAt = expired.ExpiresAt
	mustCreateSession(t, s, expired, expiredTok)
	wantTok := expiredTok
	wantTok.Key, wantTok.Version = expired.Key, 1
	if gs, gt, err := s.DeleteSession(ctx, expired.Key); err != nil || gs != expired || gt != wantTok {
		t.Errorf("DeleteSession(both expired) = %+v, %+v, %v; want %+v, %+v, nil", gs, gt, err, expired, wantTok)
	}
	if _, err := s.PeekSession(ctx, expired.Key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PeekSession(deleted) = %v; want ErrNotFound", err)
	}
	if _, _, err := s.DeleteSession(ctx, expired.Key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteSession(expired, again) = %v; want ErrNotFound", err)
	}

	// Tokens outlive an idle-expired session; the session comes back too.
	idle, idleTok := newSession(c, "raw-del-idle", iss, "sub-1")
	idle.IdleExpiresAt = c.Now().Add(time.Minute)
	mustCreateSession(t, s, idle, idleTok)
	c.Advance(time.Minute)
	gs, gt, err := s.DeleteSession(ctx, idle.Key)
	if err != nil || gs != idle || gt.RefreshToken != idleTok.RefreshToken {
		t.Errorf("DeleteSession(idle expired) = %+v, %+v, %v; want the idle-expired session and its tokens, nil", gs, gt, err)
	}
	if gs.Live(c.Now()) {
		t.Errorf("DeleteSession(idle expired) returned a session Live at now")
	}

	// A session whose token record has expired still ends.
	noTok, tok := newSession(c, "raw-del-tokens-expired", iss, "sub-1")
	tok.ExpiresAt = c.Now().Add(-time.Second)
	mustCreateSession(t, s, noTok, tok)
	if gs, gt, err := s.DeleteSession(ctx, noTok.Key); err != nil || gs != noTok || gt.RefreshToken != tok.RefreshToken {
		t.Errorf("DeleteSession(tokens expired) = %+v, %+v, %v; want the session and the expired tokens, nil", gs, gt, err)
	}
}

// PeekSession tells whose a session was, live or expired, as long as the
// record exists; GetSession still treats an expired one as absent.
func testPeekSession(t *testing.T, s store.Store, c *clock) {
	const iss = "https://issuer.example"
	live, liveTok := newSession(c, "raw-peek-live", iss, "sub-1")
	mustCreateSession(t, s, live, liveTok)
	idle, idleTok := newSession(c, "raw-peek-idle", iss, "sub-1")
	idle.IdleExpiresAt = c.Now().Add(-time.Second)
	mustCreateSession(t, s, idle, idleTok)
	expired, expiredTok := newSession(c, "raw-peek-expired", iss, "sub-1")
	expired.ExpiresAt = c.Now().Add(-time.Second)
	expiredTok.ExpiresAt = expired.ExpiresAt
	mustCreateSession(t, s, expired, expiredTok)

	tests := []struct {
		name     string
		sess     store.Session
		wantLive bool
	}{
		{"live", live, true},
		{"idle expired", idle, false},
		{"expired", expired, false},
	}
	for _, tt := range tests {
		got, err := s.PeekSession(ctx, tt.sess.Key)
		if err != nil || got != tt.sess {
			t.Errorf("PeekSession(%s) = %+v, %v; want %+v, nil", tt.name, got, err, tt.sess)
		}
		if got.Live(c.Now()) != tt.wantLive {
			t.Errorf("PeekSession(%s).Live(now) = %v; want %v", tt.name, !tt.wantLive, tt.wantLive)
		}
		_, err = s.GetSession(ctx, tt.sess.Key)
		if tt.wantLive != (err == nil) || !tt.wantLive && !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetSession(%s) = %v; want live: %v (else ErrNotFound)", tt.name, err, tt.wantLive)
		}
	}
	if _, err := s.PeekSession(ctx, store.Hash("raw-unknown")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PeekSession(unknown) = %v; want ErrNotFound", err)
	}
}

func testSessionKeys(t *testing.T, s store.Store, c *clock) {
	const iss = "https://issuer.example"
	var want []string
	for i := range 3 {
		sess, tok := newSession(c, fmt.Sprintf("raw-user-%d", i), iss, "alice")
		mustCreateSession(t, s, sess, tok)
		want = append(want, sess.Key)
	}
	// Expired sessions still in the store are listed: sign out everywhere
	// ends and revokes them too.
	expired, tok := newSession(c, "raw-user-expired", iss, "alice")
	expired.ExpiresAt = c.Now().Add(-time.Second)
	mustCreateSession(t, s, expired, tok)
	idle, tok := newSession(c, "raw-user-idle", iss, "alice")
	idle.IdleExpiresAt = c.Now().Add(-time.Second)
	mustCreateSession(t, s, idle, tok)
	want = append(want, expired.Key, idle.Key)
	for _, other := range []struct{ raw, iss, sub string }{
		{"raw-bob", iss, "bob"},
		{"raw-alice-elsewhere", "https://other.example", "alice"},
	} {
		sess, tok := newSession(c, other.raw, other.iss, other.sub)
		mustCreateSession(t, s, sess, tok)
	}

	got, err := s.SessionKeys(ctx, iss, "alice")
	slices.Sort(got)
	slices.Sort(want)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("SessionKeys(alice) = %q, %v; want %q, nil", got, err, want)
	}
	if got, err := s.SessionKeys(ctx, iss, "nobody"); err != nil || len(got) != 0 {
		t.Errorf("SessionKeys(nobody) = %q, %v; want none, nil", got, err)
	}
}

func testRefreshLease(t *testing.T, s store.Store, c *clock) {
	sess, tok := newSession(c, "raw-lease", "https://issuer.example", "sub-1")
	mustCreateSession(t, s, sess, tok)
	until := c.Now().Add(30 * time.Second)

	leased, err := s.AcquireRefreshLease(ctx, sess.Key, 1, "owner-a", until)
	if err != nil || leased.LeaseOwner != "owner-a" || !leased.LeaseUntil.Equal(until) || leased.Version != 1 || leased.RefreshToken != tok.RefreshToken {
		t.Fatalf("AcquireRefreshLease(a) = %+v, %v; want leased by owner-a until %v", leased, err, until)
	}
	if got, _ := s.GetTokens(ctx, sess.Key); got != leased {
		t.Errorf("GetTokens = %+v; want the leased record %+v", got, leased)
	}
	if _, err := s.AcquireRefreshLease(ctx, sess.Key, 1, "owner-b", until); !errors.Is(err, store.ErrConflict) {
		t.Errorf("AcquireRefreshLease(b, live lease of a) = %v; want ErrConflict", err)
	}
	if _, err := s.AcquireRefreshLease(ctx, sess.Key, 2, "owner-a", until); !errors.Is(err, store.ErrConflict) {
		t.Errorf("AcquireRefreshLease(wrong version) = %v; want ErrConflict", err)
	}
	if _, err := s.AcquireRefreshLease(ctx, sess.Key, 1, "owner-a", until.Add(time.Second)); err != nil {
		t.Errorf("AcquireRefreshLease(a again, to extend) = %v; want nil", err)
	}

	refreshed := leased
	refreshed.AccessToken, refreshed.Expiry, refreshed.Version = "access-2", c.Now().Add(2*time.Hour), 2
	if err := s.SaveRefreshed(ctx, refreshed, "owner-b"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("SaveRefreshed(non-owner) = %v; want ErrConflict", err)
	}
	skip := refreshed
	skip.Version = 3
	if err := s.SaveRefreshed(ctx, skip, "owner-a"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("SaveRefreshed(version skipped) = %v; want ErrConflict", err)
	}
	if err := s.SaveRefreshed(ctx, refreshed, "owner-a"); err != nil {
		t.Fatalf("SaveRefreshed(owner) = %v; want nil", err)
	}
	want := refreshed
	want.LeaseOwner, want.LeaseUntil = "", time.Time{}
	if got, err := s.GetTokens(ctx, sess.Key); err != nil || got != want {
		t.Errorf("GetTokens after refresh = %+v, %v; want %+v (lease released)", got, err, want)
	}
	if err := s.SaveRefreshed(ctx, refreshed, "owner-a"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("SaveRefreshed(twice) = %v; want ErrConflict", err)
	}
	// Everyone who waited sees version 2 now; a stale version cannot lease.
	if _, err := s.AcquireRefreshLease(ctx, sess.Key, 1, "owner-b", until); !errors.Is(err, store.ErrConflict) {
		t.Errorf("AcquireRefreshLease(stale version) = %v; want ErrConflict", err)
	}
	if _, err := s.AcquireRefreshLease(ctx, sess.Key, 2, "owner-b", until); err != nil {
		t.Errorf("AcquireRefreshLease(b, version 2) = %v; want nil", err)
	}
}

func testRefreshLeaseExpired(t *testing.T, s store.Store, c *clock) {
	sess, tok := newSession(c, "raw-lease-exp", "https://issuer.example", "sub-1")
	mustCreateSession(t, s, sess, tok)
	leasedA, err := s.AcquireRefreshLease(ctx, sess.Key, 1, "owner-a", c.Now().Add(10*time.Second))
	if err != nil {
		t.Fatalf("AcquireRefreshLease(a) = %v; want nil", err)
	}
	c.Advance(10 * time.Second) // a's lease ends: b may take over
	leasedB, err := s.AcquireRefreshLease(ctx, sess.Key, 1, "owner-b", c.Now().Add(10*time.Second))
	if err != nil || leasedB.LeaseOwner != "owner-b" {
		t.Fatalf("AcquireRefreshLease(b, a's lease expired) = %+v, %v; want leased by owner-b", leasedB, err)
	}
	late := leasedA
	late.AccessToken, late.Version = "access-from-a", 2
	if err := s.SaveRefreshed(ctx, late, "owner-a"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("SaveRefreshed(a after takeover) = %v; want ErrConflict", err)
	}
	// A lease past its end that nobody took over still lets its owner save.
	c.Advance(time.Minute)
	saved := leasedB
	saved.AccessToken, saved.Version = "access-from-b", 2
	if err := s.SaveRefreshed(ctx, saved, "owner-b"); err != nil {
		t.Errorf("SaveRefreshed(b, lease ended, not taken over) = %v; want nil", err)
	}
	if got, err := s.GetTokens(ctx, sess.Key); err != nil || got.AccessToken != "access-from-b" || got.LeaseOwner != "" {
		t.Errorf("GetTokens = %+v, %v; want b's tokens, no lease", got, err)
	}
}

func testRefreshGone(t *testing.T, s store.Store, c *clock) {
	until := c.Now().Add(10 * time.Second)
	if _, err := s.AcquireRefreshLease(ctx, store.Hash("raw-none"), 1, "owner-a", until); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AcquireRefreshLease(unknown) = %v; want ErrNotFound", err)
	}

	sess, tok := newSession(c, "raw-gone", "https://issuer.example", "sub-1")
	tok.ExpiresAt = c.Now().Add(time.Minute)
	mustCreateSession(t, s, sess, tok)
	leased, err := s.AcquireRefreshLease(ctx, sess.Key, 1, "owner-a", until)
	if err != nil {
		t.Fatalf("AcquireRefreshLease = %v; want nil", err)
	}
	c.Advance(time.Minute) // the token record expires under the lease
	if _, err := s.AcquireRefreshLease(ctx, sess.Key, 1, "owner-a", c.Now().Add(time.Second)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AcquireRefreshLease(expired record) = %v; want ErrNotFound", err)
	}
	leased.Version = 2
	if err := s.SaveRefreshed(ctx, leased, "owner-a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SaveRefreshed(expired record) = %v; want ErrNotFound", err)
	}
}
