package oauth_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/serverless-signin/signin/pkg/oauth"
)

func TestAuthCodeURL(t *testing.T) {
	p := newProvider(t)
	c := p.client(func(cfg *oauth.Config) { cfg.Prompt = "login" })

	authURL, r, err := c.AuthCodeURL(context.Background(), testRedirectURI)
	if err != nil {
		t.Fatal(err)
	}
	if r.RedirectURI != testRedirectURI {
		t.Errorf("AuthCodeURL() RedirectURI = %q; want %q", r.RedirectURI, testRedirectURI)
	}
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := u.Scheme+"://"+u.Host+u.Path, p.Issuer+"/authorize"; got != want {
		t.Errorf("AuthCodeURL() endpoint = %s; want %s", got, want)
	}
	challenge := sha256.Sum256([]byte(r.Verifier))
	want := url.Values{
		"response_type":         {"code"},
		"client_id":             {testClientID},
		"redirect_uri":          {testRedirectURI},
		"scope":                 {"openid profile email"},
		"state":                 {r.State},
		"nonce":                 {r.Nonce},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(challenge[:])},
		"code_challenge_method": {"S256"},
		"prompt":                {"login"},
	}
	if got := u.Query(); got.Encode() != want.Encode() {
		t.Errorf("AuthCodeURL() query = %v; want %v", got, want)
	}
}

func TestAuthCodeURLRandomness(t *testing.T) {
	p := newProvider(t)
	c := p.client()
	seen := map[string]bool{}
	for range 3 {
		_, r, err := c.AuthCodeURL(context.Background(), testRedirectURI)
		if err != nil {
			t.Fatal(err)
		}
		for name, v := range map[string]string{"state": r.State, "nonce": r.Nonce, "verifier": r.Verifier} {
			b, err := base64.RawURLEncoding.DecodeString(v)
			if err != nil || len(b) < 16 {
				t.Errorf("%s = %q; want base64url of at least 128 bits", name, v)
			}
			if seen[v] {
				t.Errorf("%s = %q repeats an earlier value", name, v)
			}
			seen[v] = true
		}
	}
}

func TestAuthCodeURLWithoutPrompt(t *testing.T) {
	p := newProvider(t)
	authURL, _, err := p.client().AuthCodeURL(context.Background(), testRedirectURI)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(authURL)
	if u.Query().Has("prompt") {
		t.Errorf("AuthCodeURL() = %s; want no prompt parameter", authURL)
	}
}

// failingTransport fails the test on any request: proof of no network I/O.
type failingTransport struct{ t *testing.T }

func (f failingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.t.Errorf("unexpected request to %s", r.URL)
	return nil, errors.New("no network in this test")
}

func newNoNetworkClient(t *testing.T) *http.Client {
	return &http.Client{Transport: failingTransport{t}}
}

func TestAuthCodeURLConfiguredEndpointMakesNoNetworkCall(t *testing.T) {
	c, err := oauth.NewClient(oauth.Config{
		Issuer:       "https://id.example",
		ClientID:     testClientID,
		AuthorizeURL: "https://id.example/authorize?tenant=a",
		HTTPClient:   newNoNetworkClient(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	authURL, r, err := c.AuthCodeURL(context.Background(), testRedirectURI)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(authURL)
	if u.Host != "id.example" || u.Path != "/authorize" || u.Query().Get("tenant") != "a" || u.Query().Get("state") != r.State {
		t.Errorf("AuthCodeURL() = %s; want the configured endpoint with its query kept", authURL)
	}
}

func TestAuthCodeURLRequiresRedirectURI(t *testing.T) {
	p := newProvider(t)
	if _, _, err := p.client().AuthCodeURL(context.Background(), ""); err == nil {
		t.Error("AuthCodeURL(\"\") = nil error; want an error")
	}
}
