package session

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	mathrand "math/rand/v2"
	"time"

	"github.com/serverless-signin/signin/internal/emf"
	"github.com/serverless-signin/signin/pkg/signin"
	"github.com/serverless-signin/signin/pkg/store"
)

// refreshRoute is the "route" attribute of the refresh log lines: the EMF
// dimension under which Refreshes and RefreshFailures are published.
const refreshRoute = "refresh"

const (
	// writeTimeout bounds the writes that must happen even when the
	// caller has given up: saving a rotated refresh token, ending a session.
	writeTimeout = 5 * time.Second
	// maxLeaseMargin bounds the slack kept between the end of a save and
	// the end of the lease it runs under (clock skew between containers,
	// the write's own transit).
	maxLeaseMargin = time.Second
	// Polling for another caller's refresh: exponential backoff with
	// jitter between these, so waiters in many containers spread out.
	minPoll = 20 * time.Millisecond
	maxPoll = 250 * time.Millisecond
)

// AccessToken returns a usable access token of the session with store key
// key, for calling provider APIs on the user's behalf. Never hand it to the
// browser.
//
// A token that expires within RefreshSkew is refreshed first. Concurrent
// callers, in this process or in other containers sharing the table, cause
// one refresh at the provider: the first takes a lease on the token record
// (a conditional write) and refreshes; the others poll the record until the
// new token is saved, or until the lease expires (its holder crashed) and
// they take over. A rotated refresh token is saved with its access token in
// one conditional write and never redeemed twice; when the provider does
// not rotate it, the old one is kept. The token record keeps its expiry
// (the session's): a refresh never extends it.
//
// Errors: ErrSignInAgain (also an ErrNotSignedIn) when the tokens cannot be
// refreshed any more (the grant ended, no refresh token, the token record
// expired): the session has been ended. ErrNotSignedIn when the session
// ended meanwhile (signed out elsewhere). Anything else (store.ErrUnavailable,
// a provider outage, ctx done) is an error wrapping its cause, after which
// the session stays signed in. An expired access token is never returned as
// usable; one without a known expiry is returned as is.
//
// Metrics: a refresh writes one log line with route "refresh" that counts
// Refreshes, or RefreshFailures by reason (CloudWatch EMF): grant_ended
// when the session had to end (ErrSignInAgain, or signed out during the
// refresh), provider, storage.
//
// Round trips for a fresh token: one GetItem, no provider call. A refresh:
// one UpdateItem (lease), the provider's token endpoint, one PutItem
// (save), plus one UpdateItem when the lease has to be extended.
func (m *Manager) AccessToken(ctx context.Context, key string) (string, error) {
	if key == "" {
		return "", ErrNotSignedIn
	}
	t, err := m.cfg.Store.GetTokens(ctx, key)
	if err != nil {
		return "", m.tokensUnreadable(ctx, key, err)
	}
	if t.Usable(m.cfg.Now(), m.cfg.RefreshSkew) {
		return t.AccessToken, nil
	}
	return m.refresh(ctx, t)
}

// refresh gets a usable token for the record t, refreshing it at most once
// across all callers (see AccessToken).
func (m *Manager) refresh(ctx context.Context, t store.Tokens) (string, error) {
	if m.cfg.Refresher == nil {
		return "", errors.New("session: access token: expired and nothing to refresh it with")
	}
	// Waiting is bounded: a crashed holder costs at most one lease, and our
	// own refresh fits in another.
	ctx, cancel := context.WithTimeout(ctx, 2*m.cfg.LeaseTimeout)
	defer cancel()

	key, first := t.Key, t.Version
	owner := rand.Text() // tells our lease from every other caller's
	var (
		poll      backoff
		conflicts int
	)
	for {
		now := m.cfg.Now()
		switch {
		case t.Version != first && t.Usable(now, 0):
			// Someone else refreshed. Their token is accepted even within
			// the skew: when the provider's lifetime is shorter than the
			// skew, insisting on it would refresh forever.
			return t.AccessToken, nil
		case t.Usable(now, m.cfg.RefreshSkew):
			return t.AccessToken, nil
		case t.RefreshToken == "":
			// Nothing can renew the token. Ending the session (rather than
			// keeping a signed-in session that can never call the provider)
			// keeps one meaning for ErrSignInAgain: /auth/me agrees that
			// the browser must sign in again.
			return "", m.endForRefresh(ctx, key, "access token expired and no refresh token", nil)
		case t.LeaseOwner != "" && t.LeaseOwner != owner && now.Before(t.LeaseUntil):
			// Another caller is refreshing: reuse its result.
			if err := poll.wait(ctx); err != nil {
				return "", fmt.Errorf("session: access token: wait for another refresh: %w", err)
			}
		default:
			leased, err := m.cfg.Store.AcquireRefreshLease(ctx, key, t.Version, owner, now.Add(m.cfg.LeaseTimeout))
			if err == nil {
				return m.redeem(ctx, leased, owner)
			}
			if !errors.Is(err, store.ErrConflict) {
				return "", m.refreshUnreadable(ctx, key, err)
			}
			// Lost the race for the lease: reread at once, the winner may
			// be done already (the next turn waits while its lease lives).
			// A repeated conflict without a visible lease means our clock
			// and the store's disagree about the lease's end: do not spin.
			if conflicts++; conflicts > 1 {
				if err := poll.wait(ctx); err != nil {
					return "", fmt.Errorf("session: access token: wait for another refresh: %w", err)
				}
			}
		}
		var err error
		if t, err = m.cfg.Store.GetTokens(ctx, key); err != nil {
			return "", m.refreshUnreadable(ctx, key, err)
		}
	}
}

