//go:build linux

package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/serverless-signin/signin/pkg/store"
)

// advDeployment is the Adversary group: the functions, in several configurations, against an
// OpenID provider that misbehaves in one way per subtest (adversary, contract_provider_test.go).
type advDeployment struct {
	c   *contract
	adv *adversary

	login, loginPrompt, loginDiscovery *function
	callback                           *function // OAUTH_TIMEOUT=1s, function timeout 5 s
	callbackDeadline                   *function // OAUTH_TIMEOUT=30s, function timeout 2 s: the deadline must win
	callbackShort                      *function // SESSION_LIFETIME=2s
	logout                             *function // function timeout 4 s
	logoutEndSession                   *function // OAUTH_POST_LOGOUT_REDIRECT_URI set
}

const postLogoutURI = "https://app.example.test/signed-out"

// adversary starts the Adversary group and runs its subtests.
func (c *contract) adversary(t *testing.T) {
	adv := newAdversary(t)
	start := func(id, name string, extra map[string]string) *function {
		return c.start(t, id, name, adv.issuer, advClientID, advClientSecret, extra)
	}
	d := &advDeployment{
		c: c, adv: adv,
		login:            start("LoginFunction", "adv-login", nil),
		loginPrompt:      start("LoginFunction", "adv-login-prompt", map[string]string{"OAUTH_PROMPT": "login"}),
		loginDiscovery:   start("LoginFunction", "adv-login-discovery", map[string]string{"OAUTH_AUTHORIZE_URL": ""}),
		callback:         start("CallbackFunction", "adv-callback", map[string]string{"AWS_LAMBDA_FUNCTION_TIMEOUT": "5", "OAUTH_TIMEOUT": "1s"}),
		callbackDeadline: start("CallbackFunction", "adv-callback-deadline", map[string]string{"AWS_LAMBDA_FUNCTION_TIMEOUT": "2", "OAUTH_TIMEOUT": "30s"}),
		callbackShort:    start("CallbackFunction", "adv-callback-short", map[string]string{"SESSION_LIFETIME": "2s"}),
		logout:           start("LogoutFunction", "adv-logout", map[string]string{"AWS_LAMBDA_FUNCTION_TIMEOUT": "4"}),
		logoutEndSession: start("LogoutFunction", "adv-logout-end-session", map[string]string{"OAUTH_POST_LOGOUT_REDIRECT_URI": postLogoutURI}),
	}
	t.Cleanup(func() {
		for v, what := range adv.secrets() {
			c.secret(what, v)
		}
	})
	d.callbackDeadline.warm(t)

	t.Run("SignIn", d.signInChecks)
	t.Run("Prompt", d.prompt)
	t.Run("LoginWithDiscovery", d.loginWithDiscovery)
	t.Run("Misbehaviour", d.misbehaviour)
	t.Run("KeyRotation", d.keyRotation)
	t.Run("ProviderError", d.providerError)
	t.Run("ExpiredState", d.expiredState)
	t.Run("NoEmailOrName", d.noEmailOrName)
	t.Run("UnusualClaims", d.unusualClaims)
	t.Run("Precedence", d.precedence)
	t.Run("CallbackDeadline", d.deadline)
	t.Run("SecretStores", d.secretStores)
	t.Run("DiscoveryNamesAnotherIssuer", d.discoveryIssuer)
	t.Run("IssParameterSupported", d.issParameterSupported)
	t.Run("SessionExpiry", d.sessionExpiry)
	t.Run("Logout", d.logoutChecks)
	t.Run("EndSession", d.endSession)
}

// signIn logs b in through login (the default login function), the adversary and fn, and
// returns the callback's answer.
func (d *advDeployment) signIn(t *testing.T, fn *function, b *agent, withIss bool) events.APIGatewayV2HTTPResponse {
	t.Helper()
	back := d.adv.authorize(t, d.c.login(t, d.login, b, "").url.String(), withIss)
	return fn.invoke(t, b.request(d.c.callbackEv, back.Encode()))
}

var bodyAda = meBody(advSubject, advEmail, advName)

