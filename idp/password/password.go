// Package password hashes and verifies user passwords with Argon2id
// (RFC 9106) and stores them as PHC strings, the format the reference
// implementation prints:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
//
// with salt and hash in standard base64 without padding.
//
// Stored hashes are treated as untrusted input: a hash read from the
// database cannot make Verify allocate more than MaxMemoryKiB or loop more
// than MaxIterations, and a malformed one is an error, never a panic.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// MaxLength is the longest password accepted, in bytes. Argon2 hashes any
// length, but the first pass reads the whole input, so an unbounded
// password would let a client buy server time cheaply.
const MaxLength = 1024

// Bounds on Params. The lower memory bound is OWASP's smallest recommended
// Argon2id configuration (m=7 MiB with t=5); the upper bounds keep a
// tampered or foreign hash from exhausting the server.
const (
	MinMemoryKiB   = 7 * 1024
	MaxMemoryKiB   = 1024 * 1024 // 1 GiB
	MaxIterations  = 64
	MaxParallelism = 16
	MinSaltLen     = 16 // RFC 9106 section 3.1: 128 bits
	MaxSaltLen     = 64
	MinKeyLen      = 16
	MaxKeyLen      = 64
)

// minParsedSaltLen is smaller than MinSaltLen so that hashes imported from
// other systems (8-byte salts are common) still verify and are rehashed.
const minParsedSaltLen = 8

var (
	// ErrTooLong: the password exceeds MaxLength bytes.
	ErrTooLong = fmt.Errorf("password longer than %d bytes", MaxLength)
	// ErrMalformedHash: the stored string is not an Argon2id PHC string
	// within the accepted bounds.
	ErrMalformedHash = errors.New("malformed argon2id hash")
	// ErrUnsupportedVersion: the hash uses an Argon2 version other than
	// 0x13 (19), the only one x/crypto implements.
	ErrUnsupportedVersion = errors.New("unsupported argon2 version")
)

// Params are the Argon2id cost parameters.
type Params struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint8
	SaltLen     uint32
	KeyLen      uint32
}

// DefaultParams returns OWASP's recommended Argon2id configuration
// (Password Storage Cheat Sheet): 19 MiB, 2 iterations, 1 lane, with a
// 16-byte salt and a 32-byte key.
func DefaultParams() Params {
	return Params{MemoryKiB: 19456, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}
}

// Validate reports every parameter outside its bounds.
func (p Params) Validate() error {
	var errs []error
	if p.MemoryKiB < MinMemoryKiB || p.MemoryKiB > MaxMemoryKiB {
		errs = append(errs, fmt.Errorf("memory %d KiB: must be between %d and %d", p.MemoryKiB, MinMemoryKiB, MaxMemoryKiB))
	}
	if p.Iterations < 1 || p.Iterations > MaxIterations {
		errs = append(errs, fmt.Errorf("iterations %d: must be between 1 and %d", p.Iterations, MaxIterations))
	}
	if p.Parallelism < 1 || p.Parallelism > MaxParallelism {
		errs = append(errs, fmt.Errorf("parallelism %d: must be between 1 and %d", p.Parallelism, MaxParallelism))
	}
	if p.SaltLen < MinSaltLen || p.SaltLen > MaxSaltLen {
		errs = append(errs, fmt.Errorf("salt length %d: must be between %d and %d", p.SaltLen, MinSaltLen, MaxSaltLen))
	}
	if p.KeyLen < MinKeyLen || p.KeyLen > MaxKeyLen {
		errs = append(errs, fmt.Errorf("key length %d: must be between %d and %d", p.KeyLen, MinKeyLen, MaxKeyLen))
	}
	return errors.Join(errs...)
}

// Hasher hashes new passwords with its Params and verifies stored hashes
// with theirs. It is safe for concurrent use.
type Hasher struct {
	params Params
}

// NewHasher returns a Hasher for p, or an error naming every bad parameter.
func NewHasher(p Params) (*Hasher, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("validate argon2id params: %w", err)
	}
	return &Hasher{params: p}, nil
}

// Params returns the parameters new hashes are made with.
func (h *Hasher) Params() Params { return h.params }

// Hash returns the PHC string of password with a fresh random salt.
func (h *Hasher) Hash(password string) (string, error) {
	if len(password) > MaxLength {
		return "", ErrTooLong
	}
	salt := make([]byte, h.params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("read salt: %w", err)
	}
	p := h.params
	key := argon2.IDKey([]byte(password), salt, p.Iterations, p.MemoryKiB, p.Parallelism, p.KeyLen)
	return encode(p, salt, key), nil
}

