package recovery

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
)

// MinKeyLen is the shortest Hasher key accepted: 256 bits, the HMAC-SHA256
// output size (RFC 2104 §3 advises a key no shorter than that).
const MinKeyLen = 32

// Domain-separation prefixes: the HMAC key may be shared with other keyed
// hashes (OTPs, cookies), and a recovery code's hash must never equal
// theirs for the same input. Input that does not normalise is hashed under
// its own prefix, so it cannot collide with any real code's hash.
const (
	hashDomain        = "latchkey recovery code v1\x00"
	invalidHashDomain = "latchkey recovery code v1 invalid\x00"
)

// Hasher turns codes into the keyed hashes the store looks codes up by. A
// database copy without the key cannot be tried offline: 50 bits is plenty
// against the online attempt limits, not against a GPU with the hashes.
type Hasher struct {
	key []byte
}

// NewHasher returns a Hasher with a copy of key, which must be at least
// MinKeyLen bytes (random, from the configuration).
func NewHasher(key []byte) (*Hasher, error) {
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("new recovery code hasher: key must be at least %d bytes, not %d", MinKeyLen, len(key))
	}
	return &Hasher{key: append([]byte(nil), key...)}, nil
}

// Hash returns the hex HMAC-SHA256 of the normalised code, so every way of
// typing one code gives one hash. Hash is total: a code that does not
// normalise still gets a hash, which no generated code has, so the
// caller's lookup simply finds nothing.
func (h *Hasher) Hash(code string) string {
	m := hmac.New(sha256.New, h.key)
	if c, ok := Normalize(code); ok {
		m.Write([]byte(hashDomain))
		m.Write([]byte(c))
	} else {
		m.Write([]byte(invalidHashDomain))
		m.Write([]byte(code))
	}
	return hex.EncodeToString(m.Sum(nil))
}

// String keeps the key out of fmt output.
func (h *Hasher) String() string { return "recovery.Hasher{key:redacted}" }

// GoString keeps the key out of %#v output.
func (h *Hasher) GoString() string { return h.String() }

// LogValue keeps the key out of logs.
func (h *Hasher) LogValue() slog.Value { return slog.StringValue(h.String()) }

var _ slog.LogValuer = (*Hasher)(nil)
