package oauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/serverless-signin/signin/pkg/oauth"
	"github.com/serverless-signin/signin/pkg/signin"
)

func TestRefreshRequest(t *testing.T) {
	p := newProvider(t)
	c := p.client()
	p.handle("/oauth/token", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"access_token": "access-token-2", "token_type": "Bearer", "expires_in": 600})
	})

	if _, err := c.Refresh(context.Background(), signin.Token{AccessToken: "access-token-1", RefreshToken: "refresh-token-1"}); err != nil {
		t.Fatal(err)
	}
	req := p.last("/oauth/token")
	wantForm := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"refresh-token-1"}}
	if req.Method != http.MethodPost || !reflect.DeepEqual(req.Form, wantForm) || req.Header.Get("Authorization") != basicAuth(testClientID, testClientSecret) {
		t.Errorf("refresh request = %s form %v Authorization %q; want POST %v with client_secret_basic",
			req.Method, req.Form, req.Header.Get("Authorization"), wantForm)
	}
}

func TestRefresh(t *testing.T) {
	p := newProvider(t)
	c := p.client()
	now := p.clock.Now()
	prevID := p.sign(p.claims(nil))
	old := signin.Token{
		AccessToken: "access-token-1", TokenType: "Bearer", RefreshToken: "refresh-token-1",
		IDToken: prevID, Scope: "openid profile email", Expiry: now,
	}
	// A refreshed ID token of the same authentication; the nonce is not
	// repeated (OpenID Connect Core §12.2).
	sameUserID := p.sign(p.claims(map[string]any{"nonce": nil, "iat": now.Unix()}))

	tests := []struct {
		name     string
		response map[string]any
		want     signin.Token
	}{
		{
			name:     "no new refresh token keeps the old one",
			response: map[string]any{"access_token": "access-token-2", "token_type": "Bearer", "expires_in": 600},
			want: signin.Token{AccessToken: "access-token-2", TokenType: "Bearer", RefreshToken: "refresh-token-1",
				IDToken: prevID, Scope: "openid profile email", Expiry: now.Add(10 * time.Minute)},
		},
		{
			name:     "rotated refresh token replaces the old one",
			response: map[string]any{"access_token": "access-token-2", "token_type": "Bearer", "refresh_token": "refresh-token-2", "scope": "openid"},
			want: signin.Token{AccessToken: "access-token-2", TokenType: "Bearer", RefreshToken: "refresh-token-2",
				IDToken: prevID, Scope: "openid"},
		},
		{
			name:     "refreshed ID token of the same user",
			response: map[string]any{"access_token": "access-token-2", "token_type": "Bearer", "id_token": sameUserID},
			want: signin.Token{AccessToken: "access-token-2", TokenType: "Bearer", RefreshToken: "refresh-token-1",
				IDToken: sameUserID, Scope: "openid profile email"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p.handle("/oauth/token", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, tt.response) })
			got, err := c.Refresh(context.Background(), old)
			if err != nil {
				t.Fatalf("Refresh() = %v; want nil", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Refresh() = %+v; want %+v", got, tt.want)
			}
		})
	}
}

