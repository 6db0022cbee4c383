package webpush_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/mfa/push"
	"github.com/latchkey/latchkey/mfa/push/webpush"
	"github.com/latchkey/latchkey/mfa/push/webpush/webpushtest"
)

func TestSendDelivers(t *testing.T) {
	fake := webpushtest.New(t)
	s, sl := newSender(t, fake, nil)
	sub := fake.NewSubscriptionFor(s.PublicKey())

	if err := s.Send(t.Context(), target(sub), msg); err != nil {
		t.Fatal(err)
	}
	pushes := fake.PushesTo(sub)
	if len(pushes) != 1 {
		t.Fatalf("%d pushes, want 1", len(pushes))
	}
	p := pushes[0]
	if p.Err != nil {
		t.Fatalf("the push does not decrypt: %v", p.Err)
	}
	// The payload is exactly {iss, challenge}: content-free.
	var payload map[string]string
	if err := json.Unmarshal(p.Payload, &payload); err != nil {
		t.Fatalf("payload %q: %v", p.Payload, err)
	}
	if len(payload) != 2 || payload["iss"] != msg.Issuer || payload["challenge"] != msg.ChallengeID {
		t.Errorf("payload = %s, want iss and challenge only", p.Payload)
	}
	if p.TTL != 30 || p.Urgency != "high" || p.Topic != "" {
		t.Errorf("TTL %d, Urgency %q, Topic %q; want 30, high, none", p.TTL, p.Urgency, p.Topic)
	}
	if p.VAPIDKey != s.PublicKey() || p.Subject != "mailto:ops@example.com" || p.Audience != fake.URL() {
		t.Errorf("VAPID k %s sub %s aud %s", p.VAPIDKey, p.Subject, p.Audience)
	}
	if life := p.Expires.Sub(p.Received); life < 11*time.Hour || life > 12*time.Hour {
		t.Errorf("VAPID token valid for %s, want about 12 h", life)
	}
	if got := statuses(fake.Requests()); !slices.Equal(got, []int{201}) {
		t.Errorf("answers %v, want one 201", got)
	}
	if n := len(sl.all()); n != 0 {
		t.Errorf("%d sleeps on a clean send", n)
	}
}

func TestSendHeaders(t *testing.T) {
	fake := webpushtest.New(t)
	s, _ := newSender(t, fake, func(c *webpush.Config) { c.Topic = "signin" })
	sub := fake.NewSubscription()
	for _, ttl := range []time.Duration{0, 1500 * time.Millisecond} {
		m := msg
		m.TTL = ttl
		if err := s.Send(t.Context(), target(sub), m); err != nil {
			t.Fatal(err)
		}
	}
	ps := fake.PushesTo(sub)
	if len(ps) != 2 {
		t.Fatalf("%d pushes", len(ps))
	}
	if ps[0].TTL != 60 || ps[1].TTL != 2 {
		t.Errorf("TTL %d and %d, want the default 60 and 1.5 s rounded up to 2", ps[0].TTL, ps[1].TTL)
	}
	if ps[0].Topic != "signin" {
		t.Errorf("Topic %q", ps[0].Topic)
	}
	h := fake.Requests()[0].Header
	if h.Get("Content-Encoding") != "aes128gcm" || h.Get("Content-Type") != "application/octet-stream" ||
		!strings.HasPrefix(h.Get("Authorization"), "vapid t=") {
		t.Errorf("headers %v", h)
	}
}

func TestSendUnregistered(t *testing.T) {
	for _, status := range []int{http.StatusGone, http.StatusNotFound} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			fake := webpushtest.New(t)
			s, sl := newSender(t, fake, nil)
			sub := fake.NewSubscriptionFor(s.PublicKey())
			fake.SetBehavior(sub, webpushtest.Behavior{Status: status})

			err := s.Send(t.Context(), target(sub), msg)
			if !errors.Is(err, push.ErrUnregistered) {
				t.Fatalf("err = %v, want push.ErrUnregistered", err)
			}
			if errors.Is(err, webpush.ErrRejected) {
				t.Errorf("err %v also matches ErrRejected", err)
			}
			if e, ok := errors.AsType[*webpush.Error](err); !ok || e.StatusCode != status || e.Host != fake.Host() {
				t.Errorf("err = %#v, want a *webpush.Error with status %d", err, status)
			}
			if n := len(fake.Requests()); n != 1 || len(sl.all()) != 0 {
				t.Errorf("%d requests and %d sleeps: a gone subscription must not be retried", n, len(sl.all()))
			}
		})
	}
	t.Run("unsubscribed", func(t *testing.T) {
		fake := webpushtest.New(t)
		s, _ := newSender(t, fake, nil)
		sub := fake.NewSubscriptionFor(s.PublicKey())
		fake.Unsubscribe(sub)
		if err := s.Send(t.Context(), target(sub), msg); !errors.Is(err, push.ErrUnregistered) {
			t.Fatalf("err = %v, want push.ErrUnregistered", err)
		}
	})
}

