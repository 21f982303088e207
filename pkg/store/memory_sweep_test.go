package store

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/serverless-signin/signin/pkg/signin"
)

// Expired records leave the memory store within a bounded number of
// writes, although not every write sweeps.
func TestMemorySweeps(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	m := NewMemory()
	m.Now = func() time.Time { return now }
	ctx := context.Background()
	put := func(i int, ttl time.Duration) {
		t.Helper()
		if err := m.PutState(ctx, State{AuthRequest: signin.AuthRequest{State: "s" + strconv.Itoa(i)}, BindingHash: "b", ExpiresAt: now.Add(ttl)}); err != nil {
			t.Fatalf("PutState(%d) = %v", i, err)
		}
	}
	const short, long = 1000, 10
	for i := range short {
		put(i, time.Minute)
	}
	for i := range long {
		put(short+i, time.Hour)
	}
	now = now.Add(2 * time.Minute) // the first 1000 have expired

	// A sweep comes within as many writes as there were records; each
	// write here adds a state that has expired by the next one.
	swept := false
	for i := range short + long {
		put(short+long+i, time.Nanosecond)
		now = now.Add(time.Nanosecond)
		if len(m.states) <= long+1 {
			swept = true
			break
		}
	}
	if !swept {
		t.Fatalf("after %d more writes the store holds %d states; want the expired ones swept", short+long, len(m.states))
	}
	for j := range long {
		if _, ok := m.states[Hash("s"+strconv.Itoa(short+j))]; !ok {
			t.Errorf("live state %d swept", short+j)
		}
	}
}

// A sweep removes a session only at its absolute expiry, as DynamoDB's TTL
// does: an idle-expired session stays for sign out everywhere to find.
func TestMemorySweepKeepsIdleExpiredSessions(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	m := NewMemory()
	m.Now = func() time.Time { return now }
	ctx := context.Background()
	idle := Session{Key: "idle", Issuer: "iss", ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Minute)}
	idle.User.Subject = "sub"
	gone := idle
	gone.Key, gone.ExpiresAt, gone.IdleExpiresAt = "gone", now.Add(time.Minute), time.Time{}
	for _, s := range []Session{idle, gone} {
		if err := m.CreateSession(ctx, s, Tokens{ExpiresAt: s.ExpiresAt}); err != nil {
			t.Fatalf("CreateSession(%s) = %v", s.Key, err)
		}
	}
	now = now.Add(2 * time.Minute)
	m.sweep(now)
	if got, err := m.SessionKeys(ctx, "iss", "sub"); err != nil || len(got) != 1 || got[0] != "idle" {
		t.Errorf("SessionKeys after a sweep = %q, %v; want [idle]", got, err)
	}
}
