package store

import (
	"encoding/base64"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/serverless-signin/signin/pkg/signin"
)

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

// The items as deployed tables hold them, attribute by attribute. Renaming
// a tag, or changing how a time is kept, breaks these on purpose: records
// already written would no longer read back.
var (
	storedState = map[string]types.AttributeValue{
		"pk":           s(StatePrefix + Hash("state-1")),
		"ttl":          n("1800000600"),
		"binding":      s("binding-hash"),
		"nonce":        s("nonce-1"),
		"verifier":     s("verifier-1"),
		"return_to":    s("/app?x=1"),
		"redirect_uri": s("https://app.example/auth/callback"),
		"created":      n("1800000000123"),
	}
	storedSession = map[string]types.AttributeValue{
		"pk":      s(SessionPrefix + "key-1"),
		"ttl":     n("1800604800"),
		"user":    s("https://issuer.example#sub-1"),
		"sub":     s("sub-1"),
		"email":   s("a@example.com"),
		"name":    s("Alice"),
		"iss":     s("https://issuer.example"),
		"created": n("1800000000123"),
		"idle":    n("1800001800456"),
	}
	storedTokens = map[string]types.AttributeValue{
		"pk":          s(TokensPrefix + "key-1"),
		"ttl":         n("1800604800"),
		"access":      s("access-1"),
		"refresh":     s("refresh-1"),
		"id_token":    s("id-1"),
		"token_type":  s("Bearer"),
		"scope":       s("openid email"),
		"expiry":      n("1800003600000"),
		"version":     n("3"),
		"lease_owner": s("owner-a"),
		"lease_until": n("1800000015000"),
	}
)

func wantState() State {
	st := State{
		BindingHash: "binding-hash",
		ReturnTo:    "/app?x=1",
		CreatedAt:   time.UnixMilli(1800000000123).UTC(),
		ExpiresAt:   time.Unix(1800000600, 0).UTC(),
	}
	st.AuthRequest = signin.AuthRequest{State: "state-1", Nonce: "nonce-1", Verifier: "verifier-1", RedirectURI: "https://app.example/auth/callback"}
	return st
}

func wantSession() Session {
	return Session{
		Key:           "key-1",
		User:          signin.User{Subject: "sub-1", Email: "a@example.com", Name: "Alice"},
		Issuer:        "https://issuer.example",
		CreatedAt:     time.UnixMilli(1800000000123).UTC(),
		ExpiresAt:     time.Unix(1800604800, 0).UTC(),
		IdleExpiresAt: time.UnixMilli(1800001800456).UTC(),
	}
}

func wantTokens() Tokens {
	return Tokens{
		Key: "key-1",
		Token: signin.Token{
			AccessToken: "access-1", RefreshToken: "refresh-1", IDToken: "id-1",
			TokenType: "Bearer", Scope: "openid email", Expiry: time.UnixMilli(1800003600000).UTC(),
		},
		ExpiresAt:  time.Unix(1800604800, 0).UTC(),
		Version:    3,
		LeaseOwner: "owner-a",
		LeaseUntil: time.UnixMilli(1800000015000).UTC(),
	}
}

// Each record encodes to exactly the stored item and decodes back from it.
func TestItemFormat(t *testing.T) {
	tests := []struct {
		name   string
		stored map[string]types.AttributeValue
		encode func() (any, error)
		decode func(map[string]types.AttributeValue) (any, error)
		want   any
	}{
		{
			"state", storedState,
			func() (any, error) { return newStateItem(wantState()), nil },
			func(av map[string]types.AttributeValue) (any, error) {
				it, err := decodeItem[stateItem](av)
				return it.state("state-1"), err
			},
			wantState(),
		},
		{
			"session", storedSession,
			func() (any, error) { return newSessionItem(wantSession()), nil },
			func(av map[string]types.AttributeValue) (any, error) {
				it, err := decodeItem[sessionItem](av)
				return it.session(), err
			},
			wantSession(),
		},
		{
			"tokens", storedTokens,
			func() (any, error) { return newTokensItem(wantTokens(), nil) },
			func(av map[string]types.AttributeValue) (any, error) { return decodeTokens(av, nil) },
			wantTokens(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			item, err := tt.encode()
			if err != nil {
				t.Fatal(err)
			}
			av, err := encodeItem(item)
			if err != nil || !reflect.DeepEqual(av, tt.stored) {
				t.Errorf("encodeItem(%s) = %v, %v; want %v", tt.name, av, err, tt.stored)
			}
			got, err := tt.decode(tt.stored)
			if err != nil || got != tt.want {
				t.Errorf("decode(stored %s) = %+v, %v; want %+v", tt.name, got, err, tt.want)
			}
		})
	}
}

