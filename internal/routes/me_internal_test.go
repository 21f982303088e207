package routes

import (
	"encoding/json"
	"testing"

	"github.com/serverless-signin/signin/pkg/signin"
)

// Hostile names come out as encoding/json writes them: valid JSON that
// neither closes the string nor a <script> around it, nor breaks
// JavaScript on U+2028.
func TestMeBody(t *testing.T) {
	tests := []struct {
		name string
		user signin.User
		want string
	}{
		{"plain", signin.User{Subject: "u1", Email: "u1@example.com", Name: "Zoë"},
			`{"authenticated":true,"user":{"id":"u1","email":"u1@example.com","name":"Zoë"}}`},
		{"unknown email and name", signin.User{Subject: "u2"},
			`{"authenticated":true,"user":{"id":"u2","email":null,"name":null}}`},
		{"quotes and backslash", signin.User{Subject: "u3", Name: `a"b\c`},
			`{"authenticated":true,"user":{"id":"u3","email":null,"name":"a\"b\\c"}}`},
		{"script", signin.User{Subject: "u4", Name: `</script><script>alert(1)</script>&amp;`},
			`{"authenticated":true,"user":{"id":"u4","email":null,"name":"\u003c/script\u003e\u003cscript\u003ealert(1)\u003c/script\u003e\u0026amp;"}}`},
		{"line and paragraph separators", signin.User{Subject: "u5", Name: "a\u2028b\u2029c"},
			`{"authenticated":true,"user":{"id":"u5","email":null,"name":"a\u2028b\u2029c"}}`},
		{"control characters", signin.User{Subject: "u6", Name: "\x00\x01\b\f\n\r\t\x1f\x7f"},
			`{"authenticated":true,"user":{"id":"u6","email":null,"name":"\u0000\u0001\b\f\n\r\t\u001f` + "\x7f" + `"}}`},
		{"invalid UTF-8", signin.User{Subject: "u7\xff", Name: "a\xc3(b\xed\xa0\x80c\xe2\x82"},
			`{"authenticated":true,"user":{"id":"u7\ufffd","email":null,"name":"a\ufffd(b\ufffd\ufffd\ufffdc\ufffd\ufffd"}}`},
		{"multi-byte", signin.User{Subject: "日本", Email: "😀@example.com"},
			`{"authenticated":true,"user":{"id":"日本","email":"😀@example.com","name":null}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := meBody(tt.user)
			if err != nil || got != tt.want {
				t.Errorf("meBody(%q) = %s, %v; want %s", tt.user, got, err, tt.want)
			}
			if !json.Valid([]byte(got)) {
				t.Errorf("meBody(%q) = %s: not valid JSON", tt.user, got)
			}
		})
	}
}
