package store_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/serverless-signin/signin/internal/dynamotest"
	"github.com/serverless-signin/signin/pkg/store"
)

func TestDynamoDB(t *testing.T) {
	testConformance(t, func(t *testing.T, now func() time.Time) store.Store {
		client, table := dynamotest.NewTable(t)
		d := store.NewDynamoDB(client, table)
		d.Now = now
		return d
	})
}

// A table dump yields neither a usable session cookie nor a state.
func TestDynamoDBStoresNoRawSecrets(t *testing.T) {
	client, table := dynamotest.NewTable(t)
	s := store.NewDynamoDB(client, table)
	c := newClock()
	s.Now = c.Now

	const rawSession, rawState = "raw-session-id-Zm9vYmFy", "raw-state-YmF6cXV4"
	// The other fields of the test records derive from the raw values:
	// replace them so that only the keys could leak.
	sess, _ := newSession(c, rawSession, "https://issuer.example", "sub-1")
	_, tok := newSession(c, "other", "https://issuer.example", "sub-1")
	mustCreateSession(t, s, sess, tok)
	st := newState(c, "other", "browser")
	st.State = rawState
	mustPutState(t, s, st)

	if _, err := s.GetSession(ctx, store.Hash(rawSession)); err != nil {
		t.Fatalf("GetSession(Hash(raw id)) = %v; want nil", err)
	}
	out, err := client.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatalf("Scan = %v", err)
	}
	if len(out.Items) != 3 {
		t.Errorf("Scan found %d items; want 3 (state, session, tokens)", len(out.Items))
	}
	var items []map[string]any
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &items); err != nil {
		t.Fatal(err)
	}
	dump, err := json.Marshal(items)
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{rawSession, rawState} {
		if strings.Contains(string(dump), raw) {
			t.Errorf("Scan output contains the raw value %q", raw)
		}
	}
}

// The table the code creates is the one TableDefinition describes, with TTL
// on; EnsureTable on an existing table changes nothing.
func TestEnsureTable(t *testing.T) {
	client, table := dynamotest.NewTable(t)
	if err := store.EnsureTable(ctx, client, table); err != nil {
		t.Fatalf("EnsureTable(existing) = %v; want nil", err)
	}

	desc, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	def := store.TableDefinition(table)
	got := desc.Table
	if !slices.EqualFunc(got.KeySchema, def.KeySchema, keyElementEqual) {
		t.Errorf("key schema = %+v; want %+v", got.KeySchema, def.KeySchema)
	}
	if len(got.GlobalSecondaryIndexes) != 1 {
		t.Fatalf("table has %d GSIs; want 1", len(got.GlobalSecondaryIndexes))
	}
	gsi, wantGSI := got.GlobalSecondaryIndexes[0], def.GlobalSecondaryIndexes[0]
	if aws.ToString(gsi.IndexName) != store.UserIndex || !slices.EqualFunc(gsi.KeySchema, wantGSI.KeySchema, keyElementEqual) ||
		gsi.Projection.ProjectionType != types.ProjectionTypeInclude ||
		!slices.Equal(sorted(gsi.Projection.NonKeyAttributes), sorted(wantGSI.Projection.NonKeyAttributes)) {
		t.Errorf("GSI = %s %+v %+v; want %s %+v %+v", aws.ToString(gsi.IndexName), gsi.KeySchema, gsi.Projection,
			store.UserIndex, wantGSI.KeySchema, wantGSI.Projection)
	}

	ttl, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	if d := ttl.TimeToLiveDescription; d == nil || aws.ToString(d.AttributeName) != store.TTLAttribute || d.TimeToLiveStatus != types.TimeToLiveStatusEnabled {
		t.Errorf("DescribeTimeToLive = %+v; want %q enabled", d, store.TTLAttribute)
	}
}

func keyElementEqual(a, b types.KeySchemaElement) bool {
	return aws.ToString(a.AttributeName) == aws.ToString(b.AttributeName) && a.KeyType == b.KeyType
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// Every call surfaces a storage failure as ErrUnavailable, never as
// "not found" (which would sign the user out) or a hang.
func TestDynamoDBUnavailable(t *testing.T) {
	s := store.NewDynamoDB(dynamotest.Unreachable(t), "unreachable")
	c := newClock()
	sess, tok := newSession(c, "raw", "https://issuer.example", "sub")
	leased := tok
	leased.Key, leased.Version = sess.Key, 2
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	tests := []struct {
		name string
		call func() error
	}{
		{"PutState", func() error { return s.PutState(ctx, newState(c, "st", "b")) }},
		{"ConsumeState", func() error { _, err := s.ConsumeState(ctx, "st", "b"); return err }},
		{"CreateSession", func() error { return s.CreateSession(ctx, sess, tok) }},
		{"GetSession", func() error { _, err := s.GetSession(ctx, sess.Key); return err }},
		{"PeekSession", func() error { _, err := s.PeekSession(ctx, sess.Key); return err }},
		{"TouchSession", func() error { return s.TouchSession(ctx, sess.Key, c.Now()) }},
		{"DeleteSession", func() error { _, _, err := s.DeleteSession(ctx, sess.Key); return err }},
		{"SessionKeys", func() error { _, err := s.SessionKeys(ctx, "iss", "sub"); return err }},
		{"GetTokens", func() error { _, err := s.GetTokens(ctx, sess.Key); return err }},
		{"AcquireRefreshLease", func() error {
			_, err := s.AcquireRefreshLease(ctx, sess.Key, 1, "a", c.Now().Add(time.Second))
			return err
		}},
		{"SaveRefreshed", func() error { return s.SaveRefreshed(ctx, leased, "a") }},
	}
	for _, tt := range tests {
		if err := tt.call(); !errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s on an unreachable endpoint = %v; want ErrUnavailable", tt.name, err)
		}
	}
}

