package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoDBAPI is the part of the DynamoDB client the store uses;
// *dynamodb.Client implements it.
type DynamoDBAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// DynamoDB keeps the records in one table (see TableDefinition): one item
// per record, keyed StatePrefix, SessionPrefix or TokensPrefix + a hash,
// expiring through the TTL attribute.
type DynamoDB struct {
	Now func() time.Time // nil: time.Now
	// Sealer, when set, encrypts the access, refresh and ID tokens at rest.
	// Records written without it stay readable; records sealed with it
	// cannot be read without it.
	Sealer *Sealer

	client DynamoDBAPI
	table  string
}

var _ Store = (*DynamoDB)(nil)

// NewDynamoDB returns a store on an existing table. It does no I/O.
func NewDynamoDB(client DynamoDBAPI, table string) *DynamoDB {
	return &DynamoDB{client: client, table: table}
}

func (d *DynamoDB) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func pkey(pk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{partitionKey: &types.AttributeValueMemberS{Value: pk}}
}

// The conditions compare the TTL with now in epoch seconds and every other
// time with now in Unix milliseconds. For a whole-second TTL, now < ttl
// exactly when floor(now) < ttl, so conditions and reads agree on liveness.

func ttlAfter(now time.Time) expression.ConditionBuilder {
	return expression.Name(TTLAttribute).GreaterThan(expression.Value(now.Unix()))
}

func ttlPassed(now time.Time) expression.ConditionBuilder {
	return expression.Name(TTLAttribute).LessThanEqual(expression.Value(now.Unix()))
}

// absent: no such item, or one that has expired but TTL has not deleted yet.
func absent(now time.Time) expression.ConditionBuilder {
	return expression.AttributeNotExists(expression.Name(partitionKey)).Or(ttlPassed(now))
}

// get reads one item (nil when absent) with a strongly consistent read.
func (d *DynamoDB) get(ctx context.Context, pk string) (map[string]types.AttributeValue, error) {
	out, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &d.table,
		Key:            pkey(pk),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, err
	}
	return out.Item, nil
}

// unavailable wraps a failure of the backend so callers can tell an outage
// from "signed out".
func unavailable(op string, err error) error {
	return fmt.Errorf("store: %s: %w: %w", op, ErrUnavailable, err)
}

func failed(op string, err error) error {
	return fmt.Errorf("store: %s: %w", op, err)
}

// conditionFailed returns the old item DynamoDB sent back with a failed
// condition (ReturnValuesOnConditionCheckFailure ALL_OLD; empty when there
// was none).
func conditionFailed(err error) (map[string]types.AttributeValue, bool) {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return ccf.Item, true
	}
	return nil, false
}

// transactionConflict reports whether a transaction was cancelled because a
// condition failed or a concurrent transaction touched the same item.
func transactionConflict(err error) bool {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return false
	}
	for _, r := range tce.CancellationReasons {
		switch aws.ToString(r.Code) {
		case "ConditionalCheckFailed", "TransactionConflict":
			return true
		}
	}
	return false
}
