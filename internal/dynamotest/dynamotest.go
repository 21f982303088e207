// Package dynamotest gives tests a DynamoDB Local client and a fresh table.
// Start DynamoDB Local with scripts/dynamodb-local.sh (make test does).
package dynamotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/serverless-signin/signin/pkg/store"
)

// Client returns a client for the DynamoDB Local at AWS_ENDPOINT_URL_DYNAMODB
// with dummy credentials in us-east-1. Without that variable the test is
// skipped, or fails when REQUIRE_DYNAMODB=1 (make test sets it, so a
// DynamoDB Local that did not start can never pass as a skip).
func Client(t testing.TB) *dynamodb.Client {
	t.Helper()
	endpoint := os.Getenv("AWS_ENDPOINT_URL_DYNAMODB")
	if endpoint == "" {
		const msg = "DynamoDB Local not running: use make test (or scripts/dynamodb-local.sh)"
		if os.Getenv("REQUIRE_DYNAMODB") == "1" {
			t.Fatal(msg + "; REQUIRE_DYNAMODB=1 forbids skipping")
		}
		t.Skip(msg)
	}
	return newClient(endpoint, func(o *dynamodb.Options) {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	})
}

// Unreachable returns a client whose every call fails at once: its endpoint
// is a loopback port nobody listens on, with no retries. It needs no
// DynamoDB Local; use it to test how storage outages surface.
func Unreachable(t testing.TB) *dynamodb.Client {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("dynamotest: find a free port: %v", err)
	}
	endpoint := "http://" + l.Addr().String()
	l.Close()
	return newClient(endpoint, func(o *dynamodb.Options) {
		o.HTTPClient = &http.Client{Timeout: 2 * time.Second}
		o.Retryer = aws.NopRetryer{}
	})
}

func newClient(endpoint string, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
	}, optFns...)
}

// NewTable creates a uniquely named table as the store expects it
// (store.EnsureTable) and deletes it when the test ends.
func NewTable(t testing.TB) (client *dynamodb.Client, table string) {
	t.Helper()
	client = Client(t)
	var b [8]byte
	rand.Read(b[:])
	table = "test-" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := store.EnsureTable(ctx, client, table); err != nil {
		t.Fatalf("dynamotest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)}); err != nil {
			t.Logf("dynamotest: delete table %s: %v", table, err)
		}
	})
	return client, table
}
