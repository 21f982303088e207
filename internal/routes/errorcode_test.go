package routes

import (
	"regexp"
	"strings"
	"testing"
)

// validErrorCode accepts exactly what ^[A-Za-z0-9_.-]{1,64}$ matches.
func TestValidErrorCode(t *testing.T) {
	pattern := regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	tests := []struct {
		code string
		want bool
	}{
		{"access_denied", true},
		{"login_required", true},
		{"interaction_required", true},
		{"A", true},
		{"x.y-z_09", true},
		{"-._", true},
		{strings.Repeat("a", 63), true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{strings.Repeat("é", 32), false}, // 64 bytes, not ASCII
		{"", false},
		{"access denied", false},
		{"access_denied\n", false},
		{"\naccess_denied", false},
		{"access_denied\x00", false},
		{"<script>", false},
		{"a/b", false},
		{"a+b", false},
		{"a%20b", false},
		{"café", false},
		{"acc\u200bess", false}, // zero-width space
		{"ａccess", false},       // fullwidth a
		{"a\xffb", false},       // invalid UTF-8
		{"\"quoted\"", false},
	}
	for _, tt := range tests {
		if got := validErrorCode(tt.code); got != tt.want {
			t.Errorf("validErrorCode(%q) = %t; want %t", tt.code, got, tt.want)
		}
		if re := pattern.MatchString(tt.code); re != tt.want {
			t.Errorf("the regexp on %q = %t; the table says %t", tt.code, re, tt.want)
		}
	}
	// Every single byte: the same set as the regexp's class.
	for b := 0; b < 256; b++ {
		s := string([]byte{byte(b)})
		if got, want := validErrorCode(s), pattern.MatchString(s); got != want {
			t.Errorf("validErrorCode(%q) = %t; the regexp says %t", s, got, want)
		}
	}
}
