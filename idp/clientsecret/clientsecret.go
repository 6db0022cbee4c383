// Package clientsecret mints and checks OAuth 2.0 client secrets.
//
// Latchkey generates every client secret itself, with 256 bits of entropy.
// Guessing such a secret is hopeless however fast the hash, so the stored
// form is a salted HMAC-SHA256 rather than a password hash: a token request
// then costs microseconds instead of tens of milliseconds of Argon2 (see
// BenchmarkVerify). The salt keeps equal secrets from having equal hashes
// and the HMAC keys the digest with it:
//
//	hmac-sha256$<base64 salt (16 bytes)>$<base64 HMAC-SHA256(key=salt, secret)>
//
// Base64 is the standard alphabet without padding, as in PHC strings.
//
// The Hasher type has the method set of fosite's Hasher interface, so idp
// can hand it to fosite without this package importing fosite.
package clientsecret

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

const (
	// secretBytes is the entropy of a generated secret: 256 bits.
	secretBytes = 32
	saltBytes   = 16
	scheme      = "hmac-sha256"
)

// MinLength is the shortest secret Hash accepts: the length of a generated
// secret (32 bytes in unpadded base64url). The fast hash is only safe for
// secrets with that much entropy, so shorter ones are refused outright.
const MinLength = 43

var (
	// ErrMismatch: the secret does not match the stored hash, or the hash
	// is malformed. The two are not told apart, so a caller cannot leak
	// which one happened.
	ErrMismatch = errors.New("client secret mismatch")
	// ErrTooShort: Hash was given a secret shorter than MinLength.
	ErrTooShort = fmt.Errorf("client secret shorter than %d characters", MinLength)
)

// Generate returns a new secret: 32 random bytes, base64url without
// padding (43 characters, safe in URLs and HTTP Basic credentials).
func Generate() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Hash returns the storable form of secret with a fresh random salt.
func Hash(secret string) (string, error) {
	if len(secret) < MinLength {
		return "", ErrTooShort
	}
	salt := make([]byte, saltBytes)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("read salt: %w", err)
	}
	b64 := base64.RawStdEncoding
	return scheme + "$" + b64.EncodeToString(salt) + "$" + b64.EncodeToString(mac(salt, secret)), nil
}

// Verify reports whether secret matches encoded. The digests are compared
// in constant time; a malformed encoded value is simply false.
func Verify(encoded, secret string) bool {
	rest, ok := strings.CutPrefix(encoded, scheme+"$")
	if !ok {
		return false
	}
	rawSalt, rawMAC, ok := strings.Cut(rest, "$")
	if !ok {
		return false
	}
	b64 := base64.RawStdEncoding.Strict()
	salt, err := b64.DecodeString(rawSalt)
	if err != nil || len(salt) != saltBytes {
		return false
	}
	want, err := b64.DecodeString(rawMAC)
	if err != nil || len(want) != sha256.Size {
		return false
	}
	return hmac.Equal(mac(salt, secret), want)
}

func mac(salt []byte, secret string) []byte {
	m := hmac.New(sha256.New, salt)
	m.Write([]byte(secret))
	return m.Sum(nil)
}

// Hasher adapts Hash and Verify to fosite's Hasher interface
// (Compare(ctx, hash, data) error; Hash(ctx, data) ([]byte, error)),
// which fosite uses to authenticate confidential clients at the token,
// introspection and revocation endpoints.
type Hasher struct{}

// Compare returns nil if data is the secret hashed in hash, ErrMismatch
// otherwise.
func (Hasher) Compare(_ context.Context, hash, data []byte) error {
	if !Verify(string(hash), string(data)) {
		return ErrMismatch
	}
	return nil
}

// Hash returns the storable form of data.
func (Hasher) Hash(_ context.Context, data []byte) ([]byte, error) {
	h, err := Hash(string(data))
	if err != nil {
		return nil, err
	}
	return []byte(h), nil
}
