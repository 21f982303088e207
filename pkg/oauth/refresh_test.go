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
)

func TestRefreshRequest(t *testing.T) {
	p := newProvider(t)
	c := p.client()
	p.handle("/oauth/token", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"access_token": "access-token-2", "token_type": "Bearer", "expires_in": 600})
	})

	if _, err := c.Refresh(context.Background(), &oauth.Token{AccessToken: "access-token-1", RefreshToken: "refresh-token-1"}); err != nil {
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
	old := &oauth.Token{
		AccessToken: "access-token-1", TokenType: "Bearer", RefreshToken: "refresh-token-1",
		IDToken: prevID, Scope: "openid profile email", Expiry: now,
	}
	// A refreshed ID token of the same authentication; the nonce is not
	// repeated (OpenID Connect Core §12.2).
	sameUserID := p.sign(p.claims(map[string]any{"nonce": nil, "iat": now.Unix()}))

	tests := []struct {
		name     string
		response map[string]any
		want     *oauth.Token
	}{
		{
			name:     "no new refresh token keeps the old one",
			response: map[string]any{"access_token": "access-token-2", "token_type": "Bearer", "expires_in": 600},
			want: &oauth.Token{AccessToken: "access-token-2", TokenType: "Bearer", RefreshToken: "refresh-token-1",
				IDToken: prevID, Scope: "openid profile email", Expiry: now.Add(10 * time.Minute)},
		},
		{
			name:     "rotated refresh token replaces the old one",
			response: map[string]any{"access_token": "access-token-2", "token_type": "Bearer", "refresh_token": "refresh-token-2", "scope": "openid"},
			want: &oauth.Token{AccessToken: "access-token-2", TokenType: "Bearer", RefreshToken: "refresh-token-2",
				IDToken: prevID, Scope: "openid"},
		},
		{
			name:     "refreshed ID token of the same user",
			response: map[string]any{"access_token": "access-token-2", "token_type": "Bearer", "id_token": sameUserID},
			want: &oauth.Token{AccessToken: "access-token-2", TokenType: "Bearer", RefreshToken: "refresh-token-1",
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
	c := p.client()
	old := &oauth.Token{AccessToken: "access-token-1", RefreshToken: "refresh-token-1", IDToken: p.sign(p.claims(nil))}

	tests := []struct {
		name     string
		status   int
		response map[string]any
		check    func(error) bool
		want     string
	}{
		{
			name: "refreshed ID token with another sub", status: 200,
			response: map[string]any{"access_token": "a", "token_type": "Bearer", "id_token": p.sign(p.claims(map[string]any{"sub": "someone-else"}))},
			check:    func(err error) bool { return errors.Is(err, oauth.ErrSubjectMismatch) },
			want:     "ErrSubjectMismatch",
		},
		{
			name: "refreshed ID token with another aud", status: 200,
			response: map[string]any{"access_token": "a", "token_type": "Bearer", "id_token": p.sign(p.claims(map[string]any{"aud": []string{testClientID, "api"}, "azp": testClientID}))},
			check:    func(err error) bool { return errors.Is(err, oauth.ErrInvalidIDToken) },
			want:     "ErrInvalidIDToken",
		},
		{
			name: "refreshed ID token with a bad signature", status: 200,
			response: map[string]any{"access_token": "a", "token_type": "Bearer", "id_token": unsigned(t, p.claims(nil))},
			check:    func(err error) bool { return errors.Is(err, oauth.ErrInvalidIDToken) },
			want:     "ErrInvalidIDToken",
		},
		{
			name: "invalid_grant", status: 400,
			response: map[string]any{"error": "invalid_grant", "error_description": "refresh token revoked"},
			check:    oauth.IsInvalidGrant,
			want:     "IsInvalidGrant",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p.handle("/oauth/token", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, tt.status, tt.response) })
			got, err := c.Refresh(context.Background(), old)
			if !tt.check(err) {
				t.Fatalf("Refresh() = %+v, %v; want an error matching %s", got, err, tt.want)
			}
		})
	}
}

func TestRefreshWithoutRefreshToken(t *testing.T) {
	p := newProvider(t)
	c := p.client()
	for _, tok := range []*oauth.Token{nil, {AccessToken: "access-token-1"}} {
		if _, err := c.Refresh(context.Background(), tok); !errors.Is(err, oauth.ErrNoRefreshToken) {
			t.Errorf("Refresh(%+v) = %v; want ErrNoRefreshToken", tok, err)
		}
	}
	if n := p.count("/oauth/token"); n != 0 {
		t.Errorf("token endpoint called %d times; want 0", n)
	}
}
