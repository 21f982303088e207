//go:build linux

package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-signin/signin/internal/devprovider"
	"github.com/serverless-signin/signin/pkg/store"
)

// devDeployment is the DevProvider group: the four functions against the real in-process OpenID
// provider (zitadel/oidc), with four processes of the callback function. The attacker is the
// browser.
type devDeployment struct {
	c         *contract
	p         *devprovider.Provider
	login     *function
	callbacks []*function // four processes of the callback function: callbacks[0] by default
	logout    *function

	callbackIdle *function // SESSION_IDLE_TIMEOUT=2s
}

// devProvider starts the DevProvider group and runs its subtests.
func (c *contract) devProvider(t *testing.T) {
	p, err := devprovider.Start(devprovider.Options{})
	if err != nil {
		t.Fatalf("devprovider.Start: %v", err)
	}
	t.Cleanup(p.Close)
	p.AllowRedirectURI(devprovider.DefaultClientID, "https://"+httpsHost+"/auth/callback")
	p.AllowRedirectURI(devprovider.DefaultClientID, "http://"+httpHost+"/auth/callback")
	startWith := func(id, name string, extra map[string]string) *function {
		return c.start(t, id, name, p.Issuer(), devprovider.DefaultClientID, devprovider.DefaultClientSecret, extra)
	}
	start := func(id, name string) *function { return startWith(id, name, nil) }
	d := &devDeployment{c: c, p: p, login: start("LoginFunction", "login"), logout: start("LogoutFunction", "logout")}
	for i := range 4 {
		d.callbacks = append(d.callbacks, start("CallbackFunction", fmt.Sprintf("callback-%d", i)))
	}
	d.callbackIdle = startWith("CallbackFunction", "callback-idle", map[string]string{"SESSION_IDLE_TIMEOUT": "2s"})

	t.Run("SignInHTTPS", func(t *testing.T) { d.signInOut(t, newAgent(true)) })
	t.Run("SignInHTTP", func(t *testing.T) { d.signInOut(t, newAgent(false)) })
	t.Run("CallbackRefusals", d.callbackRefusals)
	t.Run("ConcurrentCallbacks", d.concurrentCallbacks)
	t.Run("OpenRedirects", d.openRedirects)
	t.Run("MeCookies", d.meCookies)
	t.Run("Logout", d.logoutChecks)
	t.Run("ReSignIn", d.reSignIn)
	t.Run("TwoTabs", d.twoTabs)
	// Last: it signs the demo user out of every session the group created.
	t.Run("SignOutEverywhere", d.signOutEverywhere)
}

// authorize signs in at the provider's form as the demo user and returns its redirect back.
func (d *devDeployment) authorize(t *testing.T, ar authorizeRequest) *url.URL {
	t.Helper()
	back, err := devprovider.Authorize(t.Context(), nil, ar.url.String(), devprovider.DemoUser.Username, devprovider.DemoUser.Password)
	if err != nil {
		t.Fatalf("devprovider.Authorize: %v", err)
	}
	d.c.secret("authorization code", back.Query().Get("code"))
	return back
}

// signIn runs login, the provider and the callback, and returns the callback's answer.
func (d *devDeployment) signIn(t *testing.T, b *agent, loginQuery string) events.APIGatewayV2HTTPResponse {
	t.Helper()
	back := d.authorize(t, d.c.login(t, d.login, b, loginQuery))
	return d.callbacks[0].invoke(t, b.request(d.c.callbackEv, back.RawQuery))
}

const bodyDemo = `{"authenticated":true,"user":{"id":"demo-user-0001","email":"demo@example.com","name":"Demo User"}}`

