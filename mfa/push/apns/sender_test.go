package apns

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/mfa/push"
	"github.com/latchkey/latchkey/mfa/push/apns/apnstest"
)

func TestSendDeliversContentFreeAlert(t *testing.T) {
	e := newEnv(t, nil)
	tok, target := device()
	if err := e.sender.Send(t.Context(), target, testMessage); err != nil {
		t.Fatalf("Send: %v", err)
	}
	ns := e.fake.Notifications()
	if len(ns) != 1 {
		t.Fatalf("%d notifications, want 1", len(ns))
	}
	n := ns[0]
	want := `{"aps":{"alert":{"loc-key":"SIGN_IN_REQUEST"},"mutable-content":1},"iss":"https://id.example.com","challenge":"ch_7f3a"}`
	if got := string(n.Payload); got != want {
		t.Errorf("payload\n got %s\nwant %s", got, want)
	}
	wantExp := strconv.FormatInt(e.clock.Now().Add(90*time.Second).Unix(), 10)
	if n.Token != tok || n.Topic != e.fake.Topic || n.PushType != "alert" || n.Priority != "10" || n.Expiration != wantExp {
		t.Errorf("notification %+v, want alert at priority 10 for %s expiring at %s", n, e.fake.Topic, wantExp)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(n.ID) {
		t.Errorf("apns-id %q is not a version 4 UUID", n.ID)
	}
	if !n.IssuedAt.Equal(e.clock.Now()) {
		t.Errorf("provider token iat %s, want %s", n.IssuedAt, e.clock.Now())
	}
}

func TestExpiration(t *testing.T) {
	e := newEnv(t, nil)
	for _, tt := range []struct {
		ttl  time.Duration
		want time.Duration
	}{
		{0, DefaultTTL}, // APNs would keep it for days
		{1500 * time.Millisecond, 2 * time.Second}, // rounded up: 0 would mean "now or never"
	} {
		_, target := device()
		m := testMessage
		m.TTL = tt.ttl
		if err := e.sender.Send(t.Context(), target, m); err != nil {
			t.Fatal(err)
		}
		ns := e.fake.Notifications()
		if got, want := ns[len(ns)-1].Expiration, strconv.FormatInt(e.clock.Now().Add(tt.want).Unix(), 10); got != want {
			t.Errorf("TTL %s: apns-expiration %s, want %s", tt.ttl, got, want)
		}
	}
}

func TestProviderTokenReusedFor50Minutes(t *testing.T) {
	e := newEnv(t, nil)
	sends := 0
	send := func() {
		t.Helper()
		_, target := device()
		if err := e.sender.Send(t.Context(), target, testMessage); err != nil {
			t.Fatal(err)
		}
		sends++
	}
	for range 10 {
		send()
	}
	e.advance(49 * time.Minute)
	send()
	if n := e.fake.ProviderTokens(); n != 1 {
		t.Fatalf("%d provider tokens within 49 minutes, want 1", n)
	}
	e.advance(2 * time.Minute)
	send()
	send()
	if n := e.fake.ProviderTokens(); n != 2 {
		t.Fatalf("%d provider tokens after 51 minutes, want 2", n)
	}
	// No answer was a refusal: the token was neither too old nor too new.
	if n := e.fake.Requests(); n != sends {
		t.Errorf("%d requests for %d sends", n, sends)
	}
}

func TestProviderTokenSharedByConcurrentSends(t *testing.T) {
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
	if n := e.fake.ProviderTokens(); n != 1 {
		t.Errorf("%d provider tokens for 20 concurrent sends, want 1", n)
	}
	if n := len(e.fake.Notifications()); n != 20 {
		t.Errorf("%d notifications, want 20", n)
	}
}

func TestExpiredProviderTokenRefreshedOnce(t *testing.T) {
	e := newEnv(t, nil)
	_, target := device()
	if err := e.sender.Send(t.Context(), target, testMessage); err != nil {
		t.Fatal(err)
	}
	// Our clock runs slow: 40 minutes pass for us, 61 for Apple, so the
	// token we still trust is expired there.
	e.clock.Advance(40 * time.Minute)
	e.fakeClock.Advance(61 * time.Minute)
	if err := e.sender.Send(t.Context(), target, testMessage); err != nil {
		t.Fatalf("Send with an expired provider token: %v", err)
	}
	if n := e.fake.ProviderTokens(); n != 2 {
		t.Errorf("%d provider tokens, want 2", n)
	}
	if n := e.fake.Requests(); n != 3 {
		t.Errorf("%d requests, want 3 (one refused)", n)
	}
	if n := len(e.sleeps.all()); n != 0 {
		t.Errorf("slept %d times; a new token needs no back-off", n)
	}
}

func TestExpiredProviderTokenTwice(t *testing.T) {
	e := newEnv(t, nil)
	e.fakeClock.Advance(2 * time.Hour) // our clock is two hours behind Apple's
	_, target := device()
	err := e.sender.Send(t.Context(), target, testMessage)
	if !errors.Is(err, ErrConfig) || errors.Is(err, push.ErrUnregistered) {
		t.Fatalf("Send = %v, want ErrConfig", err)
	}
	if ae, ok := errors.AsType[*Error](err); !ok || ae.Reason != ReasonExpiredProviderToken {
		t.Errorf("error %v, want ExpiredProviderToken", err)
	}
	if n := e.fake.Requests(); n != 2 {
		t.Errorf("%d requests, want 2 (one new token only)", n)
	}
}

func TestInvalidProviderToken(t *testing.T) {
	other := apnstest.New(t)
	for name, edit := range map[string]func(*Config){
		"other team":   func(c *Config) { c.TeamID = "ZZZZZZZZZZ" },
		"other key":    func(c *Config) { c.PrivateKeyPEM = other.PrivateKeyPEM() },
		"other key id": func(c *Config) { c.KeyID = other.KeyID },
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, edit)
			_, target := device()
			err := e.sender.Send(t.Context(), target, testMessage)
			if !errors.Is(err, ErrConfig) || errors.Is(err, push.ErrUnregistered) {
				t.Fatalf("Send = %v, want ErrConfig", err)
			}
			if ae, ok := errors.AsType[*Error](err); !ok || ae.StatusCode != 403 || ae.Reason != ReasonInvalidProviderToken {
				t.Errorf("error %v, want 403 InvalidProviderToken", err)
			}
			if n := e.fake.Requests(); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

func TestTopicDisallowed(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Topic = "com.example.someone-else" })
	_, target := device()
	err := e.sender.Send(t.Context(), target, testMessage)
	if !errors.Is(err, ErrConfig) || errors.Is(err, push.ErrUnregistered) {
		t.Fatalf("Send = %v, want ErrConfig", err)
	}
}

