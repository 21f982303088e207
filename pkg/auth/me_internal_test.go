package auth

import (
	"encoding/json"
	"testing"

	"github.com/serverless-signin/signin/pkg/oauth/store"
)

// meBodyJSON is the answer as encoding/json renders it: the reference
// meBody must match byte for byte.
func meBodyJSON(t testing.TB, u store.User) string {
	type user struct {
		ID    string  `json:"id"`
		Email *string `json:"email"`
		Name  *string `json:"name"`
	}
	body := struct {
		Authenticated bool `json:"authenticated"`
		User          user `json:"user"`
	}{Authenticated: true, User: user{ID: u.Subject}}
	if u.Email != "" {
		body.User.Email = &u.Email
	}
	if u.Name != "" {
		body.User.Name = &u.Name
	}
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Hostile names come out as encoding/json writes them: valid JSON that
// neither closes the string nor a <script> around it, nor breaks
// JavaScript on U+2028.
func TestMeBody(t *testing.T) {
	tests := []struct {
		name string
		user store.User
		want string
	}{
		{"plain", store.User{Subject: "u1", Email: "u1@example.com", Name: "Zoë"},
			`{"authenticated":true,"user":{"id":"u1","email":"u1@example.com","name":"Zoë"}}`},
		{"unknown email and name", store.User{Subject: "u2"},
			`{"authenticated":true,"user":{"id":"u2","email":null,"name":null}}`},
		{"quotes and backslash", store.User{Subject: "u3", Name: `a"b\c`},
			`{"authenticated":true,"user":{"id":"u3","email":null,"name":"a\"b\\c"}}`},
		{"script", store.User{Subject: "u4", Name: `</script><script>alert(1)</script>&amp;`},
			`{"authenticated":true,"user":{"id":"u4","email":null,"name":"\u003c/script\u003e\u003cscript\u003ealert(1)\u003c/script\u003e\u0026amp;"}}`},
		{"line and paragraph separators", store.User{Subject: "u5", Name: "a\u2028b\u2029c"},
			`{"authenticated":true,"user":{"id":"u5","email":null,"name":"a\u2028b\u2029c"}}`},
		{"control characters", store.User{Subject: "u6", Name: "\x00\x01\b\f\n\r\t\x1f\x7f"},
			`{"authenticated":true,"user":{"id":"u6","email":null,"name":"\u0000\u0001\b\f\n\r\t\u001f` + "\x7f" + `"}}`},
		{"invalid UTF-8", store.User{Subject: "u7\xff", Name: "a\xc3(b\xed\xa0\x80c\xe2\x82"},
			`{"authenticated":true,"user":{"id":"u7\ufffd","email":null,"name":"a\ufffd(b\ufffd\ufffd\ufffdc\ufffd\ufffd"}}`},
		{"multi-byte", store.User{Subject: "日本", Email: "😀@example.com"},
			`{"authenticated":true,"user":{"id":"日本","email":"😀@example.com","name":null}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := meBody(tt.user)
			if got != tt.want {
				t.Errorf("meBody(%q) = %s; want %s", tt.user, got, tt.want)
			}
			if ref := meBodyJSON(t, tt.user); got != ref {
				t.Errorf("meBody(%q) = %s; encoding/json writes %s", tt.user, got, ref)
			}
			if !json.Valid([]byte(got)) {
				t.Errorf("meBody(%q) = %s: not valid JSON", tt.user, got)
			}
		})
	}
}

// meBody writes what encoding/json writes, whatever the strings.
func FuzzMeBody(f *testing.F) {
	f.Add("u1", "u1@example.com", "Zoë")
	f.Add("", "", "")
	f.Add(`"\`, "<>&", "\u2028\u2029\x00\x7f")
	f.Add("\xff", "a\xc3(", "\xed\xa0\x80\xe2\x82")
	f.Fuzz(func(t *testing.T, id, email, name string) {
		u := store.User{Subject: id, Email: email, Name: name}
		if got, want := meBody(u), meBodyJSON(t, u); got != want {
			t.Fatalf("meBody(%q) = %s; encoding/json writes %s", u, got, want)
		}
	})
}
