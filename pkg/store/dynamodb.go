package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
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

// DynamoDB keeps the records in one table (see TableDefinition and
// ARCHITECTURE.md): one item per record, keyed "state#", "session#" or
// "tokens#" + a hash, expiring through the TTL attribute.
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

const (
	statePrefix   = "state#"
	sessionPrefix = "session#"
	tokensPrefix  = "tokens#"
)

// The items as stored. Times other than the TTL are Unix milliseconds.
type stateItem struct {
	PK          string `dynamodbav:"pk"`
	TTL         int64  `dynamodbav:"ttl"`
	Binding     string `dynamodbav:"binding"`
	Nonce       string `dynamodbav:"nonce,omitempty"`
	Verifier    string `dynamodbav:"verifier,omitempty"`
	ReturnTo    string `dynamodbav:"return_to,omitempty"`
	RedirectURI string `dynamodbav:"redirect_uri,omitempty"`
	Created     int64  `dynamodbav:"created,omitempty"`
	Consumed    bool   `dynamodbav:"consumed,omitempty"`
}

type sessionItem struct {
	PK      string `dynamodbav:"pk"`
	TTL     int64  `dynamodbav:"ttl"`
	User    string `dynamodbav:"user"` // issuer#subject: the user-index key
	Subject string `dynamodbav:"sub"`
	Email   string `dynamodbav:"email,omitempty"`
	Name    string `dynamodbav:"name,omitempty"`
	Issuer  string `dynamodbav:"iss"`
	Created int64  `dynamodbav:"created,omitempty"`
	Idle    int64  `dynamodbav:"idle,omitempty"`
}

type tokensItem struct {
	PK         string `dynamodbav:"pk"`
	TTL        int64  `dynamodbav:"ttl"`
	Access     string `dynamodbav:"access,omitempty"`
	Refresh    string `dynamodbav:"refresh,omitempty"`
	IDToken    string `dynamodbav:"id_token,omitempty"`
	TokenType  string `dynamodbav:"token_type,omitempty"`
	Scope      string `dynamodbav:"scope,omitempty"`
	Expiry     int64  `dynamodbav:"expiry,omitempty"`
	Version    int64  `dynamodbav:"version"`
	LeaseOwner string `dynamodbav:"lease_owner,omitempty"`
	LeaseUntil int64  `dynamodbav:"lease_until,omitempty"`
	KeyID      string `dynamodbav:"kid,omitempty"`    // set when sealed: the token key's id ...
	Sealed     []byte `dynamodbav:"sealed,omitempty"` // ... and Access, Refresh, IDToken encrypted
}

// Items are written with attributevalue.MarshalMap from the tagged structs
// above, which stay the one description of the items, and read back by
// hand: GetSession runs on every /auth/me and GetTokens on every
// Sessions.AccessToken, and there attributevalue's reflection cost as much
// as the whole handler. TestDecodeItems holds these decoders to the tags.

func decodeStateItem(av map[string]types.AttributeValue) (stateItem, error) {
	r := itemReader{item: av}
	it := stateItem{
		PK:          r.str("pk"),
		TTL:         r.num("ttl"),
		Binding:     r.str("binding"),
		Nonce:       r.str("nonce"),
		Verifier:    r.str("verifier"),
		ReturnTo:    r.str("return_to"),
		RedirectURI: r.str("redirect_uri"),
		Created:     r.num("created"),
		Consumed:    r.boolean("consumed"),
	}
	return it, r.err
}

func decodeSessionItem(av map[string]types.AttributeValue) (sessionItem, error) {
	r := itemReader{item: av}
	it := sessionItem{
		PK:      r.str("pk"),
		TTL:     r.num("ttl"),
		User:    r.str("user"),
		Subject: r.str("sub"),
		Email:   r.str("email"),
		Name:    r.str("name"),
		Issuer:  r.str("iss"),
		Created: r.num("created"),
		Idle:    r.num("idle"),
	}
	return it, r.err
}