// signInOut is the whole life of a session on one scheme.
func (d *devDeployment) signInOut(t *testing.T, b *agent) {
	c := d.c
	c.checkMe(t, "me without a cookie", b, bodyUnauthenticated)

	discovery := d.p.Calls(devprovider.PathDiscovery)
	ar := c.login(t, d.login, b, "return_to="+url.QueryEscape("/app/x?y=1"))
	if got := ar.query.Get("client_id"); got != devprovider.DefaultClientID {
		t.Errorf("authorize URL client_id = %q; want %q", got, devprovider.DefaultClientID)
	}
	if ar.query.Has("prompt") {
		t.Errorf("authorize URL has prompt=%q; want none without OAUTH_PROMPT", ar.query.Get("prompt"))
	}
	if n := d.p.Calls(devprovider.PathDiscovery) - discovery; n != 0 {
		t.Errorf("login fetched the discovery document %d times; want 0 with OAUTH_AUTHORIZE_URL set", n)
	}
	back := d.authorize(t, ar)
	resp := d.callbacks[0].invoke(t, b.request(c.callbackEv, back.RawQuery))
	id := c.signedIn(t, resp, b, "/app/x?y=1", defaultLifetime)
	c.checkMe(t, "me after sign-in", b, bodyDemo)

	revocations := d.p.Calls(devprovider.PathRevoke)
	resp = d.logout.invoke(t, b.request(c.logoutEv, ""))
	if resp.StatusCode != http.StatusFound || resp.Headers["Location"] != "/" {
		t.Errorf("logout = %d Location %q; want 302 to /", resp.StatusCode, resp.Headers["Location"])
	}
	checkSetCookie(t, "logout", resp, b.sessionCookie(), b.https, 0)
	if n := d.p.Calls(devprovider.PathRevoke) - revocations; n != 1 {
		t.Errorf("logout made %d revocation requests; want 1", n)
	}
	b.apply(t, resp)
	for _, pk := range []string{"session#" + store.Hash(id), "tokens#" + store.Hash(id)} {
		if c.record(t, pk) != nil {
			t.Errorf("record %s left after logout", pk)
		}
	}
	c.checkSignedOut(t, "me with the cookie of a logged-out session", b, map[string]string{b.sessionCookie(): id})
	c.checkMe(t, "me after logout", b, bodyUnauthenticated)
}