// leaseBudgets splits one lease between the provider call and the save of
// its result. The provider call gets three quarters of the lease; the save
// gets at most writeTimeout, scaled down for short leases (half the lease),
// and must start with its budget plus a margin still left on the lease, or
// the lease is extended first (see redeem).
func (m *Manager) leaseBudgets() (provider, save, margin time.Duration) {
	lease := m.cfg.LeaseTimeout
	return lease * 3 / 4, min(writeTimeout, lease/2), min(maxLeaseMargin, lease/10)
}

// redeem refreshes the leased record at the provider and saves the result,
// both inside the lease: past it another caller may take over and redeem
// the same refresh token, which a rotating provider rejects as reuse (and
// the session ends).
//
// Round trips: the provider's token endpoint, one PutItem (the save); one
// UpdateItem more (the lease extended) only when the provider took so long
// that the save would not fit in what is left of the lease.
func (m *Manager) redeem(ctx context.Context, leased store.Tokens, owner string) (string, error) {
	providerBudget, saveBudget, margin := m.leaseBudgets()
	rctx, cancel := context.WithTimeout(ctx, providerBudget)
	nt, err := m.cfg.Refresher.Refresh(rctx, leased.Token)
	cancel()
	if err != nil {
		if errors.Is(err, signin.ErrGrantEnded) {
			return "", m.endForRefresh(ctx, leased.Key, "refresh refused", err)
		}
		// The refresh token may still be good (a provider outage): let
		// the next caller try at once instead of after the lease.
		m.release(ctx, leased, owner)
		err = fmt.Errorf("session: access token: %w", err)
		m.refreshFailed(ctx, emf.ReasonProvider, err)
		return "", err
	}

	next := leased
	next.Token = nt // the Refresher keeps the old refresh token when none was returned
	next.Version = leased.Version + 1
	// next.ExpiresAt stays the record's (the session's lifetime): a refresh
	// never makes the record live longer. signin.Token does not report a
	// refresh token lifetime (the non-standard refresh_expires_in); when it
	// does, the record's expiry becomes the earlier of the two.

	// The provider may have rotated the refresh token: the new one exists
	// only in this process now, so it is saved even if the caller has gone
	// (WithoutCancel). Saving the access and refresh tokens in one
	// conditional write (same owner, version+1) means no one ever reads a
	// new access token with an old refresh token or the reverse.
	wctx := context.WithoutCancel(ctx)
	extended := false
	if left := leased.LeaseUntil.Sub(m.cfg.Now()); left < saveBudget+margin {
		// Too little lease left for the save: extend it first, so no
		// other caller takes over while the save is on its way. Only the
		// owner can, and only while nobody has taken over; otherwise the
		// result is lost (notSaved) but nothing is redeemed twice by us.
		xctx, cancel := context.WithTimeout(wctx, saveBudget)
		_, err := m.cfg.Store.AcquireRefreshLease(xctx, leased.Key, leased.Version, owner, m.cfg.Now().Add(saveBudget+margin))
		cancel()
		if err != nil {
			return "", m.notSaved(ctx, leased, nt, fmt.Errorf("extend the lease: %w", err))
		}
		extended = true
	}
	sctx, cancel := context.WithTimeout(wctx, saveBudget)
	err = m.cfg.Store.SaveRefreshed(sctx, next, owner)
	cancel()
	if err != nil {
		return "", m.notSaved(ctx, leased, nt, err)
	}
	if !nt.Usable(m.cfg.Now(), 0) {
		err := errors.New("session: access token: the provider returned an expired access token")
		m.refreshFailed(ctx, emf.ReasonProvider, err)
		return "", err
	}
	m.logRefresh(ctx, slog.LevelInfo, "session: refreshed", emf.Attrs(m.cfg.Now(), emf.Refreshes, ""),
		slog.Bool("refresh_token_rotated", nt.RefreshToken != leased.RefreshToken),
		slog.Bool("lease_extended", extended))
	return next.AccessToken, nil
}

