package routes_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/serverless-signin/signin/internal/dynamotest"
	"github.com/serverless-signin/signin/internal/routes"
	"github.com/serverless-signin/signin/pkg/store"
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
	client, table := dynamotest.NewTable(b)
	ddb, mem := store.NewDynamoDB(client, table), store.NewMemory()
	id := benchSession(b, ddb)
	ctx := context.Background()
	sess, err := ddb.GetSession(ctx, store.Hash(id))
	if err != nil {
		b.Fatal(err)
	}
	tokens, err := ddb.GetTokens(ctx, store.Hash(id))
	if err != nil {
		b.Fatal(err)
	}
	if err := mem.CreateSession(ctx, sess, tokens); err != nil {
		b.Fatal(err)
	}
	hDDB, hMem := benchHandler(nil, ddb), benchHandler(nil, mem)
	ev := benchAuthorizerEvent("__Host-session=" + id)
	get := &dynamodb.GetItemInput{
		TableName:      aws.String(table),
		Key:            map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "session#" + store.Hash(id)}},
		ConsistentRead: aws.Bool(true),
	}
	getItem := func() time.Duration {
		start := time.Now()
		out, err := client.GetItem(ctx, get)
		took := time.Since(start)
		if err != nil || len(out.Item) == 0 {
			b.Fatalf("GetItem = %v, %v; want the session item", out, err)
		}
		return took
	}
	authorize := func(h *routes.Handler) time.Duration {
		start := time.Now()
		resp, err := h.Authorize(ctx, ev)
		took := time.Since(start)
		if err != nil || !resp.IsAuthorized {
			b.Fatalf("Authorize = %+v, %v; want allowed", resp, err)
		}
		return took
	}
	getItem()
	authorize(hDDB)
	authorize(hMem)

	var gets, auths, mems, diffs []time.Duration
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		var g, a time.Duration
		if i%2 == 0 {
			g = getItem()
			a = authorize(hDDB)
		} else {
			a = authorize(hDDB)
			g = getItem()
		}
		gets, auths, diffs = append(gets, g), append(auths, a), append(diffs, a-g)
		mems = append(mems, authorize(hMem))
	}
	get50 := float64(benchMedian(gets))
	b.ReportMetric(get50, "getitem-ns")
	b.ReportMetric(float64(benchMedian(auths)), "authorize-ns")
	b.ReportMetric(float64(benchMedian(mems)), "authorize-memory-ns")
	b.ReportMetric(100*float64(benchMedian(diffs))/get50, "overhead-%")
	b.ReportMetric(100*float64(benchMedian(mems))/get50, "handler-%")
}
