// Package otp makes, hashes and words the one-time codes Latchkey sends by
// SMS and reads out in voice calls.
//
// A code is 6 decimal digits, the length people can hold in their head
// between phone and screen and that SMS autofill on iOS and Android (and
// the WebOTP API) recognise. A million values is few, so the limits do the
// protecting: a code lives for Lifetime, takes at most MaxAttempts guesses
// and is used once, which leaves a guesser 5 in 10^6 per code sent, and the
// resend Schedule and the callers' send budgets bound the codes sent.
//
// Codes are never stored: the store keeps Hasher.Hash, a keyed HMAC bound
// to the code's id, so a copy of the database without the key gives no
// code and a hash copied onto another code's row matches nothing. Counting
// attempts, single use and expiry belong to the caller and the store (one
// atomic update each); this package has no state, does no I/O and never
// logs.
//
// The texts (SMSText, VoiceScript) live here rather than in the web
// templates because they go to phones, not pages: each must fit one SMS
// segment and end with the origin-bound line of the SMS One-Time Codes
// format ("@id.example.com #123456"), which lets browsers fill the code in
// only on the site it was sent for, so a phishing page does not get it
// autofilled.
package otp

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"time"
	"unicode"
)

// Digits is the length of a code.
const Digits = 6

// Lifetime is how long a sent code stays valid: long enough for a slow
// SMS or a second listen to a call, short enough that a code read off a
// lock screen later is worthless.
const Lifetime = 5 * time.Minute

// MaxAttempts is how many wrong codes one code survives; the attempt after
// it is refused even if right.
const MaxAttempts = 5

// Schedule is how long a user waits before the next resend of a code:
// element i is the wait after send i+1, and the last element holds for
// every send after it. A growing wait lets a slow SMS arrive before a
// second one is paid for and keeps a scripted resend loop slow.
type Schedule []time.Duration

// DefaultSchedule is Latchkey's resend policy: 30 seconds after the first
// send, 60 after the second, 120 after the third and after every later one.
func DefaultSchedule() Schedule {
	return Schedule{30 * time.Second, 60 * time.Second, 120 * time.Second}
}

// ResendWait is the wait after the given number of sends; zero when
// nothing has been sent yet or the schedule is empty.
func (s Schedule) ResendWait(sends int) time.Duration {
	if sends < 1 || len(s) == 0 {
		return 0
	}
	return s[min(sends, len(s))-1]
}

// ResendWait is DefaultSchedule().ResendWait(sends).
func ResendWait(sends int) time.Duration {
	return DefaultSchedule().ResendWait(sends)
}

// Generate returns a fresh code from crypto/rand: Digits digits, each of
// the 10^6 codes equally likely, leading zeros kept ("004217").
func Generate() (string, error) {
	code, err := generate(rand.Reader)
	if err != nil {
		return "", fmt.Errorf("generate one-time code: %w", err)
	}
	return code, nil
}

// codeSpace is the number of distinct codes, 10^Digits.
const codeSpace = 1_000_000

// acceptBelow is the largest multiple of codeSpace that fits in 32 bits.
// A draw at or above it is rejected and redrawn, so that reducing modulo
// codeSpace favours no code (no modulo bias). A draw is rejected with odds
// of about 1 in 4,300, so Generate reads 4 bytes almost always.
const acceptBelow = (1 << 32) / codeSpace * codeSpace

// generate draws a code by rejection sampling over 32-bit values from r.
func generate(r io.Reader) (string, error) {
	var buf [4]byte
	for {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return "", fmt.Errorf("read random bytes: %w", err)
		}
		if v := binary.BigEndian.Uint32(buf[:]); v < acceptBelow {
			return fmt.Sprintf("%0*d", Digits, v%codeSpace), nil
		}
	}
}

// maxInput bounds what Normalize reads: six digits with generous spacing in
// full-width characters (three bytes each) are well under it.
const maxInput = 100

// Normalize turns what a user typed or pasted into a code: it drops white
// space (including the ideographic space) and dashes (including the
// long-vowel mark a Japanese input method may give for one), and folds
// full-width digits to ASCII. It reports false for anything that is not
// then exactly Digits ASCII digits, so a page can ask for the code again
// without spending an attempt.
func Normalize(input string) (string, bool) {
	if len(input) > maxInput {
		return "", false
	}
	out := make([]byte, 0, Digits)
	for _, r := range input {
		if r >= '０' && r <= '９' {
			r -= '０' - '0'
		}
		switch {
		case unicode.IsSpace(r) || isDash(r):
			continue
		case r < '0' || r > '9' || len(out) == Digits:
			return "", false
		}
		out = append(out, byte(r))
	}
	if len(out) != Digits {
		return "", false
	}
	return string(out), true
}

// isDash reports the hyphen and what autocorrect, fonts, copy-paste and
// input methods put in its place.
func isDash(r rune) bool {
	switch r {
	case '-', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', '\u2212', '\ufe63', '\uff0d',
		'\u30fc', '\uff70': // ー ｰ
		return true
	}
	return false
}