// Verify reports whether password matches the PHC string encoded. The
// comparison of derived keys is constant-time. needsRehash is true when
// the password matched but the stored hash was made with parameters other
// than the Hasher's: the caller should store a fresh Hash.
func (h *Hasher) Verify(encoded, password string) (ok, needsRehash bool, err error) {
	if len(password) > MaxLength {
		return false, false, ErrTooLong
	}
	p, salt, want, err := decode(encoded)
	if err != nil {
		return false, false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Iterations, p.MemoryKiB, p.Parallelism, p.KeyLen)
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return false, false, nil
	}
	return true, p != h.params, nil
}

// dummySalt only has to have the right length; its value is irrelevant
// because the result is compared with nothing a user could know.
var dummySalt = [MaxSaltLen]byte{}

// DummyVerify spends as long as Verify of a hash made with the Hasher's
// parameters would. Call it when the account does not exist, so that the
// response time does not tell whether it does.
func (h *Hasher) DummyVerify(password string) {
	if len(password) > MaxLength {
		return // Verify rejects it just as fast.
	}
	p := h.params
	got := argon2.IDKey([]byte(password), dummySalt[:p.SaltLen], p.Iterations, p.MemoryKiB, p.Parallelism, p.KeyLen)
	// Mirror Verify's comparison so the two paths do the same work.
	subtle.ConstantTimeCompare(got, dummySalt[:p.KeyLen])
}

func encode(p Params, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Iterations, p.Parallelism,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// decode parses a PHC string and checks its parameters against the bounds,
// before any memory is spent on them.
func decode(encoded string) (p Params, salt, key []byte, err error) {
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	// The base64 decoder skips CR and LF; refuse them so that one hash
	// has one spelling.
	if strings.ContainsAny(encoded, "\r\n") {
		return Params{}, nil, nil, ErrMalformedHash
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return Params{}, nil, nil, ErrMalformedHash
	}
	version, ok := strings.CutPrefix(parts[2], "v=")
	if !ok {
		return Params{}, nil, nil, ErrMalformedHash
	}
	v, err := parseUint(version, 32)
	if err != nil {
		return Params{}, nil, nil, ErrMalformedHash
	}
	if v != argon2.Version {
		return Params{}, nil, nil, fmt.Errorf("%w: %d", ErrUnsupportedVersion, v)
	}
	if p, err = parseParams(parts[3]); err != nil {
		return Params{}, nil, nil, err
	}
	b64 := base64.RawStdEncoding.Strict()
	if salt, err = b64.DecodeString(parts[4]); err != nil {
		return Params{}, nil, nil, ErrMalformedHash
	}
	if key, err = b64.DecodeString(parts[5]); err != nil {
		return Params{}, nil, nil, ErrMalformedHash
	}
	if len(salt) < minParsedSaltLen || len(salt) > MaxSaltLen || len(key) < MinKeyLen || len(key) > MaxKeyLen {
		return Params{}, nil, nil, ErrMalformedHash
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}

// parseParams parses "m=<KiB>,t=<iterations>,p=<lanes>" in that order, as
// the reference implementation writes it.
func parseParams(s string) (Params, error) {
	fields := strings.Split(s, ",")
	if len(fields) != 3 {
		return Params{}, ErrMalformedHash
	}
	var vals [3]uint64
	for i, name := range [3]string{"m=", "t=", "p="} {
		raw, ok := strings.CutPrefix(fields[i], name)
		if !ok {
			return Params{}, ErrMalformedHash
		}
		n, err := parseUint(raw, 32)
		if err != nil {
			return Params{}, ErrMalformedHash
		}
		vals[i] = n
	}
	m, t, par := vals[0], vals[1], vals[2]
	// Argon2 needs at least 8 KiB per lane. Weak but valid hashes (below
	// MinMemoryKiB) are accepted so that they can be upgraded on sign-in.
	if par < 1 || par > MaxParallelism || t < 1 || t > MaxIterations || m < 8*par || m > MaxMemoryKiB {
		return Params{}, ErrMalformedHash
	}
	return Params{MemoryKiB: uint32(m), Iterations: uint32(t), Parallelism: uint8(par)}, nil
}

// parseUint accepts only canonical decimal: no sign, no leading zeros, so
// that one hash has one spelling.
func parseUint(s string, bits int) (uint64, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') || s[0] == '+' {
		return 0, ErrMalformedHash
	}
	return strconv.ParseUint(s, 10, bits)
}
