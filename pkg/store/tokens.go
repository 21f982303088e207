package store

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/serverless-signin/signin/pkg/signin"
)

// Tokens are the provider tokens of one session (same Key as the session),
// with the refresh lease that lets one caller at a time refresh them.
type Tokens struct {
	Key string // the session's key
	signin.Token
	ExpiresAt  time.Time // record expiry (TTL): the session's or the refresh token's lifetime
	Version    int64     // starts at 1, +1 on every refresh
	LeaseOwner string    // refresh in progress by this owner ...
	LeaseUntil time.Time // ... until then
}

func (t Tokens) normalized() Tokens {
	t.Expiry = msTime(t.Expiry)
	t.ExpiresAt = expiryTime(t.ExpiresAt)
	t.LeaseUntil = msTime(t.LeaseUntil)
	return t
}

func (t Tokens) validate() error {
	switch {
	case t.Key == "":
		return errors.New("empty key")
	case t.ExpiresAt.IsZero():
		return errors.New("no expiry")
	}
	return nil
}

// tokensFor keys t by the session and sets the first version.
func tokensFor(s Session, t Tokens) (Tokens, error) {
	if t.Key != "" && t.Key != s.Key {
		return Tokens{}, errors.New("tokens key differs from session key")
	}
	t.Key = s.Key
	if t.Version == 0 {
		t.Version = 1
	}
	return t, t.validate()
}

var errEmptyOwner = errors.New("store: acquire refresh lease: empty owner")

// leasedByOther reports whether someone other than owner holds a live lease.
func (t Tokens) leasedByOther(owner string, now time.Time) bool {
	return t.LeaseOwner != "" && t.LeaseOwner != owner && live(t.LeaseUntil, now)
}

// GetTokens implements Store.
//
// DynamoDB: GetItem on tokens#.
func (d *DynamoDB) GetTokens(ctx context.Context, key string) (Tokens, error) {
	const op = "get tokens"
	av, err := d.get(ctx, TokensPrefix+key)
	if err != nil {
		return Tokens{}, unavailable(op, err)
	}
	if len(av) == 0 {
		return Tokens{}, failed(op, ErrNotFound)
	}
	t, err := decodeTokens(av, d.Sealer)
	if err != nil {
		return Tokens{}, failed(op, err)
	}
	if !live(t.ExpiresAt, d.now()) {
		return Tokens{}, failed(op, ErrNotFound)
	}
	return t, nil
}

// tokensProblem tells a vanished record (ErrNotFound) from a lost race
// (ErrConflict) after a failed condition on a token record.
func tokensProblem(old map[string]types.AttributeValue, now time.Time) error {
	if len(old) == 0 {
		return ErrNotFound
	}
	item, err := decodeItem[tokensItem](old)
	if err != nil || !live(fromTTL(item.TTL), now) {
		return ErrNotFound
	}
	return ErrConflict
}

// AcquireRefreshLease implements Store.
//
// DynamoDB: UpdateItem on tokens#.
func (d *DynamoDB) AcquireRefreshLease(ctx context.Context, key string, version int64, owner string, until time.Time) (Tokens, error) {
	const op = "acquire refresh lease"
	if owner == "" {
		return Tokens{}, errEmptyOwner
	}
	now := d.now()
	leaseOwner, leaseUntil := expression.Name(leaseOwnerAttribute), expression.Name(leaseUntilAttribute)
	cond := expression.And(
		ttlAfter(now),
		expression.Name(versionAttribute).Equal(expression.Value(version)),
		expression.Or(
			expression.AttributeNotExists(leaseOwner),
			leaseOwner.Equal(expression.Value(owner)),
			leaseUntil.LessThanEqual(expression.Value(now.UnixMilli())),
		),
	)
	update := expression.Set(leaseOwner, expression.Value(owner)).Set(leaseUntil, expression.Value(unixMS(until)))
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(update).Build()
	if err != nil {
		return Tokens{}, failed(op, err)
	}
	out, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           &d.table,
		Key:                                 pkey(TokensPrefix + key),
		UpdateExpression:                    expr.Update(),
		ConditionExpression:                 expr.Condition(),
		ExpressionAttributeNames:            expr.Names(),
		ExpressionAttributeValues:           expr.Values(),
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if old, ok := conditionFailed(err); ok {
		return Tokens{}, failed(op, tokensProblem(old, now))
	}
	if err != nil {
		return Tokens{}, unavailable(op, err)
	}
	t, err := decodeTokens(out.Attributes, d.Sealer)
	if err != nil {
		return Tokens{}, failed(op, err)
	}
	return t, nil
}

// SaveRefreshed implements Store with a conditional PutItem: the new item
// has no lease attributes, so writing it releases the lease.
//
// DynamoDB: PutItem on tokens#.
func (d *DynamoDB) SaveRefreshed(ctx context.Context, t Tokens, owner string) error {
	const op = "save refreshed"
	if err := t.validate(); err != nil {
		return failed(op, err)
	}
	t.LeaseOwner, t.LeaseUntil = "", time.Time{}
	it, err := newTokensItem(t, d.Sealer)
	if err != nil {
		return failed(op, err)
	}
	item, err := encodeItem(it)
	if err != nil {
		return failed(op, err)
	}
	now := d.now()
	cond := expression.And(
		ttlAfter(now),
		expression.Name(versionAttribute).Equal(expression.Value(t.Version-1)),
		expression.Name(leaseOwnerAttribute).Equal(expression.Value(owner)),
	)
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return failed(op, err)
	}
	_, err = d.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           &d.table,
		Item:                                item,
		ConditionExpression:                 expr.Condition(),
		ExpressionAttributeNames:            expr.Names(),
		ExpressionAttributeValues:           expr.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if old, ok := conditionFailed(err); ok {
		return failed(op, tokensProblem(old, now))
	}
	if err != nil {
		return unavailable(op, err)
	}
	return nil
}
