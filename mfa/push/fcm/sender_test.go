package fcm

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/mfa/push"
	"github.com/latchkey/latchkey/mfa/push/fcm/fcmtest"
)

func TestSendDeliversDataOnlyMessage(t *testing.T) {
	e := newEnv(t, nil)
	tok, target := device()
	if err := e.sender.Send(t.Context(), target, testMessage); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs := e.fake.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages delivered, want 1", len(msgs))
	}
	want := `{"message":{"token":"` + tok + `","data":{"challenge":"ch_7f3a","iss":"https://id.example.com"},"android":{"priority":"HIGH","ttl":"90s"}}}`
	if got := string(msgs[0].Body); got != want {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
	if msgs[0].ProjectID != e.fake.ProjectID {
		t.Errorf("project %q, want %q", msgs[0].ProjectID, e.fake.ProjectID)
	}
}

func TestSendTTL(t *testing.T) {
	e := newEnv(t, nil)
	for _, tt := range []struct {
		ttl  time.Duration
		want string
	}{
		{0, "120s"},                       // DefaultTTL: FCM's own default is four weeks
		{1500 * time.Millisecond, "2s"},   // rounded up, never to "now or never"
		{60 * 24 * time.Hour, "2419200s"}, // FCM's maximum
	} {
		_, target := device()
		m := testMessage
		m.TTL = tt.ttl
		if err := e.sender.Send(t.Context(), target, m); err != nil {
			t.Fatalf("Send(TTL %s): %v", tt.ttl, err)
		}
		msgs := e.fake.Messages()
		if got := msgs[len(msgs)-1].TTL; got != tt.want {
			t.Errorf("TTL %s sent as %q, want %q", tt.ttl, got, tt.want)
		}
	}
}