// logRefresh writes one refresh log line: the route attribute the EMF
// dimension needs, the metric attributes, then attrs.
func (m *Manager) logRefresh(ctx context.Context, level slog.Level, msg string, metric []slog.Attr, attrs ...slog.Attr) {
	all := make([]slog.Attr, 0, 1+len(metric)+len(attrs))
	all = append(all, slog.String(emf.RouteKey, refreshRoute))
	all = append(all, attrs...)
	all = append(all, metric...)
	m.cfg.Logger.LogAttrs(ctx, level, msg, all...)
}

// refreshFailed logs a refresh that failed for reason (an emf.Reason*),
// counted as RefreshFailures.
func (m *Manager) refreshFailed(ctx context.Context, reason string, err error) {
	m.logRefresh(ctx, slog.LevelError, "session: refresh failed", emf.Attrs(m.cfg.Now(), emf.RefreshFailures, reason),
		slog.String("error", err.Error()))
}

// refreshUnreadable is tokensUnreadable during a refresh: a storage failure
// is also counted as a failed refresh (a missing record ends the session,
// which endForRefresh counts).
func (m *Manager) refreshUnreadable(ctx context.Context, key string, err error) error {
	err = m.tokensUnreadable(ctx, key, err)
	if !errors.Is(err, ErrNotSignedIn) {
		m.refreshFailed(ctx, emf.ReasonStorage, err)
	}
	return err
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
func (m *Manager) notSaved(ctx context.Context, leased store.Tokens, nt signin.Token, err error) error {
	rotated := nt.RefreshToken != leased.RefreshToken
	if errors.Is(err, store.ErrNotFound) {
		m.revokeLogged(context.WithoutCancel(ctx), store.Tokens{Token: nt})
		m.logRefresh(ctx, slog.LevelInfo, "session: session ended during refresh", emf.Attrs(m.cfg.Now(), emf.RefreshFailures, emf.ReasonGrantEnded))
		return fmt.Errorf("session: access token: session ended during refresh: %w", ErrNotSignedIn)
	}
	m.logRefresh(ctx, slog.LevelError, "session: refreshed tokens not saved", emf.Attrs(m.cfg.Now(), emf.RefreshFailures, emf.ReasonStorage),
		slog.Bool("refresh_token_rotated", rotated), slog.String("error", err.Error()))
	return fmt.Errorf("session: access token: save refreshed tokens: %w", err)
}

// release gives up our lease after a failed refresh by setting its end to
// now (the owner may retake its own lease), so waiting callers retry at
// once. Best effort: an unreleased lease simply runs out.
func (m *Manager) release(ctx context.Context, leased store.Tokens, owner string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	_, _ = m.cfg.Store.AcquireRefreshLease(ctx, leased.Key, leased.Version, owner, m.cfg.Now())
}

// tokensUnreadable maps a failed token record read or lease: a missing
// record (expired with the refresh token, or deleted by a concurrent end or
// sign-out) ends the session; anything else is a storage failure.
func (m *Manager) tokensUnreadable(ctx context.Context, key string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return m.endForRefresh(ctx, key, "no token record", nil)
	}
	return fmt.Errorf("session: access token: %w", err)
}

// endForRefresh deletes the session and its tokens and returns
// ErrSignInAgain. It runs even when the caller has gone: a dead refresh
// token must not leave a session that /auth/me reports signed in. Should the
// delete fail, the error is both ErrSignInAgain and the storage failure.
// Nothing is revoked: the grant is already dead or gone. Its log line
// counts a RefreshFailures with reason grant_ended (why is the detail).
func (m *Manager) endForRefresh(ctx context.Context, key, why string, cause error) error {
	e := fmt.Errorf("%w: %s", ErrSignInAgain, why)
	if cause != nil {
		e = fmt.Errorf("%w: %s: %w", ErrSignInAgain, why, cause)
	}
	metric := emf.Attrs(m.cfg.Now(), emf.RefreshFailures, emf.ReasonGrantEnded)
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	if _, _, err := m.cfg.Store.DeleteSession(dctx, key); err != nil && !errors.Is(err, store.ErrNotFound) {
		m.logRefresh(ctx, slog.LevelError, "session: end session", metric, slog.String("detail", why), slog.String("error", err.Error()))
		return errors.Join(e, fmt.Errorf("session: end session: %w", err))
	}
	attrs := []slog.Attr{slog.String("detail", why)}
	if cause != nil {
		attrs = append(attrs, slog.String("error", cause.Error()))
	}
	m.logRefresh(ctx, slog.LevelInfo, "session: session ended", metric, attrs...)
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