func decodeTokensItem(av map[string]types.AttributeValue) (tokensItem, error) {
	r := itemReader{item: av}
	it := tokensItem{
		PK:         r.str("pk"),
		TTL:        r.num("ttl"),
		Access:     r.str("access"),
		Refresh:    r.str("refresh"),
		IDToken:    r.str("id_token"),
		TokenType:  r.str("token_type"),
		Scope:      r.str("scope"),
		Expiry:     r.num("expiry"),
		Version:    r.num("version"),
		LeaseOwner: r.str("lease_owner"),
		LeaseUntil: r.num("lease_until"),
		KeyID:      r.str("kid"),
		Sealed:     r.binary("sealed"),
	}
	return it, r.err
}

// itemReader reads attributes of one item as attributevalue would into the
// field types above: a missing or NULL attribute is the zero value, any
// other type than the field's is an error (the first one is kept). Errors
// name the attribute, never its value.
type itemReader struct {
	item map[string]types.AttributeValue
	err  error
}

// attr returns the named attribute, nil when missing or NULL.
func (r *itemReader) attr(name string) types.AttributeValue {
	av := r.item[name]
	if _, null := av.(*types.AttributeValueMemberNULL); null {
		return nil
	}
	return av
}

func (r *itemReader) fail(name, want string, err error) {
	if r.err == nil {
		r.err = fmt.Errorf("decode attribute %s: want %s: %w", name, want, err)
	}
}

var errAttributeType = errors.New("wrong attribute type")

func (r *itemReader) str(name string) string {
	switch av := r.attr(name).(type) {
	case nil:
		return ""
	case *types.AttributeValueMemberS:
		return av.Value
	}
	r.fail(name, "S", errAttributeType)
	return ""
}

func (r *itemReader) num(name string) int64 {
	switch av := r.attr(name).(type) {
	case nil:
		return 0
	case *types.AttributeValueMemberN:
		n, err := strconv.ParseInt(av.Value, 10, 64)
		if err != nil {
			r.fail(name, "an integer", errors.Unwrap(err)) // the NumError would quote the value
		}
		return n
	}
	r.fail(name, "N", errAttributeType)
	return 0
}

func (r *itemReader) boolean(name string) bool {
	switch av := r.attr(name).(type) {
	case nil:
		return false
	case *types.AttributeValueMemberBOOL:
		return av.Value
	}
	r.fail(name, "BOOL", errAttributeType)
	return false
}

func (r *itemReader) binary(name string) []byte {
	switch av := r.attr(name).(type) {
	case nil:
		return nil
	case *types.AttributeValueMemberB:
		return av.Value
	}
	r.fail(name, "B", errAttributeType)
	return nil
}

// Every expression names its attributes through placeholders: "ttl",
// "user" and "name" are DynamoDB reserved words.
var names = map[string]string{
	"#pk":       partitionKey,
	"#ttl":      TTLAttribute,
	"#binding":  "binding",
	"#consumed": "consumed",
	"#idle":     idleAttribute,
	"#version":  "version",
	"#owner":    "lease_owner",
	"#until":    "lease_until",
	"#user":     userAttribute,
}

// exprNames returns the placeholders an expression uses (DynamoDB rejects
// unused ones).
func exprNames(exprs ...string) map[string]string {
	used := make(map[string]string)
	for p, n := range names {
		for _, e := range exprs {
			if containsPlaceholder(e, p) {
				used[p] = n
			}
		}
	}
	return used
}

func unixMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func fromTTL(sec int64) time.Time { return time.Unix(sec, 0).UTC() }

func number(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func pkey(pk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{partitionKey: str(pk)}
}

func (d *DynamoDB) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// nowValues are :now (epoch seconds, compared with the TTL) and :nowms
// (Unix milliseconds, compared with every other time). For whole-second
// ttl, now < ttl exactly when floor(now) < ttl, so reads and conditions
// agree on liveness.
func nowValues(now time.Time) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		":now":   number(now.Unix()),
		":nowms": number(now.UnixMilli()),
	}
}

