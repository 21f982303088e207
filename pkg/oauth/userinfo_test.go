package oauth_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/serverless-signin/signin/pkg/oauth"
	"github.com/serverless-signin/signin/pkg/signin"
)

func TestUserInfo(t *testing.T) {
	p := newProvider(t)
	c := p.client()

	got, err := c.UserInfo(context.Background(), "access-token-1", testSubject)
	if err != nil {
		t.Fatal(err)
	}
	want := &oauth.UserInfo{
		User:          signin.User{Subject: testSubject, Email: "ada@example.com", Name: "Ada"},
		EmailVerified: true,
		Claims:        map[string]any{"sub": testSubject, "email": "ada@example.com", "name": "Ada", "email_verified": true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("UserInfo() = %+v; want %+v", got, want)
	}
	// The access token travels in the Authorization header only.
	req := p.last("/userinfo")
	if req.Method != http.MethodGet || req.Header.Get("Authorization") != "Bearer access-token-1" || len(req.Query) != 0 || len(req.Form) != 0 {
		t.Errorf("userinfo request = %s, Authorization %q, query %v, form %v; want GET with the bearer header only",
			req.Method, req.Header.Get("Authorization"), req.Query, req.Form)
	}
}

func TestUserInfoEmailVerifiedAsString(t *testing.T) {
	p := newProvider(t)
	p.handle("/userinfo", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"sub": testSubject, "email_verified": "true"})
	})
	got, err := p.client().UserInfo(context.Background(), "access-token-1", testSubject)
	if err != nil {
		t.Fatal(err)
	}
	if !got.EmailVerified {
		t.Errorf(`UserInfo() EmailVerified = false for "true"; want true`)
	}
}

