package store

import (
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The items as stored in DynamoDB, encoded and decoded by attributevalue.
// The attribute names are a stored format: deployed tables hold items
// written with them, so renaming one loses data. The TTL is epoch seconds;
// every other time is Unix milliseconds (0: none).

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
	User    string `dynamodbav:"user"` // issuer#subject: the UserIndex key
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

// Attribute names the expressions use.
const (
	partitionKey        = "pk"
	userAttribute       = "user"
	idleAttribute       = "idle"
	bindingAttribute    = "binding"
	consumedAttribute   = "consumed"
	versionAttribute    = "version"
	leaseOwnerAttribute = "lease_owner"
	leaseUntilAttribute = "lease_until"
)

func encodeItem(v any) (map[string]types.AttributeValue, error) {
	av, err := attributevalue.MarshalMap(v)
	if err != nil {
		return nil, fmt.Errorf("encode item: %w", err)
	}
	return av, nil
}

func decodeItem[T any](av map[string]types.AttributeValue) (T, error) {
	var v T
	if err := attributevalue.UnmarshalMap(av, &v); err != nil {
		return v, fmt.Errorf("decode item: %w", err)
	}
	return v, nil
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

func newStateItem(s State) stateItem {
	return stateItem{
		PK:          StatePrefix + Hash(s.State),
		TTL:         s.ExpiresAt.Unix(),
		Binding:     s.BindingHash,
		Nonce:       s.Nonce,
		Verifier:    s.Verifier,
		ReturnTo:    s.ReturnTo,
		RedirectURI: s.RedirectURI,
		Created:     unixMS(s.CreatedAt),
	}
}

// state returns the record; the item keeps only the hash of the raw state.
func (it stateItem) state(raw string) State {
	s := State{
		BindingHash: it.Binding,
		ReturnTo:    it.ReturnTo,
		CreatedAt:   fromMS(it.Created),
		ExpiresAt:   fromTTL(it.TTL),
	}
	s.State, s.Nonce, s.Verifier, s.RedirectURI = raw, it.Nonce, it.Verifier, it.RedirectURI
	return s
}

func userKey(issuer, subject string) string { return issuer + "#" + subject }

func newSessionItem(s Session) sessionItem {
	return sessionItem{
		PK:      SessionPrefix + s.Key,
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

func (it sessionItem) session() Session {
	s := Session{
		Key:           strings.TrimPrefix(it.PK, SessionPrefix),
		Issuer:        it.Issuer,
		CreatedAt:     fromMS(it.Created),
		ExpiresAt:     fromTTL(it.TTL),
		IdleExpiresAt: fromMS(it.Idle),
	}
	s.User.Subject, s.User.Email, s.User.Name = it.Subject, it.Email, it.Name
	return s
}

// newTokensItem encodes t, sealing the three tokens when sealer is set.
// The seal is bound to the item's pk, so it opens only under that key.
func newTokensItem(t Tokens, sealer *Sealer) (tokensItem, error) {
	it := tokensItem{
		PK:         TokensPrefix + t.Key,
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
	if sealer == nil {
		return it, nil
	}
	var err error
	it.KeyID, it.Sealed, err = sealer.seal(it.PK, sealedTokens{Access: it.Access, Refresh: it.Refresh, ID: it.IDToken})
	if err != nil {
		return tokensItem{}, fmt.Errorf("seal tokens: %w", err)
	}
	it.Access, it.Refresh, it.IDToken = "", "", ""
	return it, nil
}

// tokens returns the record, opening the sealed tokens with sealer. A
// plain item (written without a sealer) needs none.
func (it tokensItem) tokens(sealer *Sealer) (Tokens, error) {
	if it.KeyID != "" {
		v, err := sealer.open(it.PK, it.KeyID, it.Sealed)
		if err != nil {
			return Tokens{}, err
		}
		it.Access, it.Refresh, it.IDToken = v.Access, v.Refresh, v.ID
	}
	t := Tokens{
		Key:        strings.TrimPrefix(it.PK, TokensPrefix),
		ExpiresAt:  fromTTL(it.TTL),
		Version:    it.Version,
		LeaseOwner: it.LeaseOwner,
		LeaseUntil: fromMS(it.LeaseUntil),
	}
	t.AccessToken, t.RefreshToken, t.IDToken = it.Access, it.Refresh, it.IDToken
	t.TokenType, t.Scope, t.Expiry = it.TokenType, it.Scope, fromMS(it.Expiry)
	return t, nil
}

// decodeTokens decodes and opens a stored token record.
func decodeTokens(av map[string]types.AttributeValue, sealer *Sealer) (Tokens, error) {
	it, err := decodeItem[tokensItem](av)
	if err != nil {
		return Tokens{}, err
	}
	return it.tokens(sealer)
}
