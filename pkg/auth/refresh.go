package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	mathrand "math/rand/v2"
	"time"

	"github.com/serverless-signin/signin/pkg/oauth"
	"github.com/serverless-signin/signin/pkg/oauth/store"
)

const (
	// writeTimeout bounds the writes that must happen even when the
	// caller has given up: saving a rotated refresh token, ending a session.
	writeTimeout = 5 * time.Second
	// Polling for another caller's refresh: exponential backoff with
	// jitter between these, so waiters in many containers spread out.
	minPoll = 20 * time.Millisecond
	maxPoll = 250 * time.Millisecond
)

// AccessToken returns a usable access token of the session's user, for
// calling provider APIs on the user's behalf. Never hand it to the browser.
//
// A token that expires within Skew is refreshed first. Concurrent callers,
// in this process or in other containers sharing the table, cause one
// refresh at the provider: the first takes a lease on the token record (a
// conditional write) and refreshes; the others poll the record until the
// new token is saved, or until the lease expires (its holder crashed) and
// they take over. A rotated refresh token is saved with its access token in
// one conditional write and never redeemed twice; when the provider does
// not rotate it, the old one is kept. The token record keeps its expiry
// (the session's): a refresh never extends it.
//
// Errors: ErrSignInAgain (also an ErrNotSignedIn) when the tokens cannot be
// refreshed any more (invalid_grant, no refresh token, the token record
// expired, the refreshed ID token names another user): the session has
// been ended. ErrNotSignedIn when the session ended meanwhile (signed out
// elsewhere). Anything else (store.ErrUnavailable, a provider outage, ctx
// done) is an error wrapping its cause, after which the session stays
// signed in. An expired access token is never returned as usable; one
// without a known expiry is returned as is.
//
// Round trips for a fresh token: one GetItem, no provider call.
func (s *Sessions) AccessToken(ctx context.Context, sess *Session) (string, error) {
	if sess == nil || sess.Key == "" {
		return "", ErrNotSignedIn
	}
	t, err := s.Store.GetTokens(ctx, sess.Key)
	if err != nil {
		return "", s.tokensUnreadable(ctx, sess.Key, err)
	}
	if usable(t, s.now(), s.skew()) {
		return t.AccessToken, nil
	}
	return s.refresh(ctx, t)
}

// usable reports whether t's access token is still good for skew: a token
// without a known expiry always is.
func usable(t store.Tokens, now time.Time, skew time.Duration) bool {
	return t.AccessToken != "" && (t.Expiry.IsZero() || now.Add(skew).Before(t.Expiry))
}

// refresh gets a usable token for the record t, refreshing it at most once
// across all callers (see AccessToken).
func (s *Sessions) refresh(ctx context.Context, t store.Tokens) (string, error) {
	if s.OAuth == nil {
		return "", errors.New("auth: access token: expired and no OAuth client to refresh it with")
	}
	// Waiting is bounded: a crashed holder costs at most one lease, and our
	// own refresh fits in another.
	ctx, cancel := context.WithTimeout(ctx, 2*s.leaseTimeout())
	defer cancel()

	key, first := t.Key, t.Version
	owner := rand.Text() // tells our lease from every other caller's
	var (
		poll      backoff
		conflicts int
	)
	for {
		now := s.now()
		switch {
		case t.Version != first && usable(t, now, 0):
			// Someone else refreshed. Their token is accepted even within
			// the skew: when the provider's lifetime is shorter than the
			// skew, insisting on it would refresh forever.
			return t.AccessToken, nil
		case usable(t, now, s.skew()):
			return t.AccessToken, nil
		case t.RefreshToken == "":
			// Nothing can renew the token. Ending the session (rather than
			// keeping a signed-in session that can never call the provider)
			// keeps one meaning for ErrSignInAgain: /auth/me agrees that
			// the browser must sign in again.
			return "", s.end(ctx, key, "access token expired and no refresh token", nil)
		case t.LeaseOwner != "" && t.LeaseOwner != owner && now.Before(t.LeaseUntil):
			// Another caller is refreshing: reuse its result.
			if err := poll.wait(ctx); err != nil {
				return "", fmt.Errorf("auth: access token: wait for another refresh: %w", err)
			}
		default:
			leased, err := s.Store.AcquireRefreshLease(ctx, key, t.Version, owner, now.Add(s.leaseTimeout()))
			if err == nil {
				return s.redeem(ctx, leased, owner)
			}
			if !errors.Is(err, store.ErrConflict) {
				return "", s.tokensUnreadable(ctx, key, err)
			}
			// Lost the race for the lease: reread at once, the winner may
			// be done already (the next turn waits while its lease lives).
			// A repeated conflict without a visible lease means our clock
			// and the store's disagree about the lease's end: do not spin.
			if conflicts++; conflicts > 1 {
				if err := poll.wait(ctx); err != nil {
					return "", fmt.Errorf("auth: access token: wait for another refresh: %w", err)
				}
			}
		}
		var err error
		if t, err = s.Store.GetTokens(ctx, key); err != nil {
			return "", s.tokensUnreadable(ctx, key, err)
		}
	}
}