func TestSendRateLimited(t *testing.T) {
	t.Run("Retry-After seconds", func(t *testing.T) {
		fake := webpushtest.New(t)
		s, sl := newSender(t, fake, nil)
		sub := fake.NewSubscriptionFor(s.PublicKey())
		fake.SetBehavior(sub, webpushtest.Behavior{RateLimited: 1, RetryAfter: "2"})
		if err := s.Send(t.Context(), target(sub), msg); err != nil {
			t.Fatal(err)
		}
		if got := statuses(fake.Requests()); !slices.Equal(got, []int{429, 201}) {
			t.Errorf("answers %v, want 429 then 201", got)
		}
		if got := sl.all(); !slices.Equal(got, []time.Duration{2 * time.Second}) {
			t.Errorf("slept %v, want the 2 s the service asked for", got)
		}
		if n := len(fake.PushesTo(sub)); n != 1 {
			t.Errorf("%d pushes delivered, want 1", n)
		}
	})
	t.Run("Retry-After date", func(t *testing.T) {
		fake := webpushtest.New(t)
		now := time.Now()
		s, sl := newSender(t, fake, func(c *webpush.Config) { c.Now = func() time.Time { return now } })
		sub := fake.NewSubscriptionFor(s.PublicKey())
		fake.SetBehavior(sub, webpushtest.Behavior{RateLimited: 1, RetryAfter: now.Add(10 * time.Second).UTC().Format(http.TimeFormat)})
		if err := s.Send(t.Context(), target(sub), msg); err != nil {
			t.Fatal(err)
		}
		if got := sl.all(); len(got) != 1 || got[0] <= 9*time.Second || got[0] > 10*time.Second {
			t.Errorf("slept %v, want until the date (about 10 s)", got)
		}
	})
	t.Run("Retry-After too long", func(t *testing.T) {
		fake := webpushtest.New(t)
		s, sl := newSender(t, fake, nil)
		sub := fake.NewSubscriptionFor(s.PublicKey())
		fake.SetBehavior(sub, webpushtest.Behavior{RateLimited: 5, RetryAfter: "3600"})
		err := s.Send(t.Context(), target(sub), msg)
		if e, ok := errors.AsType[*webpush.Error](err); !ok || e.StatusCode != 429 || e.RetryAfter != time.Hour {
			t.Fatalf("err = %v, want the 429", err)
		}
		if errors.Is(err, push.ErrUnregistered) || errors.Is(err, webpush.ErrRejected) {
			t.Errorf("a 429 is transient, err = %v", err)
		}
		if n := len(fake.Requests()); n != 1 || len(sl.all()) != 0 {
			t.Errorf("%d requests, %d sleeps: an hour's wait is not waited for", n, len(sl.all()))
		}
	})
}