// signInChecks signs in on https and on http against a well-behaved adversary: the login makes no
// request to the provider, the token request proves PKCE, the second callback costs exactly the
// token exchange and userinfo, and /auth/me answers the contract's body.
func (d *advDeployment) signInChecks(t *testing.T) {
	c, adv := d.c, d.adv
	for _, https := range []bool{true, false} {
		b := newAgent(https)
		before := adv.count("")
		ar := c.login(t, d.login, b, "return_to=%2Fhome")
		if n := adv.count("") - before; n != 0 {
			t.Errorf("login made %d requests to the provider; want 0 with OAUTH_AUTHORIZE_URL set", n)
		}
		if got := ar.query.Get("client_id"); got != advClientID {
			t.Errorf("authorize URL client_id = %q; want %q", got, advClientID)
		}
		if ar.query.Has("prompt") {
			t.Errorf("authorize URL has prompt=%q; want none without OAUTH_PROMPT", ar.query.Get("prompt"))
		}
		back := adv.authorize(t, ar.url.String(), true)
		calls := map[string]int{}
		for _, path := range []string{"", advDiscovery, advJWKS, advToken, advUserinfo} {
			calls[path] = adv.count(path)
		}
		resp := d.callback.invoke(t, b.request(c.callbackEv, back.Encode()))
		c.signedIn(t, resp, b, "/home", defaultLifetime)
		if !https {
			// The second sign-in of this container: discovery and JWKS are cached, so the
			// provider sees exactly the token exchange and the userinfo request (docs/contract.md §7).
			for path, want := range map[string]int{"": 2, advDiscovery: 0, advJWKS: 0, advToken: 1, advUserinfo: 1} {
				if n := adv.count(path) - calls[path]; n != want {
					t.Errorf("second callback made %d requests to %q at the provider; want %d", n, path, want)
				}
			}
		}
		// The token request carried the verifier whose S256 is the challenge (the adversary
		// refuses anything else), and it is long enough.
		if v := adv.lastVerifier(); bits(v) < 256 || s256(v) != ar.query.Get("code_challenge") {
			t.Errorf("code_verifier %q: %d bits, S256 match %v; want >= 256 bits and S256(verifier) = code_challenge", v, bits(v), s256(v) == ar.query.Get("code_challenge"))
		}
		c.checkMe(t, "me after sign-in", b, bodyAda)
	}
	if n := adv.count(advDiscovery); n != 1 {
		t.Errorf("discovery fetched %d times by one callback container; want 1 (cached)", n)
	}
	if n := adv.count(advJWKS); n != 1 {
		t.Errorf("JWKS fetched %d times for two sign-ins with one key; want 1 (cached)", n)
	}
}

// prompt: OAUTH_PROMPT reaches the authorize URL, still without a request to the provider.
func (d *advDeployment) prompt(t *testing.T) {
	before := d.adv.count("")
	ar := d.c.login(t, d.loginPrompt, newAgent(true), "")
	if got := ar.query["prompt"]; len(got) != 1 || got[0] != "login" {
		t.Errorf("authorize URL prompt = %q with OAUTH_PROMPT=login; want [login]", got)
	}
	if n := d.adv.count("") - before; n != 0 {
		t.Errorf("login made %d requests to the provider; want 0", n)
	}
}

// loginWithDiscovery: without OAUTH_AUTHORIZE_URL the authorize endpoint comes from discovery,
// fetched at most once per container.
func (d *advDeployment) loginWithDiscovery(t *testing.T) {
	before := d.adv.count(advDiscovery)
	for range 2 {
		ar := d.c.login(t, d.loginDiscovery, newAgent(true), "")
		if got := ar.url.Scheme + "://" + ar.url.Host + ar.url.Path; got != d.adv.issuer+advDiscoveredAuthz {
			t.Errorf("login without OAUTH_AUTHORIZE_URL redirected to %s; want the discovered %s%s", got, d.adv.issuer, advDiscoveredAuthz)
		}
	}
	if n := d.adv.count(advDiscovery) - before; n != 1 {
		t.Errorf("two logins fetched the discovery document %d times; want 1", n)
	}
}

// failedSignIn checks a callback that must fail as docs/contract.md §1 says: the exact 500, no session
// cookie, no record.
func (d *advDeployment) failedSignIn(t *testing.T, what string, resp events.APIGatewayV2HTTPResponse, b *agent, before []string) {
	t.Helper()
	wantAnswer(t, what, resp, http.StatusInternalServerError, bodySignInFailed)
	noCookie(t, what, resp, b.sessionCookie())
	d.c.noNewRecords(t, what, before)
}

