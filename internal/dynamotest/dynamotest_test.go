package dynamotest_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/serverless-signin/signin/internal/dynamotest"
)

// recorder is a testing.TB that records Skip and Fatal instead of ending
// the real test.
type recorder struct {
	testing.TB
	skipped, fatal string
}

func (r *recorder) Helper() {}

func (r *recorder) Skip(args ...any) {
	r.skipped = fmt.Sprint(args...)
	runtime.Goexit()
}

func (r *recorder) Fatal(args ...any) {
	r.fatal = fmt.Sprint(args...)
	runtime.Goexit()
}

func TestClientWithoutEndpoint(t *testing.T) {
	tests := []struct {
		require            string
		wantSkip, wantFail bool
	}{
		{require: "", wantSkip: true},
		{require: "0", wantSkip: true},
		{require: "1", wantFail: true},
	}
	for _, tt := range tests {
		t.Run("REQUIRE_DYNAMODB="+tt.require, func(t *testing.T) {
			t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", "")
			t.Setenv("REQUIRE_DYNAMODB", tt.require)
			r := &recorder{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				dynamotest.Client(r)
			}()
			<-done
			if gotSkip := r.skipped != ""; gotSkip != tt.wantSkip {
				t.Errorf("Client skipped = %v (%q); want %v", gotSkip, r.skipped, tt.wantSkip)
			}
			if gotFail := r.fatal != ""; gotFail != tt.wantFail {
				t.Errorf("Client failed = %v (%q); want %v", gotFail, r.fatal, tt.wantFail)
			}
			if msg := r.skipped + r.fatal; !strings.Contains(msg, "scripts/dynamodb-local.sh") {
				t.Errorf("Client message = %q; want it to say how to start DynamoDB Local", msg)
			}
		})
	}
}

func TestNewTableIsDeletedAfterTheTest(t *testing.T) {
	dynamotest.Client(t) // skip here, not in the subtest, without DynamoDB Local
	var client *dynamodb.Client
	var table string
	t.Run("inner", func(t *testing.T) {
		client, table = dynamotest.NewTable(t)
		if _, err := client.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(table)}); err != nil {
			t.Fatalf("DescribeTable(%s) during the test = %v; want nil", table, err)
		}
	})
	if client == nil {
		t.Fatal("inner test did not run")
	}
	_, err := client.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	var notFound *types.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("DescribeTable(%s) after the test = %v; want ResourceNotFoundException", table, err)
	}
}

func TestUnreachable(t *testing.T) {
	client := dynamotest.Unreachable(t)
	if _, err := client.ListTables(context.Background(), &dynamodb.ListTablesInput{}); err == nil {
		t.Error("ListTables on Unreachable() = nil error; want a connection error")
	}
}