// values returns nowValues(now) plus extra, keeping only those expr uses.
func values(now time.Time, extra map[string]types.AttributeValue, exprs ...string) map[string]types.AttributeValue {
	all := nowValues(now)
	for k, v := range extra {
		all[k] = v
	}
	used := make(map[string]types.AttributeValue)
	for k, v := range all {
		for _, e := range exprs {
			if containsPlaceholder(e, k) {
				used[k] = v
			}
		}
	}
	return used
}

// containsPlaceholder matches whole placeholders (":now" is not in ":nowms").
func containsPlaceholder(expr, p string) bool {
	for i := 0; ; {
		j := strings.Index(expr[i:], p)
		if j < 0 {
			return false
		}
		end := i + j + len(p)
		if end == len(expr) || !isNameByte(expr[end]) {
			return true
		}
		i = end
	}
}

func isNameByte(b byte) bool {
	return b == '_' || '0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z'
}

// unavailable wraps a failure of the backend so callers can tell an outage
// from "signed out".
func unavailable(op string, err error) error {
	return fmt.Errorf("store: %s: %w: %w", op, ErrUnavailable, err)
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

// PutState implements Store.
func (d *DynamoDB) PutState(ctx context.Context, s State) error {
	const op = "put state"
	if err := s.validate(); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	item, err := attributevalue.MarshalMap(stateItem{
		PK:          statePrefix + Hash(s.State),
		TTL:         s.ExpiresAt.Unix(),
		Binding:     s.BindingHash,
		Nonce:       s.Nonce,
		Verifier:    s.Verifier,
		ReturnTo:    s.ReturnTo,
		RedirectURI: s.RedirectURI,
		Created:     unixMS(s.CreatedAt),
	})
	if err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	const cond = "attribute_not_exists(#pk) OR #ttl <= :now"
	_, err = d.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 &d.table,
		Item:                      item,
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  exprNames(cond),
		ExpressionAttributeValues: values(d.now(), nil, cond),
	})
	if _, ok := conditionFailed(err); ok {
		return fmt.Errorf("store: %s: %w", op, ErrConflict)
	}
	if err != nil {
		return unavailable(op, err)
	}
	return nil
}

// ConsumeState implements Store with one conditional UpdateItem: the
// condition makes it exactly-once, and the old item sent back on failure
// tells why without a second read.
func (d *DynamoDB) ConsumeState(ctx context.Context, state, bindingHash string) (State, error) {
	const op = "consume state"
	const (
		update = "SET #consumed = :true"
		cond   = "#ttl > :now AND #binding = :binding AND attribute_not_exists(#consumed)"
	)
	now := d.now()
	out, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &d.table,
		Key:                      pkey(statePrefix + Hash(state)),
		UpdateExpression:         aws.String(update),
		ConditionExpression:      aws.String(cond),
		ExpressionAttributeNames: exprNames(update, cond),
		ExpressionAttributeValues: values(now, map[string]types.AttributeValue{
			":true":    &types.AttributeValueMemberBOOL{Value: true},
			":binding": str(bindingHash),
		}, update, cond),
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if old, ok := conditionFailed(err); ok {
		item, err := decodeStateItem(old)
		if err != nil {
			return State{}, fmt.Errorf("store: %s: %w", op, err)
		}
		if err := consumeProblem(item.state(state), item.Consumed, len(old) > 0, bindingHash, now); err != nil {
			return State{}, fmt.Errorf("store: %s: %w", op, err)
		}
		// The condition and consumeProblem disagree: a bug, never a success.
		return State{}, fmt.Errorf("store: %s: condition failed on a consumable state: %w", op, ErrConflict)
	}
	if err != nil {
		return State{}, unavailable(op, err)
	}
	item, err := decodeStateItem(out.Attributes)
	if err != nil {
		return State{}, fmt.Errorf("store: %s: %w", op, err)
	}
	return item.state(state), nil
}

func (it stateItem) state(raw string) State {
	return State{
		State:       raw,
		BindingHash: it.Binding,
		Nonce:       it.Nonce,
		Verifier:    it.Verifier,
		ReturnTo:    it.ReturnTo,
		RedirectURI: it.RedirectURI,
		CreatedAt:   fromMS(it.Created),
		ExpiresAt:   fromTTL(it.TTL),
	}
}