func TestUserInfoErrors(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		subject string
		check   func(t *testing.T, err error)
	}{
		{
			name:    "sub mismatch",
			handler: func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]any{"sub": "someone-else"}) },
			subject: testSubject,
			check: func(t *testing.T, err error) {
				if !errors.Is(err, oauth.ErrSubjectMismatch) {
					t.Fatalf("UserInfo() = %v; want ErrSubjectMismatch", err)
				}
			},
		},
		{
			name:    "empty subject expected",
			handler: func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]any{"sub": testSubject}) },
			subject: "",
			check: func(t *testing.T, err error) {
				if !errors.Is(err, oauth.ErrSubjectMismatch) {
					t.Fatalf("UserInfo() = %v; want ErrSubjectMismatch", err)
				}
			},
		},
		{
			name: "no sub",
			handler: func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, 200, map[string]any{"email": "x@example.com"})
			},
			subject: testSubject,
			check: func(t *testing.T, err error) {
				var he *oauth.HTTPError
				if !errors.As(err, &he) || he.Endpoint != "userinfo" {
					t.Fatalf("UserInfo() = %v; want *HTTPError from userinfo", err)
				}
			},
		},
		{
			name: "401 with a bearer challenge",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="p", error="invalid_token", error_description="The access token expired"`)
				w.WriteHeader(401)
			},
			subject: testSubject,
			check: func(t *testing.T, err error) {
				var er *oauth.ErrorResponse
				if !errors.As(err, &er) || er.Code != "invalid_token" || er.Description != "The access token expired" || er.StatusCode != 401 || er.Endpoint != "userinfo" {
					t.Fatalf("UserInfo() = %v; want *ErrorResponse invalid_token 401", err)
				}
			},
		},
		{
			name: "HTML 502",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(502)
				w.Write([]byte("<html>bad gateway access-token-1</html>"))
			},
			subject: testSubject,
			check: func(t *testing.T, err error) {
				var he *oauth.HTTPError
				if !errors.As(err, &he) || he.StatusCode != 502 || he.Endpoint != "userinfo" {
					t.Fatalf("UserInfo() = %v; want *HTTPError{userinfo, 502}", err)
				}
			},
		},
		{
			name: "200 that is not JSON",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.Write([]byte("<html>sign in</html>"))
			},
			subject: testSubject,
			check: func(t *testing.T, err error) {
				var he *oauth.HTTPError
				if !errors.As(err, &he) || he.StatusCode != 200 {
					t.Fatalf("UserInfo() = %v; want *HTTPError 200", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t)
			p.handle("/userinfo", tt.handler)
			u, err := p.client().UserInfo(context.Background(), "access-token-1", tt.subject)
			if err == nil {
				t.Fatalf("UserInfo() = %+v; want an error", u)
			}
			tt.check(t, err)
		})
	}
}

// atHash is the at_hash of an access token for RS256 (OpenID Connect Core §3.1.3.6).
func atHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

func TestSignIn(t *testing.T) {
	p := newProvider(t)
	p.handle("/oauth/token", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, p.tokenResponse(map[string]any{"at_hash": atHash("access-token-1")}))
	})
	c := p.client()

	got, err := c.SignIn(context.Background(), testCode, testReq)
	if err != nil {
		t.Fatalf("SignIn() = %v; want nil", err)
	}
	want := signin.Result{
		Issuer: p.Issuer,
		User:   signin.User{Subject: testSubject, Email: "ada@example.com", Name: "Ada"},
		Token: signin.Token{
			AccessToken: "access-token-1", TokenType: "Bearer", RefreshToken: "refresh-token-1",
			IDToken: got.Token.IDToken, Scope: "openid profile email", Expiry: p.clock.Now().Add(time.Hour),
		},
	}
	if got != want || got.Token.IDToken == "" {
		t.Errorf("SignIn() = %+v; want %+v", got, want)
	}
	// The token request carried the verifier and redirect URI of testReq.
	if form := p.last("/oauth/token").Form; form.Get("code_verifier") != testReq.Verifier || form.Get("redirect_uri") != testReq.RedirectURI {
		t.Errorf("token request form = %v; want the request's verifier and redirect URI", form)
	}
}

// The user is userinfo's; what userinfo leaves out comes from the ID token.
func TestSignInUser(t *testing.T) {
	tests := []struct {
		name     string
		idClaims map[string]any
		userinfo map[string]any
		want     signin.User
	}{
		{
			name:     "userinfo wins",
			idClaims: map[string]any{"email": "id@example.com", "name": "ID Name"},
			userinfo: map[string]any{"sub": testSubject, "email": "ui@example.com", "name": "UI Name"},
			want:     signin.User{Subject: testSubject, Email: "ui@example.com", Name: "UI Name"},
		},
		{
			name:     "ID token fills what userinfo leaves out",
			idClaims: map[string]any{"email": "id@example.com", "name": "ID Name"},
			userinfo: map[string]any{"sub": testSubject, "name": ""},
			want:     signin.User{Subject: testSubject, Email: "id@example.com", Name: "ID Name"},
		},
		{
			name:     "neither says",
			idClaims: map[string]any{"email": 42},
			userinfo: map[string]any{"sub": testSubject},
			want:     signin.User{Subject: testSubject},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t)
			p.handle("/oauth/token", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, p.tokenResponse(tt.idClaims)) })
			p.handle("/userinfo", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, tt.userinfo) })
			got, err := p.client().SignIn(context.Background(), testCode, testReq)
			if err != nil {
				t.Fatalf("SignIn() = %v; want nil", err)
			}
			if got.User != tt.want {
				t.Errorf("SignIn() User = %+v; want %+v", got.User, tt.want)
			}
		})
	}
}

func TestSignInErrors(t *testing.T) {
	tests := []struct {
		name     string
		token    func(p *provider) map[string]any
		userinfo map[string]any
		nonce    string
		wantErr  error
	}{
		{
			name:    "no ID token although openid was requested",
			token:   func(p *provider) map[string]any { return p.tokenResponse(nil, map[string]any{"id_token": nil}) },
			nonce:   "nonce-1",
			wantErr: oauth.ErrMissingIDToken,
		},
		{
			name:    "nonce mismatch",
			token:   func(p *provider) map[string]any { return p.tokenResponse(nil) },
			nonce:   "nonce-2",
			wantErr: oauth.ErrNonceMismatch,
		},
		{
			name:    "at_hash of another access token",
			token:   func(p *provider) map[string]any { return p.tokenResponse(map[string]any{"at_hash": atHash("other")}) },
			nonce:   "nonce-1",
			wantErr: oauth.ErrInvalidIDToken,
		},
		{
			name:     "userinfo about another user",
			token:    func(p *provider) map[string]any { return p.tokenResponse(nil) },
			userinfo: map[string]any{"sub": "someone-else"},
			nonce:    "nonce-1",
			wantErr:  oauth.ErrSubjectMismatch,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t)
			p.handle("/oauth/token", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, tt.token(p)) })
			if tt.userinfo != nil {
				p.handle("/userinfo", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, tt.userinfo) })
			}
			req := testReq
			req.Nonce = tt.nonce
			_, err := p.client().SignIn(context.Background(), testCode, req)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("SignIn() = %v; want %v", err, tt.wantErr)
			}
		})
	}
}
