// Package secretbox encrypts small secrets at rest (signing keys now; TOTP
// seeds and phone numbers later) with AES-256-GCM, and derives per-purpose
// keys from the one master key in the configuration.
//
// Every ciphertext is bound to associated data chosen by the caller (for
// example "signing-key:<kid>"), so a ciphertext copied into another row does
// not decrypt there.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// KeySize is the size of master and derived keys.
const KeySize = 32

// version prefixes every ciphertext so the format can change later without
// guessing.
const version byte = 1

// ErrDecrypt is returned for any ciphertext that does not open: wrong key,
// wrong associated data, truncated or tampered input.
var ErrDecrypt = errors.New("secretbox: cannot decrypt")

// Box seals and opens secrets with one key.
type Box struct {
	aead cipher.AEAD
}

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("new secretbox: key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("new secretbox: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("new secretbox: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext bound to aad. The output is version || nonce ||
// ciphertext+tag.
func (b *Box) Seal(plaintext, aad []byte) ([]byte, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: read nonce: %w", err)
	}
	out := make([]byte, 0, 1+len(nonce)+len(plaintext)+b.aead.Overhead())
	out = append(out, version)
	out = append(out, nonce...)
	return b.aead.Seal(out, nonce, plaintext, aad), nil
}

// Open decrypts what Seal produced with the same aad.
func (b *Box) Open(sealed, aad []byte) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < 1+n+b.aead.Overhead() || sealed[0] != version {
		return nil, ErrDecrypt
	}
	pt, err := b.aead.Open(nil, sealed[1:1+n], sealed[1+n:], aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// DeriveKey derives a 32-byte key for one purpose from the master key
// (HKDF-SHA256), so that the cookie, CSRF and encryption keys are
// independent and one of them leaking reveals none of the others.
func DeriveKey(master []byte, purpose string) ([]byte, error) {
	if len(master) < KeySize {
		return nil, fmt.Errorf("derive key %q: master key must be at least %d bytes", purpose, KeySize)
	}
	k, err := hkdf.Key(sha256.New, master, nil, "latchkey "+purpose, KeySize)
	if err != nil {
		return nil, fmt.Errorf("derive key %q: %w", purpose, err)
	}
	return k, nil
}
