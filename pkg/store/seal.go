package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
)

// TokenKey is an AES-256 key for token fields at rest. Its ID is recorded
// with every sealed record so that records sealed before a key rotation
// can still be opened.
type TokenKey struct {
	ID  string
	Key []byte // 32 bytes
}

// Sealer encrypts the provider tokens of a token record (access, refresh
// and ID token) with AES-256-GCM, bound to the record's key (the AAD), so a
// table dump or backup yields no usable token and a sealed value copied to
// another record does not open.
type Sealer struct {
	current string
	aeads   map[string]cipher.AEAD
}

// NewSealer seals with current and opens records sealed with current or any
// of previous.
func NewSealer(current TokenKey, previous ...TokenKey) (*Sealer, error) {
	s := &Sealer{current: current.ID, aeads: make(map[string]cipher.AEAD)}
	for _, k := range append([]TokenKey{current}, previous...) {
		if k.ID == "" {
			return nil, errors.New("store: token key: empty id")
		}
		if len(k.Key) != 32 {
			return nil, fmt.Errorf("store: token key %q: %d bytes; want 32", k.ID, len(k.Key))
		}
		if _, dup := s.aeads[k.ID]; dup {
			return nil, fmt.Errorf("store: token key %q: duplicate id", k.ID)
		}
		block, err := aes.NewCipher(k.Key)
		if err != nil {
			return nil, fmt.Errorf("store: token key %q: %w", k.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("store: token key %q: %w", k.ID, err)
		}
		s.aeads[k.ID] = aead
	}
	return s, nil
}

// sealedTokens is the plaintext of a sealed record.
type sealedTokens struct {
	Access  string `json:"a,omitempty"`
	Refresh string `json:"r,omitempty"`
	ID      string `json:"i,omitempty"`
}

// seal returns the key id and nonce||ciphertext of the tokens.
func (s *Sealer) seal(pk string, v sealedTokens) (keyID string, sealed []byte, err error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", nil, err
	}
	aead := s.aeads[s.current]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", nil, err
	}
	return s.current, aead.Seal(nonce, nonce, plain, []byte(pk)), nil
}

func (s *Sealer) open(pk, keyID string, sealed []byte) (sealedTokens, error) {
	var v sealedTokens
	if s == nil {
		return v, fmt.Errorf("record sealed with key %q but no token key configured", keyID)
	}
	aead, ok := s.aeads[keyID]
	if !ok {
		return v, fmt.Errorf("record sealed with unknown key %q", keyID)
	}
	if len(sealed) < aead.NonceSize() {
		return v, errors.New("sealed tokens too short")
	}
	nonce, ciphertext := sealed[:aead.NonceSize()], sealed[aead.NonceSize():]
	plain, err := aead.Open(nil, nonce, ciphertext, []byte(pk))
	if err != nil {
		return v, fmt.Errorf("open sealed tokens (key %q): %w", keyID, err)
	}
	return v, json.Unmarshal(plain, &v)
}