func TestSendServerErrors(t *testing.T) {
	t.Run("then success", func(t *testing.T) {
		fake := webpushtest.New(t)
		s, sl := newSender(t, fake, nil)
		sub := fake.NewSubscriptionFor(s.PublicKey())
		fake.SetBehavior(sub, webpushtest.Behavior{ServerErrors: 3})
		if err := s.Send(t.Context(), target(sub), msg); err != nil {
			t.Fatal(err)
		}
		if got := statuses(fake.Requests()); !slices.Equal(got, []int{500, 500, 500, 201}) {
			t.Errorf("answers %v", got)
		}
		// Exponential back-off with jitter: each wait in [d/2, d], d = 250 ms·2^n.
		got := sl.all()
		if len(got) != 3 {
			t.Fatalf("slept %v, want 3 times", got)
		}
		for i, d := range got {
			hi := 250 * time.Millisecond << i
			if d < hi/2 || d > hi {
				t.Errorf("wait %d = %s, want between %s and %s", i, d, hi/2, hi)
			}
		}
	})
	t.Run("exhausted", func(t *testing.T) {
		fake := webpushtest.New(t)
		s, sl := newSender(t, fake, func(c *webpush.Config) { c.MaxRetries = 2 })
		sub := fake.NewSubscriptionFor(s.PublicKey())
		fake.SetBehavior(sub, webpushtest.Behavior{ServerErrors: 10})
		err := s.Send(t.Context(), target(sub), msg)
		if e, ok := errors.AsType[*webpush.Error](err); !ok || e.StatusCode != 500 {
			t.Fatalf("err = %v, want the 500", err)
		}
		if errors.Is(err, push.ErrUnregistered) || errors.Is(err, webpush.ErrRejected) {
			t.Errorf("a 500 is transient, err = %v", err)
		}
		if got := statuses(fake.Requests()); !slices.Equal(got, []int{500, 500, 500}) || len(sl.all()) != 2 {
			t.Errorf("answers %v after %d sleeps, want 3 attempts", got, len(sl.all()))
		}
		if !strings.Contains(err.Error(), "500 Internal Server Error") {
			t.Errorf("err %q does not say what the service answered", err)
		}
	})
	t.Run("no retries", func(t *testing.T) {
		fake := webpushtest.New(t)
		s, _ := newSender(t, fake, func(c *webpush.Config) { c.MaxRetries = -1 })
		sub := fake.NewSubscriptionFor(s.PublicKey())
		fake.SetBehavior(sub, webpushtest.Behavior{ServerErrors: 1})
		if err := s.Send(t.Context(), target(sub), msg); err == nil || len(fake.Requests()) != 1 {
			t.Errorf("err %v after %d requests, want one failed attempt", err, len(fake.Requests()))
		}
	})
}

func TestSendRejected(t *testing.T) {
	cases := []struct {
		name   string
		change func(*webpush.Config)
		setup  func(*webpushtest.Server, *webpush.Sender) webpushtest.Subscription
		status int
	}{
		{"413", nil, func(f *webpushtest.Server, s *webpush.Sender) webpushtest.Subscription {
			sub := f.NewSubscriptionFor(s.PublicKey())
			f.SetBehavior(sub, webpushtest.Behavior{Status: http.StatusRequestEntityTooLarge})
			return sub
		}, 413},
		{"subscribed with another applicationServerKey", nil, func(f *webpushtest.Server, s *webpush.Sender) webpushtest.Subscription {
			_, other, err := webpush.GenerateVAPIDKey()
			if err != nil {
				t.Fatal(err)
			}
			return f.NewSubscriptionFor(other)
		}, 403},
		{"VAPID token already expired (clock 13 h behind)", func(c *webpush.Config) {
			c.Now = func() time.Time { return time.Now().Add(-13 * time.Hour) }
		}, func(f *webpushtest.Server, s *webpush.Sender) webpushtest.Subscription {
			return f.NewSubscriptionFor(s.PublicKey())
		}, 401},
		{"VAPID exp beyond 24 h (clock 13 h ahead)", func(c *webpush.Config) {
			c.Now = func() time.Time { return time.Now().Add(13 * time.Hour) }
		}, func(f *webpushtest.Server, s *webpush.Sender) webpushtest.Subscription {
			return f.NewSubscriptionFor(s.PublicKey())
		}, 401},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fake := webpushtest.New(t)
			s, sl := newSender(t, fake, c.change)
			sub := c.setup(fake, s)
			err := s.Send(t.Context(), target(sub), msg)
			if !errors.Is(err, webpush.ErrRejected) || errors.Is(err, push.ErrUnregistered) {
				t.Fatalf("err = %v, want ErrRejected and not unregistered", err)
			}
			if e, ok := errors.AsType[*webpush.Error](err); !ok || e.StatusCode != c.status {
				t.Errorf("err = %v, want status %d", err, c.status)
			}
			if n := len(fake.Requests()); n != 1 || len(sl.all()) != 0 {
				t.Errorf("%d requests: a refusal is not retried", n)
			}
		})
	}
}

