package devprovider

import (
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

const testRedirect = "http://127.0.0.1:9/auth/callback"

// TestMain silences op, which logs every rejected request through slog.Default, unless -v.
func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Verbose() {
		slog.SetDefault(slog.New(slog.DiscardHandler))
	}
	os.Exit(m.Run())
}

func startProvider(t *testing.T, opts Options) *Provider {
	t.Helper()
	p, err := Start(opts)
	if err != nil {
		t.Fatalf("Start() error = %v", err)
	}
	t.Cleanup(p.Close)
	p.AllowRedirectURI(DefaultClientID, testRedirect)
	return p
}

func oauthConfig(p *Provider, style oauth2.AuthStyle) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     DefaultClientID,
		ClientSecret: DefaultClientSecret,
		RedirectURL:  testRedirect,
		Scopes:       []string{"openid", "profile", "email"},
		Endpoint: oauth2.Endpoint{
			AuthURL:   p.Issuer() + PathAuthorize,
			TokenURL:  p.Issuer() + PathToken,
			AuthStyle: style,
		},
	}
}

func newBrowser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

// signIn runs authorize with PKCE through the login form and returns the code and verifier.
func signIn(t *testing.T, cfg *oauth2.Config, nonce string) (code, verifier string) {
	t.Helper()
	verifier = oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL("state-123", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", nonce))
	got, err := Authorize(t.Context(), newBrowser(t), authURL, DemoUser.Username, DemoUser.Password)
	if err != nil {
		t.Fatalf("Authorize() error = %v", err)
	}
	if base := got.Scheme + "://" + got.Host + got.Path; base != cfg.RedirectURL {
		t.Fatalf("Authorize() redirected to %q; want %q", base, cfg.RedirectURL)
	}
	q := got.Query()
	if q.Get("state") != "state-123" || q.Get("code") == "" || q.Get("error") != "" {
		t.Fatalf("Authorize() redirect query = %v; want a code and state=state-123", q)
	}
	return q.Get("code"), verifier
}

func retrieveErrorCode(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

func getJSON(t *testing.T, rawURL, bearer string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &body)
	return resp.StatusCode, body
}

func TestDiscovery(t *testing.T) {
	p := startProvider(t, Options{})
	status, doc := getJSON(t, p.Issuer()+PathDiscovery, "")
	if status != http.StatusOK {
		t.Fatalf("GET discovery status = %d; want 200", status)
	}
	want := map[string]string{
		"issuer":                 p.Issuer(),
		"authorization_endpoint": p.Issuer() + "/authorize",
		"token_endpoint":         p.Issuer() + "/oauth/token",
		"userinfo_endpoint":      p.Issuer() + "/userinfo",
		"revocation_endpoint":    p.Issuer() + "/revoke",
		"end_session_endpoint":   p.Issuer() + "/end_session",
		"jwks_uri":               p.Issuer() + "/keys",
	}
	for k, v := range want {
		if doc[k] != v {
			t.Errorf("discovery[%q] = %v; want %q", k, doc[k], v)
		}
	}
	lists := map[string][]string{
		"code_challenge_methods_supported":      {"S256"},
		"token_endpoint_auth_methods_supported": {"client_secret_basic", "client_secret_post"},
		"grant_types_supported":                 {"authorization_code", "refresh_token"},
		"id_token_signing_alg_values_supported": {"RS256"},
	}
	for k, wants := range lists {
		got, _ := doc[k].([]any)
		for _, w := range wants {
			if !slices.Contains(got, any(w)) {
				t.Errorf("discovery[%q] = %v; want it to contain %q", k, doc[k], w)
			}
		}
	}
	status, keys := getJSON(t, p.Issuer()+PathKeys, "")
	if ks, _ := keys["keys"].([]any); status != http.StatusOK || len(ks) != 1 {
		t.Fatalf("GET /keys = %d %v; want 200 and one key", status, keys)
	}
	if k := keys["keys"].([]any)[0].(map[string]any); k["kty"] != "RSA" || k["alg"] != "RS256" || k["use"] != "sig" {
		t.Errorf("GET /keys key = %v; want kty RSA, alg RS256, use sig", k)
	}
	if got := p.Calls(PathDiscovery); got != 1 {
		t.Errorf("Calls(%q) = %d; want 1", PathDiscovery, got)
	}
}

func TestCodeFlow(t *testing.T) {
	for _, tc := range []struct {
		name  string
		style oauth2.AuthStyle
	}{
		{"client_secret_basic", oauth2.AuthStyleInHeader},
		{"client_secret_post", oauth2.AuthStyleInParams},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startProvider(t, Options{})
			cfg := oauthConfig(p, tc.style)
			ctx := t.Context()

			code, verifier := signIn(t, cfg, "nonce-abc")
			tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("Exchange() error = %v", err)
			}
			if tok.AccessToken == "" || tok.RefreshToken == "" || tok.Expiry.IsZero() {
				t.Fatalf("Exchange() = access %t, refresh %t, expiry %v; want all set",
					tok.AccessToken != "", tok.RefreshToken != "", tok.Expiry)
			}

			// The ID token verifies against discovery and JWKS and carries nonce, email and name.
			provider, err := oidc.NewProvider(ctx, p.Issuer())
			if err != nil {
				t.Fatalf("oidc.NewProvider() error = %v", err)
			}
			rawID, _ := tok.Extra("id_token").(string)
			idt, err := provider.Verifier(&oidc.Config{ClientID: DefaultClientID}).Verify(ctx, rawID)
			if err != nil {
				t.Fatalf("Verify(id_token) error = %v", err)
			}
			var claims struct {
				Nonce, Email, Name string
				EmailVerified      bool `json:"email_verified"`
			}
			if err := idt.Claims(&claims); err != nil {
				t.Fatal(err)
			}
			if idt.Subject != DemoUser.Subject || claims.Nonce != "nonce-abc" || claims.Email != DemoUser.Email || claims.Name != DemoUser.Name {
				t.Errorf("id_token sub, nonce, email, name = %q %q %q %q; want %q nonce-abc %q %q",
					idt.Subject, claims.Nonce, claims.Email, claims.Name, DemoUser.Subject, DemoUser.Email, DemoUser.Name)
			}

			status, info := getJSON(t, p.Issuer()+PathUserinfo, tok.AccessToken)
			wantInfo := map[string]any{"sub": DemoUser.Subject, "email": DemoUser.Email, "email_verified": true, "name": DemoUser.Name}
			for k, v := range wantInfo {
				if info[k] != v {
					t.Errorf("userinfo[%q] = %v (status %d); want %v", k, info[k], status, v)
				}
			}

			// A code works once.
			if _, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier)); retrieveErrorCode(err) != "invalid_grant" {
				t.Errorf("second Exchange(same code) error = %v; want invalid_grant", err)
			}

			// Refresh rotates: a new refresh token, and the old one is dead.
			refreshed, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
			if err != nil {
				t.Fatalf("refresh error = %v", err)
			}
			if refreshed.RefreshToken == "" || refreshed.RefreshToken == tok.RefreshToken || refreshed.AccessToken == tok.AccessToken {
				t.Fatalf("refresh returned the same or no refresh/access token; want fresh ones")
			}
			if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); retrieveErrorCode(err) != "invalid_grant" {
				t.Errorf("refresh with the rotated-out token error = %v; want invalid_grant", err)
			}
			if status, _ := getJSON(t, p.Issuer()+PathUserinfo, tok.AccessToken); status == http.StatusOK {
				t.Errorf("userinfo with the access token of a rotated refresh token = %d; want an error", status)
			}
			if status, info := getJSON(t, p.Issuer()+PathUserinfo, refreshed.AccessToken); status != http.StatusOK || info["sub"] != DemoUser.Subject {
				t.Errorf("userinfo with the refreshed access token = %d %v; want 200 and sub", status, info)
			}

			// Revoking the refresh token ends it and its access token.
			if status := revoke(t, p, tc.style, refreshed.RefreshToken, DefaultClientSecret); status != http.StatusOK {
				t.Fatalf("revoke status = %d; want 200", status)
			}
			if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshed.RefreshToken}).Token(); retrieveErrorCode(err) != "invalid_grant" {
				t.Errorf("refresh after revoke error = %v; want invalid_grant", err)
			}
			if status, _ := getJSON(t, p.Issuer()+PathUserinfo, refreshed.AccessToken); status == http.StatusOK {
				t.Errorf("userinfo after revoking the refresh token = %d; want an error", status)
			}

			for path, want := range map[string]int{PathAuthorize: 1, PathLogin: 2, PathToken: 5, PathUserinfo: 4, PathRevoke: 1} {
				if got := p.Calls(path); got != want {
					t.Errorf("Calls(%q) = %d; want %d", path, got, want)
				}
			}
		})
	}
}

