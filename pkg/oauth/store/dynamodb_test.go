package store_test

import (
	"context"
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
	"github.com/serverless-signin/signin/pkg/oauth/store"
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
