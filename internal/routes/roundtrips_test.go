package routes_test

import (
	"maps"
	"net/url"
	"testing"

	"github.com/serverless-signin/signin/pkg/oauth"
)

// The round trips of docs/contract.md §5, counted at the DynamoDB client and
// at the provider: login 1 write and no provider call (authorize endpoint
// configured); callback 2 DynamoDB calls + token + userinfo (+ discovery and
// JWKS once per container), + 2 deletes and 1 revocation when it replaces a
// session; me 1 read; logout 2 deletes + 1 revocation.
func TestRoundTrips(t *testing.T) {
	k := storeKinds[1] // counts DynamoDB calls; skips without DynamoDB Local
	a := newApp(t, setup{kind: k, oauth: func(c *oauth.Config) {
		c.AuthorizeURL = c.Issuer + "/authorize"
	}})
	b := a.browser()

	type count struct {
		db, provider, store map[string]int
	}
	measure := func(f func()) count {
		a.db.Take()
		a.store.Take()
		before := a.providerCalls()
		f()
		after := a.providerCalls()
		for k, v := range before {
			if after[k] -= v; after[k] == 0 {
				delete(after, k)
			}
		}
		return count{a.db.Take(), after, a.store.Take()}
	}
	check := func(what string, got count, db, provider map[string]int) {
		t.Helper()
		if !maps.Equal(got.db, db) {
			t.Errorf("%s: DynamoDB calls = %v; want %v", what, got.db, db)
		}
		if !maps.Equal(got.provider, provider) {
			t.Errorf("%s: provider calls = %v; want %v", what, got.provider, provider)
		}
	}

	var authorizeURL *url.URL
	login := measure(func() { authorizeURL = b.login("") })
	check("login", login, map[string]int{"PutItem": 1}, map[string]int{})
	callback := b.authorize(authorizeURL) // the browser's calls, not the handler's

	first := measure(func() { b.get(callback) })
	check("first callback", first, map[string]int{"UpdateItem": 1, "TransactWriteItems": 1},
		map[string]int{"/oauth/token": 1, "/userinfo": 1, "/.well-known/openid-configuration": 1, "/keys": 1})

	other := a.browser()
	callback = other.authorize(other.login(""))
	warm := measure(func() { other.get(callback) })
	check("warm callback", warm, map[string]int{"UpdateItem": 1, "TransactWriteItems": 1},
		map[string]int{"/oauth/token": 1, "/userinfo": 1})

	me := measure(func() { b.get("/auth/me") })
	check("me", me, map[string]int{"GetItem": 1}, map[string]int{})

	logout := measure(func() { b.logout(nil) })
	check("logout", logout, map[string]int{"DeleteItem": 2}, map[string]int{"/revoke": 1})

	// Signing in again with a session cookie also ends the old session:
	// its two deletes and one revocation (docs/contract.md §6.7).
	callback = other.authorize(other.login(""))
	again := measure(func() { other.get(callback) })
	check("re-sign-in callback", again, map[string]int{"UpdateItem": 1, "TransactWriteItems": 1, "DeleteItem": 2},
		map[string]int{"/oauth/token": 1, "/userinfo": 1, "/revoke": 1})

	// The same, one level up: each route is one store call (two for the
	// callback).
	for what, c := range map[string]count{"me": me, "logout": logout, "warm callback": warm, "re-sign-in": again} {
		want := map[string]map[string]int{
			"me":            {"GetSession": 1},
			"logout":        {"DeleteSession": 1},
			"warm callback": {"ConsumeState": 1, "CreateSession": 1},
			"re-sign-in":    {"ConsumeState": 1, "CreateSession": 1, "DeleteSession": 1},
		}[what]
		if !maps.Equal(c.store, want) {
			t.Errorf("%s: store calls = %v; want %v", what, c.store, want)
		}
	}
}
