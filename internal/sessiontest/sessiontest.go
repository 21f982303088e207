// Package sessiontest holds what the tests of the routes, the wiring and the
// app-facing library share: the store kinds they run against (memory and
// DynamoDB Local), a settable clock, call counters, a log buffer and an AWS
// environment of the test's own.
package sessiontest

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/serverless-signin/signin/internal/dynamotest"
	"github.com/serverless-signin/signin/pkg/store"
)

// StoreKind is a store implementation the tests run against: open returns
// a fresh store on the Clock now (nil: the real one) and the counted
// DynamoDB client under it (nil for memory).
type StoreKind struct {
	Name string
	Open func(t testing.TB, now func() time.Time) (store.Store, *CountingDB)
}

var StoreKinds = []StoreKind{
	{"memory", func(t testing.TB, now func() time.Time) (store.Store, *CountingDB) {
		m := store.NewMemory()
		m.Now = now
		return m, nil
	}},
	{"dynamodb", func(t testing.TB, now func() time.Time) (store.Store, *CountingDB) {
		client, table := dynamotest.NewTable(t)
		db := &CountingDB{DynamoDBAPI: client, Table: table}
		d := store.NewDynamoDB(db, table)
		d.Now = now
		return d, db
	}},
}

// ForEachStore runs f as a subtest against every store implementation.
func ForEachStore(t *testing.T, f func(t *testing.T, k StoreKind)) {
	for _, k := range StoreKinds {
		t.Run(k.Name, func(t *testing.T) { f(t, k) })
	}
}

// Clock is a settable time source shared by the handler and the store.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

func NewClock() *Clock { return &Clock{now: time.Now()} }

func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// callCounter counts calls by operation, from concurrent requests.
type callCounter struct {
	mu    sync.Mutex
	calls map[string]int
}

func (c *callCounter) count(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == nil {
		c.calls = map[string]int{}
	}
	c.calls[op]++
}

// Take returns the calls so far and starts counting afresh.
func (c *callCounter) Take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	calls := c.calls
	c.calls = nil
	if calls == nil {
		calls = map[string]int{}
	}
	return calls
}

// CountingStore counts the store calls the handler or Sessions makes.
type CountingStore struct {
	store.Store
	callCounter
}

func (c *CountingStore) PutState(ctx context.Context, s store.State) error {
	c.count("PutState")
	return c.Store.PutState(ctx, s)
}

func (c *CountingStore) ConsumeState(ctx context.Context, state, bindingHash string) (store.State, error) {
	c.count("ConsumeState")
	return c.Store.ConsumeState(ctx, state, bindingHash)
}

func (c *CountingStore) CreateSession(ctx context.Context, s store.Session, t store.Tokens) error {
	c.count("CreateSession")
	return c.Store.CreateSession(ctx, s, t)
}

func (c *CountingStore) GetSession(ctx context.Context, key string) (store.Session, error) {
	c.count("GetSession")
	return c.Store.GetSession(ctx, key)
}

func (c *CountingStore) TouchSession(ctx context.Context, key string, idle time.Time) error {
	c.count("TouchSession")
	return c.Store.TouchSession(ctx, key, idle)
}

func (c *CountingStore) DeleteSession(ctx context.Context, key string) (store.Session, store.Tokens, error) {
	c.count("DeleteSession")
	return c.Store.DeleteSession(ctx, key)
}

func (c *CountingStore) GetTokens(ctx context.Context, key string) (store.Tokens, error) {
	c.count("GetTokens")
	return c.Store.GetTokens(ctx, key)
}

func (c *CountingStore) AcquireRefreshLease(ctx context.Context, key string, version int64, owner string, until time.Time) (store.Tokens, error) {
	c.count("AcquireRefreshLease")
	return c.Store.AcquireRefreshLease(ctx, key, version, owner, until)
}

func (c *CountingStore) SaveRefreshed(ctx context.Context, t store.Tokens, owner string) error {
	c.count("SaveRefreshed")
	return c.Store.SaveRefreshed(ctx, t, owner)
}

// CountingDB counts the DynamoDB calls the store makes.
type CountingDB struct {
	store.DynamoDBAPI
	callCounter
	Table string // the store's table
}

var _ store.DynamoDBAPI = (*CountingDB)(nil)

func (c *CountingDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.count("GetItem")
	return c.DynamoDBAPI.GetItem(ctx, in, o...)
}

func (c *CountingDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.count("PutItem")
	return c.DynamoDBAPI.PutItem(ctx, in, o...)
}

func (c *CountingDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.count("UpdateItem")
	return c.DynamoDBAPI.UpdateItem(ctx, in, o...)
}

func (c *CountingDB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	c.count("DeleteItem")
	return c.DynamoDBAPI.DeleteItem(ctx, in, o...)
}

func (c *CountingDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.count("TransactWriteItems")
	return c.DynamoDBAPI.TransactWriteItems(ctx, in, o...)
}

func (c *CountingDB) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.count("Query")
	return c.DynamoDBAPI.Query(ctx, in, o...)
}

// LogBuffer collects log lines from concurrent requests.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Lines decodes every log line.
func (l *LogBuffer) Lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(l.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// IsolateAWS gives the test an AWS environment of its own, as Lambda gives a
// function: a region and static credentials in the environment, no profile,
// and config and credentials files that do not exist, so nothing on the
// machine leaks in.
func IsolateAWS(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           "test",
		"AWS_SECRET_ACCESS_KEY":       "test",
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             dir + "/config",
		"AWS_SHARED_CREDENTIALS_FILE": dir + "/credentials",
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_REGION":                  "us-east-1",
	} {
		t.Setenv(k, v)
	}
}
