package oauth_test

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/serverless-signin/signin/internal/devprovider"
	"github.com/serverless-signin/signin/pkg/oauth"
	"github.com/serverless-signin/signin/pkg/signin"
)

// TestMain silences zitadel's op, which logs every rejected request through
// slog.Default, unless -v.
func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Verbose() {
		slog.SetDefault(slog.New(slog.DiscardHandler))
	}
	os.Exit(m.Run())
}

const devRedirectURI = "http://127.0.0.1:9/auth/callback"

func startDevProvider(t *testing.T) *devprovider.Provider {
	t.Helper()
	p, err := devprovider.Start(devprovider.Options{})
	if err != nil {
		t.Fatalf("devprovider.Start() = %v", err)
	}
	t.Cleanup(p.Close)
	p.AllowRedirectURI(devprovider.DefaultClientID, devRedirectURI)
	return p
}

func devClient(t *testing.T, p *devprovider.Provider, edit ...func(*oauth.Config)) *oauth.Client {
	t.Helper()
	cfg := oauth.Config{Issuer: p.Issuer(), ClientID: devprovider.DefaultClientID, ClientSecret: devprovider.DefaultClientSecret}
	for _, e := range edit {
		e(&cfg)
	}
	c, err := oauth.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// authorize signs the demo user in at the provider's login page and returns
// the code, checking that the state came back unchanged.
func authorize(t *testing.T, c *oauth.Client) (signin.AuthRequest, string) {
	t.Helper()
	authURL, ar, err := c.AuthCodeURL(t.Context(), devRedirectURI)
	if err != nil {
		t.Fatalf("AuthCodeURL() = %v", err)
	}
	loc, err := devprovider.Authorize(t.Context(), nil, authURL, devprovider.DemoUser.Username, devprovider.DemoUser.Password)
	if err != nil {
		t.Fatalf("devprovider.Authorize() = %v", err)
	}
	q := loc.Query()
	if q.Get("state") != ar.State || q.Get("code") == "" {
		t.Fatalf("provider redirected to %s; want a code and state %q", loc.Redacted(), ar.State)
	}
	return ar, q.Get("code")
}

// The whole life of a sign-in against a real OpenID provider that enforces
// PKCE and the client secret: authorize, exchange, verify, userinfo,
// refresh, revoke, end session.
func TestDevProviderCycle(t *testing.T) {
	for _, style := range []oauth.AuthStyle{oauth.AuthStyleAuto, oauth.AuthStyleBasic, oauth.AuthStylePost} {
		t.Run(style.String(), func(t *testing.T) {
			p := startDevProvider(t)
			c := devClient(t, p, func(cfg *oauth.Config) { cfg.AuthStyle = style })
			ctx := t.Context()
			start := time.Now()

			ar, code := authorize(t, c)
			res, err := c.SignIn(ctx, code, ar)
			if err != nil {
				t.Fatalf("SignIn() = %v", err)
			}
			demo := devprovider.DemoUser
			if want := (signin.User{Subject: demo.Subject, Email: demo.Email, Name: demo.Name}); res.User != want || res.Issuer != p.Issuer() {
				t.Errorf("SignIn() user, issuer = %+v, %q; want %+v, %q", res.User, res.Issuer, want, p.Issuer())
			}
			tok := res.Token
			if idt, err := c.VerifyIDToken(ctx, tok.IDToken, ar.Nonce); err != nil || idt.Subject != demo.Subject || idt.Nonce != ar.Nonce {
				t.Errorf("VerifyIDToken(signed-in ID token) = %+v, %v; want the demo user with the nonce sent", idt, err)
			}
			if tok.AccessToken == "" || tok.RefreshToken == "" || tok.IDToken == "" || tok.Expiry.Before(start) || !tok.Usable(start, 0) {
				t.Errorf("token = access %t, refresh %t, id %t, expiry %v; want all set and in the future",
					tok.AccessToken != "", tok.RefreshToken != "", tok.IDToken != "", tok.Expiry)
			}

			// A code works once.
			if _, err := c.Exchange(ctx, code, ar); !oauth.IsInvalidGrant(err) {
				t.Errorf("Exchange(used code) = %v; want invalid_grant", err)
			}

			refreshed, err := c.Refresh(ctx, tok)
			if err != nil {
				t.Fatalf("Refresh() = %v", err)
			}
			if refreshed.AccessToken == tok.AccessToken || refreshed.RefreshToken == "" || refreshed.IDToken == "" {
				t.Errorf("Refresh() = new access %t, refresh %t, id %t; want a new access token and refresh and ID tokens",
					refreshed.AccessToken != tok.AccessToken, refreshed.RefreshToken != "", refreshed.IDToken != "")
			}
			if u, err := c.UserInfo(ctx, refreshed.AccessToken, demo.Subject); err != nil || u.Subject != demo.Subject || u.EmailVerified != demo.EmailVerified {
				t.Errorf("UserInfo(refreshed access token) = %+v, %v; want the demo user", u, err)
			}

			if err := c.Revoke(ctx, refreshed.RefreshToken, "refresh_token"); err != nil {
				t.Fatalf("Revoke() = %v", err)
			}
			if _, err := c.Refresh(ctx, refreshed); !oauth.IsInvalidGrant(err) || !errors.Is(err, signin.ErrGrantEnded) {
				t.Errorf("Refresh(revoked) = %v; want invalid_grant, grant ended", err)
			}
			// RFC 7009 §2.2: revoking what is no longer valid still succeeds.
			if err := c.Revoke(ctx, refreshed.RefreshToken, "refresh_token"); err != nil {
				t.Errorf("Revoke(revoked) = %v; want nil", err)
			}

			es, err := c.EndSessionURL(ctx, tok.IDToken, devRedirectURI, "bye")
			if err != nil {
				t.Fatal(err)
			}
			noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			hres, err := noFollow.Get(es)
			if err != nil {
				t.Fatal(err)
			}
			hres.Body.Close()
			if loc := hres.Header.Get("Location"); hres.StatusCode != http.StatusFound || loc != devRedirectURI+"?state=bye" {
				t.Errorf("GET EndSessionURL() = %d %q; want 302 to %s?state=bye", hres.StatusCode, loc, devRedirectURI)
			}

			// Discovery and the JWKS were fetched once for the whole cycle.
			for _, path := range []string{"/.well-known/openid-configuration", "/keys"} {
				if n := p.Calls(path); n != 1 {
					t.Errorf("Calls(%s) = %d; want 1", path, n)
				}
			}
		})
	}
}

func TestDevProviderRejects(t *testing.T) {
	p := startDevProvider(t)
	good := devClient(t, p)
	wrongSecret := devClient(t, p, func(cfg *oauth.Config) { cfg.ClientSecret = "not-the-secret" })

	tests := []struct {
		name  string
		run   func(ctx context.Context, ar signin.AuthRequest, code string) error
		check func(error) bool
		want  string
	}{
		{
			name: "wrong client secret",
			run: func(ctx context.Context, ar signin.AuthRequest, code string) error {
				_, err := wrongSecret.Exchange(ctx, code, ar)
				return err
			},
			check: func(err error) bool {
				var er *oauth.ErrorResponse
				return errors.As(err, &er) && er.Code == "invalid_client"
			},
			want: "*ErrorResponse invalid_client",
		},
		{
			name: "wrong PKCE verifier",
			run: func(ctx context.Context, ar signin.AuthRequest, code string) error {
				ar.Verifier += "x"
				_, err := good.Exchange(ctx, code, ar)
				return err
			},
			check: oauth.IsInvalidGrant,
			want:  "invalid_grant",
		},
		{
			name: "another redirect URI",
			run: func(ctx context.Context, ar signin.AuthRequest, code string) error {
				ar.RedirectURI = "http://127.0.0.1:9/elsewhere"
				_, err := good.Exchange(ctx, code, ar)
				return err
			},
			check: func(err error) bool {
				var er *oauth.ErrorResponse
				return errors.As(err, &er)
			},
			want: "*ErrorResponse",
		},
		{
			name: "nonce of another sign-in",
			run: func(ctx context.Context, ar signin.AuthRequest, code string) error {
				ar.Nonce = "another-nonce"
				_, err := good.SignIn(ctx, code, ar)
				return err
			},
			check: func(err error) bool { return errors.Is(err, oauth.ErrNonceMismatch) },
			want:  "ErrNonceMismatch",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ar, code := authorize(t, good)
			if err := tt.run(t.Context(), ar, code); !tt.check(err) {
				t.Fatalf("error = %v; want %s", err, tt.want)
			}
		})
	}
}
