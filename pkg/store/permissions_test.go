package store_test

import (
	"context"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/serverless-signin/signin/internal/dynamotest"
	"github.com/serverless-signin/signin/pkg/store"
)

// access is one recorded permission use: an IAM action on an item prefix
// or on an index.
type access struct {
	action string
	prefix string // "" on an index
	index  string // "" on the table
}

// recorder passes every call to DynamoDB and records the IAM actions it
// needs. A transaction counts as the actions of the writes in it.
type recorder struct {
	store.DynamoDBAPI
	mu   sync.Mutex
	seen []access
}

func (r *recorder) record(action string, pk map[string]types.AttributeValue) {
	prefix := ""
	if v, ok := pk["pk"].(*types.AttributeValueMemberS); ok {
		prefix, _, _ = strings.Cut(v.Value, "#")
		prefix += "#"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, access{action: "dynamodb:" + action, prefix: prefix})
}

func (r *recorder) take() []access {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := r.seen
	r.seen = nil
	return seen
}

func (r *recorder) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	r.record("GetItem", in.Key)
	return r.DynamoDBAPI.GetItem(ctx, in, o...)
}

func (r *recorder) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	r.record("PutItem", in.Item)
	return r.DynamoDBAPI.PutItem(ctx, in, o...)
}

func (r *recorder) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	r.record("UpdateItem", in.Key)
	return r.DynamoDBAPI.UpdateItem(ctx, in, o...)
}

func (r *recorder) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	r.record("DeleteItem", in.Key)
	return r.DynamoDBAPI.DeleteItem(ctx, in, o...)
}

func (r *recorder) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	for _, it := range in.TransactItems {
		switch {
		case it.Put != nil:
			r.record("PutItem", it.Put.Item)
		case it.Update != nil:
			r.record("UpdateItem", it.Update.Key)
		case it.Delete != nil:
			r.record("DeleteItem", it.Delete.Key)
		case it.ConditionCheck != nil:
			r.record("ConditionCheckItem", it.ConditionCheck.Key)
		}
	}
	return r.DynamoDBAPI.TransactWriteItems(ctx, in, o...)
}

func (r *recorder) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	r.mu.Lock()
	r.seen = append(r.seen, access{action: "dynamodb:Query", index: aws.ToString(in.IndexName)})
	r.mu.Unlock()
	return r.DynamoDBAPI.Query(ctx, in, o...)
}

// Permissions lists every Store method, and exactly the IAM actions and key
// prefixes each one uses against DynamoDB Local, on its success and its
// failure paths.
func TestPermissions(t *testing.T) {
	perms := store.Permissions()
	var methods []string
	storeType := reflect.TypeFor[store.Store]()
	for i := range storeType.NumMethod() {
		methods = append(methods, storeType.Method(i).Name)
	}
	if got := slices.Sorted(maps.Keys(perms)); !slices.Equal(got, methods) {
		t.Errorf("Permissions() lists %q; want the Store methods %q", got, methods)
	}

	client, table := dynamotest.NewTable(t)
	rec := &recorder{DynamoDBAPI: client}
	d := store.NewDynamoDB(rec, table)
	c := newClock()
	d.Now = c.Now
	sealer, _ := newSealer(t, "k1")
	d.Sealer = sealer

	sess, tok := newSession(c, "raw-perm", "https://issuer.example", "sub-1")
	other, otherTok := newSession(c, "raw-perm-other", "https://issuer.example", "sub-1")
	until := c.Now().Add(time.Minute)
	// Each method runs on a path that succeeds and, where it has one, a
	// path that fails; calls stay in this order (later ones need earlier).
	calls := []struct {
		method string
		call   func() error
	}{
		{"PutState", func() error { return d.PutState(ctx, newState(c, "st", "b")) }},
		{"PutState", func() error { _ = d.PutState(ctx, newState(c, "st", "b")); return nil }}, // conflict
		{"ConsumeState", func() error { _, err := d.ConsumeState(ctx, "st", store.Hash("b")); return err }},
		{"ConsumeState", func() error { _, _ = d.ConsumeState(ctx, "st", store.Hash("b")); return nil }}, // consumed
		{"CreateSession", func() error { return d.CreateSession(ctx, sess, tok) }},
		{"CreateSession", func() error { _ = d.CreateSession(ctx, sess, tok); return nil }}, // conflict
		{"CreateSession", func() error { return d.CreateSession(ctx, other, otherTok) }},
		{"GetSession", func() error { _, err := d.GetSession(ctx, sess.Key); return err }},
		{"GetSession", func() error { _, _ = d.GetSession(ctx, store.Hash("none")); return nil }},
		{"PeekSession", func() error { _, err := d.PeekSession(ctx, sess.Key); return err }},
		{"TouchSession", func() error { return d.TouchSession(ctx, sess.Key, c.Now().Add(time.Hour)) }},
		{"TouchSession", func() error { return d.TouchSession(ctx, sess.Key, time.Time{}) }},
		{"SessionKeys", func() error { _, err := d.SessionKeys(ctx, sess.Issuer, sess.User.Subject); return err }},
		{"GetTokens", func() error { _, err := d.GetTokens(ctx, sess.Key); return err }},
		{"AcquireRefreshLease", func() error { _, err := d.AcquireRefreshLease(ctx, sess.Key, 1, "a", until); return err }},
		{"AcquireRefreshLease", func() error { _, _ = d.AcquireRefreshLease(ctx, sess.Key, 1, "b", until); return nil }}, // held
		{"SaveRefreshed", func() error {
			leased, err := d.GetTokens(ctx, sess.Key)
			if err != nil {
				return err
			}
			rec.take() // the GetTokens above is not SaveRefreshed's
			leased.Version++
			return d.SaveRefreshed(ctx, leased, "a")
		}},
		{"SaveRefreshed", func() error { _ = d.SaveRefreshed(ctx, tok, "a"); return nil }}, // tok has no key: no call
		{"DeleteSession", func() error { _, _, err := d.DeleteSession(ctx, sess.Key); return err }},
		{"DeleteSession", func() error { _, _, _ = d.DeleteSession(ctx, sess.Key); return nil }}, // not found
	}
	used := make(map[string][]access)
	for _, call := range calls {
		rec.take()
		if err := call.call(); err != nil {
			t.Fatalf("%s = %v", call.method, err)
		}
		used[call.method] = append(used[call.method], rec.take()...)
	}
	for _, m := range methods {
		seen, ok := used[m]
		if !ok {
			t.Errorf("%s: not exercised by this test", m)
			continue
		}
		want := grants(perms[m])
		got := make(map[access]bool)
		for _, a := range seen {
			got[a] = true
			if !want[a] {
				t.Errorf("%s calls %s on %q%s; Permissions()[%q] = %+v does not grant it", m, a.action, a.prefix, a.index, m, perms[m])
			}
		}
		for a := range want {
			if !got[a] {
				t.Errorf("Permissions()[%q] grants %s on %q%s, which it never uses", m, a.action, a.prefix, a.index)
			}
		}
	}
}

// grants is every (action, prefix or index) pair an Access allows.
func grants(a store.Access) map[access]bool {
	g := make(map[access]bool)
	for _, action := range a.Actions {
		if a.Index {
			g[access{action: action, index: store.UserIndex}] = true
		}
		for _, p := range a.Prefixes {
			g[access{action: action, prefix: p}] = true
		}
	}
	return g
}