func TestPermanentErrors(t *testing.T) {
	e := newEnv(t, nil)
	gone := time.Date(2030, 4, 1, 12, 0, 0, 250e6, time.UTC)
	for _, tt := range []struct {
		reason string
		status int
	}{
		{apnstest.Unregistered, 410},
		{apnstest.BadDeviceToken, 400},
		{apnstest.DeviceTokenNotForTopic, 400},
	} {
		t.Run(tt.reason, func(t *testing.T) {
			tok, target := device()
			e.fake.SetDevice(tok, apnstest.Device{Reason: tt.reason, UnregisteredAt: gone})
			before := e.fake.Requests()
			err := e.sender.Send(t.Context(), target, testMessage)
			if !errors.Is(err, push.ErrUnregistered) {
				t.Fatalf("Send = %v, want push.ErrUnregistered", err)
			}
			ae, ok := errors.AsType[*Error](err)
			if !ok || ae.StatusCode != tt.status || ae.Reason != tt.reason || ae.ID == "" {
				t.Errorf("error %#v, want HTTP %d %s with an apns-id", ae, tt.status, tt.reason)
			}
			if tt.reason == apnstest.Unregistered && !ae.Timestamp.Equal(gone) {
				t.Errorf("timestamp %s, want %s", ae.Timestamp, gone)
			}
			if strings.Contains(err.Error(), tok) {
				t.Errorf("error text carries the device token: %v", err)
			}
			if n := e.fake.Requests() - before; n != 1 {
				t.Errorf("%d requests, want 1 (no retry)", n)
			}
		})
	}
	if n := len(e.sleeps.all()); n != 0 {
		t.Errorf("slept %d times", n)
	}
}