// misbehaviour signs in while the provider deviates in one way each: every deviation must end in
// the 500 of docs/contract.md §1 with nothing stored; the controls sign in.
func (d *advDeployment) misbehaviour(t *testing.T) {
	adv := d.adv
	for _, tc := range []struct {
		name  string
		m     func() misbehaviour
		ok    bool             // a control: this one signs in
		check func(*testing.T) // more to check afterwards
	}{
		{name: "aud another client", m: func() misbehaviour {
			return misbehaviour{claims: func(c map[string]any) { c["aud"] = "another-client" }}
		}},
		{name: "several audiences without azp", m: func() misbehaviour {
			return misbehaviour{claims: func(c map[string]any) { c["aud"] = []string{advClientID, "another-client"} }}
		}},
		{name: "several audiences with another azp", m: func() misbehaviour {
			return misbehaviour{claims: func(c map[string]any) {
				c["aud"], c["azp"] = []string{advClientID, "another-client"}, "another-client"
			}}
		}},
		{name: "azp of another client", m: func() misbehaviour {
			return misbehaviour{claims: func(c map[string]any) { c["azp"] = "another-client" }}
		}},
		{name: "several audiences with our azp", ok: true, m: func() misbehaviour {
			return misbehaviour{claims: func(c map[string]any) {
				c["aud"], c["azp"] = []string{advClientID, "another-client"}, advClientID
			}}
		}},
		{name: "alg none", m: func() misbehaviour {
			return misbehaviour{sign: func(a *adversary, c map[string]any) string { return unsignedJWT(t, a.kid, c) }}
		}},
		{name: "HS256 keyed with the client secret", m: func() misbehaviour {
			return misbehaviour{sign: func(a *adversary, c map[string]any) string {
				return signJWT(t, jose.HS256, []byte(advClientSecret), a.kid, c)
			}}
		}},
		{name: "nonce of another sign-in", m: func() misbehaviour {
			return misbehaviour{claims: func(c map[string]any) { c["nonce"] = randomValue() }}
		}},
		{name: "no nonce", m: func() misbehaviour {
			return misbehaviour{claims: func(c map[string]any) { delete(c, "nonce") }}
		}},
		{name: "expired", m: func() misbehaviour {
			return misbehaviour{claims: func(c map[string]any) {
				c["iat"], c["exp"] = time.Now().Add(-time.Hour).Unix(), time.Now().Add(-10*time.Minute).Unix()
			}}
		}},
		{name: "iat far in the future", m: func() misbehaviour {
			return misbehaviour{claims: func(c map[string]any) {
				c["iat"], c["exp"] = time.Now().Add(time.Hour).Unix(), time.Now().Add(2*time.Hour).Unix()
			}}
		}},
		{name: "iss of another provider", m: func() misbehaviour {
			return misbehaviour{claims: func(c map[string]any) { c["iss"] = "https://evil.example" }}
		}},
		{name: "no sub", m: func() misbehaviour {
			return misbehaviour{claims: func(c map[string]any) { delete(c, "sub") }}
		}},
		{name: "unknown kid", m: func() misbehaviour {
			key := newRSAKey(t)
			return misbehaviour{sign: func(_ *adversary, c map[string]any) string { return signJWT(t, jose.RS256, key, "never-published", c) }}
		}},
		{name: "bad signature under the published kid", m: func() misbehaviour {
			key := newRSAKey(t)
			return misbehaviour{sign: func(a *adversary, c map[string]any) string { return signJWT(t, jose.RS256, key, a.kid, c) }}
		}},
		{name: "attacker's key embedded in the header", m: func() misbehaviour {
			key := newRSAKey(t)
			return misbehaviour{sign: func(a *adversary, c map[string]any) string {
				opts := (&jose.SignerOptions{EmbedJWK: true}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), a.kid)
				signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, opts)
				if err != nil {
					t.Fatal(err)
				}
				payload, _ := json.Marshal(c)
				jws, err := signer.Sign(payload)
				if err != nil {
					t.Fatal(err)
				}
				raw, _ := jws.CompactSerialize()
				return raw
			}}
		}},
		{name: "tampered payload", m: func() misbehaviour {
			return misbehaviour{sign: func(a *adversary, c map[string]any) string {
				good := signJWT(t, jose.RS256, a.key, a.kid, c)
				parts := strings.Split(good, ".")
				c["sub"] = "admin"
				payload, _ := json.Marshal(c)
				return parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
			}}
		}},
		{name: "no id_token", m: func() misbehaviour { return misbehaviour{omitIDToken: true} }},
		{name: "id_token not a string", m: func() misbehaviour {
			return misbehaviour{response: func(r map[string]any) { r["id_token"] = 42 }}
		}},
		{name: "token endpoint redirects", m: func() misbehaviour {
			return misbehaviour{token: func(w http.ResponseWriter, r *http.Request, _ url.Values) {
				http.Redirect(w, r, adv.issuer+advCapture, http.StatusTemporaryRedirect)
			}}
		}, check: func(t *testing.T) {
			if n := adv.count(advCapture); n != 0 {
				t.Errorf("the callback followed the token endpoint's redirect (%d requests): it resends the client secret", n)
			}
		}},
		{name: "no access_token", m: func() misbehaviour {
			return misbehaviour{response: func(r map[string]any) { delete(r, "access_token") }}
		}},
		{name: "userinfo names another subject", m: func() misbehaviour {
			return misbehaviour{userinfo: func(c map[string]any) { c["sub"] = "someone-else" }}
		}},
		{name: "token endpoint answers HTML 500", m: func() misbehaviour {
			return misbehaviour{token: func(w http.ResponseWriter, r *http.Request, form url.Values) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusInternalServerError)
				fmt.Fprintf(w, "<html><body>Internal error for code %s, verifier %s</body></html>", form.Get("code"), form.Get("code_verifier"))
			}}
		}},
		{name: "token endpoint answers invalid_grant", m: func() misbehaviour {
			return misbehaviour{token: func(w http.ResponseWriter, r *http.Request, form url.Values) {
				_, secret, _ := r.BasicAuth()
				writeJSON(w, http.StatusBadRequest, map[string]string{
					"error":             "invalid_grant",
					"error_description": fmt.Sprintf("code %s with verifier %s (client secret %s) is invalid", form.Get("code"), form.Get("code_verifier"), secret),
				}, nil)
			}}
		}},
		{name: "token endpoint hangs", m: func() misbehaviour {
			return misbehaviour{token: func(w http.ResponseWriter, r *http.Request, _ url.Values) { adv.hang(w, r) }}
		}},
		{name: "at_hash of another access token", m: func() misbehaviour {
			return misbehaviour{claims: func(c map[string]any) { c["at_hash"] = "x4v4b9wM3n1f0nMUu2fXlg" }}
		}},
		{name: "userinfo answers HTML 500", m: func() misbehaviour {
			return misbehaviour{userinfoAns: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusInternalServerError)
				fmt.Fprintf(w, "<html>%s</html>", r.Header.Get("Authorization"))
			}}
		}},
		{name: "userinfo refuses the token", m: func() misbehaviour {
			return misbehaviour{userinfoAns: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+r.Header.Get("Authorization")+`"`)
				w.WriteHeader(http.StatusUnauthorized)
			}}
		}},
		{name: "userinfo hangs", m: func() misbehaviour {
			return misbehaviour{userinfoAns: adv.hang}
		}},
		{name: "userinfo without sub", m: func() misbehaviour {
			return misbehaviour{userinfo: func(c map[string]any) { clear(c) }}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			adv.misbehave(t, tc.m())
			b := newAgent(true)
			before := d.c.sessionRecords(t)
			resp := d.signIn(t, d.callback, b, false)
			if tc.ok {
				d.c.signedIn(t, resp, b, "/", defaultLifetime)
			} else {
				d.failedSignIn(t, "callback", resp, b, before)
			}
			if tc.check != nil {
				tc.check(t)
			}
		})
	}

	// RFC 9207: a callback whose iss names another provider never reaches the token endpoint.
	t.Run("callback iss of another provider", func(t *testing.T) {
		b := newAgent(true)
		back := adv.authorize(t, d.c.login(t, d.login, b, "").url.String(), true)
		back.Set("iss", "https://evil.example")
		before, tokens := d.c.sessionRecords(t), adv.count(advToken)
		resp := d.callback.invoke(t, b.request(d.c.callbackEv, back.Encode()))
		d.failedSignIn(t, "callback with a foreign iss", resp, b, before)
		if n := adv.count(advToken) - tokens; n != 0 {
			t.Errorf("callback with a foreign iss made %d token requests; want 0", n)
		}
	})
}

func newRSAKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// keyRotation: the provider signs with a new key it has not published yet (refused), then
// publishes it: the next sign-in succeeds after one JWKS refetch.
func (d *advDeployment) keyRotation(t *testing.T) {
	adv := d.adv
	publish := func(keys []jose.JSONWebKey) []jose.JSONWebKey {
		adv.mu.Lock()
		defer adv.mu.Unlock()
		old := adv.published
		adv.published = keys
		return old
	}
	old := publish(nil)
	publish(old)
	adv.rotate()
	rotated := publish(old) // signing with the new key, still publishing the old one

	b := newAgent(true)
	before := d.c.sessionRecords(t)
	d.failedSignIn(t, "callback with an ID token signed by an unpublished key", d.signIn(t, d.callback, b, false), b, before)

	publish(rotated)
	fetches := adv.count(advJWKS)
	b = newAgent(true)
	d.c.signedIn(t, d.signIn(t, d.callback, b, false), b, "/", defaultLifetime)
	if n := adv.count(advJWKS) - fetches; n != 1 {
		t.Errorf("sign-in after the key rotation fetched the JWKS %d times; want 1", n)
	}
	d.c.checkMe(t, "me after sign-in with the rotated key", b, bodyAda)
}

// providerError: ?error=... with a valid state is the 400 with the reason (and nothing of the
// error_description); it spends the state. With another browser's binding it is an invalid
// callback that leaves the state usable.
func (d *advDeployment) providerError(t *testing.T) {
	c := d.c
	for _, code := range []string{"access_denied", "login_required"} {
		b := newAgent(true)
		ar := c.login(t, d.login, b, "")
		state := ar.query.Get("state")
		before, tokens := c.sessionRecords(t), d.adv.count(advToken)
		q := url.Values{"error": {code}, "error_description": {"The user said no: secret-detail-7781"}, "state": {state}}
		resp := d.callback.invoke(t, b.request(c.callbackEv, q.Encode()))
		wantAnswer(t, "callback ?error="+code, resp, http.StatusBadRequest, `{"error":"OAuth sign-in failed","reason":"`+code+`"}`)
		noCookie(t, "callback ?error="+code, resp, b.sessionCookie())
		c.noNewRecords(t, "callback ?error="+code, before)
		if d.adv.count(advToken) != tokens {
			t.Errorf("callback ?error=%s called the token endpoint", code)
		}
		// The state is spent: a code for it is refused now.
		back := d.adv.authorize(t, ar.url.String(), false)
		resp = d.callback.invoke(t, b.request(c.callbackEv, back.Encode()))
		wantAnswer(t, "callback with a code after ?error="+code, resp, http.StatusBadRequest, bodyInvalidCallback)
	}
	// An error for a state of another browser: invalid, and the state is not spent.
	b, other := newAgent(true), newAgent(true)
	ar := c.login(t, d.login, b, "")
	c.login(t, d.login, other, "")
	q := url.Values{"error": {"access_denied"}, "state": {ar.query.Get("state")}}
	resp := d.callback.invoke(t, other.request(c.callbackEv, q.Encode()))
	wantAnswer(t, "callback ?error from another browser", resp, http.StatusBadRequest, bodyInvalidCallback)
	back := d.adv.authorize(t, ar.url.String(), false)
	c.signedIn(t, d.callback.invoke(t, b.request(c.callbackEv, back.Encode())), b, "/", defaultLifetime)
}

