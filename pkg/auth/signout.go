package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/serverless-signin/signin/pkg/oauth/store"
)

// signOutParallel bounds the concurrent store deletes and revocations of
// SignOutEverywhere: a user with many sessions must not burst the table or
// the provider.
const signOutParallel = 8

// SignOutEverywhere ends every live session of one user (every browser and
// device) and returns how many it ended. Each session's refresh token (else
// its access token) is then revoked at the provider, best effort and within
// RevokeTimeout overall: the records are already gone, so a failed
// revocation never keeps anybody signed in (it is logged).
//
// The sessions are found through the store's user index, which in DynamoDB
// is eventually consistent: a session created a moment ago may survive.
// Sessions that could not be deleted are reported in the error (wrapping
// store.ErrUnavailable), together with the count of those that were.
func (s *Sessions) SignOutEverywhere(ctx context.Context, issuer, subject string) (int, error) {
	if subject == "" {
		return 0, errors.New("auth: sign out everywhere: empty subject")
	}
	keys, err := s.Store.SessionKeys(ctx, issuer, subject)
	if err != nil {
		return 0, fmt.Errorf("auth: sign out everywhere: %w", err)
	}
	ended := make([]*store.Tokens, len(keys))
	errs := make([]error, len(keys))
	parallel(len(keys), func(i int) {
		_, t, err := s.Store.DeleteSession(ctx, keys[i])
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
	s.revokeAll(ctx, tokens)
	if err := errors.Join(errs...); err != nil {
		return len(tokens), fmt.Errorf("auth: sign out everywhere: %d of %d sessions not ended: %w", len(keys)-len(tokens), len(keys), err)
	}
	return len(tokens), nil
}

// revokeAll revokes each record's refresh token, else its access token,
// within one RevokeTimeout.
func (s *Sessions) revokeAll(ctx context.Context, tokens []store.Tokens) {
	if s.OAuth == nil || len(tokens) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.revokeTimeout())
	defer cancel()
	parallel(len(tokens), func(i int) { s.revokeOne(ctx, tokens[i]) })
}

// revokeOne revokes the refresh token, else the access token (revoking a
// refresh token also ends its access tokens at most providers). Best
// effort, bounded by RevokeTimeout; failures are logged.
func (s *Sessions) revokeOne(ctx context.Context, t store.Tokens) {
	token, hint := t.RefreshToken, "refresh_token"
	if token == "" {
		token, hint = t.AccessToken, "access_token"
	}
	if token == "" || s.OAuth == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.revokeTimeout())
	defer cancel()
	if err := s.OAuth.Revoke(ctx, token, hint); err != nil {
		s.logger().WarnContext(ctx, "auth: revoke", slog.String("token_type_hint", hint), slog.String("error", err.Error()))
	}
}

// parallel runs f(0..n-1) with at most signOutParallel at once.
func parallel(n int, f func(i int)) {
	sem := make(chan struct{}, signOutParallel)
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