func TestMalformedDeviceTokenIsUnregistered(t *testing.T) {
	e := newEnv(t, nil)
	for _, tok := range []string{"not-a-token", "abcd", "../../3/device/" + strings.Repeat("ab", 32)} {
		err := e.sender.Send(t.Context(), push.Target{Channel: push.ChannelAPNs, Token: tok}, testMessage)
		if ae, ok := errors.AsType[*Error](err); !errors.Is(err, push.ErrUnregistered) || !ok || ae.Reason != ReasonBadDeviceToken {
			t.Errorf("token %q: Send = %v, want BadDeviceToken", tok, err)
		}
	}
	if n := len(e.fake.Notifications()); n != 0 {
		t.Errorf("%d notifications delivered", n)
	}
}

func TestRefusedBeforeSending(t *testing.T) {
	e := newEnv(t, nil)
	_, target := device()
	if err := e.sender.Send(t.Context(), push.Target{Channel: push.ChannelAPNs}, testMessage); !errors.Is(err, push.ErrUnregistered) {
		t.Errorf("empty token: %v, want push.ErrUnregistered", err)
	}
	err := e.sender.Send(t.Context(), push.Target{Channel: push.ChannelFCM, Token: target.Token}, testMessage)
	if err == nil || errors.Is(err, push.ErrUnregistered) {
		t.Errorf("FCM target: %v, want a plain error", err)
	}
	err = e.sender.Send(t.Context(), target, push.Message{ChallengeID: "c"})
	if err == nil || errors.Is(err, push.ErrUnregistered) {
		t.Errorf("no issuer: %v, want a plain error", err)
	}
	if n := e.fake.Requests(); n != 0 {
		t.Errorf("%d requests, want none", n)
	}
}

func TestTransientThenSuccess(t *testing.T) {
	e := newEnv(t, nil)
	tok, target := device()
	e.fake.SetDevice(tok, apnstest.Device{Failures: []int{503, 429, 500}})
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
	if n := len(e.fake.Notifications()); n != 1 {
		t.Errorf("%d notifications, want 1", n)
	}
	if n := e.fake.Requests(); n != 4 {
		t.Errorf("%d requests, want 4", n)
	}
}

func TestRetriesExhausted(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxRetries = 2 })
	tok, target := device()
	e.fake.SetDevice(tok, apnstest.Device{Failures: []int{503, 503, 503, 503}})
	err := e.sender.Send(t.Context(), target, testMessage)
	if err == nil || errors.Is(err, push.ErrUnregistered) || errors.Is(err, ErrConfig) {
		t.Fatalf("Send = %v, want a transient error", err)
	}
	if ae, ok := errors.AsType[*Error](err); !ok || ae.Reason != "ServiceUnavailable" {
		t.Errorf("error %v, want the last 503", err)
	}
	if n := e.fake.Requests(); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
	if n := len(e.sleeps.all()); n != 2 {
		t.Errorf("slept %d times, want 2", n)
	}
}

func TestNoRetryPastDeadline(t *testing.T) {
	e := newEnv(t, nil)
	tok, target := device()
	e.fake.SetDevice(tok, apnstest.Device{Failures: []int{503}})
	// Less time than the shortest first back-off (250 ms).
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	err := e.sender.Send(ctx, target, testMessage)
	if err == nil || errors.Is(err, push.ErrUnregistered) {
		t.Fatalf("Send = %v, want a transient error", err)
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
	e.fake.SetDevice(tok, apnstest.Device{Failures: []int{503}})
	if err := e.sender.Send(ctx, target, testMessage); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send = %v, want context.Canceled", err)
	}
	if n := e.fake.Requests(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}
