// Package retry is the retry loop the outbound MFA clients (FCM, APNs, Web
// Push, Twilio) share: exponential back-off with jitter, a server's
// Retry-After, a cap on a single wait, and never a sleep past the context's
// deadline. Each client keeps its own defaults and its own idea of which
// errors are worth another attempt; the loop, the back-off and the waiting
// live here.
package retry

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// Policy says how often and how long to retry. The zero value makes one
// attempt and never retries. A Policy is a value; copy it freely.
type Policy struct {
	// MaxRetries is how many times a failed attempt is retried, so at most
	// MaxRetries+1 attempts are made; none when zero or negative.
	MaxRetries int
	// Base and Cap bound the back-off before retry n (counted from 0):
	// d = min(Base·2ⁿ, Cap), of which a random half is jitter, so the wait
	// is in [d/2, d]. Jitter keeps clients throttled together from
	// retrying in step.
	Base, Cap time.Duration
	// MaxWait refuses a single wait longer than this (a Retry-After of an
	// hour is not worth waiting for inside a sign-in); no limit when zero.
	MaxWait time.Duration
	// Temporary says whether an attempt's error is worth another attempt;
	// every error is when nil.
	Temporary func(error) bool
	// RetryAfter extracts how long the server asked to wait before the
	// next attempt (zero when it did not say); the wait is then the longer
	// of that and the back-off. Nil when the server never says.
	RetryAfter func(error) time.Duration
	// Sleep waits d unless ctx ends first, returning ctx's error then; a
	// context-aware timer (Sleep) when nil. Tests inject their own.
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand returns a number in [0, 1) for the jitter; math/rand/v2's
	// Float64 when nil.
	Rand func() float64
}

// Do calls attempt until it succeeds, returns an error Temporary refuses,
// or MaxRetries retries have been made; it waits Backoff (or longer, when
// RetryAfter says so) between attempts. onRetry, when not nil, is told of
// each retry before its wait (n counts retries from 1), for logging.
//
// The error is attempt's last, unwrapped when the retries ran out, the
// error was not temporary or ctx ended during the attempt. When Do declines
// to wait it adds why, and the error still matches attempt's:
//
//   - "(asked to wait 2m0s)": the wait would exceed MaxWait;
//   - "(no time left to retry)": the wait would end past ctx's deadline;
//   - "(retry abandoned: context canceled)": ctx ended while waiting (the
//     context's error matches too).
//
// If ctx has ended before the first attempt, Do returns ctx.Err() and makes
// none.
func (p Policy) Do(ctx context.Context, attempt func(context.Context) error, onRetry func(n int, err error, delay time.Duration)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for retries := 0; ; retries++ {
		err := attempt(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || retries >= p.MaxRetries || (p.Temporary != nil && !p.Temporary(err)) {
			return err
		}
		delay := p.Backoff(retries)
		if p.RetryAfter != nil {
			delay = max(delay, p.RetryAfter(err))
		}
		if p.MaxWait > 0 && delay > p.MaxWait {
			return fmt.Errorf("%w (asked to wait %s)", err, delay)
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < delay {
			return fmt.Errorf("%w (no time left to retry)", err)
		}
		if onRetry != nil {
			onRetry(retries+1, err, delay)
		}
		sleep := p.Sleep
		if sleep == nil {
			sleep = Sleep
		}
		if serr := sleep(ctx, delay); serr != nil {
			return fmt.Errorf("%w (retry abandoned: %w)", err, serr)
		}
		// A sleep that returned while ctx ended (a timer and a
		// cancellation at the same instant) is abandoned all the same.
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("%w (retry abandoned: %w)", err, cerr)
		}
	}
}

// Backoff is the wait before retry n (counted from 0) without a server's
// Retry-After: d = min(Base·2ⁿ, Cap), then a uniformly random point of
// [d/2, d].
func (p Policy) Backoff(n int) time.Duration {
	d := max(p.Base, 0)
	// Doubling, not Base<<n: a shift past 63 bits wraps to a negative wait.
	for i := 0; i < n && d < p.Cap; i++ {
		if d > p.Cap/2 {
			d = p.Cap
			break
		}
		d *= 2
	}
	d = min(d, max(p.Cap, 0))
	half := d / 2
	r := p.Rand
	if r == nil {
		r = rand.Float64
	}
	// half+1 buckets, so that both ends of [d/2, d] can occur; min keeps
	// float rounding from ever reaching past d.
	jitter := min(time.Duration(r()*float64(half+1)), half)
	return d - half + jitter
}

// Sleep waits d, or until ctx ends, returning ctx's error then.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