func newSessionItem(s Session) sessionItem {
	return sessionItem{
		PK:      sessionPrefix + s.Key,
		TTL:     s.ExpiresAt.Unix(),
		User:    userKey(s.Issuer, s.User.Subject),
		Subject: s.User.Subject,
		Email:   s.User.Email,
		Name:    s.User.Name,
		Issuer:  s.Issuer,
		Created: unixMS(s.CreatedAt),
		Idle:    unixMS(s.IdleExpiresAt),
	}
}

func userKey(issuer, subject string) string { return issuer + "#" + subject }

func (it sessionItem) session() Session {
	return Session{
		Key:           strings.TrimPrefix(it.PK, sessionPrefix),
		User:          User{Subject: it.Subject, Email: it.Email, Name: it.Name},
		Issuer:        it.Issuer,
		CreatedAt:     fromMS(it.Created),
		ExpiresAt:     fromTTL(it.TTL),
		IdleExpiresAt: fromMS(it.Idle),
	}
}

func (d *DynamoDB) tokensItem(t Tokens) (tokensItem, error) {
	it := tokensItem{
		PK:         tokensPrefix + t.Key,
		TTL:        t.ExpiresAt.Unix(),
		Access:     t.AccessToken,
		Refresh:    t.RefreshToken,
		IDToken:    t.IDToken,
		TokenType:  t.TokenType,
		Scope:      t.Scope,
		Expiry:     unixMS(t.Expiry),
		Version:    t.Version,
		LeaseOwner: t.LeaseOwner,
		LeaseUntil: unixMS(t.LeaseUntil),
	}
	if d.Sealer == nil {
		return it, nil
	}
	var err error
	it.KeyID, it.Sealed, err = d.Sealer.seal(it.PK, sealedTokens{Access: it.Access, Refresh: it.Refresh, ID: it.IDToken})
	if err != nil {
		return tokensItem{}, fmt.Errorf("seal tokens: %w", err)
	}
	it.Access, it.Refresh, it.IDToken = "", "", ""
	return it, nil
}

// tokens decodes a stored token record, opening it when sealed.
func (d *DynamoDB) tokens(av map[string]types.AttributeValue) (Tokens, error) {
	it, err := decodeTokensItem(av)
	if err != nil {
		return Tokens{}, err
	}
	if it.KeyID != "" {
		v, err := d.Sealer.open(it.PK, it.KeyID, it.Sealed)
		if err != nil {
			return Tokens{}, err
		}
		it.Access, it.Refresh, it.IDToken = v.Access, v.Refresh, v.ID
	}
	return Tokens{
		Key:          strings.TrimPrefix(it.PK, tokensPrefix),
		AccessToken:  it.Access,
		RefreshToken: it.Refresh,
		IDToken:      it.IDToken,
		TokenType:    it.TokenType,
		Scope:        it.Scope,
		Expiry:       fromMS(it.Expiry),
		ExpiresAt:    fromTTL(it.TTL),
		Version:      it.Version,
		LeaseOwner:   it.LeaseOwner,
		LeaseUntil:   fromMS(it.LeaseUntil),
	}, nil
}

// CreateSession implements Store with one TransactWriteItems, so a session
// never exists without its tokens.
func (d *DynamoDB) CreateSession(ctx context.Context, s Session, t Tokens) error {
	const op = "create session"
	t, err := tokensFor(s, t)
	if err == nil {
		err = s.validate()
	}
	if err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	sessionAV, err := attributevalue.MarshalMap(newSessionItem(s))
	if err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	tokensIt, err := d.tokensItem(t)
	if err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	tokensAV, err := attributevalue.MarshalMap(tokensIt)
	if err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	// An expired record that TTL has not deleted yet does not count.
	const (
		sessionCond = "attribute_not_exists(#pk) OR #ttl <= :now OR #idle <= :nowms"
		tokensCond  = "attribute_not_exists(#pk) OR #ttl <= :now"
	)
	now := d.now()
	_, err = d.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{
				TableName:                 &d.table,
				Item:                      sessionAV,
				ConditionExpression:       aws.String(sessionCond),
				ExpressionAttributeNames:  exprNames(sessionCond),
				ExpressionAttributeValues: values(now, nil, sessionCond),
			}},
			{Put: &types.Put{
				TableName:                 &d.table,
				Item:                      tokensAV,
				ConditionExpression:       aws.String(tokensCond),
				ExpressionAttributeNames:  exprNames(tokensCond),
				ExpressionAttributeValues: values(now, nil, tokensCond),
			}},
		},
	})
	if err != nil {
		if transactionConflict(err) {
			return fmt.Errorf("store: %s: %w", op, ErrConflict)
		}
		return unavailable(op, err)
	}
	return nil
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