// callbackRefusals sends every malformed or misdirected callback docs/contract.md §1 names; none may spend
// the state, so the genuine callback succeeds afterwards, and exactly once.
func (d *devDeployment) callbackRefusals(t *testing.T) {
	c := d.c
	b := newAgent(true)
	back := d.authorize(t, c.login(t, d.login, b, ""))
	code, state := back.Query().Get("code"), back.Query().Get("state")
	other := newAgent(true)
	c.login(t, d.login, other, "") // another browser with a binding of its own
	esc := url.QueryEscape

	before := c.sessionRecords(t)
	for _, tc := range []struct {
		name, query string
		jar         map[string]string
	}{
		{"no code", "state=" + esc(state), b.jar},
		{"no state", "code=" + esc(code), b.jar},
		{"empty state", "code=" + esc(code) + "&state=", b.jar},
		{"state twice", "code=" + esc(code) + "&state=" + esc(state) + "&state=" + esc(state), b.jar},
		{"two states", "state=" + esc(state) + "&code=" + esc(code) + "&state=AAAA", b.jar},
		{"code twice", "code=" + esc(code) + "&code=" + esc(code) + "&state=" + esc(state), b.jar},
		{"state bad percent-encoding", "code=" + esc(code) + "&state=" + esc(state) + "%zz", b.jar},
		{"code bad percent-encoding", "code=%G1" + esc(code) + "&state=" + esc(state), b.jar},
		{"truncated escape", "code=" + esc(code) + "&state=" + esc(state) + "&x=%4", b.jar},
		{"semicolon separator", "code=" + esc(code) + ";state=" + esc(state), b.jar},
		{"unknown state", "code=" + esc(code) + "&state=" + esc(randomValue()), b.jar},
		{"no binding cookie", back.RawQuery, map[string]string{}},
		{"malformed binding cookie", back.RawQuery, map[string]string{b.bindingCookie(): "x"}},
		{"another browser's binding", back.RawQuery, other.jar},
		{"binding under the http name", back.RawQuery, map[string]string{"signin_binding": b.jar[b.bindingCookie()]}},
	} {
		ev := b.request(c.callbackEv, tc.query)
		ev = withCookies(ev, tc.jar)
		resp := d.callbacks[0].invoke(t, ev)
		wantAnswer(t, "callback "+tc.name, resp, http.StatusBadRequest, bodyInvalidCallback)
		if len(resp.Cookies) != 0 {
			t.Errorf("callback %s: Set-Cookie %q; want none", tc.name, resp.Cookies)
		}
	}
	// API Gateway without rawQueryString: repeated parameters arrive joined by a comma.
	ev := b.request(c.callbackEv, "")
	ev.QueryStringParameters = map[string]string{"code": code, "state": state + "," + state}
	wantAnswer(t, "callback with a comma-joined state", d.callbacks[0].invoke(t, ev), http.StatusBadRequest, bodyInvalidCallback)
	c.noNewRecords(t, "refused callbacks", before)

	// None of that spent the state: the browser that started the flow signs in, once.
	signIn := b.request(c.callbackEv, back.RawQuery)
	c.signedIn(t, d.callbacks[0].invoke(t, signIn), b, "/", defaultLifetime)
	for _, replay := range []struct {
		name string
		fn   *function
		ev   events.APIGatewayV2HTTPRequest
	}{
		{"replayed callback", d.callbacks[0], signIn},
		{"replayed callback in another process", d.callbacks[1], signIn},
		{"replayed callback with another binding", d.callbacks[1], withCookies(signIn, other.jar)},
		{"replayed callback with the session cookie", d.callbacks[1], withCookies(signIn, b.jar)},
	} {
		before := c.sessionRecords(t)
		resp := replay.fn.invoke(t, replay.ev)
		wantAnswer(t, replay.name, resp, http.StatusBadRequest, bodyInvalidCallback)
		noCookie(t, replay.name, resp, b.sessionCookie())
		c.noNewRecords(t, replay.name, before)
	}
	c.checkMe(t, "me after the refusals", b, bodyDemo)
}

// concurrentCallbacks sends one callback to four callback processes at once: the state is usable
// exactly once (docs/contract.md §1), so exactly one answer is a 302.
func (d *devDeployment) concurrentCallbacks(t *testing.T) {
	c := d.c
	// Warm each process so the race is between requests, not cold starts.
	for _, f := range d.callbacks {
		f.invoke(t, newAgent(true).request(c.callbackEv, ""))
	}
	b := newAgent(true)
	back := d.authorize(t, c.login(t, d.login, b, "return_to=%2Fconcurrent"))
	ev := b.request(c.callbackEv, back.RawQuery)
	before := c.sessionRecords(t)

	resps := make([]events.APIGatewayV2HTTPResponse, len(d.callbacks))
	errs := make([]error, len(d.callbacks))
	ids := make([]string, len(d.callbacks))
	for i := range ids {
		ids[i] = c.requestID()
	}
	var wg sync.WaitGroup
	ready := make(chan struct{})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for i, f := range d.callbacks {
		wg.Go(func() {
			<-ready
			resps[i], _, errs[i] = f.e.tryInvoke(ctx, ids[i], ev)
		})
	}
	close(ready)
	wg.Wait()

	wins := 0
	for i, resp := range resps {
		if errs[i] != nil {
			t.Fatalf("%s: %v", d.callbacks[i].name, errs[i])
		}
		checkAnswer(t, d.callbacks[i].name, resp)
		switch resp.StatusCode {
		case http.StatusFound:
			wins++
			c.signedIn(t, resp, newAgent(true), "/concurrent", defaultLifetime)
		default:
			wantAnswer(t, d.callbacks[i].name+" losing the race", resp, http.StatusBadRequest, bodyInvalidCallback)
			noCookie(t, d.callbacks[i].name+" losing the race", resp, b.sessionCookie())
		}
	}
	if wins != 1 {
		t.Errorf("%d of %d concurrent callbacks of one state signed in; want exactly 1", wins, len(resps))
	}
	if got := len(c.sessionRecords(t)) - len(before); got != 2 {
		t.Errorf("concurrent callbacks wrote %d session and token records; want 2 (one session)", got)
	}
}

