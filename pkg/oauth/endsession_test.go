package oauth_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/serverless-signin/signin/pkg/oauth"
)

func TestEndSessionURL(t *testing.T) {
	p := newProvider(t)
	c := p.client()

	got, err := c.EndSessionURL(context.Background(), "id.token.hint", "https://app.example/bye", "state-1")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	want := url.Values{
		"id_token_hint":            {"id.token.hint"},
		"post_logout_redirect_uri": {"https://app.example/bye"},
		"client_id":                {testClientID},
		"state":                    {"state-1"},
	}
	if endpointOf(t, got) != p.Issuer+"/end_session" || u.Query().Encode() != want.Encode() {
		t.Errorf("EndSessionURL() = %s; want %s/end_session?%s", got, p.Issuer, want.Encode())
	}

	// Empty arguments are left out.
	got, err = c.EndSessionURL(context.Background(), "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := url.Parse(got); u.Query().Encode() != "client_id="+testClientID {
		t.Errorf("EndSessionURL(empty) = %s; want only client_id", got)
	}
}

func TestEndSessionURLConfigured(t *testing.T) {
	c, err := oauth.NewClient(oauth.Config{
		Issuer:        "https://id.example",
		ClientID:      "c",
		EndSessionURL: "https://id.example/logout?tenant=a",
		HTTPClient:    newNoNetworkClient(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.EndSessionURL(context.Background(), "hint", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if got != "https://id.example/logout?client_id=c&id_token_hint=hint&tenant=a" {
		t.Errorf("EndSessionURL() = %s; want the configured endpoint with its query kept", got)
	}
}
