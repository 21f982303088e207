package auth

import (
	"github.com/serverless-signin/signin/internal/lambdaenv/secretenv"
	"github.com/serverless-signin/signin/pkg/store"
)

// MinTokenKeyLength is the shortest token encryption key string accepted,
// in characters.
const MinTokenKeyLength = secretenv.MinTokenKeyLength

// NewTokenSealer returns the sealer for the token records (see
// store.DynamoDB.Sealer) from key material as TOKEN_ENCRYPTION_KEY or the
// secret named by TOKEN_ENCRYPTION_KEY_ARN holds it: one key string of at
// least MinTokenKeyLength characters, or, while rotating, the JSON object
// {"current": "<key>", "previous": ["<old key>", ...]}. Errors never contain
// key material.
func NewTokenSealer(material string) (*store.Sealer, error) {
	return secretenv.NewTokenSealer(material)
}