// openRedirects signs in with hostile return_to values: the callback must land on "/" (or on the
// value itself only when it is a plain same-site path).
func (d *devDeployment) openRedirects(t *testing.T) {
	for _, tc := range []struct {
		name, loginQuery, want string
	}{
		{"same-site path", "return_to=" + url.QueryEscape("/app/x?y=1#frag"), "/app/x?y=1#frag"},
		{"protocol-relative", "return_to=" + url.QueryEscape("//evil.com"), "/"},
		{"protocol-relative unencoded", "return_to=//evil.com/x", "/"},
		{"slash backslash", "return_to=" + url.QueryEscape(`/\evil.com`), "/"},
		{"slash backslash unencoded", `return_to=/\evil.com`, "/"},
		{"absolute URL", "return_to=" + url.QueryEscape("https://evil.com/"), "/"},
		{"encoded slashes", "return_to=" + url.QueryEscape("/%2F%2Fevil.com"), "/"},
		{"encoded slashes in the raw query", "return_to=/%2F%2Fevil.com", "/"},
		{"encoded backslash", "return_to=" + url.QueryEscape("/%5Cevil.com"), "/"},
		{"tab", "return_to=" + url.QueryEscape("/\t/evil.com"), "/"},
		{"encoded tab", "return_to=" + url.QueryEscape("/%09/evil.com"), "/"},
		{"scheme", "return_to=" + url.QueryEscape("javascript:alert(1)"), "/"},
		{"no leading slash", "return_to=evil.com", "/"},
		{"CRLF", "return_to=" + url.QueryEscape("/\r\nSet-Cookie: x=y"), "/"},
		{"dot segments", "return_to=" + url.QueryEscape("/./%2F/evil.com"), "/"},
		{"repeated", "return_to=%2Fok&return_to=" + url.QueryEscape("//evil.com"), "/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newAgent(true)
			resp := d.signIn(t, b, tc.loginQuery)
			loc := resp.Headers["Location"]
			if resp.StatusCode != http.StatusFound || loc != tc.want {
				t.Errorf("callback after login ?%s = %d Location %q; want 302 to %q", tc.loginQuery, resp.StatusCode, loc, tc.want)
			}
			// Whatever it is, a browser must resolve it to this site.
			base, _ := url.Parse("https://" + httpsHost + "/auth/callback")
			if u, err := url.Parse(loc); err != nil || base.ResolveReference(u).Host != httpsHost || strings.ContainsAny(loc, "\\\t\r\n") {
				t.Errorf("Location %q leaves the site", loc)
			}
		})
	}
	// An undecodable return_to may fall back to "/" or be refused with a 400 (docs/contract.md §1).
	b := newAgent(true)
	resp := d.login.invoke(t, b.request(d.c.loginEv, "return_to=%zz"))
	switch resp.StatusCode {
	case http.StatusFound:
		b.apply(t, resp)
		ar := authorizeRequest{}
		ar.url, _ = url.Parse(resp.Headers["Location"])
		back := d.authorize(t, ar)
		d.c.signedIn(t, d.callbacks[0].invoke(t, b.request(d.c.callbackEv, back.RawQuery)), b, "/", defaultLifetime)
	case http.StatusBadRequest:
		noCookie(t, "login ?return_to=%zz", resp, b.bindingCookie())
	default:
		t.Errorf("login ?return_to=%%zz = %d %s; want 302 (to land on /) or 400", resp.StatusCode, resp.Body)
	}
}