func TestAccessTokenCached(t *testing.T) {
	e := newEnv(t, nil)
	for range 10 {
		_, target := device()
		if err := e.sender.Send(t.Context(), target, testMessage); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.fake.TokenRequests(); n != 1 {
		t.Errorf("%d token requests for 10 sends, want 1", n)
	}
	if n := e.fake.SendRequests(); n != 10 {
		t.Errorf("%d send requests, want 10", n)
	}
}

func TestAccessTokenSharedByConcurrentSends(t *testing.T) {
	e := newEnv(t, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			_, target := device()
			errs <- e.sender.Send(t.Context(), target, testMessage)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := e.fake.TokenRequests(); n != 1 {
		t.Errorf("%d token requests for 20 concurrent sends, want 1", n)
	}
	if n := len(e.fake.Messages()); n != 20 {
		t.Errorf("%d messages, want 20", n)
	}
}

func TestAccessTokenRenewedBeforeExpiry(t *testing.T) {
	e := newEnv(t, nil)
	_, target := device()
	send := func() {
		t.Helper()
		if err := e.sender.Send(t.Context(), target, testMessage); err != nil {
			t.Fatal(err)
		}
	}
	send()
	// The fake announces 3599 s; the sender renews a minute early.
	e.clock.Advance(fcmtest.DefaultTokenLifetime - refreshMargin - time.Second)
	send()
	if n := e.fake.TokenRequests(); n != 1 {
		t.Fatalf("%d token requests before the renewal time, want 1", n)
	}
	e.clock.Advance(2 * time.Second)
	send()
	if n := e.fake.TokenRequests(); n != 2 {
		t.Fatalf("%d token requests after the renewal time, want 2", n)
	}
	// Renewed in time: the fake never had to refuse a token.
	if n := e.fake.SendRequests(); n != 3 {
		t.Errorf("%d send requests, want 3 (no 401)", n)
	}
}

func TestShortLivedAccessToken(t *testing.T) {
	e := newEnv(t, nil)
	e.fake.SetTokenLifetime(60 * time.Second)
	_, target := device()
	for range 2 {
		if err := e.sender.Send(t.Context(), target, testMessage); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Advance(31 * time.Second) // half the lifetime is the margin here
	if err := e.sender.Send(t.Context(), target, testMessage); err != nil {
		t.Fatal(err)
	}
	if n := e.fake.TokenRequests(); n != 2 {
		t.Errorf("%d token requests, want 2", n)
	}
}

func TestRevokedAccessTokenRefreshedOnce(t *testing.T) {
	e := newEnv(t, nil)
	_, target := device()
	if err := e.sender.Send(t.Context(), target, testMessage); err != nil {
		t.Fatal(err)
	}
	e.fake.RevokeAccessTokens()
	if err := e.sender.Send(t.Context(), target, testMessage); err != nil {
		t.Fatalf("Send after revocation: %v", err)
	}
	if n := e.fake.TokenRequests(); n != 2 {
		t.Errorf("%d token requests, want 2", n)
	}
	if n := e.fake.SendRequests(); n != 3 {
		t.Errorf("%d send requests, want 3 (one refused)", n)
	}
	if n := len(e.sleeps.all()); n != 0 {
		t.Errorf("slept %d times; a refresh needs no back-off", n)
	}
}

func TestAccessTokenRefusedTwice(t *testing.T) {
	e := newEnv(t, nil)
	_, target := device()
	e.fake.RejectAccessTokens(5)
	err := e.sender.Send(t.Context(), target, testMessage)
	if !errors.Is(err, ErrConfig) || errors.Is(err, push.ErrUnregistered) {
		t.Fatalf("Send = %v, want ErrConfig", err)
	}
	if fe, ok := errors.AsType[*Error](err); !ok || fe.StatusCode != 401 || fe.Status != "UNAUTHENTICATED" {
		t.Errorf("error %#v, want the 401", fe)
	}
	if a, b := e.fake.TokenRequests(), e.fake.SendRequests(); a != 2 || b != 2 {
		t.Errorf("%d token and %d send requests, want 2 and 2 (one refresh only)", a, b)
	}
}

func TestPermanentErrors(t *testing.T) {
	e := newEnv(t, nil)
	for _, tt := range []struct {
		permanent string
		status    int
	}{
		{fcmtest.Unregistered, 404},
		{fcmtest.InvalidToken, 400},
		{fcmtest.SenderIDMismatch, 403},
	} {
		t.Run(tt.permanent, func(t *testing.T) {
			tok, target := device()
			e.fake.SetDevice(tok, fcmtest.Device{Permanent: tt.permanent})
			before := e.fake.SendRequests()
			err := e.sender.Send(t.Context(), target, testMessage)
			if !errors.Is(err, push.ErrUnregistered) {
				t.Fatalf("Send = %v, want push.ErrUnregistered", err)
			}
			fe, ok := errors.AsType[*Error](err)
			if !ok || fe.StatusCode != tt.status || fe.ErrorCode != tt.permanent {
				t.Errorf("error %#v, want HTTP %d %s", fe, tt.status, tt.permanent)
			}
			if strings.Contains(err.Error(), tok) {
				t.Errorf("error text carries the registration token: %v", err)
			}
			if n := e.fake.SendRequests() - before; n != 1 {
				t.Errorf("%d requests, want 1 (no retry)", n)
			}
		})
	}
	if n := len(e.sleeps.all()); n != 0 {
		t.Errorf("slept %d times", n)
	}
}

func TestMalformedTokenIsUnregistered(t *testing.T) {
	e := newEnv(t, nil)
	err := e.sender.Send(t.Context(), push.Target{Channel: push.ChannelFCM, Token: "not a registration token"}, testMessage)
	if !errors.Is(err, push.ErrUnregistered) {
		t.Fatalf("Send = %v, want push.ErrUnregistered", err)
	}
	if fe, ok := errors.AsType[*Error](err); !ok || len(fe.Fields) != 1 || fe.Fields[0] != "message.token" {
		t.Errorf("error %#v, want the fake's field violation on message.token", fe)
	}
}

func TestRefusedBeforeSending(t *testing.T) {
	e := newEnv(t, nil)
	_, target := device()
	err := e.sender.Send(t.Context(), push.Target{Channel: push.ChannelFCM}, testMessage)
	if !errors.Is(err, push.ErrUnregistered) {
		t.Errorf("empty token: %v, want push.ErrUnregistered", err)
	}
	err = e.sender.Send(t.Context(), push.Target{Channel: push.ChannelAPNs, Token: target.Token}, testMessage)
	if err == nil || errors.Is(err, push.ErrUnregistered) {
		t.Errorf("APNs target: %v, want a plain error", err)
	}
	err = e.sender.Send(t.Context(), target, push.Message{Issuer: "https://id.example.com"})
	if err == nil || errors.Is(err, push.ErrUnregistered) {
		t.Errorf("no challenge: %v, want a plain error", err)
	}
	if n := e.fake.TokenRequests() + e.fake.SendRequests(); n != 0 {
		t.Errorf("%d requests, want none", n)
	}
}

func TestTransientThenSuccess(t *testing.T) {
	e := newEnv(t, nil)
	tok, target := device()
	e.fake.SetDevice(tok, fcmtest.Device{Failures: []int{503, 429, 500}, RetryAfter: "3"})
	if err := e.sender.Send(t.Context(), target, testMessage); err != nil {
		t.Fatalf("Send: %v", err)
	}
	sl := e.sleeps.all()
	if len(sl) != 3 {
		t.Fatalf("slept %v, want 3 back-offs", sl)
	}
	for i, d := range sl {
		// Retry-After: 3 beats the first back-offs (at most 0.5 s, 1 s, 2 s).
		if d != 3*time.Second {
			t.Errorf("back-off %d = %s, want the 3 s of Retry-After", i, d)
		}
	}
	if n := len(e.fake.Messages()); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
	if n := e.fake.TokenRequests(); n != 1 {
		t.Errorf("%d token requests, want 1", n)
	}
}

func TestBackoffGrowsWithJitter(t *testing.T) {
	e := newEnv(t, nil)
	tok, target := device()
	e.fake.SetDevice(tok, fcmtest.Device{Failures: []int{503, 503, 503}})
	if err := e.sender.Send(t.Context(), target, testMessage); err != nil {
		t.Fatalf("Send: %v", err)
	}
	sl := e.sleeps.all()
	if len(sl) != 3 {
		t.Fatalf("slept %v, want 3 back-offs", sl)
	}
	for i, d := range sl {
		full := backoffBase << i
		if d < full/2 || d > full {
			t.Errorf("back-off %d = %s, want within [%s, %s]", i, d, full/2, full)
		}
	}
}

func TestTokenEndpointOutageRetried(t *testing.T) {
	e := newEnv(t, nil)
	e.fake.FailTokenRequests(2)
	_, target := device()
	if err := e.sender.Send(t.Context(), target, testMessage); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if a, b := e.fake.TokenRequests(), e.fake.SendRequests(); a != 3 || b != 1 {
		t.Errorf("%d token and %d send requests, want 3 and 1", a, b)
	}
	if n := len(e.sleeps.all()); n != 2 {
		t.Errorf("slept %d times, want 2", n)
	}
}

func TestRetriesExhausted(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxRetries = 2 })
	tok, target := device()
	e.fake.SetDevice(tok, fcmtest.Device{Failures: []int{503, 503, 503, 503, 503}})
	err := e.sender.Send(t.Context(), target, testMessage)
	if err == nil || errors.Is(err, push.ErrUnregistered) || errors.Is(err, ErrConfig) {
		t.Fatalf("Send = %v, want a transient error", err)
	}
	if fe, ok := errors.AsType[*Error](err); !ok || fe.Status != "UNAVAILABLE" {
		t.Errorf("error %v, want the last 503", err)
	}
	if n := e.fake.SendRequests(); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
	if n := len(e.sleeps.all()); n != 2 {
		t.Errorf("slept %d times, want 2", n)
	}
}

func TestNoRetryPastDeadline(t *testing.T) {
	e := newEnv(t, nil)
	tok, target := device()
	e.fake.SetDevice(tok, fcmtest.Device{Failures: []int{429}, RetryAfter: "30"})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err := e.sender.Send(ctx, target, testMessage)
	if err == nil || !strings.Contains(err.Error(), "no time left") {
		t.Fatalf("Send = %v, want a give-up before the deadline", err)
	}
	if n := e.fake.SendRequests(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
	if n := len(e.sleeps.all()); n != 0 {
		t.Errorf("slept %d times, want none", n)
	}
}

func TestRetryAfterTooLong(t *testing.T) {
	e := newEnv(t, nil)
	tok, target := device()
	e.fake.SetDevice(tok, fcmtest.Device{Failures: []int{503}, RetryAfter: "600"})
	if err := e.sender.Send(t.Context(), target, testMessage); err == nil {
		t.Fatal("Send succeeded, want a give-up")
	}
	if n := len(e.sleeps.all()); n != 0 {
		t.Errorf("slept %d times, want none", n)
	}
}

func TestCancelledDuringBackoff(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	e := newEnv(t, func(c *Config) {
		c.Sleep = func(ctx context.Context, _ time.Duration) error {
			cancel()
			return ctx.Err()
		}
	})
	tok, target := device()
	e.fake.SetDevice(tok, fcmtest.Device{Failures: []int{503}})
	err := e.sender.Send(ctx, target, testMessage)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Send = %v, want context.Canceled", err)
	}
	if n := e.fake.SendRequests(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestOtherProjectRefused(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ProjectID = "someone-else" })
	_, target := device()
	err := e.sender.Send(t.Context(), target, testMessage)
	if !errors.Is(err, ErrConfig) || errors.Is(err, push.ErrUnregistered) {
		t.Fatalf("Send = %v, want ErrConfig", err)
	}
	if fe, ok := errors.AsType[*Error](err); !ok || fe.Status != "PERMISSION_DENIED" {
		t.Errorf("error %v, want PERMISSION_DENIED", err)
	}
}

func TestTokenEndpointRefusals(t *testing.T) {
	t.Run("key unknown to Google", func(t *testing.T) {
		other := fcmtest.New(t)
		e := newEnv(t, func(c *Config) {
			// Another account's key, sent to this fake's token endpoint.
			c.ServiceAccountJSON = rewriteKeyFile(t, other.ServiceAccountJSON(), map[string]string{"token_uri": c.Endpoint + "/token"})
			c.ProjectID = ""
		})
		e.checkTokenRefusal(t, "invalid_grant")
	})
	t.Run("clock two hours slow", func(t *testing.T) {
		e := newEnv(t, nil)
		slow := &clock{t: e.clock.Now().Add(-2 * time.Hour)}
		cfg := e.config()
		cfg.Now = slow.Now
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		e.sender = s
		e.checkTokenRefusal(t, "invalid_grant")
	})
}

func (e *env) checkTokenRefusal(t *testing.T, code string) {
	t.Helper()
	_, target := device()
	err := e.sender.Send(t.Context(), target, testMessage)
	if !errors.Is(err, ErrConfig) || errors.Is(err, push.ErrUnregistered) {
		t.Fatalf("Send = %v, want ErrConfig", err)
	}
	if te, ok := errors.AsType[*TokenError](err); !ok || te.Code != code {
		t.Errorf("error %v, want token endpoint's %s", err, code)
	}
	if a, b := e.fake.TokenRequests(), e.fake.SendRequests(); a != 1 || b != 0 {
		t.Errorf("%d token and %d send requests, want 1 and 0", a, b)
	}
}
