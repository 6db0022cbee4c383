package retry_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/mfa/internal/retry"
)

// recorder is a Policy's Sleep and onRetry that remember instead of wait.
type recorder struct {
	slept   []time.Duration
	retries []int
	delays  []time.Duration
}

func (r *recorder) sleep(_ context.Context, d time.Duration) error {
	r.slept = append(r.slept, d)
	return nil
}

func (r *recorder) onRetry(n int, _ error, d time.Duration) {
	r.retries = append(r.retries, n)
	r.delays = append(r.delays, d)
}

var (
	errTemporary = errors.New("503 try later")
	errPermanent = errors.New("400 bad request")
)

// failing fails with errs in turn, then succeeds; *calls counts attempts.
func failing(calls *int, errs ...error) func(context.Context) error {
	return func(context.Context) error {
		*calls++
		if *calls <= len(errs) {
			return errs[*calls-1]
		}
		return nil
	}
}

func policy(r *recorder) retry.Policy {
	return retry.Policy{
		MaxRetries: 3,
		Base:       500 * time.Millisecond,
		Cap:        8 * time.Second,
		Temporary:  func(err error) bool { return errors.Is(err, errTemporary) },
		Sleep:      r.sleep,
	}
}

func TestBackoffBounds(t *testing.T) {
	const ms = time.Millisecond
	full := []time.Duration{500 * ms, 1000 * ms, 2000 * ms, 4000 * ms, 8000 * ms, 8000 * ms, 8000 * ms}
	for _, tc := range []struct {
		name string
		rand float64
		want func(d time.Duration) time.Duration
	}{
		{"no jitter drawn", 0, func(d time.Duration) time.Duration { return d - d/2 }},
		{"middle", 0.5, func(d time.Duration) time.Duration { return d - d/2 + time.Duration(0.5*float64(d/2+1)) }},
		{"largest draw", 0.9999999999999999, func(d time.Duration) time.Duration { return d }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := retry.Policy{Base: 500 * ms, Cap: 8 * time.Second, Rand: func() float64 { return tc.rand }}
			for n, d := range full {
				got := p.Backoff(n)
				if want := tc.want(d); got != want {
					t.Errorf("Backoff(%d) = %s, want %s", n, got, want)
				}
				if got < d/2 || got > d {
					t.Errorf("Backoff(%d) = %s, outside [%s, %s]", n, got, d/2, d)
				}
			}
		})
	}
}

func TestBackoffNeverOverflows(t *testing.T) {
	// Base<<n wraps past 63 bits; the wait must stay at the cap.
	p := retry.Policy{Base: time.Hour, Cap: 2 * time.Hour, Rand: func() float64 { return 0 }}
	for _, n := range []int{0, 1, 2, 21, 22, 40, 63, 64, 1000} {
		if got := p.Backoff(n); got < 30*time.Minute || got > 2*time.Hour {
			t.Errorf("Backoff(%d) = %s, want within [30m, 2h]", n, got)
		}
	}
	// A base above the cap is capped from the first retry.
	p = retry.Policy{Base: time.Minute, Cap: time.Second, Rand: func() float64 { return 0 }}
	if got := p.Backoff(0); got != 500*time.Millisecond {
		t.Errorf("Backoff(0) with base > cap = %s, want 500ms", got)
	}
}

func TestBackoffDefaultRand(t *testing.T) {
	p := retry.Policy{Base: 250 * time.Millisecond, Cap: 4 * time.Second}
	for n := range 8 {
		d := min(250*time.Millisecond<<n, 4*time.Second)
		if got := p.Backoff(n); got < d/2 || got > d {
			t.Errorf("Backoff(%d) = %s, want within [%s, %s]", n, got, d/2, d)
		}
	}
}

func TestDoSucceedsAfterRetries(t *testing.T) {
	r := &recorder{}
	p := policy(r)
	p.Rand = func() float64 { return 0 }
	calls := 0
	if err := p.Do(t.Context(), failing(&calls, errTemporary, errTemporary), r.onRetry); err != nil {
		t.Fatalf("Do = %v, want success on the third attempt", err)
	}
	if calls != 3 {
		t.Errorf("%d attempts, want 3", calls)
	}
	want := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond}
	if !slices.Equal(r.slept, want) {
		t.Errorf("slept %v, want %v", r.slept, want)
	}
	if !slices.Equal(r.retries, []int{1, 2}) || !slices.Equal(r.delays, r.slept) {
		t.Errorf("onRetry saw retries %v with delays %v; want [1 2] and the sleeps %v", r.retries, r.delays, r.slept)
	}
}

