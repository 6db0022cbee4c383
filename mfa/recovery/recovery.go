// Package recovery makes, reads and hashes recovery codes: the single-use
// codes a user prints or stores when enrolling a second factor, so that a
// lost phone or an unsynced passkey is not a lost account.
//
// A code is 10 characters of Crockford's base32 in lower case, shown as
// "xxxxx-xxxxx": 50 random bits, far beyond what the per-user attempt
// limits let anyone guess, and an alphabet without i, l, o and u, so a code
// read off paper is hard to mistype and Normalize can forgive the
// confusions that remain (o for 0, i or l for 1, case, dashes, spaces).
//
// Codes are shown once and never stored: the store keeps Hasher.Hash of
// each, a keyed HMAC, so a copy of the database without the key yields
// nothing to try. Single use, regeneration and the remaining-codes count
// are the caller's and the store's business (storage UseRecoveryCode,
// ReplaceRecoveryCodes); this package has no state.
package recovery

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
)

// Count is how many codes a user gets at a time.
const Count = 10

// Length is the number of characters in a code, not counting the dash.
const Length = 10

// alphabet is Crockford's base32 (www.crockford.com/base32.html) in lower
// case: digits and letters less i, l, o and u.
const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// maxCodes bounds Generate's n: a user needs a handful, not thousands.
const maxCodes = 100

// Generate returns n fresh codes in display form ("xxxxx-xxxxx"), distinct
// from each other, from crypto/rand.
func Generate(n int) ([]string, error) {
	if n < 1 || n > maxCodes {
		return nil, fmt.Errorf("generate recovery codes: count must be 1 to %d, not %d", maxCodes, n)
	}
	codes := make([]string, 0, n)
	seen := make(map[string]bool, n)
	for len(codes) < n {
		s, err := randomString(rand.Reader, alphabet, Length)
		if err != nil {
			return nil, fmt.Errorf("generate recovery codes: %w", err)
		}
		// A repeat within one set (odds 1 in 2^50 per pair) would leave the
		// user one code short once the first copy is used.
		if seen[s] {
			continue
		}
		seen[s] = true
		codes = append(codes, s[:Length/2]+"-"+s[Length/2:])
	}
	return codes, nil
}

// randomString draws n symbols of alphabet (at most 256 of them) uniformly
// from r. A byte b maps to alphabet[b % len(alphabet)] only when b is below
// the largest multiple of len(alphabet) that fits in a byte; bytes above it
// are rejected, so no symbol is favoured (no modulo bias). With Latchkey's
// 32 symbols nothing is ever rejected, but the sampler stays correct if
// the alphabet changes.
func randomString(r io.Reader, alphabet string, n int) (string, error) {
	k := len(alphabet)
	if k == 0 || k > 256 {
		return "", errors.New("alphabet must have 1 to 256 symbols")
	}
	limit := 256 - 256%k
	out := make([]byte, 0, n)
	buf := make([]byte, n)
	for len(out) < n {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", fmt.Errorf("read random bytes: %w", err)
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, alphabet[int(b)%k])
			}
		}
	}
	return string(out), nil
}

// maxInput bounds what Normalize looks at: a code with generous spacing
// is a few dozen bytes.
const maxInput = 100

// Normalize turns what a user typed into the canonical code: the 10
// characters without the dash, lower case. It trims and drops white space
// and dashes (including the typographic ones a word processor substitutes),
// folds full-width characters (a Japanese input method's) to ASCII, ignores
// case and reads o as 0 and i or l as 1, as Crockford's decoding does. It
// reports false for anything else: a wrong length, a u, any other symbol.
func Normalize(s string) (string, bool) {
	if len(s) > maxInput {
		return "", false
	}
	out := make([]byte, 0, Length)
	for _, r := range s {
		if r >= '！' && r <= '～' { // U+FF01..FF5E: full-width ASCII
			r -= '！' - '!'
		}
		switch {
		case unicode.IsSpace(r) || isDash(r):
			continue
		case r >= 'A' && r <= 'Z':
			r += 'a' - 'A'
		}
		switch r {
		case 'o':
			r = '0'
		case 'i', 'l':
			r = '1'
		}
		if r > unicode.MaxASCII || strings.IndexByte(alphabet, byte(r)) < 0 || len(out) == Length {
			return "", false
		}
		out = append(out, byte(r))
	}
	if len(out) != Length {
		return "", false
	}
	return string(out), true
}

// isDash reports the hyphen and the dashes that autocorrect, fonts and
// copy-paste put in its place.
func isDash(r rune) bool {
	switch r {
	case '-', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', '\u2212', '\ufe63':
		return true
	}
	return false
}
