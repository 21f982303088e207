package secretenv

import (
	"strings"
	"testing"
)

func TestNewTokenSealer(t *testing.T) {
	key := strings.Repeat("k", MinTokenKeyLength)
	other := strings.Repeat("o", MinTokenKeyLength+10)
	short := strings.Repeat("s", MinTokenKeyLength-1)
	tests := []struct {
		name     string
		material string
		wantErr  bool
	}{
		{"32 characters", key, false},
		{"31 characters", short, true},
		{"empty", "", true},
		{"32 characters counted as characters, not bytes", strings.Repeat("é", MinTokenKeyLength), false},
		{"31 characters in 62 bytes", strings.Repeat("é", MinTokenKeyLength-1), true},
		{"blanks around do not count", "  " + short + "\n", true},
		{"JSON current only", `{"current":"` + key + `"}`, false},
		{"JSON with previous", `{"current":"` + key + `","previous":["` + other + `"]}`, false},
		{"JSON previous equals current", `{"current":"` + key + `","previous":["` + key + `"]}`, false},
		{"JSON without current", `{"previous":["` + other + `"]}`, true},
		{"JSON short previous", `{"current":"` + key + `","previous":["` + short + `"]}`, true},
		{"JSON unknown field", `{"current":"` + key + `","previos":["` + other + `"]}`, true},
		{"JSON trailing value", `{"current":"` + key + `"}{}`, true},
		{"JSON current not a string", `{"current":["` + key + `"]}`, true},
		{"broken JSON", `{"current":"` + key, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewTokenSealer(tt.material)
			if (err != nil) != tt.wantErr || (err == nil && s == nil) {
				t.Fatalf("NewTokenSealer(%q) = %v, %v; want error %t", tt.material, s, err, tt.wantErr)
			}
			if err != nil {
				for _, k := range []string{key, other, short} {
					if strings.Contains(err.Error(), k) {
						t.Errorf("NewTokenSealer error %q echoes key material", err)
					}
				}
			}
		})
	}
}

// The key id is a function of the key string alone, so every function of
// a deployment agrees on it, and different keys get different ids.
func TestDeriveTokenKey(t *testing.T) {
	a1, err1 := deriveTokenKey(strings.Repeat("a", 40))
	a2, err2 := deriveTokenKey(strings.Repeat("a", 40))
	b, err3 := deriveTokenKey(strings.Repeat("b", 40))
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatalf("deriveTokenKey errors: %v, %v, %v", err1, err2, err3)
	}
	if a1.ID != a2.ID || string(a1.Key) != string(a2.Key) {
		t.Errorf("deriveTokenKey(a) twice = %s, %s; want the same key", a1.ID, a2.ID)
	}
	if a1.ID == b.ID || string(a1.Key) == string(b.Key) || len(a1.Key) != 32 || len(a1.ID) != 8 {
		t.Errorf("deriveTokenKey(a), (b) = id %s (%d bytes), id %s; want 8-hex-digit ids and 32-byte keys that differ", a1.ID, len(a1.Key), b.ID)
	}
	if strings.Contains(string(a1.Key), "aaaa") {
		t.Errorf("deriveTokenKey(a) = the key string itself; want a derived key")
	}
}
