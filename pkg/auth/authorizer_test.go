package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-signin/signin/pkg/auth"
	"github.com/serverless-signin/signin/pkg/signin"
	"github.com/serverless-signin/signin/pkg/store"
)

// withAuthorizer is a request behind the SessionAuthorizer with this
// context at requestContext.authorizer.lambda.
func withAuthorizer(ctx map[string]any) events.APIGatewayV2HTTPRequest {
	req := appRequest("https", nil, nil)
	req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: ctx}
	return req
}

func TestFromAuthorizer(t *testing.T) {
	key := store.Hash(newSessionID())
	valid := map[string]any{"sub": "alice", "email": "alice@example.com", "name": "Alice", "iss": "https://issuer.example", "session": key, "expires_at": float64(1795852824)}
	with := func(k string, v any) map[string]any {
		m := maps.Clone(valid)
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	want := auth.Session{Key: key, User: signin.User{Subject: "alice", Email: "alice@example.com", Name: "Alice"}, Issuer: "https://issuer.example"}
	tests := []struct {
		name   string
		req    events.APIGatewayV2HTTPRequest
		wantOK bool
	}{
		{"the authorizer's context", withAuthorizer(valid), true},
		{"expires_at built in Go", withAuthorizer(with("expires_at", int64(1795852824))), true},
		{"unknown email and name", withAuthorizer(with("email", "")), true},
		{"no authorizer", appRequest("https", nil, nil), false},
		{"a JWT authorizer", func() events.APIGatewayV2HTTPRequest {
			req := appRequest("https", nil, nil)
			req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"sub": "alice"}}}
			return req
		}(), false},
		{"empty context", withAuthorizer(map[string]any{}), false},
		{"no sub", withAuthorizer(with("sub", nil)), false},
		{"empty sub", withAuthorizer(with("sub", "")), false},
		{"sub not a string", withAuthorizer(with("sub", float64(42))), false},
		{"no email", withAuthorizer(with("email", nil)), false},
		{"no name", withAuthorizer(with("name", nil)), false},
		{"no iss", withAuthorizer(with("iss", nil)), false},
		{"no session", withAuthorizer(with("session", nil)), false},
		{"a cookie value as session", withAuthorizer(with("session", newSessionID())), false},
		{"upper-case session key", withAuthorizer(with("session", strings.ToUpper(key))), false},
		{"no expires_at", withAuthorizer(with("expires_at", nil)), false},
		{"expires_at a string", withAuthorizer(with("expires_at", "1795852824")), false},
		{"expires_at fractional", withAuthorizer(with("expires_at", 1795852824.5)), false},
		{"expires_at negative", withAuthorizer(with("expires_at", float64(-1))), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sess, err := auth.FromAuthorizer(tt.req)
			if !tt.wantOK {
				if sess != nil || !errors.Is(err, auth.ErrNotSignedIn) {
					t.Errorf("FromAuthorizer() = %+v, %v; want ErrNotSignedIn", sess, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("FromAuthorizer() error = %v", err)
			}
			w := want
			w.User.Email, _ = tt.req.RequestContext.Authorizer.Lambda["email"].(string)
			if sess.ExpiresAt.Unix() != 1795852824 {
				t.Errorf("ExpiresAt = %v; want epoch 1795852824", sess.ExpiresAt)
			}
			w.ExpiresAt = sess.ExpiresAt
			if *sess != w {
				t.Errorf("FromAuthorizer() = %+v; want %+v", *sess, w)
			}
		})
	}
}

// The round trip: the authorizer's context, JSON-encoded as the gateway
// passes it to the route, decoded into the route's event and read back,
// is the session the cookie names, read without touching the store; and
// AccessToken works from it.
func TestFromAuthorizerRoundTrip(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		w := newWorld(t, k, true, false)
		ctx := context.Background()
		id := w.signIn("alice", w.expiredTokens())
		counting := &countingStore{Store: w.store}
		h := newHandler(nil, counting, w.sessions.Now)

		authz := events.APIGatewayV2CustomAuthorizerV2Request{
			Version: "2.0", Type: "REQUEST", RouteKey: "GET /api/profile", RawPath: "/api/profile",
			Cookies: []string{"__Host-session=" + id},
			Headers: map[string]string{"cookie": "__Host-session=" + id, "x-forwarded-proto": "https"},
		}
		authz.RequestContext.HTTP.Method = "GET"
		answer, err := h.Authorize(ctx, authz)
		if err != nil || !answer.IsAuthorized {
			t.Fatalf("Authorize = %+v, %v; want allowed", answer, err)
		}

		// What the gateway forwards: the route's event with the context.
		route := appRequest("https", []string{"__Host-session=" + id}, nil)
		route.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: answer.Context}
		data, err := json.Marshal(route)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), `"authorizer":{"lambda":{`) {
			t.Fatalf("encoded event %s has no requestContext.authorizer.lambda", data)
		}
		var received events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(data, &received); err != nil {
			t.Fatal(err)
		}
		if _, ok := received.RequestContext.Authorizer.Lambda["expires_at"].(float64); !ok {
			t.Fatalf("decoded expires_at = %T; want float64 (a JSON number)", received.RequestContext.Authorizer.Lambda["expires_at"])
		}

		counting.Take()
		got, err := auth.FromAuthorizer(received)
		if err != nil {
			t.Fatalf("FromAuthorizer() error = %v", err)
		}
		if calls := counting.Take(); len(calls) != 0 {
			t.Errorf("FromAuthorizer made store calls %v; want none", calls)
		}
		want, err := w.sessions.FromCookie(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Key != want.Key || got.User != want.User || got.Issuer != want.Issuer || !got.ExpiresAt.Equal(want.ExpiresAt) {
			t.Errorf("FromAuthorizer() = %+v; want the cookie's session %+v", *got, *want)
		}
		if strings.Contains(string(data), `"session":"`+id) {
			t.Errorf("the context carries the cookie value")
		}

		tok, err := w.sessions.AccessToken(ctx, got)
		if err != nil || !strings.HasPrefix(tok, "at-") || tok == "at-old" {
			t.Errorf("AccessToken(FromAuthorizer session) = %q, %v; want a refreshed token", tok, err)
		}
	})
}
