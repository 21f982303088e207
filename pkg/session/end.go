package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/serverless-signin/signin/pkg/store"
)

// endParallel bounds the concurrent store deletes and revocations of
// EndAll: a user with many sessions must not burst the table or the
// provider.
const endParallel = 8

// Ended is what End ended.
type Ended struct {
	Session store.Session // the deleted session record (its user, issuer, expiry)
	IDToken string        // the session's ID token, for the provider's end-session id_token_hint
	// RevokeErr is a failed revocation, for the caller's log. The records
	// are gone by then, so it never keeps anybody signed in.
	RevokeErr error
}

// End ends one session: it deletes the session and token records, then
// revokes the refresh token (else the access token) at the provider, best
// effort and within RevokeTimeout. An expired session is ended too, and
// Ended names its user: sign out everywhere learns whose sessions to end
// from it.
//
// Errors: ErrNotSignedIn when there was no session to end (ending is
// idempotent: callers treat it as done); anything else is a storage failure
// after which the records may still exist.
// Round trips: two DeleteItem (in the store), one revocation.
func (m *Manager) End(ctx context.Context, key string) (Ended, error) {
	sess, tokens, err := m.cfg.Store.DeleteSession(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Ended{}, ErrNotSignedIn
	case err != nil:
		return Ended{}, fmt.Errorf("session: end: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.RevokeTimeout)
	defer cancel()
	return Ended{Session: sess, IDToken: tokens.IDToken, RevokeErr: m.revoke(ctx, tokens)}, nil
}

// EndAll ends every session of one user still in the store (every browser
// and device), expired ones included: an idle-expired session's grant may
// still be live at the provider. It returns how many it ended. Each
// session's refresh token (else its access token) is then revoked, best
// effort and within one RevokeTimeout overall; a failed revocation is
// logged.
//
// The sessions are found through the store's user index, which in DynamoDB
// is eventually consistent: a session created a moment ago may survive.
// Sessions that could not be deleted are reported in the error (wrapping
// store.ErrUnavailable), together with the count of those that were.
func (m *Manager) EndAll(ctx context.Context, issuer, subject string) (int, error) {
	if subject == "" {
		return 0, errors.New("session: end all: empty subject")
	}
	keys, err := m.cfg.Store.SessionKeys(ctx, issuer, subject)
	if err != nil {
		return 0, fmt.Errorf("session: end all: %w", err)
	}
	ended := make([]*store.Tokens, len(keys))
	errs := make([]error, len(keys))
	parallel(len(keys), func(i int) {
		_, t, err := m.cfg.Store.DeleteSession(ctx, keys[i])
		switch {
		case errors.Is(err, store.ErrNotFound):
			// Expired or signed out meanwhile: not ours to count.
		case err != nil:
			errs[i] = err
		default:
			ended[i] = &t
		}
	})

	var tokens []store.Tokens
	for _, t := range ended {
		if t != nil {
			tokens = append(tokens, *t)
		}
	}
	if m.cfg.Revoker != nil && len(tokens) > 0 {
		rctx, cancel := context.WithTimeout(ctx, m.cfg.RevokeTimeout)
		parallel(len(tokens), func(i int) { m.revokeLogged(rctx, tokens[i]) })
		cancel()
	}
	if err := errors.Join(errs...); err != nil {
		return len(tokens), fmt.Errorf("session: end all: %d of %d sessions not ended: %w", len(keys)-len(tokens), len(keys), err)
	}
	return len(tokens), nil
}

// revoke revokes the refresh token, else the access token (revoking a
// refresh token also ends its access tokens at most providers), under ctx.
func (m *Manager) revoke(ctx context.Context, t store.Tokens) error {
	token, hint := t.RefreshToken, "refresh_token"
	if token == "" {
		token, hint = t.AccessToken, "access_token"
	}
	if token == "" || m.cfg.Revoker == nil {
		return nil
	}
	if err := m.cfg.Revoker.Revoke(ctx, token, hint); err != nil {
		return fmt.Errorf("revoke %s: %w", hint, err)
	}
	return nil
}

// revokeLogged is revoke, bounded by RevokeTimeout, with a failure logged.
func (m *Manager) revokeLogged(ctx context.Context, t store.Tokens) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.RevokeTimeout)
	defer cancel()
	if err := m.revoke(ctx, t); err != nil {
		m.cfg.Logger.WarnContext(ctx, "session: revoke", slog.String("error", err.Error()))
	}
}

// parallel runs f(0..n-1) with at most endParallel at once.
func parallel(n int, f func(i int)) {
	sem := make(chan struct{}, endParallel)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f(i)
		})
	}
	wg.Wait()
}