// Optional attributes may be absent (omitempty) or NULL; a consumed state
// carries consumed=true; a wrong attribute type is an error that does not
// quote the value.
func TestItemDecodeEdges(t *testing.T) {
	minimal := map[string]types.AttributeValue{"pk": s(SessionPrefix + "k"), "ttl": n("1800000000"), "email": &types.AttributeValueMemberNULL{Value: true}}
	it, err := decodeItem[sessionItem](minimal)
	if err != nil || it.session() != (Session{Key: "k", ExpiresAt: time.Unix(1800000000, 0).UTC()}) {
		t.Errorf("decode(minimal session) = %+v, %v", it.session(), err)
	}

	consumed := map[string]types.AttributeValue{"pk": s(StatePrefix + "h"), "consumed": &types.AttributeValueMemberBOOL{Value: true}}
	if st, err := decodeItem[stateItem](consumed); err != nil || !st.Consumed {
		t.Errorf("decode(consumed state) = %+v, %v; want Consumed", st, err)
	}

	const secret = "secret-value-never-logged"
	bad := map[string]types.AttributeValue{"pk": s(TokensPrefix + "k"), "version": s(secret)}
	if _, err := decodeTokens(bad, nil); err == nil {
		t.Error("decode(tokens with a string version) = nil error; want an error")
	} else if strings.Contains(err.Error(), secret) {
		t.Errorf("decode error %q quotes the attribute's value", err)
	}
}

// A token record sealed before this package moved (same key, same AAD: the
// item's pk) still opens, and the same record copied under another pk does
// not.
func TestItemSealedFormat(t *testing.T) {
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i + 1)
	}
	sealer, err := NewSealer(TokenKey{ID: "k1", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := base64.StdEncoding.DecodeString("gMzR0zo53f/V63LpQvxFmFpfzlfs299s2gsViyIwZmIwYQHdGiUOGHEDLhqfb+Nan83VYeP7yr2e04NCCzSyHMov2UnC2pOzF5WjHroD17z9gWhJAWM=")
	item := map[string]types.AttributeValue{
		"pk":      s(TokensPrefix + Hash("golden")),
		"ttl":     n("1800604800"),
		"version": n("1"),
		"kid":     s("k1"),
		"sealed":  &types.AttributeValueMemberB{Value: sealed},
	}
	got, err := decodeTokens(item, sealer)
	if err != nil || got.AccessToken != "access-golden" || got.RefreshToken != "refresh-golden" || got.IDToken != "id-golden" {
		t.Errorf("decodeTokens(sealed golden) = %+v, %v; want the golden tokens", got.Token, err)
	}
	item["pk"] = s(TokensPrefix + Hash("elsewhere"))
	if _, err := decodeTokens(item, sealer); err == nil {
		t.Error("decodeTokens(sealed under another pk) = nil error; want an error")
	}

	// Sealing writes kid and sealed, never the plain tokens.
	it, err := newTokensItem(wantTokens(), sealer)
	if err != nil {
		t.Fatal(err)
	}
	av, err := encodeItem(it)
	if err != nil {
		t.Fatal(err)
	}
	for _, plain := range []string{"access", "refresh", "id_token"} {
		if _, ok := av[plain]; ok {
			t.Errorf("sealed item has the plain attribute %q", plain)
		}
	}
	if _, ok := av["kid"]; !ok {
		t.Error("sealed item has no kid attribute")
	}
	if back, err := decodeTokens(av, sealer); err != nil || back != wantTokens() {
		t.Errorf("decodeTokens(sealed) = %+v, %v; want %+v", back, err, wantTokens())
	}
}

// BenchmarkDecode: what attributevalue costs per read, to set against a
// DynamoDB Local GetItem (BenchmarkRead/dynamodb/getitem).
func BenchmarkDecode(b *testing.B) {
	b.Run("session", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeItem[sessionItem](storedSession); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("tokens", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeTokens(storedTokens, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
