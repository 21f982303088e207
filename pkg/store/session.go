package store

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/serverless-signin/signin/pkg/signin"
)

// Session is a signed-in browser. Its key is Hash(raw session id), so a
// table dump yields no usable cookie.
type Session struct {
	Key           string // Hash of the raw session id (the cookie value)
	User          signin.User
	Issuer        string
	CreatedAt     time.Time
	ExpiresAt     time.Time // absolute expiry
	IdleExpiresAt time.Time // zero: no idle timeout
}

// Live reports whether the session still signs its browser in at now:
// before its absolute expiry and, when it has one, its idle expiry.
func (s Session) Live(now time.Time) bool {
	return live(s.ExpiresAt, now) && (s.IdleExpiresAt.IsZero() || live(s.IdleExpiresAt, now))
}

func (s Session) normalized() Session {
	s.CreatedAt = msTime(s.CreatedAt)
	s.ExpiresAt = expiryTime(s.ExpiresAt)
	s.IdleExpiresAt = msTime(s.IdleExpiresAt)
	return s
}

func (s Session) validate() error {
	switch {
	case s.Key == "":
		return errors.New("empty key")
	case s.ExpiresAt.IsZero():
		return errors.New("no expiry")
	}
	return nil
}

// CreateSession implements Store with one TransactWriteItems, so a session
// never exists without its tokens.
//
// DynamoDB: PutItem (in TransactWriteItems) on session# and tokens#.
func (d *DynamoDB) CreateSession(ctx context.Context, s Session, t Tokens) error {
	const op = "create session"
	t, err := tokensFor(s, t)
	if err == nil {
		err = s.validate()
	}
	if err != nil {
		return failed(op, err)
	}
	sessionAV, err := encodeItem(newSessionItem(s))
	if err != nil {
		return failed(op, err)
	}
	tokensIt, err := newTokensItem(t, d.Sealer)
	if err != nil {
		return failed(op, err)
	}
	tokensAV, err := encodeItem(tokensIt)
	if err != nil {
		return failed(op, err)
	}
	// An expired record that TTL has not deleted yet does not count.
	now := d.now()
	idlePassed := expression.Name(idleAttribute).LessThanEqual(expression.Value(now.UnixMilli()))
	sessionExpr, err := expression.NewBuilder().WithCondition(absent(now).Or(idlePassed)).Build()
	if err != nil {
		return failed(op, err)
	}
	tokensExpr, err := expression.NewBuilder().WithCondition(absent(now)).Build()
	if err != nil {
		return failed(op, err)
	}
	_, err = d.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{
				TableName:                 &d.table,
				Item:                      sessionAV,
				ConditionExpression:       sessionExpr.Condition(),
				ExpressionAttributeNames:  sessionExpr.Names(),
				ExpressionAttributeValues: sessionExpr.Values(),
			}},
			{Put: &types.Put{
				TableName:                 &d.table,
				Item:                      tokensAV,
				ConditionExpression:       tokensExpr.Condition(),
				ExpressionAttributeNames:  tokensExpr.Names(),
				ExpressionAttributeValues: tokensExpr.Values(),
			}},
		},
	})
	if err != nil {
		if transactionConflict(err) {
			return failed(op, ErrConflict)
		}
		return unavailable(op, err)
	}
	return nil
}

// GetSession implements Store.
//
// DynamoDB: GetItem on session#.
func (d *DynamoDB) GetSession(ctx context.Context, key string) (Session, error) {
	const op = "get session"
	s, err := d.readSession(ctx, op, key)
	if err != nil {
		return Session{}, err
	}
	if !s.Live(d.now()) {
		return Session{}, failed(op, ErrNotFound)
	}
	return s, nil
}

// PeekSession implements Store.
//
// DynamoDB: GetItem on session#.
func (d *DynamoDB) PeekSession(ctx context.Context, key string) (Session, error) {
	return d.readSession(ctx, "peek session", key)
}