// meCookies sends /auth/me every kind of cookie that names no live session.
func (d *devDeployment) meCookies(t *testing.T) {
	c := d.c
	forgedUser := base64.StdEncoding.EncodeToString([]byte(`{"id":"admin","email":"admin@example.com","name":"Admin"}`))
	for _, https := range []bool{true, false} {
		b := newAgent(https)
		name := b.sessionCookie()
		// Cookies that are not ours: as if there were none.
		for what, jar := range map[string]map[string]string{
			"a forged app_session (unsigned user JSON)": {"app_session": forgedUser},
			"another app's cookie":                      {"sid": randomValue()},
		} {
			b.jar = jar
			c.checkMe(t, fmt.Sprintf("me (https %v) with %s", https, what), b, bodyUnauthenticated)
		}
		for what, value := range map[string]string{
			"unknown id":              randomValue(),
			"empty":                   "",
			"too short":               "abc",
			"user JSON":               url.QueryEscape(`{"id":"admin"}`),
			"base64 user JSON":        forgedUser,
			"padded id":               randomValue() + "=",
			"standard base64 id":      strings.NewReplacer("-", "+", "_", "/").Replace("A-_" + randomValue()[3:]),
			"id with a trailing char": randomValue() + "A",
			"non-canonical id":        randomValue()[:42] + "B", // trailing bits set
			"quoted id":               `"` + randomValue() + `"`,
		} {
			c.checkSignedOut(t, fmt.Sprintf("me (https %v) with a session cookie: %s", https, what), b, map[string]string{name: value})
		}
	}
	// A session cookie of the other scheme's name is not ours either.
	b := newAgent(true)
	b.jar = map[string]string{"session": randomValue()}
	c.checkMe(t, "me over https with an http-named cookie", b, bodyUnauthenticated)
}

// logoutChecks: a cross-site logout changes nothing; a logout ends the session; logout is
// idempotent.
func (d *devDeployment) logoutChecks(t *testing.T) {
	c := d.c
	b := newAgent(true)
	id := c.signedIn(t, d.signIn(t, b, ""), b, "/", defaultLifetime)
	revocations := d.p.Calls(devprovider.PathRevoke)
	for what, ev := range map[string]events.APIGatewayV2HTTPRequest{
		"foreign Origin":                      withHeader(b.request(c.logoutEv, ""), "origin", "https://evil.example"),
		"foreign Origin with our host inside": withHeader(b.request(c.logoutEv, ""), "origin", "https://"+httpsHost+".evil.example"),
		"Origin null":                         withHeader(b.request(c.logoutEv, ""), "origin", "null"),
		"http Origin on https":                withHeader(b.request(c.logoutEv, ""), "origin", "http://"+httpsHost),
	} {
		resp := d.logout.invoke(t, ev)
		if resp.StatusCode != http.StatusForbidden || len(resp.Cookies) != 0 {
			t.Errorf("logout with %s = %d %s, cookies %q; want 403 and no cookies", what, resp.StatusCode, resp.Body, resp.Cookies)
		}
	}
	if n := d.p.Calls(devprovider.PathRevoke) - revocations; n != 0 {
		t.Errorf("cross-site logouts made %d revocation requests; want 0", n)
	}
	c.checkMe(t, "me after cross-site logouts", b, bodyDemo)
	if c.record(t, "tokens#"+store.Hash(id)) == nil {
		t.Errorf("cross-site logout deleted the token record")
	}

	resp := d.logout.invoke(t, b.request(c.logoutEv, ""))
	if resp.StatusCode != http.StatusFound || resp.Headers["Location"] != "/" {
		t.Errorf("logout = %d Location %q; want 302 to /", resp.StatusCode, resp.Headers["Location"])
	}
	checkSetCookie(t, "logout", resp, b.sessionCookie(), true, 0)
	c.checkSignedOut(t, "me after logout", b, map[string]string{b.sessionCookie(): id})

	// Idempotent: the same cookie again, no cookie, a malformed cookie, on either scheme.
	for _, https := range []bool{true, false} {
		b := newAgent(https)
		for what, jar := range map[string]map[string]string{
			"the logged-out cookie": {b.sessionCookie(): id},
			"no cookie":             {},
			"a malformed cookie":    {b.sessionCookie(): "garbage"},
		} {
			b.jar = jar
			revocations := d.p.Calls(devprovider.PathRevoke)
			resp := d.logout.invoke(t, b.request(c.logoutEv, ""))
			if resp.StatusCode != http.StatusFound || resp.Headers["Location"] != "/" {
				t.Errorf("logout (https %v) with %s = %d Location %q %s; want 302 to /", https, what, resp.StatusCode, resp.Headers["Location"], resp.Body)
			}
			checkSetCookie(t, fmt.Sprintf("logout (https %v) with %s", https, what), resp, b.sessionCookie(), https, 0)
			if n := d.p.Calls(devprovider.PathRevoke) - revocations; n != 0 {
				t.Errorf("logout (https %v) with %s made %d revocation requests; want 0", https, what, n)
			}
		}
	}
}