func TestRefreshErrors(t *testing.T) {
	p := newProvider(t)
	old := signin.Token{AccessToken: "access-token-1", RefreshToken: "refresh-token-1", IDToken: p.sign(p.claims(nil))}
	fromOtherIssuer := old
	fromOtherIssuer.IDToken = p.sign(p.claims(map[string]any{"iss": "https://other.example"}))
	withoutIDToken := old
	withoutIDToken.IDToken = ""
	sameUser := p.sign(p.claims(map[string]any{"nonce": nil}))

	tests := []struct {
		name       string
		old        signin.Token
		status     int
		response   map[string]any
		keysDown   bool
		check      func(error) bool
		want       string
		grantEnded bool // errors.Is(err, signin.ErrGrantEnded): the session must end
	}{
		{
			name: "refreshed ID token with another sub", old: old, status: 200,
			response:   map[string]any{"access_token": "a", "token_type": "Bearer", "id_token": p.sign(p.claims(map[string]any{"sub": "someone-else"}))},
			check:      func(err error) bool { return errors.Is(err, oauth.ErrSubjectMismatch) },
			want:       "ErrSubjectMismatch",
			grantEnded: true,
		},
		{
			name: "previous ID token of another issuer", old: fromOtherIssuer, status: 200,
			response:   map[string]any{"access_token": "a", "token_type": "Bearer", "id_token": sameUser},
			check:      func(err error) bool { return errors.Is(err, oauth.ErrIssuerMismatch) },
			want:       "ErrIssuerMismatch",
			grantEnded: true,
		},
		{
			name: "refreshed ID token of another issuer", old: old, status: 200,
			response:   map[string]any{"access_token": "a", "token_type": "Bearer", "id_token": p.sign(p.claims(map[string]any{"iss": "https://other.example"}))},
			check:      func(err error) bool { return errors.Is(err, oauth.ErrInvalidIDToken) },
			want:       "ErrInvalidIDToken",
			grantEnded: true,
		},
		{
			name: "refreshed ID token with another aud", old: old, status: 200,
			response:   map[string]any{"access_token": "a", "token_type": "Bearer", "id_token": p.sign(p.claims(map[string]any{"aud": []string{testClientID, "api"}, "azp": testClientID}))},
			check:      func(err error) bool { return errors.Is(err, oauth.ErrInvalidIDToken) },
			want:       "ErrInvalidIDToken",
			grantEnded: true,
		},
		{
			name: "refreshed ID token with a bad signature", old: old, status: 200,
			response:   map[string]any{"access_token": "a", "token_type": "Bearer", "id_token": unsigned(t, p.claims(nil))},
			check:      func(err error) bool { return errors.Is(err, oauth.ErrInvalidIDToken) },
			want:       "ErrInvalidIDToken",
			grantEnded: true,
		},
		{
			// Sign-in always stores an ID token: without one the refreshed
			// token cannot be shown to name the same user.
			name: "refreshed ID token and no previous one", old: withoutIDToken, status: 200,
			response:   map[string]any{"access_token": "a", "token_type": "Bearer", "id_token": sameUser},
			check:      func(err error) bool { return errors.Is(err, oauth.ErrInvalidIDToken) },
			want:       "ErrInvalidIDToken",
			grantEnded: true,
		},
		{
			name: "invalid_grant", old: old, status: 400,
			response:   map[string]any{"error": "invalid_grant", "error_description": "refresh token revoked"},
			check:      oauth.IsInvalidGrant,
			want:       "IsInvalidGrant",
			grantEnded: true,
		},
		{
			name: "invalid_client", old: old, status: 401,
			response: map[string]any{"error": "invalid_client"},
			check: func(err error) bool {
				var er *oauth.ErrorResponse
				return errors.As(err, &er) && er.Code == "invalid_client"
			},
			want: "*ErrorResponse invalid_client",
		},
		{
			name: "provider outage", old: old, status: 503,
			response: map[string]any{"message": "down"},
			check: func(err error) bool {
				var he *oauth.HTTPError
				return errors.As(err, &he) && he.StatusCode == 503
			},
			want: "*HTTPError 503",
		},
		{
			name: "JWKS outage while verifying the refreshed ID token", old: old, status: 200,
			response: map[string]any{"access_token": "a", "token_type": "Bearer", "id_token": sameUser},
			keysDown: true,
			check: func(err error) bool {
				var he *oauth.HTTPError
				return errors.As(err, &he) && he.Endpoint == "jwks" && !errors.Is(err, oauth.ErrInvalidIDToken)
			},
			want: "*HTTPError from the JWKS",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p.handle("/oauth/token", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, tt.status, tt.response) })
			if tt.keysDown {
				p.mu.Lock()
				keys := p.handlers["/keys"]
				p.mu.Unlock()
				p.handle("/keys", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
				defer p.handle("/keys", keys)
			}
			// A new client per case: nothing cached from the last one.
			got, err := p.client().Refresh(context.Background(), tt.old)
			if !tt.check(err) {
				t.Fatalf("Refresh() = %+v, %v; want an error matching %s", got, err, tt.want)
			}
			if ended := errors.Is(err, signin.ErrGrantEnded); ended != tt.grantEnded {
				t.Errorf("errors.Is(Refresh() error %q, signin.ErrGrantEnded) = %t; want %t", err, ended, tt.grantEnded)
			}
		})
	}
}

func TestRefreshWithoutRefreshToken(t *testing.T) {
	p := newProvider(t)
	c := p.client()
	for _, tok := range []signin.Token{{}, {AccessToken: "access-token-1"}} {
		if _, err := c.Refresh(context.Background(), tok); !errors.Is(err, oauth.ErrNoRefreshToken) || !errors.Is(err, signin.ErrGrantEnded) {
			t.Errorf("Refresh(%+v) = %v; want ErrNoRefreshToken, grant ended", tok, err)
		}
	}
	if n := p.count("/oauth/token"); n != 0 {
		t.Errorf("token endpoint called %d times; want 0", n)
	}
}