// readSession reads the session record, live or not.
func (d *DynamoDB) readSession(ctx context.Context, op, key string) (Session, error) {
	av, err := d.get(ctx, SessionPrefix+key)
	if err != nil {
		return Session{}, unavailable(op, err)
	}
	if len(av) == 0 {
		return Session{}, failed(op, ErrNotFound)
	}
	item, err := decodeItem[sessionItem](av)
	if err != nil {
		return Session{}, failed(op, err)
	}
	return item.session(), nil
}

// TouchSession implements Store.
//
// DynamoDB: UpdateItem on session#.
func (d *DynamoDB) TouchSession(ctx context.Context, key string, idleExpiresAt time.Time) error {
	const op = "touch session"
	now := d.now()
	idle := expression.Name(idleAttribute)
	cond := ttlAfter(now).And(expression.AttributeNotExists(idle).Or(idle.GreaterThan(expression.Value(now.UnixMilli()))))
	update := expression.Set(idle, expression.Value(unixMS(idleExpiresAt)))
	if idleExpiresAt.IsZero() {
		update = expression.Remove(idle)
	}
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(update).Build()
	if err != nil {
		return failed(op, err)
	}
	_, err = d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &d.table,
		Key:                       pkey(SessionPrefix + key),
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	if _, ok := conditionFailed(err); ok {
		return failed(op, ErrNotFound)
	}
	if err != nil {
		return unavailable(op, err)
	}
	return nil
}

// DeleteSession implements Store: both deletes run concurrently, so ending
// a session costs one round trip.
//
// DynamoDB: DeleteItem on session# and tokens#.
func (d *DynamoDB) DeleteSession(ctx context.Context, key string) (Session, Tokens, error) {
	const op = "delete session"
	deleteOld := func(pk string) (map[string]types.AttributeValue, error) {
		out, err := d.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName:    &d.table,
			Key:          pkey(pk),
			ReturnValues: types.ReturnValueAllOld,
		})
		if err != nil {
			return nil, err
		}
		return out.Attributes, nil
	}
	var (
		wg         sync.WaitGroup
		sOld, tOld map[string]types.AttributeValue
		sErr, tErr error
	)
	wg.Go(func() { sOld, sErr = deleteOld(SessionPrefix + key) })
	wg.Go(func() { tOld, tErr = deleteOld(TokensPrefix + key) })
	wg.Wait()
	if err := errors.Join(sErr, tErr); err != nil {
		return Session{}, Tokens{}, unavailable(op, err)
	}
	if len(sOld) == 0 && len(tOld) == 0 {
		return Session{}, Tokens{}, failed(op, ErrNotFound)
	}
	var (
		s Session
		t Tokens
	)
	if len(sOld) > 0 {
		item, err := decodeItem[sessionItem](sOld)
		if err != nil {
			return Session{}, Tokens{}, failed(op, err)
		}
		s = item.session()
	}
	if len(tOld) > 0 {
		var err error
		if t, err = decodeTokens(tOld, d.Sealer); err != nil {
			return Session{}, Tokens{}, failed(op, err)
		}
	}
	return s, t, nil
}

// SessionKeys implements Store. It reads only the keys from the index.
//
// DynamoDB: Query on UserIndex.
func (d *DynamoDB) SessionKeys(ctx context.Context, issuer, subject string) ([]string, error) {
	const op = "session keys"
	expr, err := expression.NewBuilder().
		WithKeyCondition(expression.Key(userAttribute).Equal(expression.Value(userKey(issuer, subject)))).
		WithProjection(expression.NamesList(expression.Name(partitionKey))).
		Build()
	if err != nil {
		return nil, failed(op, err)
	}
	pages := dynamodb.NewQueryPaginator(d.client, &dynamodb.QueryInput{
		TableName:                 &d.table,
		IndexName:                 aws.String(UserIndex),
		KeyConditionExpression:    expr.KeyCondition(),
		ProjectionExpression:      expr.Projection(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	var keys []string
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, unavailable(op, err)
		}
		for _, av := range page.Items {
			it, err := decodeItem[sessionItem](av)
			if err != nil {
				return nil, failed(op, err)
			}
			keys = append(keys, it.session().Key)
		}
	}
	return keys, nil
}