// expiredState: a state record past its expiry is absent (docs/contract.md §5: TTL deletion lags, so every
// read checks), even though DynamoDB still holds it. The record also has the 10 minutes of docs/contract.md §1
// and is keyed by a hash, never the raw state.
func (d *advDeployment) expiredState(t *testing.T) {
	c := d.c
	b := newAgent(true)
	ar := c.login(t, d.login, b, "")
	pk := "state#" + store.Hash(ar.query.Get("state"))
	item := c.record(t, pk)
	ttl, _ := item["ttl"].(*types.AttributeValueMemberN)
	if ttl == nil {
		t.Fatalf("no state record %s after login", pk)
	}
	secs, _ := strconv.ParseInt(ttl.Value, 10, 64)
	if left := time.Until(time.Unix(secs, 0)); left < 9*time.Minute || left > 10*time.Minute+time.Second {
		t.Errorf("state record expires in %v; want 10 minutes", left.Round(time.Second))
	}
	_, err := c.ddb.UpdateItem(t.Context(), &dynamodb.UpdateItemInput{
		TableName:                 aws.String(c.table),
		Key:                       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}},
		UpdateExpression:          aws.String("SET #ttl = :past"),
		ExpressionAttributeNames:  map[string]string{"#ttl": "ttl"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":past": &types.AttributeValueMemberN{Value: strconv.FormatInt(time.Now().Unix()-1, 10)}},
	})
	if err != nil {
		t.Fatalf("UpdateItem: %v", err)
	}
	back := d.adv.authorize(t, ar.url.String(), false)
	before, tokens := c.sessionRecords(t), d.adv.count(advToken)
	resp := d.callback.invoke(t, b.request(c.callbackEv, back.Encode()))
	wantAnswer(t, "callback with an expired state", resp, http.StatusBadRequest, bodyInvalidCallback)
	noCookie(t, "callback with an expired state", resp, b.sessionCookie())
	c.noNewRecords(t, "callback with an expired state", before)
	if d.adv.count(advToken) != tokens {
		t.Errorf("callback with an expired state redeemed the code")
	}
}

// noEmailOrName: a provider that tells neither email nor name (in the ID token or userinfo):
// /auth/me has null for both.
func (d *advDeployment) noEmailOrName(t *testing.T) {
	d.adv.setUser(t, map[string]any{"sub": "adv-user-quiet"})
	b := newAgent(true)
	d.c.signedIn(t, d.signIn(t, d.callback, b, true), b, "/", defaultLifetime)
	d.c.checkMe(t, "me for a user without email or name", b, `{"authenticated":true,"user":{"id":"adv-user-quiet","email":null,"name":null}}`)
}