func TestSendContext(t *testing.T) {
	t.Run("Retry-After beyond the deadline", func(t *testing.T) {
		fake := webpushtest.New(t)
		s, sl := newSender(t, fake, nil)
		sub := fake.NewSubscriptionFor(s.PublicKey())
		fake.SetBehavior(sub, webpushtest.Behavior{RateLimited: 1, RetryAfter: "20"})
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		err := s.Send(ctx, target(sub), msg)
		if err == nil || !strings.Contains(err.Error(), "no time left to retry") {
			t.Fatalf("err = %v, want no time left", err)
		}
		if n := len(fake.Requests()); n != 1 || len(sl.all()) != 0 {
			t.Errorf("%d requests, %d sleeps", n, len(sl.all()))
		}
	})
	t.Run("cancelled before", func(t *testing.T) {
		fake := webpushtest.New(t)
		s, _ := newSender(t, fake, nil)
		sub := fake.NewSubscriptionFor(s.PublicKey())
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := s.Send(ctx, target(sub), msg); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
		if n := len(fake.Requests()); n != 0 {
			t.Errorf("%d requests after cancellation", n)
		}
	})
	t.Run("stalled service, deadline", func(t *testing.T) {
		fake := webpushtest.New(t)
		s, sl := newSender(t, fake, nil)
		sub := fake.NewSubscriptionFor(s.PublicKey())
		fake.SetBehavior(sub, webpushtest.Behavior{Stall: 5})
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		err := s.Send(ctx, target(sub), msg)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want the deadline", err)
		}
		if len(sl.all()) != 0 {
			t.Errorf("slept %v past the deadline", sl.all())
		}
		if strings.Contains(err.Error(), sub.ID) {
			t.Errorf("err %q reveals the endpoint's path", err)
		}
	})
	t.Run("stalled attempt retried", func(t *testing.T) {
		fake := webpushtest.New(t)
		s, _ := newSender(t, fake, func(c *webpush.Config) { c.Timeout = 200 * time.Millisecond })
		sub := fake.NewSubscriptionFor(s.PublicKey())
		fake.SetBehavior(sub, webpushtest.Behavior{Stall: 1})
		if err := s.Send(t.Context(), target(sub), msg); err != nil {
			t.Fatalf("err = %v: the per-attempt timeout should have let the retry through", err)
		}
		if n := len(fake.PushesTo(sub)); n != 1 {
			t.Errorf("%d pushes", n)
		}
	})
	t.Run("cancelled while waiting", func(t *testing.T) {
		fake := webpushtest.New(t)
		ctx, cancel := context.WithCancel(t.Context())
		s, _ := newSender(t, fake, func(c *webpush.Config) {
			c.Sleep = func(ctx context.Context, _ time.Duration) error { cancel(); return ctx.Err() }
		})
		sub := fake.NewSubscriptionFor(s.PublicKey())
		fake.SetBehavior(sub, webpushtest.Behavior{ServerErrors: 1})
		err := s.Send(ctx, target(sub), msg)
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "retry abandoned") {
			t.Errorf("err = %v", err)
		}
		if n := len(fake.Requests()); n != 1 {
			t.Errorf("%d requests", n)
		}
	})
}

func TestSendUnreachable(t *testing.T) {
	fake := webpushtest.New(t)
	s, sl := newSender(t, fake, func(c *webpush.Config) { c.MaxRetries = 1 })
	sub := fake.NewSubscriptionFor(s.PublicKey())
	fake.Close()
	err := s.Send(t.Context(), target(sub), msg)
	if err == nil || errors.Is(err, push.ErrUnregistered) || errors.Is(err, webpush.ErrRejected) {
		t.Fatalf("err = %v, want a transient failure", err)
	}
	if len(sl.all()) != 1 {
		t.Errorf("slept %v, want one retry of a failed connection", sl.all())
	}
	// *url.Error would print the endpoint, whose path is a capability.
	if strings.Contains(err.Error(), sub.ID) || !strings.Contains(err.Error(), fake.Host()) {
		t.Errorf("err %q: want the host named and the path hidden", err)
	}
}
