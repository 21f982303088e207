package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/serverless-signin/signin/pkg/signin"
)

// State is one pending sign-in, written at login and consumed at callback.
// The raw state parameter is stored only as Hash(State).
type State struct {
	signin.AuthRequest
	BindingHash string // Hash of the browser-binding cookie value
	ReturnTo    string // where to land after sign-in
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

func (s State) normalized() State {
	s.CreatedAt = msTime(s.CreatedAt)
	s.ExpiresAt = expiryTime(s.ExpiresAt)
	return s
}

// A state without an expiry would never leave the table; one without a
// binding would let any browser finish the sign-in.
func (s State) validate() error {
	switch {
	case s.State == "":
		return errors.New("empty state")
	case s.BindingHash == "":
		return errors.New("empty binding hash")
	case s.ExpiresAt.IsZero():
		return errors.New("no expiry")
	}
	return nil
}

// consumeProblem says why a state record cannot be consumed by the browser
// with bindingHash, or nil when it can. found is false for a missing record.
func consumeProblem(s State, consumed, found bool, bindingHash string, now time.Time) error {
	switch {
	case !found || !live(s.ExpiresAt, now):
		return ErrNotFound
	case s.BindingHash != bindingHash:
		return ErrBindingMismatch
	case consumed:
		return ErrConsumed
	}
	return nil
}

// PutState implements Store.
//
// DynamoDB: PutItem on state#.
func (d *DynamoDB) PutState(ctx context.Context, s State) error {
	const op = "put state"
	if err := s.validate(); err != nil {
		return failed(op, err)
	}
	item, err := encodeItem(newStateItem(s))
	if err != nil {
		return failed(op, err)
	}
	expr, err := expression.NewBuilder().WithCondition(absent(d.now())).Build()
	if err != nil {
		return failed(op, err)
	}
	_, err = d.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 &d.table,
		Item:                      item,
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	if _, ok := conditionFailed(err); ok {
		return failed(op, ErrConflict)
	}
	if err != nil {
		return unavailable(op, err)
	}
	return nil
}

// ConsumeState implements Store with one conditional UpdateItem: the
// condition makes it exactly-once, and the old item sent back on failure
// tells why without a second read.
//
// DynamoDB: UpdateItem on state#.
func (d *DynamoDB) ConsumeState(ctx context.Context, state, bindingHash string) (State, error) {
	const op = "consume state"
	now := d.now()
	cond := expression.And(
		ttlAfter(now),
		expression.Name(bindingAttribute).Equal(expression.Value(bindingHash)),
		expression.AttributeNotExists(expression.Name(consumedAttribute)),
	)
	update := expression.Set(expression.Name(consumedAttribute), expression.Value(true))
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(update).Build()
	if err != nil {
		return State{}, failed(op, err)
	}
	out, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           &d.table,
		Key:                                 pkey(StatePrefix + Hash(state)),
		UpdateExpression:                    expr.Update(),
		ConditionExpression:                 expr.Condition(),
		ExpressionAttributeNames:            expr.Names(),
		ExpressionAttributeValues:           expr.Values(),
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if old, ok := conditionFailed(err); ok {
		item, err := decodeItem[stateItem](old)
		if err != nil {
			return State{}, failed(op, err)
		}
		if err := consumeProblem(item.state(state), item.Consumed, len(old) > 0, bindingHash, now); err != nil {
			return State{}, failed(op, err)
		}
		// The condition and consumeProblem disagree: a bug, never a success.
		return State{}, fmt.Errorf("store: %s: condition failed on a consumable state: %w", op, ErrConflict)
	}
	if err != nil {
		return State{}, unavailable(op, err)
	}
	item, err := decodeItem[stateItem](out.Attributes)
	if err != nil {
		return State{}, failed(op, err)
	}
	return item.state(state), nil
}