// unusualClaims: names and emails with quotes, markup, control and line-separator characters come
// back from /auth/me as the same strings, in valid JSON.
func (d *advDeployment) unusualClaims(t *testing.T) {
	user := map[string]any{
		"sub":   `adv-"odd"\sub</script>`,
		"email": "ada+tag@exämple.com",
		"name":  "Ada \"The Countess\" <b>&amp;</b>\u2028\u2029\t\n\x00\x1f Lovelace \U0001F600",
	}
	d.adv.setUser(t, user)
	b := newAgent(true)
	d.c.signedIn(t, d.signIn(t, d.callback, b, false), b, "/", defaultLifetime)
	resp := d.c.me.invoke(t, b.request(d.c.meEv, ""))
	var got struct {
		Authenticated bool `json:"authenticated"`
		User          struct {
			ID    string `json:"id"`
			Email string `json:"email"`
			Name  string `json:"name"`
		} `json:"user"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &got); resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("me = %d %s (%v); want 200 and JSON", resp.StatusCode, resp.Body, err)
	}
	if !got.Authenticated || got.User.ID != user["sub"] || got.User.Email != user["email"] || got.User.Name != user["name"] {
		t.Errorf("me = %s; want the provider's sub %q, email %q and name %q", resp.Body, user["sub"], user["email"], user["name"])
	}
	if !strings.HasPrefix(resp.Body, `{"authenticated":true,"user":{"id":`) {
		t.Errorf("me = %s; want {\"authenticated\":true,\"user\":{\"id\":...,\"email\":...,\"name\":...}}", resp.Body)
	}
}

// precedence: explicit endpoint variables beat discovery (docs/contract.md §4); without a discovery document
// the issuer-derived endpoints apply, without a double slash when the issuer ends in "/".
func (d *advDeployment) precedence(t *testing.T) {
	c, adv := d.c, d.adv
	callback := c.start(t, "CallbackFunction", "adv-callback-explicit", adv.issuer, advClientID, advClientSecret, map[string]string{
		"OAUTH_TOKEN_URL": adv.issuer + advAltToken, "OAUTH_USERINFO_URL": adv.issuer + advAltUserinfo,
	})
	tokens, userinfo := adv.count(advToken), adv.count(advUserinfo)
	b := newAgent(true)
	c.signedIn(t, d.signIn(t, callback, b, false), b, "/", defaultLifetime)
	if adv.count(advAltToken) != 1 || adv.count(advAltUserinfo) != 1 || adv.count(advToken) != tokens || adv.count(advUserinfo) != userinfo {
		t.Errorf("sign-in with OAUTH_TOKEN_URL and OAUTH_USERINFO_URL set made %d+%d requests to them and %d+%d to the discovered endpoints; want 1+1 and 0+0",
			adv.count(advAltToken), adv.count(advAltUserinfo), adv.count(advToken)-tokens, adv.count(advUserinfo)-userinfo)
	}

	plain := newAdversary(t)
	plain.noDiscovery = true
	login := c.start(t, "LoginFunction", "plain-login", plain.issuer+"/", advClientID, "", map[string]string{"OAUTH_AUTHORIZE_URL": ""})
	ar := c.login(t, login, newAgent(true), "")
	if got := ar.url.Scheme + "://" + ar.url.Host + ar.url.Path; got != plain.issuer+advAuthorize {
		t.Errorf("login with issuer %s/ and no discovery document redirected to %s; want %s%s", plain.issuer, got, plain.issuer, advAuthorize)
	}
	if n := plain.count(advDiscovery); n != 1 {
		t.Errorf("discovery document requested %d times at %s; want 1", n, advDiscovery)
	}
}

// deadline: the token endpoint or userinfo hangs and OAUTH_TIMEOUT is longer than the function's
// timeout: the callback must still answer its 500 rather than be killed by the platform.
func (d *advDeployment) deadline(t *testing.T) {
	for what, m := range map[string]misbehaviour{
		"token endpoint": {token: func(w http.ResponseWriter, r *http.Request, _ url.Values) { d.adv.hang(w, r) }},
		"userinfo":       {userinfoAns: d.adv.hang},
	} {
		t.Run(what, func(t *testing.T) {
			d.adv.misbehave(t, m)
			b := newAgent(true)
			before := d.c.sessionRecords(t)
			start := time.Now()
			resp := d.signIn(t, d.callbackDeadline, b, false)
			t.Logf("callback with a hanging %s (function timeout 2 s, OAUTH_TIMEOUT 30s) answered %d after %v", what, resp.StatusCode, time.Since(start).Round(time.Millisecond))
			d.failedSignIn(t, "callback with a hanging "+what, resp, b, before)
		})
	}
}

// secretStores: in AWS the client secret comes from Secrets Manager or an SSM SecureString (docs/contract.md
// §4), read once per container by the functions that need it, and never by login.
func (d *advDeployment) secretStores(t *testing.T) {
	c, adv := d.c, d.adv
	const (
		arn       = "arn:aws:secretsmanager:us-east-1:123456789012:secret:signin/client-secret-AbCdEf"
		parameter = "/signin/client-secret"
	)
	st := newSecretStore(t, arn, `{"client_secret":"`+advClientSecret+`"}`, parameter, advClientSecret)
	for _, tc := range []struct {
		name, target string
		env          map[string]string
	}{
		{"Secrets Manager", "secretsmanager.GetSecretValue", map[string]string{"OAUTH_CLIENT_SECRET_ARN": arn, "AWS_ENDPOINT_URL_SECRETS_MANAGER": st.url}},
		{"SSM SecureString", "AmazonSSM.GetParameter", map[string]string{"OAUTH_CLIENT_SECRET_PARAMETER": parameter, "AWS_ENDPOINT_URL_SSM": st.url}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := maps.Clone(tc.env)
			env["OAUTH_CLIENT_SECRET"] = unset
			callback := c.start(t, "CallbackFunction", "adv-callback-"+strings.ReplaceAll(tc.name, " ", "-"), adv.issuer, advClientID, "", env)
			login := c.start(t, "LoginFunction", "adv-login-"+strings.ReplaceAll(tc.name, " ", "-"), adv.issuer, advClientID, "", env)
			before := st.count(tc.target)
			for range 2 {
				b := newAgent(true)
				back := adv.authorize(t, c.login(t, login, b, "").url.String(), false)
				c.signedIn(t, callback.invoke(t, b.request(c.callbackEv, back.Encode())), b, "/", defaultLifetime)
			}
			if n := st.count(tc.target) - before; n != 1 {
				t.Errorf("a callback container and a login container read the secret %d times for two sign-ins; want 1 (callback, at cold start)", n)
			}
		})
	}
}

// discoveryIssuer: a discovery document that names another issuer stops every flow that needs it.
func (d *advDeployment) discoveryIssuer(t *testing.T) {
	c := d.c
	evil := newAdversary(t)
	evil.discoveryIssuer = "https://evil.example"
	callback := c.start(t, "CallbackFunction", "evil-callback", evil.issuer, advClientID, advClientSecret, nil)
	login := c.start(t, "LoginFunction", "evil-login-discovery", evil.issuer, advClientID, advClientSecret, map[string]string{"OAUTH_AUTHORIZE_URL": ""})
	t.Cleanup(func() {
		for v, what := range evil.secrets() {
			c.secret(what, v)
		}
	})

	b := newAgent(true)
	back := evil.authorize(t, strings.Replace(c.login(t, d.login, b, "").url.String(), d.adv.issuer, evil.issuer, 1), false)
	before := c.sessionRecords(t)
	resp := callback.invoke(t, b.request(c.callbackEv, back.Encode()))
	d.failedSignIn(t, "callback with a discovery document naming another issuer", resp, b, before)
	if n := evil.count(advToken); n != 0 {
		t.Errorf("callback sent the code to a provider whose discovery names another issuer (%d token requests)", n)
	}

	resp = login.invoke(t, newAgent(true).request(c.loginEv, ""))
	if resp.StatusCode != http.StatusInternalServerError || len(resp.Cookies) != 0 {
		t.Errorf("login with a discovery document naming another issuer = %d %s, cookies %q; want 500 and no cookie", resp.StatusCode, resp.Body, resp.Cookies)
	}
}

// issParameterSupported: RFC 9207 when the discovery document the callback uses advertises
// authorization_response_iss_parameter_supported: a callback without iss fails like a mismatch
// (the 500, no token request, the state consumed); with iss it signs in. Without the flag, a
// callback without iss signs in.
func (d *advDeployment) issParameterSupported(t *testing.T) {
	c, adv := d.c, d.adv
	t.Run("flag absent", func(t *testing.T) {
		// d.callback cached a discovery document without the flag (SignIn ran first).
		b := newAgent(true)
		c.signedIn(t, d.signIn(t, d.callback, b, false), b, "/", defaultLifetime)
	})

	adv.mu.Lock()
	adv.issSupported = true
	adv.mu.Unlock()
	t.Cleanup(func() {
		adv.mu.Lock()
		adv.issSupported = false
		adv.mu.Unlock()
	})
	// A new container: it fetches the discovery document, with the flag, on its first callback.
	callback := c.start(t, "CallbackFunction", "adv-callback-iss-supported", adv.issuer, advClientID, advClientSecret, nil)

	b := newAgent(true)
	back := adv.authorize(t, c.login(t, d.login, b, "").url.String(), false)
	before, tokens := c.sessionRecords(t), adv.count(advToken)
	resp := callback.invoke(t, b.request(c.callbackEv, back.Encode()))
	d.failedSignIn(t, "callback without iss", resp, b, before)
	if n := adv.count(advToken) - tokens; n != 0 {
		t.Errorf("callback without iss made %d token requests; want 0", n)
	}
	// The state is spent: the same callback with the right iss is refused.
	back.Set("iss", adv.issuer)
	resp = callback.invoke(t, b.request(c.callbackEv, back.Encode()))
	wantAnswer(t, "callback with iss after the one without", resp, http.StatusBadRequest, bodyInvalidCallback)
	if n := adv.count(advToken) - tokens; n != 0 {
		t.Errorf("the refused callbacks made %d token requests; want 0", n)
	}

	// A fresh sign-in that carries iss succeeds in the same container.
	b = newAgent(true)
	c.signedIn(t, d.signIn(t, callback, b, true), b, "/", defaultLifetime)
}

// sessionExpiry: SESSION_LIFETIME=2s: the cookie says so, and after it /auth/me is 401 although
// DynamoDB Local (which never deletes by TTL) still holds the record.
func (d *advDeployment) sessionExpiry(t *testing.T) {
	c := d.c
	b := newAgent(true)
	id := c.signedIn(t, d.signIn(t, d.callbackShort, b, false), b, "/", 2)
	c.checkMe(t, "me within the session lifetime", b, bodyAda)
	pk := "session#" + store.Hash(id)
	item := c.record(t, pk)
	ttl, _ := item["ttl"].(*types.AttributeValueMemberN)
	if ttl == nil {
		t.Fatalf("session record %s has no ttl", pk)
	}
	secs, _ := strconv.ParseInt(ttl.Value, 10, 64)
	if wait := time.Until(time.Unix(secs, 0)); wait > 3*time.Second {
		t.Fatalf("session record expires in %v; want <= 2s", wait)
	} else {
		time.Sleep(wait + 100*time.Millisecond)
	}
	c.checkSignedOut(t, "me after the session lifetime", b, b.jar)
	if c.record(t, pk) == nil {
		t.Fatalf("session record %s is gone; the test needs it kept (DynamoDB Local has no TTL deletion)", pk)
	}
}

// logoutChecks: revocation of the refresh token, authenticated; a failing or hanging revocation
// endpoint never keeps the user signed in.
func (d *advDeployment) logoutChecks(t *testing.T) {
	c, adv := d.c, d.adv
	for _, tc := range []struct {
		name      string
		revoke    func(w http.ResponseWriter, r *http.Request)
		noRefresh bool // the provider issues no refresh token: the access token is revoked
	}{
		{"revocation succeeds", nil, false},
		{"no refresh token", nil, true},
		{"revocation answers HTML 500", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, "<html>cannot revoke %s</html>", r.PostForm.Get("token"))
		}, false},
		{"revocation answers a JSON error echoing the token", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable", "error_description": "token " + r.PostForm.Get("token") + " not revoked"}, nil)
		}, false},
		{"revocation hangs", adv.hang, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newAgent(true)
			if tc.noRefresh {
				adv.misbehave(t, misbehaviour{response: func(r map[string]any) { delete(r, "refresh_token") }})
			}
			resp := d.signIn(t, d.callback, b, false)
			id := c.signedIn(t, resp, b, "/", defaultLifetime)
			attr, hint := "refresh", "refresh_token"
			if tc.noRefresh {
				attr, hint = "access", "access_token"
			}
			token := d.storedToken(t, id, attr)

			resp = d.logout.invoke(t, withHeader(b.request(c.logoutEv, ""), "origin", "https://evil.example"))
			if resp.StatusCode != http.StatusForbidden || len(resp.Cookies) != 0 {
				t.Errorf("cross-site logout = %d, cookies %q; want 403 and no cookies", resp.StatusCode, resp.Cookies)
			}
			c.checkMe(t, "me after a cross-site logout", b, bodyAda)

			adv.misbehave(t, misbehaviour{revoke: tc.revoke})
			revocations := len(adv.revoked())
			start := time.Now()
			resp = d.logout.invoke(t, b.request(c.logoutEv, ""))
			took := time.Since(start)
			if resp.StatusCode != http.StatusFound || resp.Headers["Location"] != "/" {
				t.Errorf("logout = %d Location %q %s; want 302 to /", resp.StatusCode, resp.Headers["Location"], resp.Body)
			}
			checkSetCookie(t, "logout", resp, b.sessionCookie(), true, 0)
			t.Logf("logout answered after %v", took.Round(time.Millisecond))
			got := adv.revoked()[revocations:]
			if len(got) != 1 || got[0].token != token || got[0].hint != hint {
				t.Errorf("logout revoked %d tokens (%v); want the %s once, as the authenticated client", len(got), got, hint)
			}
			for _, pk := range []string{"session#" + store.Hash(id), "tokens#" + store.Hash(id)} {
				if c.record(t, pk) != nil {
					t.Errorf("record %s left after logout", pk)
				}
			}
			c.checkSignedOut(t, "me after logout", b, map[string]string{b.sessionCookie(): id})
		})
	}
}

// storedToken reads one token (attribute "access" or "refresh") of a session's record, stored
// plain: the functions run without a token encryption key here.
func (d *advDeployment) storedToken(t *testing.T, id, attr string) string {
	t.Helper()
	item := d.c.record(t, "tokens#"+store.Hash(id))
	if v, ok := item[attr].(*types.AttributeValueMemberS); ok && v.Value != "" {
		return v.Value
	}
	t.Fatalf("token record of the session has no %s attribute: %v", attr, slices.Collect(maps.Keys(item)))
	return ""
}

// endSession: with OAUTH_POST_LOGOUT_REDIRECT_URI, logout goes on to the provider's end-session
// endpoint with id_token_hint, post_logout_redirect_uri and client_id.
func (d *advDeployment) endSession(t *testing.T) {
	c := d.c
	b := newAgent(true)
	id := c.signedIn(t, d.signIn(t, d.callback, b, false), b, "/", defaultLifetime)
	item := c.record(t, "tokens#"+store.Hash(id))
	idToken, _ := item["id_token"].(*types.AttributeValueMemberS)
	resp := d.logoutEndSession.invoke(t, b.request(c.logoutEv, ""))
	checkSetCookie(t, "logout", resp, b.sessionCookie(), true, 0)
	u, err := url.Parse(resp.Headers["Location"])
	if resp.StatusCode != http.StatusFound || err != nil || u.Scheme+"://"+u.Host+u.Path != d.adv.issuer+advEndSession {
		t.Fatalf("logout = %d Location %q; want 302 to %s%s", resp.StatusCode, resp.Headers["Location"], d.adv.issuer, advEndSession)
	}
	q := u.Query()
	if q.Get("client_id") != advClientID || q.Get("post_logout_redirect_uri") != postLogoutURI || idToken == nil || q.Get("id_token_hint") != idToken.Value {
		t.Errorf("end-session query %v; want client_id, post_logout_redirect_uri %s and the session's ID token as id_token_hint", q, postLogoutURI)
	}
}
