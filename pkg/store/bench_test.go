package store_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/serverless-signin/signin/internal/dynamotest"
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
				s := store.State{State: "state-" + strconv.Itoa(i), BindingHash: "binding", ExpiresAt: expires}
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
// Sessions.AccessToken (GetTokens), on DynamoDB Local (round trip and item
// decoding) and in memory.
func BenchmarkRead(b *testing.B) {
	stores := []struct {
		name string
		open func(b *testing.B) store.Store
	}{
		{"memory", func(*testing.B) store.Store { return store.NewMemory() }},
		{"dynamodb", func(b *testing.B) store.Store {
			client, table := dynamotest.NewTable(b) // skips without DynamoDB Local
			return store.NewDynamoDB(client, table)
		}},
	}
	for _, s := range stores {
		b.Run(s.name, func(b *testing.B) {
			st := s.open(b)
			sess, tok := newSession(newClock(), "bench-session", "https://issuer.example", "bench-user")
			if err := st.CreateSession(ctx, sess, tok); err != nil {
				b.Fatalf("CreateSession = %v", err)
			}
			b.Run("session", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := st.GetSession(ctx, sess.Key); err != nil {
						b.Fatalf("GetSession = %v", err)
					}
				}
			})
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
