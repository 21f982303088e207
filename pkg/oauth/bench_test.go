package oauth_test

import (
	"context"
	"testing"

	"github.com/serverless-signin/signin/pkg/oauth"
)

// The per-request work of the login and callback functions, the provider's
// round trips aside.

func BenchmarkAuthCodeURL(b *testing.B) {
	c, err := oauth.NewClient(oauth.Config{Issuer: "https://id.example", ClientID: "c", AuthorizeURL: "https://id.example/authorize"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.AuthCodeURL(ctx, testRedirectURI); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyIDToken(b *testing.B) {
	p := newProvider(b)
	c := p.client()
	raw := p.sign(p.claims(nil))
	ctx := context.Background()
	if _, err := c.VerifyIDToken(ctx, raw, "nonce-1"); err != nil { // warm the caches
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.VerifyIDToken(ctx, raw, "nonce-1"); err != nil {
			b.Fatal(err)
		}
	}
}
