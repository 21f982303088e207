package routes_test

import (
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/serverless-signin/signin/internal/devprovider"
	"github.com/serverless-signin/signin/internal/dynamotest"
	"github.com/serverless-signin/signin/internal/lambdaenv/secretenv"
	"github.com/serverless-signin/signin/internal/routes"
	"github.com/serverless-signin/signin/pkg/session"
	"github.com/serverless-signin/signin/pkg/store"
)

// fromEnv builds the handler a Lambda function would build (secretenv)
// over table and the app's provider, with extra variables.
func fromEnv(t *testing.T, a *app, table string, build func(context.Context, func(string) string) (*routes.Handler, error), extra map[string]string) *routes.Handler {
	t.Helper()
	vars := map[string]string{
		"TABLE_NAME":                table,
		"AWS_ENDPOINT_URL_DYNAMODB": os.Getenv("AWS_ENDPOINT_URL_DYNAMODB"),
		"AWS_REGION":                "us-east-1",
		"OAUTH_ISSUER":              a.provider.Issuer(),
		"OAUTH_CLIENT_ID":           devprovider.DefaultClientID,
		"OAUTH_CLIENT_SECRET":       devprovider.DefaultClientSecret,
	}
	maps.Copy(vars, extra)
	h, err := build(context.Background(), func(k string) string { return vars[k] })
	if err != nil {
		t.Fatalf("building from the environment = %v", err)
	}
	return h
}

// newTokenKey is a fresh key string, as the template's generated secret.
func newTokenKey() string { return rand.Text() + rand.Text() }

// keyID is the documented key id: the first 8 hex digits of the SHA-256 of
// the HKDF-SHA256 key derived from the key string.
func keyID(t *testing.T, key string) string {
	t.Helper()
	k, err := hkdf.Key(sha256.New, []byte(key), nil, "serverless-signin token encryption v1", 32)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(k)
	return hex.EncodeToString(sum[:])[:8]
}

// rawText is every attribute value of an item as text, binary included.
func rawText(item map[string]types.AttributeValue) string {
	var b strings.Builder
	for name, v := range item {
		b.WriteString(name + "=")
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			b.WriteString(v.Value)
		case *types.AttributeValueMemberB:
			b.Write(v.Value)
		case *types.AttributeValueMemberN:
			b.WriteString(v.Value)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// With a token key, what the callback writes holds no token in the clear:
// a raw GetItem or Scan of the table yields none; the same function reads
// the tokens back (AccessToken, the logout's revocation).
func TestTokensEncryptedAtRest(t *testing.T) {
	client, table := dynamotest.NewTable(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "local")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	a := newApp(t, setup{})
	key := newTokenKey()
	a.h = fromEnv(t, a, table, secretenv.All, map[string]string{"TOKEN_ENCRYPTION_KEY": key})
	b := a.browser()
	b.signIn("")
	ctx := context.Background()

	s := a.h.Sessions()
	sess, err := s.Lookup(ctx, b.sessionID())
	if err != nil {
		t.Fatalf("Lookup() = %v", err)
	}
	tok, err := s.Config().Store.GetTokens(ctx, sess.Key)
	if err != nil || tok.AccessToken == "" || tok.IDToken == "" {
		t.Fatalf("GetTokens() = access %t, ID token %t, %v; want both", tok.AccessToken != "", tok.IDToken != "", err)
	}
	if got, err := s.AccessToken(ctx, sess.Key); err != nil || got != tok.AccessToken {
		t.Errorf("AccessToken() = %t, %v; want the stored access token", got == tok.AccessToken, err)
	}

	secrets := map[string]string{"access token": tok.AccessToken, "refresh token": tok.RefreshToken, "ID token": tok.IDToken}
	check := func(what string, item map[string]types.AttributeValue) {
		t.Helper()
		text := rawText(item)
		for name, v := range secrets {
			if v != "" && strings.Contains(text, v) {
				t.Errorf("%s: the %s is stored in the clear", what, name)
			}
		}
	}
	got, err := client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(table),
		Key:       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "tokens#" + sess.Key}},
	})
	if err != nil || got.Item == nil {
		t.Fatalf("raw GetItem(tokens#...) = %v, %v; want the token record", got, err)
	}
	check("raw GetItem", got.Item)
	if kid, ok := got.Item["kid"].(*types.AttributeValueMemberS); !ok || kid.Value != keyID(t, key) {
		t.Errorf("token record kid = %v; want %s", got.Item["kid"], keyID(t, key))
	}
	if _, ok := got.Item["sealed"].(*types.AttributeValueMemberB); !ok {
		t.Errorf("token record has no binary sealed attribute: %v", got.Item)
	}
	for _, name := range []string{"access", "refresh", "id_token"} {
		if _, ok := got.Item[name]; ok {
			t.Errorf("token record has a plain %s attribute", name)
		}
	}
	scan, err := client.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil || len(scan.Items) < 3 { // consumed state, session, tokens
		t.Fatalf("raw Scan = %d items, %v; want the sign-in's records", len(scan.Items), err)
	}
	for _, item := range scan.Items {
		check("raw Scan", item)
	}

	revoked := a.provider.Calls("/revoke")
	checkResponse(t, "logout", b.logout(nil), 302, "")
	if got := a.provider.Calls("/revoke") - revoked; got != 1 {
		t.Errorf("revocations at logout = %d; want 1 (the sealed token opened)", got)
	}
}

