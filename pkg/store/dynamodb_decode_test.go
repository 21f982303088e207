package store

import (
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// filled returns a T with every field set to a distinct non-zero value, so a
// field the hand decoders forget, or read under another name than its tag,
// shows up as a difference.
func filled[T any](t *testing.T) T {
	t.Helper()
	var v T
	rv := reflect.ValueOf(&v).Elem()
	for i := range rv.NumField() {
		f, name := rv.Field(i), rv.Type().Field(i).Name
		switch f.Kind() {
		case reflect.String:
			f.SetString(name + ` "value" <é>`)
		case reflect.Int64:
			f.SetInt(1_700_000_000_000 + int64(i)) // the size of the Unix milliseconds stored
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Slice:
			f.SetBytes([]byte{0, byte(i), 0xff})
		default:
			t.Fatalf("filled: field %s of kind %s: teach filled and the decoders about it", name, f.Kind())
		}
	}
	return v
}

// The hand decoders read back exactly what attributevalue.MarshalMap writes
// from the tagged structs, and agree with attributevalue.UnmarshalMap, for
// full items and for items whose omitempty fields are absent.
func TestDecodeItems(t *testing.T) {
	check := func(t *testing.T, what string, want any, decode func(map[string]types.AttributeValue) (any, error), zero func() any) {
		t.Helper()
		av, err := attributevalue.MarshalMap(want)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decode(av)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("decode(MarshalMap(%s)) = %+v, %v; want %+v", what, got, err, want)
		}
		viaReflection := zero()
		if err := attributevalue.UnmarshalMap(av, viaReflection); err != nil {
			t.Fatal(err)
		}
		if v := reflect.ValueOf(viaReflection).Elem().Interface(); !reflect.DeepEqual(got, v) {
			t.Errorf("decode(%s) = %+v; attributevalue.UnmarshalMap = %+v", what, got, v)
		}
	}
	t.Run("state", func(t *testing.T) {
		dec := func(av map[string]types.AttributeValue) (any, error) { return decodeStateItem(av) }
		zero := func() any { return new(stateItem) }
		check(t, "full", filled[stateItem](t), dec, zero)
		check(t, "minimal", stateItem{PK: "state#x", TTL: 1, Binding: "b"}, dec, zero)
	})
	t.Run("session", func(t *testing.T) {
		dec := func(av map[string]types.AttributeValue) (any, error) { return decodeSessionItem(av) }
		zero := func() any { return new(sessionItem) }
		check(t, "full", filled[sessionItem](t), dec, zero)
		check(t, "minimal", sessionItem{PK: "session#x", TTL: -1}, dec, zero)
	})
	t.Run("tokens", func(t *testing.T) {
		dec := func(av map[string]types.AttributeValue) (any, error) { return decodeTokensItem(av) }
		zero := func() any { return new(tokensItem) }
		check(t, "full", filled[tokensItem](t), dec, zero)
		check(t, "minimal", tokensItem{PK: "tokens#x", TTL: 1, Version: 1}, dec, zero)
	})
}

// Like attributevalue: NULL reads as the zero value; a wrong type or a
// number that is no int64 is an error naming the attribute, not its value.
func TestDecodeItemsRejects(t *testing.T) {
	base := func() map[string]types.AttributeValue {
		return map[string]types.AttributeValue{
			"pk":      &types.AttributeValueMemberS{Value: "tokens#k"},
			"ttl":     &types.AttributeValueMemberN{Value: "100"},
			"version": &types.AttributeValueMemberN{Value: "3"},
			"access":  &types.AttributeValueMemberS{Value: "at"},
		}
	}
	tests := []struct {
		name    string
		attr    string
		value   types.AttributeValue
		wantErr bool
	}{
		{"null string", "access", &types.AttributeValueMemberNULL{Value: true}, false},
		{"null number", "version", &types.AttributeValueMemberNULL{Value: true}, false},
		{"string as number", "ttl", &types.AttributeValueMemberS{Value: "secret-100"}, true},
		{"number as string", "access", &types.AttributeValueMemberN{Value: "12345678"}, true},
		{"fraction", "version", &types.AttributeValueMemberN{Value: "1.5"}, true},
		{"overflow", "version", &types.AttributeValueMemberN{Value: "99999999999999999999"}, true},
		{"string as binary", "sealed", &types.AttributeValueMemberS{Value: "secret-seal"}, true},
		{"list", "refresh", &types.AttributeValueMemberL{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			av := base()
			av[tt.attr] = tt.value
			it, err := decodeTokensItem(av)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), tt.attr) {
					t.Fatalf("decodeTokensItem(%s = %T) = %v; want an error naming %s", tt.attr, tt.value, err, tt.attr)
				}
				for _, secret := range []string{"secret", "12345678", "1.5", "99999"} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("decodeTokensItem(%s) error %q quotes the value", tt.attr, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("decodeTokensItem(%s = NULL) = %v; want the zero value", tt.attr, err)
			}
			if it.PK != "tokens#k" || it.TTL != 100 {
				t.Errorf("decodeTokensItem(%s = NULL) = %+v; want the other attributes read", tt.attr, it)
			}
		})
	}
	// A state's consumed flag is a BOOL.
	if _, err := decodeStateItem(map[string]types.AttributeValue{"consumed": &types.AttributeValueMemberS{Value: "true"}}); err == nil {
		t.Errorf("decodeStateItem(consumed = S) = nil error; want one")
	}
}

// BenchmarkDecodeSessionItem: what the hand decoder saves on every
// GetSession, against attributevalue's reflection.
func BenchmarkDecodeSessionItem(b *testing.B) {
	av, err := attributevalue.MarshalMap(sessionItem{
		PK: "session#" + Hash("id"), TTL: 1_800_000_000, User: "https://issuer.example#user-1", Subject: "user-1",
		Email: "user@example.com", Name: "A User", Issuer: "https://issuer.example", Created: 1_799_000_000_000,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeSessionItem(av); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("attributevalue", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var it sessionItem
			if err := attributevalue.UnmarshalMap(av, &it); err != nil {
				b.Fatal(err)
			}
		}
	})
}
