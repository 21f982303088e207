package routes_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-signin/signin/internal/routes"
)

// benchAuthorizerEvent is the authorizer's event for a same-origin GET of a protected route,
// as the HTTP API sends it.
func benchAuthorizerEvent(cookie string) events.APIGatewayV2CustomAuthorizerV2Request {
	ev := benchEvent(http.MethodGet, "/api/profile", "", cookie)
	ev.Headers["cookie"] = cookie
	ev.Headers["sec-fetch-site"] = "same-origin"
	return events.APIGatewayV2CustomAuthorizerV2Request{
		Version: "2.0", Type: "REQUEST", IdentitySource: []string{cookie},
		RouteArn: "arn:aws:execute-api:us-east-1:123456789012:bench/$default/GET/api/profile",
		RouteKey: ev.RouteKey, RawPath: ev.RawPath, Cookies: ev.Cookies, Headers: ev.Headers,
		RequestContext: ev.RequestContext,
	}
}

// BenchmarkAuthorizer: one decision, a session read.
func BenchmarkAuthorizer(b *testing.B) {
	for _, s := range benchStores {
		b.Run(s.name, func(b *testing.B) {
			st := s.open(b)
			h := benchHandler(nil, st)
			ev := benchAuthorizerEvent("__Host-session=" + benchSession(b, st))
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				resp, err := h.Authorize(ctx, ev)
				if err != nil || !resp.IsAuthorized {
					b.Fatalf("Authorize = %+v, %v; want allowed", resp, err)
				}
			}
		})
	}
}

// BenchmarkAuthorizerOverhead is BenchmarkMeOverhead for the authorizer (docs/contract.md §7's
// target): each iteration times a bare GetItem of the session item, Authorize against DynamoDB
// Local on the same item (in alternating order) and Authorize against the memory store.
// Medians:
//
//	getitem-ns          the bare GetItem
//	authorize-ns        Handler.Authorize on DynamoDB Local
//	authorize-memory-ns Handler.Authorize on the memory store
//	overhead-%          median of the paired differences (Authorize - GetItem) / getitem-ns
//	handler-%           authorize-memory-ns / getitem-ns: the handler's work measured directly
func BenchmarkAuthorizerOverhead(b *testing.B) {
	benchOverhead(b, "authorize", func(cookie string) func(*routes.Handler) time.Duration {
		ev := benchAuthorizerEvent(cookie)
		return func(h *routes.Handler) time.Duration {
			start := time.Now()
			resp, err := h.Authorize(context.Background(), ev)
			took := time.Since(start)
			if err != nil || !resp.IsAuthorized {
				b.Fatalf("Authorize = %+v, %v; want allowed", resp, err)
			}
			return took
		}
	})
}
