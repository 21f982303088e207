package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

const (
	// TTLAttribute is the table's TTL attribute: a number, epoch seconds.
	TTLAttribute = "ttl"
	// UserIndex is the global secondary index on "user" (issuer#subject)
	// that finds a user's sessions. It projects the TTL and idle expiry,
	// besides the keys.
	UserIndex = "user-index"
)

// TableDefinition is the table the store expects: partition key "pk" (S),
// on-demand billing, and the user-index GSI. TTL on TTLAttribute is enabled
// separately (EnsureTable; TimeToLiveSpecification in template.yaml).
func TableDefinition(name string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(partitionKey), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(userAttribute), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(partitionKey), KeyType: types.KeyTypeHash},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String(UserIndex),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(userAttribute), KeyType: types.KeyTypeHash},
			},
			Projection: &types.Projection{
				ProjectionType:   types.ProjectionTypeInclude,
				NonKeyAttributes: []string{TTLAttribute, idleAttribute},
			},
		}},
	}
}

// TableAPI is what EnsureTable needs; *dynamodb.Client implements it.
type TableAPI interface {
	dynamodb.DescribeTableAPIClient
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTimeToLive(ctx context.Context, in *dynamodb.DescribeTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTimeToLiveOutput, error)
	UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
}

// EnsureTable creates the table when it is missing, waits until it is
// active and enables TTL. It is idempotent and safe to race. For local use
// (DynamoDB Local, the dev server, tests): in AWS, template.yaml owns the table.
func EnsureTable(ctx context.Context, client TableAPI, name string) error {
	_, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	var notFound *types.ResourceNotFoundException
	switch {
	case errors.As(err, &notFound):
		_, err = client.CreateTable(ctx, TableDefinition(name))
		var inUse *types.ResourceInUseException
		if err != nil && !errors.As(err, &inUse) { // in use: created meanwhile
			return fmt.Errorf("store: create table %s: %w", name, err)
		}
	case err != nil:
		return fmt.Errorf("store: describe table %s: %w", name, err)
	}

	waiter := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 200 * time.Millisecond
		o.MaxDelay = 5 * time.Second
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 2*time.Minute); err != nil {
		return fmt.Errorf("store: wait for table %s: %w", name, err)
	}

	ttlEnabled := func() (bool, error) {
		out, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
		if err != nil {
			return false, fmt.Errorf("store: describe ttl of %s: %w", name, err)
		}
		d := out.TimeToLiveDescription
		return d != nil && aws.ToString(d.AttributeName) == TTLAttribute &&
			(d.TimeToLiveStatus == types.TimeToLiveStatusEnabled || d.TimeToLiveStatus == types.TimeToLiveStatusEnabling), nil
	}
	if ok, err := ttlEnabled(); ok || err != nil {
		return err
	}
	_, err = client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(TTLAttribute),
			Enabled:       aws.Bool(true),
		},
	})
	if err != nil {
		// A concurrent EnsureTable may have enabled it first: DynamoDB then
		// refuses a second UpdateTimeToLive.
		if ok, _ := ttlEnabled(); ok {
			return nil
		}
		return fmt.Errorf("store: enable ttl on %s: %w", name, err)
	}
	return nil
}