// GetSession implements Store.
func (d *DynamoDB) GetSession(ctx context.Context, key string) (Session, error) {
	const op = "get session"
	av, err := d.get(ctx, sessionPrefix+key)
	if err != nil {
		return Session{}, unavailable(op, err)
	}
	if len(av) == 0 {
		return Session{}, fmt.Errorf("store: %s: %w", op, ErrNotFound)
	}
	item, err := decodeSessionItem(av)
	if err != nil {
		return Session{}, fmt.Errorf("store: %s: %w", op, err)
	}
	s := item.session()
	if !s.live(d.now()) {
		return Session{}, fmt.Errorf("store: %s: %w", op, ErrNotFound)
	}
	return s, nil
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

// TouchSession implements Store.
func (d *DynamoDB) TouchSession(ctx context.Context, key string, idleExpiresAt time.Time) error {
	const op = "touch session"
	const cond = "#ttl > :now AND (attribute_not_exists(#idle) OR #idle > :nowms)"
	update := "SET #idle = :idle"
	if idleExpiresAt.IsZero() {
		update = "REMOVE #idle"
	}
	_, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &d.table,
		Key:                       pkey(sessionPrefix + key),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  exprNames(update, cond),
		ExpressionAttributeValues: values(d.now(), map[string]types.AttributeValue{":idle": number(unixMS(idleExpiresAt))}, update, cond),
	})
	if _, ok := conditionFailed(err); ok {
		return fmt.Errorf("store: %s: %w", op, ErrNotFound)
	}
	if err != nil {
		return unavailable(op, err)
	}
	return nil
}

// DeleteSession implements Store: both deletes run concurrently, so logout
// costs one round trip.
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
	wg.Go(func() { sOld, sErr = deleteOld(sessionPrefix + key) })
	wg.Go(func() { tOld, tErr = deleteOld(tokensPrefix + key) })
	wg.Wait()
	if err := errors.Join(sErr, tErr); err != nil {
		return Session{}, Tokens{}, unavailable(op, err)
	}

	now := d.now()
	var (
		s Session
		t Tokens
	)
	if len(sOld) > 0 {
		item, err := decodeSessionItem(sOld)
		if err != nil {
			return Session{}, Tokens{}, fmt.Errorf("store: %s: %w", op, err)
		}
		if s = item.session(); !s.live(now) {
			s = Session{}
		}
	}
	if len(tOld) > 0 {
		var err error
		if t, err = d.tokens(tOld); err != nil {
			return Session{}, Tokens{}, fmt.Errorf("store: %s: %w", op, err)
		}
		if !live(t.ExpiresAt, now) {
			t = Tokens{}
		}
	}
	if s.Key == "" && t.Key == "" {
		return Session{}, Tokens{}, fmt.Errorf("store: %s: %w", op, ErrNotFound)
	}
	return s, t, nil
}

// SessionKeys implements Store. The index projects ttl and idle, so expired
// sessions are filtered out without reading them.
func (d *DynamoDB) SessionKeys(ctx context.Context, issuer, subject string) ([]string, error) {
	const op = "session keys"
	const cond = "#user = :user"
	pages := dynamodb.NewQueryPaginator(d.client, &dynamodb.QueryInput{
		TableName:                 &d.table,
		IndexName:                 aws.String(UserIndex),
		KeyConditionExpression:    aws.String(cond),
		ExpressionAttributeNames:  exprNames(cond),
		ExpressionAttributeValues: map[string]types.AttributeValue{":user": str(userKey(issuer, subject))},
	})
	now := d.now()
	var keys []string
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, unavailable(op, err)
		}
		for _, av := range page.Items {
			it, err := decodeSessionItem(av)
			if err != nil {
				return nil, fmt.Errorf("store: %s: %w", op, err)
			}
			if s := it.session(); s.live(now) {
				keys = append(keys, s.Key)
			}
		}
	}
	return keys, nil
}