// A function with another key, or none, cannot read sealed tokens and
// says so: never an empty or made-up token, never a refresh, never
// "signed out" (which would hide the misconfiguration). A rotation key set
// ({"current": new, "previous": [old]}) reads the old records and seals
// new ones with the new key.
func TestTokensWrongKey(t *testing.T) {
	_, table := dynamotest.NewTable(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "local")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	a := newApp(t, setup{})
	oldKey, newKey := newTokenKey(), newTokenKey()
	a.h = fromEnv(t, a, table, secretenv.All, map[string]string{"TOKEN_ENCRYPTION_KEY": oldKey})
	b := a.browser()
	b.signIn("")
	ctx := context.Background()
	want, err := a.h.Sessions().Config().Store.GetTokens(ctx, store.Hash(b.sessionID()))
	if err != nil {
		t.Fatalf("GetTokens() with the right key = %v", err)
	}

	for name, extra := range map[string]map[string]string{
		"another key": {"TOKEN_ENCRYPTION_KEY": newKey},
		"no key":      nil,
	} {
		t.Run(name, func(t *testing.T) {
			s := fromEnv(t, a, table, secretenv.All, extra).Sessions()
			sess, err := s.Lookup(ctx, b.sessionID())
			if err != nil {
				t.Fatalf("Lookup() = %v; want the session (session records are not sealed)", err)
			}
			exchanges := a.provider.Calls("/oauth/token")
			tok, err := s.AccessToken(ctx, sess.Key)
			if err == nil || tok != "" || errors.Is(err, session.ErrNotSignedIn) {
				t.Errorf("AccessToken() = %q, %v; want an error that is not ErrNotSignedIn", tok, err)
			}
			if got := a.provider.Calls("/oauth/token") - exchanges; got != 0 {
				t.Errorf("token endpoint calls = %d; want none", got)
			}
		})
	}
	// The failed reads changed nothing.
	if got, err := a.h.Sessions().Config().Store.GetTokens(ctx, store.Hash(b.sessionID())); err != nil || got.AccessToken != want.AccessToken {
		t.Errorf("GetTokens() with the right key afterwards = %v; want the record unchanged", err)
	}

	rotation, _ := json.Marshal(map[string]any{"current": newKey, "previous": []string{oldKey}})
	a.h = fromEnv(t, a, table, secretenv.All, map[string]string{"TOKEN_ENCRYPTION_KEY": string(rotation)})
	s := a.h.Sessions()
	sess, err := s.Lookup(ctx, b.sessionID())
	if err != nil {
		t.Fatalf("Lookup() after rotation = %v", err)
	}
	if tok, err := s.AccessToken(ctx, sess.Key); err != nil || tok != want.AccessToken {
		t.Errorf("AccessToken() after rotation = %t, %v; want the old record read with the previous key", tok == want.AccessToken, err)
	}
	later := a.browser()
	later.signIn("")
	old := fromEnv(t, a, table, secretenv.All, map[string]string{"TOKEN_ENCRYPTION_KEY": oldKey}).Sessions()
	if _, err := old.Config().Store.GetTokens(ctx, store.Hash(later.sessionID())); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetTokens() of a record sealed after rotation, with the old key only = %v; want an error", err)
	}

	// Logout by a function with the wrong key fails closed, as any storage
	// failure does: a 500, and the cookie still goes.
	a.h = fromEnv(t, a, table, secretenv.Logout, map[string]string{"TOKEN_ENCRYPTION_KEY": newKey})
	revoked := a.provider.Calls("/revoke")
	resp := b.logout(nil)
	checkResponse(t, "logout with the wrong key", resp, 500, `{"error":"Sign-out failed"}`)
	checkCookies(t, "logout with the wrong key", resp, wantCookie(sessionCookie(true), "", 0, true))
	if got := a.provider.Calls("/revoke"); got != revoked {
		t.Errorf("revocations = %d; want none", got-revoked)
	}
}