// checkEnded checks that a session's records are gone and its cookie names no session.
func (d *devDeployment) checkEnded(t *testing.T, what string, b *agent, id string) {
	t.Helper()
	for _, pk := range []string{"session#" + store.Hash(id), "tokens#" + store.Hash(id)} {
		if d.c.record(t, pk) != nil {
			t.Errorf("%s: record %s left; want it deleted", what, pk)
		}
	}
	d.c.checkSignedOut(t, what+": me with its cookie", b, map[string]string{b.sessionCookie(): id})
}

// reSignIn: signing in again in a browser that holds a session cookie ends the older session
// (its records deleted, its refresh token revoked); the new cookie replaces it (docs/contract.md §1).
func (d *devDeployment) reSignIn(t *testing.T) {
	c := d.c
	b := newAgent(true)
	old := c.signedIn(t, d.signIn(t, b, ""), b, "/", defaultLifetime)
	revocations := d.p.Calls(devprovider.PathRevoke)

	id := c.signedIn(t, d.signIn(t, b, "return_to=%2Fagain"), b, "/again", defaultLifetime)
	if id == old {
		t.Fatal("re-sign-in kept the old session id")
	}
	if n := d.p.Calls(devprovider.PathRevoke) - revocations; n != 1 {
		t.Errorf("re-sign-in made %d revocation requests; want 1 (the old session's refresh token)", n)
	}
	d.checkEnded(t, "the replaced session", b, old)
	c.checkMe(t, "me with the new cookie", b, bodyDemo)

	// An old cookie that names nothing (here: the session just replaced) never fails a sign-in.
	b.jar[b.sessionCookie()] = old
	revocations = d.p.Calls(devprovider.PathRevoke)
	c.signedIn(t, d.signIn(t, b, ""), b, "/", defaultLifetime)
	if n := d.p.Calls(devprovider.PathRevoke) - revocations; n != 0 {
		t.Errorf("sign-in with an ended session's cookie made %d revocation requests; want 0", n)
	}
}

// twoTabs: two sign-ins pending in one browser both complete, in either order of return; the
// browser ends with the newest session and the other one is ended (docs/contract.md §1).
func (d *devDeployment) twoTabs(t *testing.T) {
	c := d.c
	b := newAgent(true)
	tab1 := c.login(t, d.login, b, "return_to=%2Fone")
	binding := b.jar[b.bindingCookie()]
	tab2 := c.login(t, d.login, b, "return_to=%2Ftwo")
	if b.jar[b.bindingCookie()] != binding {
		t.Errorf("the second tab's login replaced the binding cookie; want the valid one reused")
	}
	back1, back2 := d.authorize(t, tab1), d.authorize(t, tab2)

	first := c.signedIn(t, d.callbacks[0].invoke(t, b.request(c.callbackEv, back2.RawQuery)), b, "/two", defaultLifetime)
	revocations := d.p.Calls(devprovider.PathRevoke)
	newest := c.signedIn(t, d.callbacks[1].invoke(t, b.request(c.callbackEv, back1.RawQuery)), b, "/one", defaultLifetime)
	if newest == first {
		t.Fatal("the second callback kept the first session id")
	}
	if n := d.p.Calls(devprovider.PathRevoke) - revocations; n != 1 {
		t.Errorf("the second callback made %d revocation requests; want 1 (the first tab's session)", n)
	}
	d.checkEnded(t, "the first tab's session", b, first)
	c.checkMe(t, "me after both tabs", b, bodyDemo)
}

