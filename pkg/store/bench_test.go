package store_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/serverless-signin/signin/internal/dynamotest"
	"github.com/serverless-signin/signin/pkg/signin"
	"github.com/serverless-signin/signin/pkg/store"
)

// BenchmarkMemoryPutState: a write (what /auth/login does) costs the same
// whether the store holds a hundred live records or a hundred thousand.
// Every iteration adds a live state, so the store only grows.
func BenchmarkMemoryPutState(b *testing.B) {
	for _, n := range []int{100, 10_000, 100_000} {
		b.Run("live="+strconv.Itoa(n), func(b *testing.B) {
			m := store.NewMemory()
			expires := time.Now().Add(time.Hour)
			put := func(i int) {
				s := store.State{AuthRequest: signin.AuthRequest{State: "state-" + strconv.Itoa(i)}, BindingHash: "binding", ExpiresAt: expires}
				if err := m.PutState(ctx, s); err != nil {
					b.Fatalf("PutState = %v", err)
				}
			}
			for i := range n {
				put(i)
			}
			b.ReportAllocs()
			for i := n; b.Loop(); i++ {
				put(i)
			}
		})
	}
}

// BenchmarkRead: the reads behind every /auth/me (GetSession) and every
// access token lookup (GetTokens), on DynamoDB Local (round trip and item
// decoding) and in memory. dynamodb/getitem is a bare GetItem of the same
// session item in the same run: GetSession's cost above it is what the
// store adds (decoding with attributevalue, the liveness check).
func BenchmarkRead(b *testing.B) {
	stores := []struct {
		name string
		open func(b *testing.B) (store.Store, func(key string) error)
	}{
		{"memory", func(*testing.B) (store.Store, func(string) error) { return store.NewMemory(), nil }},
		{"dynamodb", func(b *testing.B) (store.Store, func(string) error) {
			client, table := dynamotest.NewTable(b) // skips without DynamoDB Local
			bare := func(key string) error {
				out, err := client.GetItem(ctx, &dynamodb.GetItemInput{
					TableName:      aws.String(table),
					Key:            map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: store.SessionPrefix + key}},
					ConsistentRead: aws.Bool(true),
				})
				if err == nil && len(out.Item) == 0 {
					err = store.ErrNotFound
				}
				return err
			}
			return store.NewDynamoDB(client, table), bare
		}},
	}
	for _, s := range stores {
		b.Run(s.name, func(b *testing.B) {
			st, bare := s.open(b)
			sess, tok := newSession(newClock(), "bench-session", "https://issuer.example", "bench-user")
			if err := st.CreateSession(ctx, sess, tok); err != nil {
				b.Fatalf("CreateSession = %v", err)
			}
			// Alternate the bare read and GetSession so that load from
			// elsewhere on the machine hits both alike.
			for range 2 {
				if bare != nil {
					b.Run("getitem", func(b *testing.B) {
						b.ReportAllocs()
						for b.Loop() {
							if err := bare(sess.Key); err != nil {
								b.Fatalf("GetItem = %v", err)
							}
						}
					})
				}
				b.Run("session", func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						if _, err := st.GetSession(ctx, sess.Key); err != nil {
							b.Fatalf("GetSession = %v", err)
						}
					}
				})
			}
			b.Run("tokens", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := st.GetTokens(ctx, sess.Key); err != nil {
						b.Fatalf("GetTokens = %v", err)
					}
				}
			})
		})
	}
}