func TestDoMaxRetriesExhausted(t *testing.T) {
	for _, tc := range []struct {
		maxRetries, attempts int
	}{{0, 1}, {-1, 1}, {1, 2}, {2, 3}} {
		r := &recorder{}
		p := policy(r)
		p.MaxRetries = tc.maxRetries
		calls := 0
		last := errors.New("503 for the last time")
		errs := append(slices.Repeat([]error{errTemporary}, tc.attempts-1), last, errTemporary)
		err := p.Do(t.Context(), failing(&calls, errs...), nil)
		if err != last {
			t.Errorf("MaxRetries %d: Do = %v, want the last attempt's error as it is", tc.maxRetries, err)
		}
		if calls != tc.attempts || len(r.slept) != tc.attempts-1 {
			t.Errorf("MaxRetries %d: %d attempts and %d sleeps, want %d and %d",
				tc.maxRetries, calls, len(r.slept), tc.attempts, tc.attempts-1)
		}
	}
}

func TestDoZeroPolicyTriesOnce(t *testing.T) {
	calls := 0
	if err := (retry.Policy{}).Do(t.Context(), failing(&calls, errTemporary), nil); err != errTemporary || calls != 1 {
		t.Errorf("Do = %v after %d attempts, want the error after 1", err, calls)
	}
}

func TestDoPermanentErrorNotRetried(t *testing.T) {
	r := &recorder{}
	calls := 0
	err := policy(r).Do(t.Context(), failing(&calls, errTemporary, errPermanent, errTemporary), r.onRetry)
	if err != errPermanent {
		t.Errorf("Do = %v, want %v unwrapped", err, errPermanent)
	}
	if calls != 2 || len(r.slept) != 1 {
		t.Errorf("%d attempts and %d sleeps, want 2 and 1", calls, len(r.slept))
	}
}

func TestDoNilTemporaryRetriesEverything(t *testing.T) {
	r := &recorder{}
	p := policy(r)
	p.Temporary = nil
	calls := 0
	if err := p.Do(t.Context(), failing(&calls, errPermanent), nil); err != nil || calls != 2 {
		t.Errorf("Do = %v after %d attempts, want success after 2", err, calls)
	}
}

func TestDoRetryAfterWins(t *testing.T) {
	r := &recorder{}
	p := policy(r)
	p.Rand = func() float64 { return 0 }
	asked := []time.Duration{3 * time.Second, 0, 100 * time.Millisecond}
	p.RetryAfter = func(error) time.Duration {
		d := asked[0]
		asked = asked[1:]
		return d
	}
	calls := 0
	if err := p.Do(t.Context(), failing(&calls, errTemporary, errTemporary, errTemporary), nil); err != nil {
		t.Fatal(err)
	}
	// 3 s beats the 250 ms back-off; no Retry-After leaves the 500 ms
	// back-off; one shorter than the 1 s back-off does not shorten it.
	want := []time.Duration{3 * time.Second, 500 * time.Millisecond, time.Second}
	if !slices.Equal(r.slept, want) {
		t.Errorf("slept %v, want %v", r.slept, want)
	}
}

func TestDoMaxWaitRefused(t *testing.T) {
	r := &recorder{}
	p := policy(r)
	p.MaxWait = time.Minute
	p.RetryAfter = func(error) time.Duration { return 10 * time.Minute }
	calls := 0
	err := p.Do(t.Context(), failing(&calls, errTemporary), r.onRetry)
	if !errors.Is(err, errTemporary) || !strings.HasSuffix(err.Error(), " (asked to wait 10m0s)") {
		t.Errorf("Do = %v, want the error and (asked to wait 10m0s)", err)
	}
	if calls != 1 || len(r.slept) != 0 || len(r.retries) != 0 {
		t.Errorf("%d attempts, %d sleeps, %d retries told; want 1, 0, 0", calls, len(r.slept), len(r.retries))
	}

	// A wait of exactly MaxWait is waited.
	r = &recorder{}
	p.Sleep = r.sleep
	p.RetryAfter = func(error) time.Duration { return time.Minute }
	calls = 0
	if err := p.Do(t.Context(), failing(&calls, errTemporary), nil); err != nil || !slices.Equal(r.slept, []time.Duration{time.Minute}) {
		t.Errorf("Do = %v after sleeping %v, want success after one 1m wait", err, r.slept)
	}
}