func revoke(t *testing.T, p *Provider, style oauth2.AuthStyle, token, secret string) int {
	t.Helper()
	form := url.Values{"token": {token}}
	if style == oauth2.AuthStyleInParams {
		form.Set("client_id", DefaultClientID)
		form.Set("client_secret", secret)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, p.Issuer()+PathRevoke, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if style != oauth2.AuthStyleInParams {
		req.SetBasicAuth(DefaultClientID, secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestRevokeAccessToken(t *testing.T) {
	p := startProvider(t, Options{})
	cfg := oauthConfig(p, oauth2.AuthStyleInHeader)
	code, verifier := signIn(t, cfg, "n")
	tok, err := cfg.Exchange(t.Context(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if status := revoke(t, p, oauth2.AuthStyleInHeader, tok.AccessToken, "wrong"); status != http.StatusUnauthorized {
		t.Errorf("revoke with a wrong secret status = %d; want 401", status)
	}
	if status, _ := getJSON(t, p.Issuer()+PathUserinfo, tok.AccessToken); status != http.StatusOK {
		t.Fatalf("userinfo before revoke = %d; want 200", status)
	}
	if status := revoke(t, p, oauth2.AuthStyleInHeader, tok.AccessToken, DefaultClientSecret); status != http.StatusOK {
		t.Fatalf("revoke(access token) status = %d; want 200", status)
	}
	if status, _ := getJSON(t, p.Issuer()+PathUserinfo, tok.AccessToken); status == http.StatusOK {
		t.Errorf("userinfo after revoke = %d; want an error", status)
	}
	if status := revoke(t, p, oauth2.AuthStyleInHeader, "not-a-token", DefaultClientSecret); status != http.StatusOK {
		t.Errorf("revoke(unknown token) status = %d; want 200 (RFC 7009)", status)
	}
}

func TestAuthorizeRejected(t *testing.T) {
	p := startProvider(t, Options{})
	cfg := oauthConfig(p, oauth2.AuthStyleInHeader)
	verifier := oauth2.GenerateVerifier()
	tests := []struct {
		name      string
		url       string
		wantError string // error redirected to the client; "" means no redirect at all
	}{
		{"no PKCE", cfg.AuthCodeURL("s1"), "invalid_request"},
		{"plain PKCE", cfg.AuthCodeURL("s1", oauth2.SetAuthURLParam("code_challenge", verifier),
			oauth2.SetAuthURLParam("code_challenge_method", "plain")), "invalid_request"},
		{"prompt none", cfg.AuthCodeURL("s1", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "none")), "login_required"},
		{"unregistered redirect_uri", cfg.AuthCodeURL("s1", oauth2.S256ChallengeOption(verifier),
			oauth2.SetAuthURLParam("redirect_uri", "http://127.0.0.1:9/other")), ""},
		{"unknown client", cfg.AuthCodeURL("s1", oauth2.S256ChallengeOption(verifier),
			oauth2.SetAuthURLParam("client_id", "nobody")), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Authorize(t.Context(), newBrowser(t), tc.url, DemoUser.Username, DemoUser.Password)
			if tc.wantError == "" {
				if err == nil {
					t.Fatalf("Authorize() = %v; want an error and no redirect", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Authorize() error = %v", err)
			}
			if q := got.Query(); q.Get("error") != tc.wantError || q.Get("state") != "s1" || q.Get("code") != "" {
				t.Errorf("Authorize() redirect query = %v; want error=%s state=s1 and no code", q, tc.wantError)
			}
		})
	}
	if got := p.Calls(PathLogin); got != 0 {
		t.Errorf("Calls(%q) = %d; want 0: rejected requests never reach the login page", PathLogin, got)
	}
}

func TestTokenRejected(t *testing.T) {
	p := startProvider(t, Options{})
	other := "http://127.0.0.1:9/elsewhere"
	p.AllowRedirectURI(DefaultClientID, other)
	tests := []struct {
		name     string
		mutate   func(*oauth2.Config, *string)
		wantCode string
	}{
		{"wrong secret basic", func(c *oauth2.Config, _ *string) { c.ClientSecret = "nope" }, "invalid_client"},
		{"wrong secret post", func(c *oauth2.Config, _ *string) {
			c.ClientSecret = "nope"
			c.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		}, "invalid_client"},
		{"other registered redirect_uri", func(c *oauth2.Config, _ *string) { c.RedirectURL = other }, "invalid_grant"},
		{"wrong verifier", func(_ *oauth2.Config, v *string) { *v = oauth2.GenerateVerifier() }, "invalid_grant"},
		{"no verifier", func(_ *oauth2.Config, v *string) { *v = "" }, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := oauthConfig(p, oauth2.AuthStyleInHeader)
			code, verifier := signIn(t, cfg, "n")
			tc.mutate(cfg, &verifier)
			var opts []oauth2.AuthCodeOption
			if verifier != "" {
				opts = append(opts, oauth2.VerifierOption(verifier))
			}
			_, err := cfg.Exchange(t.Context(), code, opts...)
			if got := retrieveErrorCode(err); got != tc.wantCode {
				t.Errorf("Exchange() error = %v; want %s", err, tc.wantCode)
			}
		})
	}
}

func TestWrongPassword(t *testing.T) {
	p := startProvider(t, Options{})
	cfg := oauthConfig(p, oauth2.AuthStyleInHeader)
	authURL := cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	_, err := Authorize(t.Context(), newBrowser(t), authURL, DemoUser.Username, "wrong")
	if !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("Authorize(wrong password) error = %v; want ErrInvalidCredentials", err)
	}

	// The same, as a browser sees it: the form comes back with an error and the username kept.
	hc := newBrowser(t)
	resp, err := hc.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`id="username"`, `id="password"`, `id="submit"`, "Demo credentials", "<code>demo</code>"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("login page lacks %q", want)
		}
	}
	id := requestIDRE.FindSubmatch(page)
	if id == nil {
		t.Fatalf("login page has no auth request id")
	}
	resp, err = hc.PostForm(resp.Request.URL.String(), url.Values{
		"authRequestID": {string(id[1])}, "username": {"demo"}, "password": {"wrong"},
	})
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != PathLogin {
		t.Fatalf("POST wrong password = %d at %s; want 200 at %s", resp.StatusCode, resp.Request.URL.Path, PathLogin)
	}
	for _, want := range []string{`id="error"`, "Invalid username or password.", `id="username"`, `value="demo"`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("re-shown login page lacks %q", want)
		}
	}
}

func TestEndSession(t *testing.T) {
	p := startProvider(t, Options{})
	cfg := oauthConfig(p, oauth2.AuthStyleInHeader)
	code, verifier := signIn(t, cfg, "n")
	tok, err := cfg.Exchange(t.Context(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	idToken, _ := tok.Extra("id_token").(string)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct {
		name         string
		postLogout   string
		wantStatus   int
		wantLocation string
	}{
		{"registered", testRedirect, http.StatusFound, testRedirect + "?state=st"},
		{"unregistered", "https://evil.example/", http.StatusBadRequest, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {tc.postLogout}, "client_id": {DefaultClientID}, "state": {"st"}}
			resp, err := noFollow.Get(p.Issuer() + PathEndSession + "?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus || resp.Header.Get("Location") != tc.wantLocation {
				t.Errorf("GET end_session = %d %q; want %d %q", resp.StatusCode, resp.Header.Get("Location"), tc.wantStatus, tc.wantLocation)
			}
		})
	}
}

// TestMounted serves a provider whose issuer has a path, both mounted as is and behind StripPrefix.
func TestMounted(t *testing.T) {
	for _, strip := range []bool{false, true} {
		t.Run(map[bool]string{false: "as is", true: "StripPrefix"}[strip], func(t *testing.T) {
			srv := httptest.NewUnstartedServer(nil)
			p, err := New("http://"+srv.Listener.Addr().String()+"/oidc/", Options{})
			if err != nil {
				t.Fatalf("New() error = %v", err)
			}
			mux := http.NewServeMux()
			if strip {
				mux.Handle("/oidc/", http.StripPrefix("/oidc", p.Handler()))
			} else {
				mux.Handle("/oidc/", p.Handler())
			}
			srv.Config.Handler = mux
			srv.Start()
			t.Cleanup(srv.Close)
			p.AllowRedirectURI(DefaultClientID, testRedirect)

			if want := srv.URL + "/oidc"; p.Issuer() != want {
				t.Fatalf("Issuer() = %q; want %q", p.Issuer(), want)
			}
			status, doc := getJSON(t, p.Issuer()+PathDiscovery, "")
			if status != http.StatusOK || doc["issuer"] != p.Issuer() || doc["token_endpoint"] != p.Issuer()+PathToken {
				t.Fatalf("discovery = %d %v; want issuer %q", status, doc, p.Issuer())
			}
			cfg := oauthConfig(p, oauth2.AuthStyleInHeader)
			code, verifier := signIn(t, cfg, "n")
			if _, err := cfg.Exchange(t.Context(), code, oauth2.VerifierOption(verifier)); err != nil {
				t.Fatalf("Exchange() error = %v", err)
			}
			if got := p.Calls(PathToken); got != 1 {
				t.Errorf("Calls(%q) = %d; want 1", PathToken, got)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	alice := User{Subject: "alice-1", Username: "alice", Password: "pw", Email: "alice@example.com", Name: "Alice"}
	p := startProvider(t, Options{
		Clients: []Client{{ID: "app", Secret: "s3cret", RedirectURIs: []string{testRedirect}}},
		Users:   []User{alice},
	})
	cfg := oauthConfig(p, oauth2.AuthStyleInHeader)
	cfg.ClientID, cfg.ClientSecret = "app", "s3cret"
	if _, err := Authorize(t.Context(), newBrowser(t), cfg.AuthCodeURL("s", oauth2.S256ChallengeOption("v")), "demo", "demo"); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("Authorize(demo) with custom users error = %v; want ErrInvalidCredentials", err)
	}
	verifier := oauth2.GenerateVerifier()
	got, err := Authorize(t.Context(), newBrowser(t), cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), "alice", "pw")
	if err != nil {
		t.Fatalf("Authorize(alice) error = %v", err)
	}
	tok, err := cfg.Exchange(t.Context(), got.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("Exchange() error = %v", err)
	}
	if _, info := getJSON(t, p.Issuer()+PathUserinfo, tok.AccessToken); info["sub"] != alice.Subject || info["email"] != alice.Email {
		t.Errorf("userinfo = %v; want sub %q email %q", info, alice.Subject, alice.Email)
	}

	if _, err := New("not a url", Options{}); err == nil {
		t.Errorf("New(%q) error = nil; want an error", "not a url")
	}
}

// TestConcurrentRefresh: one refresh token, several simultaneous refreshes, exactly one winner.
func TestConcurrentRefresh(t *testing.T) {
	p := startProvider(t, Options{})
	cfg := oauthConfig(p, oauth2.AuthStyleInHeader)
	code, verifier := signIn(t, cfg, "n")
	tok, err := cfg.Exchange(t.Context(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	const n = 5
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
			errs <- err
		}()
	}
	ok := 0
	for range n {
		err := <-errs
		switch {
		case err == nil:
			ok++
		case retrieveErrorCode(err) != "invalid_grant":
			t.Errorf("refresh error = %v; want nil or invalid_grant", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d concurrent refreshes succeeded; want exactly 1", ok)
	}
}
