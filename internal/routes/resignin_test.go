package routes_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/serverless-signin/signin/pkg/signin"
	"github.com/serverless-signin/signin/pkg/store"
)

// Signing in again in a browser that holds a session cookie ends the older
// session once the new one is stored (docs/contract.md §6.7): its records
// are deleted and its refresh token revoked, so the old cookie (leaked or
// not) signs nobody in any more. The new cookie replaces it.
func TestReSignIn(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		a := newApp(t, setup{kind: k})
		b := a.browser()
		b.signIn("")
		old := b.sessionID()
		tok, err := a.store.GetTokens(context.Background(), store.Hash(old))
		if err != nil || tok.RefreshToken == "" {
			t.Fatalf("old session's tokens = refresh token %t, %v; want one", tok.RefreshToken != "", err)
		}
		revoked := a.provider.Calls("/revoke")

		resp := b.signIn("/again")
		id := b.sessionID()
		if id == old {
			t.Fatal("re-sign-in kept the old session id")
		}
		checkCookies(t, "re-sign-in", resp, wantCookie(sessionCookie(true), id, 7*24*time.Hour, true))
		checkResponse(t, "me with the new cookie", b.get("/auth/me"), 200, demoSignedIn)

		if _, err := a.store.Store.PeekSession(context.Background(), store.Hash(old)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("old session record after re-sign-in = %v; want deleted", err)
		}
		if _, err := a.store.GetTokens(context.Background(), store.Hash(old)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("old token record after re-sign-in = %v; want deleted", err)
		}
		if got := a.provider.Calls("/revoke") - revoked; got != 1 {
			t.Errorf("revocations = %d; want 1 (the old session's refresh token)", got)
		}
		if _, err := a.client.Refresh(context.Background(), signin.Token{RefreshToken: tok.RefreshToken}); err == nil {
			t.Errorf("the old session's refresh token still works at the provider")
		}
		leaked := a.browser()
		leaked.jar[sessionCookie(true)] = old
		checkResponse(t, "me with the old cookie", leaked.get("/auth/me"), 401, unauthenticated)
		if _, err := a.session(id); err != nil {
			t.Errorf("new session = %v; want live", err)
		}
	})
}

// An old cookie that names nothing to end (malformed, unknown, signed out,
// expired) never fails the sign-in, and nothing is revoked for it.
func TestReSignInWithoutAnOldSession(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		a := newApp(t, setup{kind: k, opts: options{IdleTimeout: 30 * time.Minute}})
		signedOut := a.browser()
		signedOut.signIn("")
		loggedOut := signedOut.sessionID()
		signedOut.logout(nil)

		for _, tt := range []struct{ name, cookie string }{
			{"malformed cookie", "garbage"},
			{"unknown session", strings.Repeat("A", 43)},
			{"logged-out session", loggedOut},
		} {
			t.Run(tt.name, func(t *testing.T) {
				b := a.browser()
				b.jar[sessionCookie(true)] = tt.cookie
				revoked := a.provider.Calls("/revoke")
				resp := b.signIn("")
				checkCookies(t, "sign-in", resp, wantCookie(sessionCookie(true), b.sessionID(), 7*24*time.Hour, true))
				checkResponse(t, "me", b.get("/auth/me"), 200, demoSignedIn)
				if got := a.provider.Calls("/revoke") - revoked; got != 0 {
					t.Errorf("revocations = %d; want 0", got)
				}
			})
		}

		// An idle-expired session is still in the table: it is ended too.
		t.Run("idle-expired session", func(t *testing.T) {
			b := a.browser()
			b.signIn("")
			old := b.sessionID()
			a.clock.Advance(31 * time.Minute)
			revoked := a.provider.Calls("/revoke")
			b.signIn("")
			checkResponse(t, "me", b.get("/auth/me"), 200, demoSignedIn)
			if _, err := a.store.Store.PeekSession(context.Background(), store.Hash(old)); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("idle-expired old session record = %v; want deleted", err)
			}
			if got := a.provider.Calls("/revoke") - revoked; got != 1 {
				t.Errorf("revocations = %d; want 1", got)
			}
		})
	})
}

// Ending the old session is best effort: when its delete fails the
// sign-in still succeeds, and the log says what was left behind.
func TestReSignInOldSessionNotEnded(t *testing.T) {
	a := newApp(t, setup{store: func(s store.Store) store.Store { return deleteDown{s} }})
	b := a.browser()
	b.signIn("")
	old := b.sessionID()

	resp := b.signIn("/x")
	if got := resp.Headers["Location"]; got != "/x" {
		t.Errorf("re-sign-in Location = %q; want /x", got)
	}
	checkCookies(t, "re-sign-in", resp, wantCookie(sessionCookie(true), b.sessionID(), 7*24*time.Hour, true))
	checkResponse(t, "me", b.get("/auth/me"), 200, demoSignedIn)
	if _, err := a.session(old); err != nil {
		t.Errorf("old session = %v; want it left (the delete failed)", err)
	}
	if !strings.Contains(a.logs.String(), `"detail":"end old session"`) {
		t.Errorf("logs do not note the old session left behind:\n%s", a.logs)
	}
	if strings.Contains(a.logs.String(), old) {
		t.Errorf("logs contain the old session id")
	}
}

// deleteDown is a store whose deletes fail.
type deleteDown struct{ store.Store }

func (deleteDown) DeleteSession(context.Context, string) (store.Session, store.Tokens, error) {
	return store.Session{}, store.Tokens{}, fmt.Errorf("store: delete session: %w", store.ErrUnavailable)
}
