package otp

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
)

// MinKeyLen is the shortest Hasher key accepted: 256 bits, the HMAC-SHA256
// output size (RFC 2104 §3 advises a key no shorter than that). With only a
// million codes, the key is all that stands between a stolen database and
// every code in it.
const MinKeyLen = 32

// Domain-separation prefixes: the key may be shared with other keyed hashes
// (recovery codes, cookies), and a one-time code's hash must never equal
// theirs for the same input. Input that does not normalise is hashed under
// its own prefix, so it cannot collide with any real code's hash.
const (
	hashDomain        = "latchkey one-time code v1\x00"
	invalidHashDomain = "latchkey one-time code v1 invalid\x00"
)

// Hasher turns a code into the keyed hash the store keeps in its place.
type Hasher struct {
	key []byte
}

// NewHasher returns a Hasher with a copy of key, which must be at least
// MinKeyLen bytes (random, from the configuration).
func NewHasher(key []byte) (*Hasher, error) {
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("new one-time code hasher: key must be at least %d bytes, not %d", MinKeyLen, len(key))
	}
	return &Hasher{key: append([]byte(nil), key...)}, nil
}

// Hash returns the hex HMAC-SHA256 of the normalised code bound to bindTo,
// the id of the code's row (or its transaction). The binding is what makes
// the hash useless elsewhere: someone able to write to the store cannot
// copy the hash of a code they know onto another user's code. Hash is
// total: a code that does not normalise still gets a hash, which no real
// code has.
func (h *Hasher) Hash(code, bindTo string) string {
	return hex.EncodeToString(h.sum(code, bindTo))
}

// Equal reports whether code, bound to bindTo, is the code hash was made
// from. The comparison takes the same time wherever the hashes differ
// (hmac.Equal), so response times tell a guesser nothing. A code that does
// not normalise never matches.
func (h *Hasher) Equal(code, bindTo, hash string) bool {
	if _, ok := Normalize(code); !ok {
		return false
	}
	want, err := hex.DecodeString(hash)
	if err != nil {
		return false
	}
	return hmac.Equal(h.sum(code, bindTo), want)
}

// sum is HMAC(domain || len(bindTo) || bindTo || code). The length prefix
// keeps (bindTo, code) pairs apart even for input that did not normalise
// and so has no fixed length.
func (h *Hasher) sum(code, bindTo string) []byte {
	m := hmac.New(sha256.New, h.key)
	if c, ok := Normalize(code); ok {
		m.Write([]byte(hashDomain))
		code = c
	} else {
		m.Write([]byte(invalidHashDomain))
	}
	m.Write(binary.BigEndian.AppendUint64(nil, uint64(len(bindTo))))
	m.Write([]byte(bindTo))
	m.Write([]byte(code))
	return m.Sum(nil)
}

// String keeps the key out of fmt output.
func (h *Hasher) String() string { return "otp.Hasher{key:redacted}" }

// GoString keeps the key out of %#v output.
func (h *Hasher) GoString() string { return h.String() }

// LogValue keeps the key out of logs.
func (h *Hasher) LogValue() slog.Value { return slog.StringValue(h.String()) }

var _ slog.LogValuer = (*Hasher)(nil)