// redeem refreshes the leased record at the provider and saves the result.
func (s *Sessions) redeem(ctx context.Context, leased store.Tokens, owner string) (string, error) {
	// The provider call ends well inside the lease: past it another caller
	// may take over and redeem the same refresh token, which a rotating
	// provider rejects as reuse.
	rctx, cancel := context.WithTimeout(ctx, s.leaseTimeout()*3/4)
	nt, err := s.OAuth.Refresh(rctx, &oauth.Token{
		AccessToken:  leased.AccessToken,
		TokenType:    leased.TokenType,
		RefreshToken: leased.RefreshToken,
		IDToken:      leased.IDToken,
		Scope:        leased.Scope,
		Expiry:       leased.Expiry,
	})
	cancel()
	if err != nil {
		if refusal(err) {
			return "", s.end(ctx, leased.Key, "refresh refused", err)
		}
		// The refresh token may still be good (a provider outage): let
		// the next caller try at once instead of after the lease.
		s.release(ctx, leased, owner)
		return "", fmt.Errorf("auth: access token: %w", err)
	}

	next := leased
	next.AccessToken = nt.AccessToken
	next.RefreshToken = nt.RefreshToken // oauth.Refresh keeps the old one when none was returned
	next.IDToken = nt.IDToken
	next.TokenType = nt.TokenType
	next.Scope = nt.Scope
	next.Expiry = nt.Expiry
	next.Version = leased.Version + 1
	// next.ExpiresAt stays the record's (the session's lifetime): a refresh
	// never makes the record live longer. oauth.Token does not report a
	// refresh token lifetime (the non-standard refresh_expires_in); when it
	// does, the record's expiry becomes the earlier of the two.

	// The provider may have rotated the refresh token: the new one exists
	// only in this process now, so it is saved even if the caller has gone
	// (WithoutCancel). Saving the access and refresh tokens in one
	// conditional write (same owner, version+1) means no one ever reads a
	// new access token with an old refresh token or the reverse.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	err = s.Store.SaveRefreshed(sctx, next, owner)
	cancel()
	if err != nil {
		return "", s.notSaved(ctx, leased, nt, err)
	}
	if !usable(next, s.now(), 0) {
		return "", errors.New("auth: access token: the provider returned an expired access token")
	}
	return next.AccessToken, nil
}

// refusal reports whether a refresh error means the session cannot go on:
// the refresh token is dead, or the refreshed ID token names another
// authentication (OpenID Connect Core §12.2; oauth.Refresh asks callers to
// end the session then).
func refusal(err error) bool {
	return oauth.IsInvalidGrant(err) ||
		errors.Is(err, oauth.ErrNoRefreshToken) ||
		errors.Is(err, oauth.ErrInvalidIDToken) ||
		errors.Is(err, oauth.ErrSubjectMismatch) ||
		errors.Is(err, oauth.ErrIssuerMismatch)
}

// notSaved handles a refresh that succeeded at the provider but could not be
// saved. What remains at risk, by cause:
//   - the record is gone (signed out meanwhile): the new refresh token is
//     revoked, so nothing usable outlives the sign-out;
//   - the lease was taken over (this refresh outlived LeaseTimeout) or the
//     store failed: the new tokens are lost. A provider that does not
//     rotate refresh tokens loses nothing (the stored one still works); one
//     that rotates answers the next refresh with invalid_grant, which ends
//     the session: the user signs in again. Nothing is ever wrongly signed
//     in, and a rotated token is never redeemed twice by us.
func (s *Sessions) notSaved(ctx context.Context, leased store.Tokens, nt *oauth.Token, err error) error {
	rotated := nt.RefreshToken != leased.RefreshToken
	if errors.Is(err, store.ErrNotFound) {
		s.revokeOne(context.WithoutCancel(ctx), store.Tokens{RefreshToken: nt.RefreshToken, AccessToken: nt.AccessToken})
		return fmt.Errorf("auth: access token: session ended during refresh: %w", ErrNotSignedIn)
	}
	s.logger().ErrorContext(ctx, "auth: refreshed tokens not saved",
		slog.Bool("refresh_token_rotated", rotated), slog.String("error", err.Error()))
	return fmt.Errorf("auth: access token: save refreshed tokens: %w", err)
}

// release gives up our lease after a failed refresh by setting its end to
// now (the owner may retake its own lease), so waiting callers retry at
// once. Best effort: an unreleased lease simply runs out.
func (s *Sessions) release(ctx context.Context, leased store.Tokens, owner string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	_, _ = s.Store.AcquireRefreshLease(ctx, leased.Key, leased.Version, owner, s.now())
}

// tokensUnreadable maps a failed token record read or lease: a missing
// record (expired with the refresh token, or deleted by a concurrent end or
// sign-out) ends the session; anything else is a storage failure.
func (s *Sessions) tokensUnreadable(ctx context.Context, key string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return s.end(ctx, key, "no token record", nil)
	}
	return fmt.Errorf("auth: access token: %w", err)
}

// end deletes the session and its tokens and returns ErrSignInAgain. It
// runs even when the caller has gone: a dead refresh token must not leave a
// session that /auth/me reports signed in. Should the delete fail, the
// error is both ErrSignInAgain and the storage failure.
func (s *Sessions) end(ctx context.Context, key, why string, cause error) error {
	e := fmt.Errorf("%w: %s", ErrSignInAgain, why)
	if cause != nil {
		e = fmt.Errorf("%w: %s: %w", ErrSignInAgain, why, cause)
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	if _, _, err := s.Store.DeleteSession(dctx, key); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.logger().ErrorContext(ctx, "auth: end session", slog.String("reason", why), slog.String("error", err.Error()))
		return errors.Join(e, fmt.Errorf("auth: end session: %w", err))
	}
	attrs := []slog.Attr{slog.String("reason", why)}
	if cause != nil {
		attrs = append(attrs, slog.String("error", cause.Error()))
	}
	s.logger().LogAttrs(ctx, slog.LevelInfo, "auth: session ended", attrs...)
	return e
}

// backoff is the polling schedule while another caller refreshes.
type backoff struct{ d time.Duration }

func (b *backoff) wait(ctx context.Context) error {
	b.d = max(minPoll, min(2*b.d, maxPoll))
	timer := time.NewTimer(b.d/2 + mathrand.N(b.d/2+1))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