// signOutEverywhere: POST /auth/logout?everywhere=1 from a browser whose session has idled out
// still ends every session of the user (the phone's), because the expired record names the user;
// without any record it is a 401 with the cookie cleared, never the success redirect (docs/contract.md §1).
func (d *devDeployment) signOutEverywhere(t *testing.T) {
	c := d.c
	everywhere := func(b *agent) events.APIGatewayV2HTTPResponse {
		return d.logout.invoke(t, b.request(c.logoutEv, "everywhere=1"))
	}

	t.Run("without a session", func(t *testing.T) {
		phone := newAgent(true)
		c.signedIn(t, d.signIn(t, phone, ""), phone, "/", defaultLifetime)
		for what, jar := range map[string]map[string]string{
			"no cookie":          {},
			"a malformed cookie": {"__Host-session": "garbage"},
			"an unknown session": {"__Host-session": randomValue()},
		} {
			b := newAgent(true)
			b.jar = jar
			revocations := d.p.Calls(devprovider.PathRevoke)
			resp := everywhere(b)
			wantAnswer(t, "logout everywhere with "+what, resp, http.StatusUnauthorized, `{"error":"Sign in again to sign out everywhere"}`)
			checkSetCookie(t, "logout everywhere with "+what, resp, b.sessionCookie(), true, 0)
			if n := d.p.Calls(devprovider.PathRevoke) - revocations; n != 0 {
				t.Errorf("logout everywhere with %s made %d revocation requests; want 0", what, n)
			}
		}
		c.checkMe(t, "phone me after the refused sign-outs", phone, bodyDemo)
	})

	t.Run("after an idle timeout", func(t *testing.T) {
		laptop, phone := newAgent(true), newAgent(true)
		back := d.authorize(t, c.login(t, d.login, laptop, ""))
		laptopID := c.signedIn(t, d.callbackIdle.invoke(t, laptop.request(c.callbackEv, back.RawQuery)), laptop, "/", defaultLifetime)
		phoneID := c.signedIn(t, d.signIn(t, phone, ""), phone, "/", defaultLifetime)
		time.Sleep(2500 * time.Millisecond) // SESSION_IDLE_TIMEOUT=2s
		c.checkSignedOut(t, "laptop me after its idle timeout", laptop, laptop.jar)
		if c.record(t, "session#"+store.Hash(laptopID)) == nil {
			t.Fatal("the idle-expired session record is gone; the test needs it kept (DynamoDB Local has no TTL deletion)")
		}

		revocations := d.p.Calls(devprovider.PathRevoke)
		resp := everywhere(laptop)
		if resp.StatusCode != http.StatusFound || resp.Headers["Location"] != "/" {
			t.Errorf("logout everywhere after the idle timeout = %d Location %q %s; want 302 to /", resp.StatusCode, resp.Headers["Location"], resp.Body)
		}
		checkSetCookie(t, "logout everywhere", resp, laptop.sessionCookie(), true, 0)
		if n := d.p.Calls(devprovider.PathRevoke) - revocations; n < 2 {
			t.Errorf("logout everywhere made %d revocation requests; want at least 2 (laptop and phone)", n)
		}
		d.checkEnded(t, "the idle-expired laptop session", laptop, laptopID)
		d.checkEnded(t, "the phone session", phone, phoneID)
	})
}
