package oauth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/serverless-signin/signin/pkg/oauth"
	"github.com/serverless-signin/signin/pkg/signin"
)

// fuzzSecret in a fuzzed body stands for a token value; the harness replaces it with a marker
// unique to the run, which must never show up in an error.
const fuzzSecret = "$SECRET"

// fuzzContentTypes are the answers' Content-Type choices (x/oauth2 reads form bodies for the
// first two, JSON for anything else).
var fuzzContentTypes = []string{
	"application/json", "application/x-www-form-urlencoded", "text/plain", "application/json; charset=utf-8",
	"text/html", "",
}

// FuzzExchangeResponse serves fuzzed token-endpoint answers (status, Content-Type, body) to
// Client.Exchange from a real httptest server. Invariants: no panic; success only on a 2xx with
// an access token; an error never carries a token value from the body (only the RFC 6749 §5.2
// fields, which ErrorResponse keeps on purpose, may echo the provider's text).
func FuzzExchangeResponse(f *testing.F) {
	for _, s := range []struct {
		status uint16
		ct     uint8
		body   string
	}{
		{200, 0, `{"access_token":"$SECRET","token_type":"Bearer","expires_in":300,"refresh_token":"$SECRET","id_token":"$SECRET","scope":"openid"}`},
		{200, 1, `access_token=$SECRET&token_type=bearer&expires_in=60&refresh_token=$SECRET`},
		{200, 0, `{"access_token":"","refresh_token":"$SECRET"}`},
		{200, 0, `{"access_token":"$SECRET","expires_in":"9999999999999999999999"}`},
		{200, 1, `access_token=$SECRET&expires_in=9223372036854775807`},
		{200, 0, `{"access_token":"$SECRET","error":"invalid_grant"}`},
		{400, 0, `{"error":"invalid_grant","error_description":"code expired","refresh_token":"$SECRET"}`},
		{401, 2, `error=invalid_client&access_token=$SECRET`},
		{500, 4, `<html>upstream said $SECRET</html>`},
		{200, 0, `{"access_token":"$SECRET"`},
		{200, 1, `access_token=%zz$SECRET`},
		{302, 0, ``},
	} {
		f.Add(s.status, s.ct, s.body)
	}

	var (
		answers sync.Map // code → fuzzAnswer
		seq     atomic.Int64
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, ok := answers.Load(r.PostFormValue("code"))
		if !ok {
			http.Error(w, "unknown code", http.StatusTeapot)
			return
		}
		a := v.(fuzzAnswer)
		if a.contentType != "" {
			w.Header().Set("Content-Type", a.contentType)
		} else {
			w.Header()["Content-Type"] = nil // no sniffing either
		}
		w.WriteHeader(a.status)
		w.Write([]byte(a.body))
	}))
	f.Cleanup(srv.Close)
	client, err := oauth.NewClient(oauth.Config{
		Issuer: srv.URL, ClientID: "client", ClientSecret: "client-secret",
		AuthorizeURL: srv.URL + "/authorize", TokenURL: srv.URL + "/oauth/token",
		AuthStyle: oauth.AuthStyleBasic, // with the token URL: no discovery
		Timeout:   10 * time.Second,
	})
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, status uint16, ct uint8, body string) {
		n := seq.Add(1)
		marker := fmt.Sprintf("tok-%08x-e4c1d9", n) // printable, so clip would keep it whole
		st := int(status)
		if st < 200 || st > 599 {
			st = 200 + st%400 // 1xx is not a final answer
		}
		a := fuzzAnswer{
			status:      st,
			contentType: fuzzContentTypes[int(ct)%len(fuzzContentTypes)],
			body:        strings.ReplaceAll(body, fuzzSecret, marker),
		}
		code := fmt.Sprintf("code-%d", n)
		answers.Store(code, a)
		defer answers.Delete(code)

		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		tok, err := client.Exchange(ctx, code, signin.AuthRequest{
			Verifier:    "verifier-0123456789012345678901234567890123",
			RedirectURI: "https://app.example/auth/callback",
		})
		if err == nil {
			if tok.AccessToken == "" || a.status < 200 || a.status > 299 {
				t.Fatalf("Exchange(%d %q %q) = %+v, nil; want an error unless a 2xx with an access token", a.status, a.contentType, a.body, tok)
			}
			return
		}
		msg := err.Error()
		var er *oauth.ErrorResponse
		if errors.As(err, &er) {
			// The §5.2 fields are the provider's message to us; the rest must not echo the body.
			for _, echoed := range []string{er.Code, er.Description, er.URI} {
				if echoed != "" {
					msg = strings.ReplaceAll(msg, echoed, "")
				}
			}
		}
		if strings.Contains(msg, marker) {
			t.Fatalf("Exchange(%d %q %q) error %q contains a token value from the body", a.status, a.contentType, a.body, err)
		}
	})
}

type fuzzAnswer struct {
	status      int
	contentType string
	body        string
}