func TestDoNoSleepPastDeadline(t *testing.T) {
	r := &recorder{}
	p := policy(r)
	p.Base, p.Cap = time.Hour, time.Hour // the first wait cannot fit
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	calls := 0
	err := p.Do(ctx, failing(&calls, errTemporary), r.onRetry)
	if !errors.Is(err, errTemporary) || !strings.HasSuffix(err.Error(), " (no time left to retry)") {
		t.Errorf("Do = %v, want the error and (no time left to retry)", err)
	}
	if calls != 1 || len(r.slept) != 0 || len(r.retries) != 0 {
		t.Errorf("%d attempts, %d sleeps, %d retries told; want 1, 0, 0", calls, len(r.slept), len(r.retries))
	}
}

func TestDoCancelledDuringSleep(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	p := policy(&recorder{})
	p.Sleep = func(ctx context.Context, _ time.Duration) error {
		cancel()
		return ctx.Err()
	}
	calls := 0
	err := p.Do(ctx, failing(&calls, errTemporary, errTemporary), nil)
	if !errors.Is(err, errTemporary) || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "(retry abandoned: context canceled)") {
		t.Errorf("Do = %v, want the error, context.Canceled and (retry abandoned: ...)", err)
	}
	if calls != 1 {
		t.Errorf("%d attempts, want 1", calls)
	}
}

func TestDoContextEndedAsSleepReturned(t *testing.T) {
	// A Sleep whose timer and the cancellation came together returns nil;
	// no attempt follows on a dead context.
	ctx, cancel := context.WithCancel(t.Context())
	p := policy(&recorder{})
	p.Sleep = func(context.Context, time.Duration) error {
		cancel()
		return nil
	}
	calls := 0
	err := p.Do(ctx, failing(&calls, errTemporary, errTemporary), nil)
	if !errors.Is(err, errTemporary) || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "retry abandoned") {
		t.Errorf("Do = %v, want the error and context.Canceled, abandoned", err)
	}
	if calls != 1 {
		t.Errorf("%d attempts, want 1", calls)
	}
}

func TestDoContextEndedBefore(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := 0
	if err := policy(&recorder{}).Do(ctx, failing(&calls), nil); err != context.Canceled || calls != 0 {
		t.Errorf("Do = %v after %d attempts, want context.Canceled and none", err, calls)
	}
}

func TestDoContextEndedDuringAttempt(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	r := &recorder{}
	calls := 0
	err := policy(r).Do(ctx, func(context.Context) error {
		calls++
		cancel()
		return errTemporary
	}, nil)
	if err != errTemporary || calls != 1 || len(r.slept) != 0 {
		t.Errorf("Do = %v after %d attempts and %d sleeps, want the error as it is after 1 and none", err, calls, len(r.slept))
	}
}

func TestDoPassesContextToAttempt(t *testing.T) {
	type key struct{}
	ctx := context.WithValue(t.Context(), key{}, "mark")
	err := (retry.Policy{}).Do(ctx, func(ctx context.Context) error {
		if ctx.Value(key{}) != "mark" {
			return errors.New("attempt did not get Do's context")
		}
		return nil
	}, nil)
	if err != nil {
		t.Error(err)
	}
}

func TestSleep(t *testing.T) {
	if err := retry.Sleep(t.Context(), 0); err != nil {
		t.Errorf("Sleep(0) = %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	// An hour's sleep on an ended context returns at once with its error.
	if err := retry.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep on a cancelled context = %v, want context.Canceled", err)
	}
}

func TestDoDefaultSleepHonoursCancellation(t *testing.T) {
	// With no Sleep injected, the default timer is used; a cancellation
	// while it waits an hour abandons the retry.
	ctx, cancel := context.WithCancel(t.Context())
	p := retry.Policy{MaxRetries: 1, Base: time.Hour, Cap: time.Hour}
	calls := 0
	err := p.Do(ctx, func(context.Context) error {
		calls++
		return errTemporary
	}, func(int, error, time.Duration) { cancel() })
	if !errors.Is(err, context.Canceled) || !errors.Is(err, errTemporary) || calls != 1 {
		t.Errorf("Do = %v after %d attempts, want abandoned after 1", err, calls)
	}
}
