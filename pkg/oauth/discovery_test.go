package oauth_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/serverless-signin/signin/pkg/oauth"
)

const discoveryPath = "/.well-known/openid-configuration"

// endpointOf returns the URL without its query.
func endpointOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.RawQuery = ""
	return u.String()
}

func TestDiscoveryFetchedOnce(t *testing.T) {
	p := newProvider(t)
	c := p.client()
	ctx := context.Background()

	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, _, err := c.AuthCodeURL(ctx, testRedirectURI); err != nil {
				t.Errorf("AuthCodeURL() = %v", err)
			}
		})
	}
	wg.Wait()
	if _, err := c.EndSessionURL(ctx, "", "", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SignIn(ctx, testCode, testReq); err != nil {
		t.Fatal(err)
	}
	if err := c.Revoke(ctx, "refresh-token-1", "refresh_token"); err != nil {
		t.Fatal(err)
	}
	if n := p.count(discoveryPath); n != 1 {
		t.Errorf("discovery fetched %d times for many calls; want 1", n)
	}

	// At most once per container (docs/contract.md §4): a container that
	// lives for days never fetches it again, however it is used.
	for range 3 {
		p.clock.Advance(25 * time.Hour)
		if _, _, err := c.AuthCodeURL(ctx, testRedirectURI); err != nil {
			t.Fatal(err)
		}
		if _, err := c.SignIn(ctx, testCode, testReq); err != nil {
			t.Fatal(err)
		}
	}
	if n := p.count(discoveryPath); n != 1 {
		t.Errorf("discovery fetched %d times over three days; want 1 (once per container)", n)
	}
}

func TestDiscoveryIssuerMismatch(t *testing.T) {
	p := newProvider(t)
	p.setMeta("issuer", "https://evil.example")
	c := p.client()

	authURL, _, err := c.AuthCodeURL(context.Background(), testRedirectURI)
	if !errors.Is(err, oauth.ErrIssuerMismatch) {
		t.Fatalf("AuthCodeURL() = %q, %v; want ErrIssuerMismatch and no fallback", authURL, err)
	}
	if _, err := c.VerifyIDToken(context.Background(), p.sign(p.claims(nil)), "nonce-1"); !errors.Is(err, oauth.ErrIssuerMismatch) {
		t.Fatalf("VerifyIDToken() = %v; want ErrIssuerMismatch", err)
	}
}

// A failed discovery falls back to the issuer-derived endpoints, is
// remembered for a short backoff, then retried.
func TestDiscoveryFailure(t *testing.T) {
	p := newProvider(t)
	down := true
	var mu sync.Mutex
	p.handle(discoveryPath, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if down {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		writeJSON(w, 200, map[string]any{
			"issuer":                 p.Issuer,
			"authorization_endpoint": p.Issuer + "/discovered/authorize",
			"jwks_uri":               p.Issuer + "/keys",
		})
	})
	c := p.client()
	ctx := context.Background()
	authorizeEndpoint := func() string {
		authURL, _, err := c.AuthCodeURL(ctx, testRedirectURI)
		if err != nil {
			t.Fatalf("AuthCodeURL() = %v; want the fallback, not an error", err)
		}
		return endpointOf(t, authURL)
	}

	if got, want := authorizeEndpoint(), p.Issuer+"/authorize"; got != want {
		t.Errorf("AuthCodeURL() with discovery down = %s; want the issuer-derived %s", got, want)
	}
	authorizeEndpoint()
	if n := p.count(discoveryPath); n != 1 {
		t.Errorf("discovery fetched %d times within the backoff; want 1", n)
	}

	mu.Lock()
	down = false
	mu.Unlock()
	p.clock.Advance(15 * time.Second)
	if got, want := authorizeEndpoint(), p.Issuer+"/discovered/authorize"; got != want {
		t.Errorf("AuthCodeURL() after the backoff = %s; want the discovered %s", got, want)
	}
	if n := p.count(discoveryPath); n != 2 {
		t.Errorf("discovery fetched %d times; want 2", n)
	}
}

