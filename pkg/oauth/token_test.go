package oauth_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/serverless-signin/signin/pkg/oauth"
)

func TestTokenExpired(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name   string
		expiry time.Time
		skew   time.Duration
		want   bool
	}{
		{"no expiry never expires", time.Time{}, time.Minute, false},
		{"well ahead", now.Add(time.Hour), time.Minute, false},
		{"just outside the skew", now.Add(61 * time.Second), time.Minute, false},
		{"at the skew", now.Add(time.Minute), time.Minute, true},
		{"within the skew", now.Add(30 * time.Second), time.Minute, true},
		{"past", now.Add(-time.Second), 0, true},
		{"exactly now without skew", now, 0, true},
	} {
		tok := &oauth.Token{Expiry: tt.expiry}
		if got := tok.Expired(now, tt.skew); got != tt.want {
			t.Errorf("%s: Token{Expiry: %v}.Expired(%v, %v) = %v; want %v", tt.name, tt.expiry, now, tt.skew, got, tt.want)
		}
	}
}

func TestClientTokenExpired(t *testing.T) {
	clk := newClock()
	c, err := oauth.NewClient(oauth.Config{Issuer: "https://id.example", ClientID: "c", Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	tok := &oauth.Token{Expiry: clk.Now().Add(90 * time.Second)}
	if c.TokenExpired(tok) {
		t.Errorf("TokenExpired(90s ahead) = true; want false with the 60s default skew")
	}
	clk.Advance(31 * time.Second)
	if !c.TokenExpired(tok) {
		t.Errorf("TokenExpired(59s ahead) = false; want true with the 60s default skew")
	}
}

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
