package routes_test

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-signin/signin/internal/storecalls"
	"github.com/serverless-signin/signin/pkg/store"
)

// downStore fails every call while down is set, as DynamoDB being
// unreachable would.
type downStore struct {
	store.Store
	down *atomic.Bool
}

func (s downStore) err(method string) error {
	return fmt.Errorf("store: %s: %w: connection refused", method, store.ErrUnavailable)
}

func (s downStore) PutState(ctx context.Context, st store.State) error {
	if s.down.Load() {
		return s.err("put state")
	}
	return s.Store.PutState(ctx, st)
}

func (s downStore) ConsumeState(ctx context.Context, state, binding string) (store.State, error) {
	if s.down.Load() {
		return store.State{}, s.err("consume state")
	}
	return s.Store.ConsumeState(ctx, state, binding)
}

func (s downStore) GetSession(ctx context.Context, key string) (store.Session, error) {
	if s.down.Load() {
		return store.Session{}, s.err("get session")
	}
	return s.Store.GetSession(ctx, key)
}

func (s downStore) DeleteSession(ctx context.Context, key string) (store.Session, store.Tokens, error) {
	if s.down.Load() {
		return store.Session{}, store.Tokens{}, s.err("delete session")
	}
	return s.Store.DeleteSession(ctx, key)
}

// The store methods each route calls, over its success and failure paths,
// are exactly what storecalls.Functions declares for its function:
// e2e/deploy_test.go grants each function the permissions of those methods
// (store.Permissions) and nothing else.
func TestStoreCallsPerFunction(t *testing.T) {
	functions := map[string]string{
		"login":    "LoginFunction",
		"callback": "CallbackFunction",
		"me":       "MeFunction",
		"logout":   "LogoutFunction",
	}
	var rec *storecalls.Recorder
	var down atomic.Bool
	a := newApp(t, setup{
		opts: options{IdleTimeout: 30 * time.Minute}, // me's idle touch
		store: func(s store.Store) store.Store {
			rec = &storecalls.Recorder{Next: downStore{s, &down}}
			return rec
		},
	})
	called := map[string]map[string]bool{}
	// send delivers one request from b, checks its status and notes the
	// store methods it called under its route.
	send := func(b *browser, method, target string, headers map[string]string, want int) events.APIGatewayV2HTTPResponse {
		t.Helper()
		path, _, _ := strings.Cut(target, "?")
		route := strings.TrimPrefix(path, "/auth/")
		rec.Take()
		resp := b.send(b.event(method, target, headers))
		if called[route] == nil {
			called[route] = map[string]bool{}
		}
		for _, m := range rec.Take() {
			called[route][m] = true
		}
		if resp.StatusCode != want {
			t.Errorf("%s %s = %d %s; want %d", method, target, resp.StatusCode, resp.Body, want)
		}
		return resp
	}
	outage := func(f func()) {
		down.Store(true)
		defer down.Store(false)
		f()
	}
	login := func(b *browser) string { // the callback target for the demo user
		t.Helper()
		resp := send(b, "GET", "/auth/login", nil, 302)
		u, err := url.Parse(resp.Headers["Location"])
		if err != nil {
			t.Fatal(err)
		}
		return b.authorize(u)
	}
	signIn := func(b *browser) string {
		t.Helper()
		callback := login(b)
		send(b, "GET", callback, nil, 302)
		return callback
	}
	sameSite := func(a *app) map[string]string {
		return map[string]string{"origin": a.origin(), "sec-fetch-site": "same-origin"}
	}
	stateOf := func(callback string) string { return url.QueryEscape(mustQuery(t, callback).Get("state")) }

	// Login: a new browser, a second tab (the binding is reused), an outage.
	b := a.browser()
	signIn(b)
	login(b)
	outage(func() { send(a.browser(), "GET", "/auth/login", nil, 500) })

	// Callback: a sign-in over the browser's older session, and each
	// refusal and failure.
	signIn(b)
	c := a.browser()
	send(c, "GET", "/auth/callback?code=c", nil, 400) // malformed: no store call
	login(c)
	send(c, "GET", "/auth/callback?code=c&state=unknown", nil, 400)
	send(c, "GET", "/auth/callback?error=access_denied&state="+stateOf(login(c)), nil, 400)
	send(c, "GET", login(c)+"&iss="+url.QueryEscape("https://evil.example"), nil, 500)
	spent := signIn(a.browser())
	send(c, "GET", "/auth/callback?code="+url.QueryEscape(mustQuery(t, spent).Get("code"))+"&state="+stateOf(login(c)), nil, 500)
	pending := login(c)
	outage(func() { send(c, "GET", pending, nil, 500) })

	// Me: signed out, signed in, after a while (the idle touch), a cookie
	// naming nothing, an outage.
	send(a.browser(), "GET", "/auth/me", nil, 200)
	send(b, "GET", "/auth/me", nil, 200)
	a.clock.Advance(20 * time.Minute)
	send(b, "GET", "/auth/me", nil, 200)
	nobody := a.browser()
	nobody.jar[sessionCookie(true)] = strings.Repeat("A", 43)
	send(nobody, "GET", "/auth/me", nil, 401)
	outage(func() { send(b, "GET", "/auth/me", nil, 500) })

	// Logout: this browser; everywhere (the same user in other browsers);
	// already signed out; no cookie; everywhere from an idle-expired
	// session; a cross-site request; an outage.
	laptop, phone := a.browser(), a.browser()
	signIn(laptop)
	signIn(phone)
	send(b, "POST", "/auth/logout", sameSite(a), 302)
	send(laptop, "POST", "/auth/logout?everywhere=1", sameSite(a), 302)
	if _, err := a.session(phone.sessionID()); err == nil {
		t.Errorf("the phone's session survived sign out everywhere\n%s", a.logs)
	}
	send(phone, "POST", "/auth/logout", sameSite(a), 302)
	send(a.browser(), "POST", "/auth/logout", sameSite(a), 302)
	idle := a.browser()
	signIn(idle)
	a.clock.Advance(31 * time.Minute)
	idleCookie := idle.sessionID()
	send(idle, "POST", "/auth/logout?everywhere=1", sameSite(a), 302)
	idle.jar[sessionCookie(true)] = idleCookie
	send(idle, "POST", "/auth/logout", map[string]string{"origin": "https://evil.example", "sec-fetch-site": "cross-site"}, 403)
	outage(func() { send(idle, "POST", "/auth/logout", sameSite(a), 500) })

	for _, route := range slices.Sorted(maps.Keys(functions)) {
		fn := functions[route]
		got := slices.Sorted(maps.Keys(called[route]))
		want := slices.Sorted(slices.Values(storecalls.Functions[fn]))
		if !slices.Equal(got, want) {
			t.Errorf("%s calls the store methods %q; storecalls.Functions[%q] = %q (e2e grants that function exactly their permissions)", route, got, fn, want)
		}
	}
}
