package totp

import (
	"errors"
	"fmt"
	"time"

	"github.com/pquerna/otp"
)

// Params are the RFC 6238 parameters shared by enrolment and
// verification. A zero field means its default, so Params{} is the
// standard SHA-1 / 6 digits / 30 s that every authenticator app supports.
// The parameters are part of the otpauth:// link: a credential must be
// verified with the Params it was enrolled with.
type Params struct {
	// Algorithm is the HMAC hash of RFC 6238 §1.2: "SHA1" (default),
	// "SHA256" or "SHA512".
	Algorithm string
	// Digits is the code length: 6 (default) or 8. RFC 4226 §5.3 allows
	// 6 to 8; 7 is left out because no app offers it.
	Digits int
	// Period is the time step X of RFC 6238 §4.1, in whole seconds: 30 s
	// by default.
	Period time.Duration
}

// Bounds of Params.Period: shorter steps leave users no time to type,
// longer ones keep a code valid (with the window) for minutes.
const (
	minPeriod = 15 * time.Second
	maxPeriod = 5 * time.Minute
)

// DefaultParams returns the parameters every authenticator app supports:
// SHA-1, 6 digits, 30 seconds.
func DefaultParams() Params {
	return Params{Algorithm: "SHA1", Digits: 6, Period: 30 * time.Second}
}

// withDefaults fills the zero fields.
func (p Params) withDefaults() Params {
	d := DefaultParams()
	if p.Algorithm == "" {
		p.Algorithm = d.Algorithm
	}
	if p.Digits == 0 {
		p.Digits = d.Digits
	}
	if p.Period == 0 {
		p.Period = d.Period
	}
	return p
}

// Validate reports every unusable field at once (zero fields are fine:
// they take their defaults).
func (p Params) Validate() error {
	p = p.withDefaults()
	var errs []error
	if _, ok := algorithms[p.Algorithm]; !ok {
		errs = append(errs, fmt.Errorf("totp: algorithm must be SHA1, SHA256 or SHA512, not %q", p.Algorithm))
	}
	if p.Digits != 6 && p.Digits != 8 {
		errs = append(errs, fmt.Errorf("totp: digits must be 6 or 8, not %d", p.Digits))
	}
	if p.Period < minPeriod || p.Period > maxPeriod || p.Period%time.Second != 0 {
		errs = append(errs, fmt.Errorf("totp: period must be whole seconds from %s to %s, not %s", minPeriod, maxPeriod, p.Period))
	}
	return errors.Join(errs...)
}

var algorithms = map[string]otp.Algorithm{
	"SHA1":   otp.AlgorithmSHA1,
	"SHA256": otp.AlgorithmSHA256,
	"SHA512": otp.AlgorithmSHA512,
}

// periodSeconds is Period in seconds; only for validated Params.
func (p Params) periodSeconds() int64 { return int64(p.Period / time.Second) }

// Step returns the RFC 6238 time step T = floor(unix time / X) that t
// falls in (negative before 1970, where no code exists).
func (p Params) Step(t time.Time) int64 {
	p = p.withDefaults()
	x := p.periodSeconds()
	if x <= 0 {
		return -1
	}
	u := t.Unix()
	s := u / x
	if u%x != 0 && u < 0 {
		s-- // floor, not truncation toward zero
	}
	return s
}
