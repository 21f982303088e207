package secretenv

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/serverless-signin/signin/pkg/store"
)

// Token encryption at rest (README.md documents the variables).
const (
	envTokenKey    = "TOKEN_ENCRYPTION_KEY"     // the key string itself, for local use
	envTokenKeyARN = "TOKEN_ENCRYPTION_KEY_ARN" // Secrets Manager secret holding it

	// MinTokenKeyLength is the shortest key string accepted, in
	// characters. A key string is a passphrase-like secret, not raw key
	// bytes: HKDF turns it into the AES-256 key.
	MinTokenKeyLength = 32

	// tokenKeyInfo is the HKDF info label. Changing it changes every
	// derived key, making every sealed record unreadable.
	tokenKeyInfo = "serverless-signin token encryption v1"
)

// NewTokenSealer returns the sealer for the token records (see
// store.DynamoDB.Sealer) from key material as TOKEN_ENCRYPTION_KEY or the
// secret named by TOKEN_ENCRYPTION_KEY_ARN holds it: either one key string
// of at least MinTokenKeyLength characters, or, while rotating, the JSON
// object {"current": "<key>", "previous": ["<old key>", ...]}: records are
// sealed with current and opened with current or any previous key.
//
// Each key string becomes an AES-256 key through HKDF-SHA256 (no salt,
// info "serverless-signin token encryption v1"); its id, recorded with
// every sealed record, is the first 8 hex digits of the SHA-256 of the
// derived key. Errors never contain key material.
func NewTokenSealer(material string) (*store.Sealer, error) {
	s, err := tokenSealer(material)
	if err != nil {
		return nil, fmt.Errorf("secretenv: token encryption key %w", err)
	}
	return s, nil
}

// tokenSealer is NewTokenSealer with errors that read after a variable
// name ("TOKEN_ENCRYPTION_KEY must be at least 32 characters").
func tokenSealer(material string) (*store.Sealer, error) {
	current, previous, err := parseTokenKeys(material)
	if err != nil {
		return nil, err
	}
	var keys []store.TokenKey
	seen := map[string]bool{}
	for i, s := range append([]string{current}, previous...) {
		if utf8.RuneCountInString(s) < MinTokenKeyLength {
			if i > 0 {
				return nil, fmt.Errorf("has a \"previous\" key shorter than %d characters", MinTokenKeyLength)
			}
			return nil, fmt.Errorf("must be at least %d characters", MinTokenKeyLength)
		}
		k, err := deriveTokenKey(s)
		if err != nil {
			return nil, err
		}
		// A previous key equal to the current one (a rotation half done)
		// is harmless; the store refuses duplicate ids.
		if !seen[k.ID] {
			seen[k.ID] = true
			keys = append(keys, k)
		}
	}
	s, err := store.NewSealer(keys[0], keys[1:]...)
	if err != nil {
		return nil, fmt.Errorf("cannot be used: %w", err)
	}
	return s, nil
}

// parseTokenKeys reads one key string, or the rotation JSON object. Unknown
// JSON fields are refused: a misspelt "previous" would silently make old
// records unreadable.
func parseTokenKeys(material string) (current string, previous []string, err error) {
	material = strings.TrimSpace(material) // a pasted secret drags a newline along
	if !strings.HasPrefix(material, "{") {
		return material, nil, nil
	}
	var v struct {
		Current  string   `json:"current"`
		Previous []string `json:"previous"`
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(material)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil || dec.More() {
		// The decoder's message may quote the material.
		return "", nil, errors.New(`must be a key string or the JSON object {"current": "...", "previous": ["..."]}`)
	}
	for i := range v.Previous {
		v.Previous[i] = strings.TrimSpace(v.Previous[i])
	}
	return strings.TrimSpace(v.Current), v.Previous, nil
}

// deriveTokenKey turns a key string into the AES-256 key and its id.
func deriveTokenKey(s string) (store.TokenKey, error) {
	key, err := hkdf.Key(sha256.New, []byte(s), nil, tokenKeyInfo, 32)
	if err != nil {
		return store.TokenKey{}, fmt.Errorf("cannot be derived into a key: %w", err)
	}
	sum := sha256.Sum256(key)
	return store.TokenKey{ID: hex.EncodeToString(sum[:4]), Key: key}, nil
}

// tokenSealerFromEnv reads the token key of a function whose route reads or
// writes token records: TOKEN_ENCRYPTION_KEY, else the Secrets Manager
// secret TOKEN_ENCRYPTION_KEY_ARN (read with awsCfg), else none (nil: the
// tokens are stored in plain text, as before). A plain variable was
// validated before any I/O; this only reads the secret.
func tokenSealerFromEnv(ctx context.Context, awsCfg aws.Config, getenv func(string) string) (*store.Sealer, error) {
	if v := getenv(envTokenKey); v != "" {
		return tokenSealer(v)
	}
	id := getenv(envTokenKeyARN)
	if id == "" {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, secretTimeout)
	defer cancel()
	material, err := secretString(ctx, awsCfg, getenv, id)
	if err != nil {
		return nil, fmt.Errorf("read token key %s from Secrets Manager: %w", envTokenKeyARN, err)
	}
	s, err := tokenSealer(material)
	if err != nil {
		return nil, fmt.Errorf("token key %s: the secret %w", envTokenKeyARN, err)
	}
	return s, nil
}