// GetTokens implements Store.
func (d *DynamoDB) GetTokens(ctx context.Context, key string) (Tokens, error) {
	const op = "get tokens"
	av, err := d.get(ctx, tokensPrefix+key)
	if err != nil {
		return Tokens{}, unavailable(op, err)
	}
	if len(av) == 0 {
		return Tokens{}, fmt.Errorf("store: %s: %w", op, ErrNotFound)
	}
	t, err := d.tokens(av)
	if err != nil {
		return Tokens{}, fmt.Errorf("store: %s: %w", op, err)
	}
	if !live(t.ExpiresAt, d.now()) {
		return Tokens{}, fmt.Errorf("store: %s: %w", op, ErrNotFound)
	}
	return t, nil
}

// tokensProblem tells a vanished record (ErrNotFound) from a lost race
// (ErrConflict) after a failed condition on a token record.
func tokensProblem(old map[string]types.AttributeValue, now time.Time) error {
	if len(old) == 0 {
		return ErrNotFound
	}
	item, err := decodeTokensItem(old)
	if err != nil || !live(fromTTL(item.TTL), now) {
		return ErrNotFound
	}
	return ErrConflict
}

// AcquireRefreshLease implements Store.
func (d *DynamoDB) AcquireRefreshLease(ctx context.Context, key string, version int64, owner string, until time.Time) (Tokens, error) {
	const op = "acquire refresh lease"
	if owner == "" {
		return Tokens{}, errEmptyOwner
	}
	const (
		update = "SET #owner = :owner, #until = :until"
		cond   = "#ttl > :now AND #version = :version AND (attribute_not_exists(#owner) OR #owner = :owner OR #until <= :nowms)"
	)
	now := d.now()
	out, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &d.table,
		Key:                      pkey(tokensPrefix + key),
		UpdateExpression:         aws.String(update),
		ConditionExpression:      aws.String(cond),
		ExpressionAttributeNames: exprNames(update, cond),
		ExpressionAttributeValues: values(now, map[string]types.AttributeValue{
			":owner":   str(owner),
			":until":   number(unixMS(until)),
			":version": number(version),
		}, update, cond),
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if old, ok := conditionFailed(err); ok {
		return Tokens{}, fmt.Errorf("store: %s: %w", op, tokensProblem(old, now))
	}
	if err != nil {
		return Tokens{}, unavailable(op, err)
	}
	t, err := d.tokens(out.Attributes)
	if err != nil {
		return Tokens{}, fmt.Errorf("store: %s: %w", op, err)
	}
	return t, nil
}

// SaveRefreshed implements Store with a conditional PutItem: the new item
// has no lease attributes, so writing it releases the lease.
func (d *DynamoDB) SaveRefreshed(ctx context.Context, t Tokens, owner string) error {
	const op = "save refreshed"
	if err := t.validate(); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	t.LeaseOwner, t.LeaseUntil = "", time.Time{}
	it, err := d.tokensItem(t)
	if err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	const cond = "#ttl > :now AND #version = :previous AND #owner = :owner"
	now := d.now()
	_, err = d.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                &d.table,
		Item:                     item,
		ConditionExpression:      aws.String(cond),
		ExpressionAttributeNames: exprNames(cond),
		ExpressionAttributeValues: values(now, map[string]types.AttributeValue{
			":previous": number(t.Version - 1),
			":owner":    str(owner),
		}, cond),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if old, ok := conditionFailed(err); ok {
		return fmt.Errorf("store: %s: %w", op, tokensProblem(old, now))
	}
	if err != nil {
		return unavailable(op, err)
	}
	return nil
}