func newSealer(t *testing.T, id string, previous ...store.TokenKey) (*store.Sealer, store.TokenKey) {
	t.Helper()
	key := store.TokenKey{ID: id, Key: make([]byte, 32)}
	rand.Read(key.Key)
	s, err := store.NewSealer(key, previous...)
	if err != nil {
		t.Fatalf("NewSealer(%s) = %v", id, err)
	}
	return s, key
}

func TestDynamoDBSealed(t *testing.T) {
	sealer, _ := newSealer(t, "k1")
	testConformance(t, func(t *testing.T, now func() time.Time) store.Store {
		client, table := dynamotest.NewTable(t)
		d := store.NewDynamoDB(client, table)
		d.Now, d.Sealer = now, sealer
		return d
	})
}

func TestDynamoDBSealedAtRest(t *testing.T) {
	client, table := dynamotest.NewTable(t)
	c := newClock()
	open := func(sealer *store.Sealer) *store.DynamoDB {
		d := store.NewDynamoDB(client, table)
		d.Now, d.Sealer = c.Now, sealer
		return d
	}
	sealer1, key1 := newSealer(t, "k1")
	s := open(sealer1)

	sess, tok := newSession(c, "raw-sealed", "https://issuer.example", "sub-1")
	mustCreateSession(t, s, sess, tok)
	plainSess, plainTok := newSession(c, "raw-plain", "https://issuer.example", "sub-1")
	mustCreateSession(t, open(nil), plainSess, plainTok)

	out, err := client.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	var items []map[string]any
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &items); err != nil {
		t.Fatal(err)
	}
	dump, _ := json.Marshal(items)
	for _, secret := range []string{tok.AccessToken, tok.RefreshToken, tok.IDToken} {
		if strings.Contains(string(dump), secret) {
			t.Errorf("Scan output contains the token %q", secret)
		}
	}

	tests := []struct {
		name    string
		store   *store.DynamoDB
		key     string
		want    string // access token; "" for an error
		wantErr bool
	}{
		{"sealed, same key", s, sess.Key, tok.AccessToken, false},
		{"sealed, rotated key", open(mustSealer(t, store.TokenKey{ID: "k2", Key: make([]byte, 32)}, key1)), sess.Key, tok.AccessToken, false},
		{"sealed, no key", open(nil), sess.Key, "", true},
		{"sealed, unknown key", open(mustSealer(t, store.TokenKey{ID: "k2", Key: make([]byte, 32)})), sess.Key, "", true},
		{"plain, key configured", s, plainSess.Key, plainTok.AccessToken, false},
	}
	for _, tt := range tests {
		got, err := tt.store.GetTokens(ctx, tt.key)
		if tt.wantErr {
			if err == nil || errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: GetTokens = %v; want an error other than ErrNotFound", tt.name, err)
			}
			continue
		}
		if err != nil || got.AccessToken != tt.want {
			t.Errorf("%s: GetTokens = %q, %v; want %q, nil", tt.name, got.AccessToken, err, tt.want)
		}
	}

	// The sealed value is bound to its record: copied elsewhere it does not open.
	item, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "tokens#" + sess.Key},
	}})
	if err != nil || len(item.Item) == 0 {
		t.Fatalf("GetItem(sealed tokens) = %v, %v", item, err)
	}
	if _, ok := item.Item["kid"]; !ok {
		t.Errorf("sealed item has no kid attribute: %v", item.Item)
	}
	item.Item["pk"] = &types.AttributeValueMemberS{Value: "tokens#" + store.Hash("elsewhere")}
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item.Item}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetTokens(ctx, store.Hash("elsewhere")); err == nil {
		t.Error("GetTokens(sealed value moved to another key) = nil error; want an error")
	}
}

func mustSealer(t *testing.T, current store.TokenKey, previous ...store.TokenKey) *store.Sealer {
	t.Helper()
	s, err := store.NewSealer(current, previous...)
	if err != nil {
		t.Fatalf("NewSealer = %v", err)
	}
	return s
}

func TestNewSealerRejects(t *testing.T) {
	good := store.TokenKey{ID: "k1", Key: make([]byte, 32)}
	tests := []struct {
		name     string
		current  store.TokenKey
		previous []store.TokenKey
	}{
		{"empty id", store.TokenKey{Key: make([]byte, 32)}, nil},
		{"short key", store.TokenKey{ID: "k1", Key: make([]byte, 16)}, nil},
		{"duplicate id", good, []store.TokenKey{good}},
		{"bad previous", good, []store.TokenKey{{ID: "k0", Key: make([]byte, 31)}}},
	}
	for _, tt := range tests {
		if _, err := store.NewSealer(tt.current, tt.previous...); err == nil {
			t.Errorf("NewSealer(%s) = nil error; want an error", tt.name)
		}
	}
}