func TestDiscoveryHangingFallsBackWithinTimeout(t *testing.T) {
	p := newProvider(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	p.handle(discoveryPath, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	c := p.client(func(cfg *oauth.Config) { cfg.Timeout = 50 * time.Millisecond })

	authURL, _, err := c.AuthCodeURL(context.Background(), testRedirectURI)
	if err != nil {
		t.Fatalf("AuthCodeURL() with discovery hanging = %v; want the fallback", err)
	}
	if got, want := endpointOf(t, authURL), p.Issuer+"/authorize"; got != want {
		t.Errorf("AuthCodeURL() = %s; want %s", got, want)
	}
}

func TestDiscoveryCanceledContext(t *testing.T) {
	p := newProvider(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := p.client().AuthCodeURL(ctx, testRedirectURI); !errors.Is(err, context.Canceled) {
		t.Fatalf("AuthCodeURL(canceled) = %v; want context.Canceled", err)
	}
}

func TestDiscoveryRejectsInsecureEndpoints(t *testing.T) {
	p := newProvider(t)
	p.setMeta("token_endpoint", "http://tokens.example/token") // plain http off loopback
	authURL, _, err := p.client().AuthCodeURL(context.Background(), testRedirectURI)
	if err != nil {
		t.Fatal(err)
	}
	// The document is refused as a whole: the issuer-derived default is used.
	if got, want := endpointOf(t, authURL), p.Issuer+"/authorize"; got != want {
		t.Errorf("AuthCodeURL() = %s; want the fallback %s", got, want)
	}
}

// Precedence per value: explicit configuration > discovery > issuer-derived default.
func TestEndpointPrecedence(t *testing.T) {
	tests := []struct {
		name       string
		explicit   string // path configured for the authorize, token and end-session endpoints; "" none
		discovered string // path the discovery document names for them; "" absent
		want       [3]string
	}{
		{"explicit wins over discovery", "/explicit", "/discovered", [3]string{"/explicit", "/explicit", "/explicit"}},
		{"discovery wins over the default", "", "/discovered", [3]string{"/discovered", "/discovered", "/discovered"}},
		{"default when neither", "", "", [3]string{"/authorize", "/oauth/token", "/end_session"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t)
			for _, k := range []string{"authorization_endpoint", "token_endpoint", "end_session_endpoint"} {
				if tt.discovered != "" {
					p.setMeta(k, p.Issuer+tt.discovered)
				} else {
					p.setMeta(k, nil)
				}
			}
			c := p.client(func(cfg *oauth.Config) {
				if tt.explicit != "" {
					cfg.AuthorizeURL = p.Issuer + tt.explicit
					cfg.TokenURL = p.Issuer + tt.explicit
					cfg.EndSessionURL = p.Issuer + tt.explicit
				}
			})
			wantAuthorize, wantToken, wantEndSession := tt.want[0], tt.want[1], tt.want[2]
			p.handle(wantToken, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, p.tokenResponse(nil)) })
			ctx := context.Background()

			authURL, _, err := c.AuthCodeURL(ctx, testRedirectURI)
			if err != nil {
				t.Fatal(err)
			}
			if got := endpointOf(t, authURL); got != p.Issuer+wantAuthorize {
				t.Errorf("authorize endpoint = %s; want %s", got, p.Issuer+wantAuthorize)
			}
			es, err := c.EndSessionURL(ctx, "", "", "")
			if err != nil {
				t.Fatal(err)
			}
			if got := endpointOf(t, es); got != p.Issuer+wantEndSession {
				t.Errorf("end-session endpoint = %s; want %s", got, p.Issuer+wantEndSession)
			}
			if _, err := c.Exchange(ctx, testCode, testReq); err != nil {
				t.Fatalf("Exchange() = %v", err)
			}
			if n := p.count(wantToken); n != 1 {
				t.Errorf("token requests to %s = %d; want 1", wantToken, n)
			}
		})
	}
}

func TestIssuerWithTrailingSlash(t *testing.T) {
	p := newProvider(t)
	// The document names the issuer without the slash: only that may differ.
	c := p.client(func(cfg *oauth.Config) { cfg.Issuer = p.Issuer + "/" })
	ctx := context.Background()

	if _, _, err := c.AuthCodeURL(ctx, testRedirectURI); err != nil {
		t.Fatalf("AuthCodeURL() = %v; want nil", err)
	}
	if n := p.count(discoveryPath); n != 1 {
		t.Errorf("requests to %s = %d; want 1 (no double slash)", discoveryPath, n)
	}
	if _, err := c.VerifyIDToken(ctx, p.sign(p.claims(nil)), "nonce-1"); err != nil {
		t.Errorf("VerifyIDToken() = %v; want nil (iss as the document names it)", err)
	}

	// Issuer-derived defaults have no double slash either.
	p.handle(discoveryPath, func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	c = p.client(func(cfg *oauth.Config) { cfg.Issuer = p.Issuer + "/" })
	authURL, _, err := c.AuthCodeURL(ctx, testRedirectURI)
	if err != nil {
		t.Fatal(err)
	}
	es, err := c.EndSessionURL(ctx, "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range []string{endpointOf(t, authURL), endpointOf(t, es)} {
		if strings.Contains(strings.TrimPrefix(got, "http://"), "//") {
			t.Errorf("endpoint %s has a double slash", got)
		}
	}
	if got := endpointOf(t, authURL); got != p.Issuer+"/authorize" {
		t.Errorf("authorize endpoint = %s; want %s", got, p.Issuer+"/authorize")
	}
	if n := p.count(discoveryPath); n != 2 {
		t.Errorf("requests to %s = %d; want 2", discoveryPath, n)
	}
}

func TestDiscoveryFailureIsLogged(t *testing.T) {
	p := newProvider(t)
	p.handle(discoveryPath, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusInternalServerError) })
	var buf strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(writerFunc(func(b []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(b)
	}), nil))
	c := p.client(func(cfg *oauth.Config) { cfg.Logger = logger })

	if _, _, err := c.AuthCodeURL(context.Background(), testRedirectURI); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if !strings.Contains(out, `"level":"WARN"`) || !strings.Contains(out, "discovery endpoint: HTTP 500") || !strings.Contains(out, p.Issuer) {
		t.Errorf("log = %s; want a warning naming the issuer and the failure", out)
	}
	if strings.Contains(out, testClientSecret) {
		t.Errorf("log = %s; must not contain the client secret", out)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }
