package storecalls

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/serverless-signin/signin/pkg/store"
)

// Recorder is a store.Store that records which of its methods are called
// before passing each call to Next. It declares every method itself (it
// embeds nothing), so a method added to store.Store cannot slip past it.
type Recorder struct {
	Next store.Store

	mu     sync.Mutex
	called map[string]bool
}

var _ store.Store = (*Recorder)(nil)

func (r *Recorder) record(method string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.called == nil {
		r.called = map[string]bool{}
	}
	r.called[method] = true
}

// Take returns the names of the methods called since the last Take, sorted,
// and starts recording afresh.
func (r *Recorder) Take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.called))
	for m := range r.called {
		names = append(names, m)
	}
	r.called = nil
	slices.Sort(names)
	return names
}

func (r *Recorder) PutState(ctx context.Context, s store.State) error {
	r.record("PutState")
	return r.Next.PutState(ctx, s)
}

func (r *Recorder) ConsumeState(ctx context.Context, state, bindingHash string) (store.State, error) {
	r.record("ConsumeState")
	return r.Next.ConsumeState(ctx, state, bindingHash)
}

func (r *Recorder) CreateSession(ctx context.Context, s store.Session, t store.Tokens) error {
	r.record("CreateSession")
	return r.Next.CreateSession(ctx, s, t)
}

func (r *Recorder) GetSession(ctx context.Context, key string) (store.Session, error) {
	r.record("GetSession")
	return r.Next.GetSession(ctx, key)
}

func (r *Recorder) PeekSession(ctx context.Context, key string) (store.Session, error) {
	r.record("PeekSession")
	return r.Next.PeekSession(ctx, key)
}

func (r *Recorder) TouchSession(ctx context.Context, key string, idleExpiresAt time.Time) error {
	r.record("TouchSession")
	return r.Next.TouchSession(ctx, key, idleExpiresAt)
}

func (r *Recorder) DeleteSession(ctx context.Context, key string) (store.Session, store.Tokens, error) {
	r.record("DeleteSession")
	return r.Next.DeleteSession(ctx, key)
}

func (r *Recorder) SessionKeys(ctx context.Context, issuer, subject string) ([]string, error) {
	r.record("SessionKeys")
	return r.Next.SessionKeys(ctx, issuer, subject)
}

func (r *Recorder) GetTokens(ctx context.Context, key string) (store.Tokens, error) {
	r.record("GetTokens")
	return r.Next.GetTokens(ctx, key)
}

func (r *Recorder) AcquireRefreshLease(ctx context.Context, key string, version int64, owner string, until time.Time) (store.Tokens, error) {
	r.record("AcquireRefreshLease")
	return r.Next.AcquireRefreshLease(ctx, key, version, owner, until)
}

func (r *Recorder) SaveRefreshed(ctx context.Context, t store.Tokens, owner string) error {
	r.record("SaveRefreshed")
	return r.Next.SaveRefreshed(ctx, t, owner)
}
