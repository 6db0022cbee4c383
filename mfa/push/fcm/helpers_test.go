package fcm

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/mfa/push"
	"github.com/latchkey/latchkey/mfa/push/fcm/fcmtest"
)

var testMessage = push.Message{Issuer: "https://id.example.com", ChallengeID: "ch_7f3a", TTL: 90 * time.Second}

// clock is the clock the sender and the fake share.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// sleeps records the back-off delays instead of sleeping.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

type env struct {
	fake   *fcmtest.Server
	sender *Sender
	clock  *clock
	sleeps *sleeps
}

// newEnv starts a fake FCM and a Sender of it sharing one clock, with
// sleeps recorded; edit adjusts the config first.
func newEnv(t *testing.T, edit func(*Config)) *env {
	t.Helper()
	e := &env{
		fake:   fcmtest.New(t),
		clock:  &clock{t: time.Date(2030, 4, 5, 6, 7, 8, 0, time.UTC)},
		sleeps: &sleeps{},
	}
	e.fake.SetClock(e.clock.Now)
	cfg := e.config()
	if edit != nil {
		edit(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.sender = s
	return e
}

func (e *env) config() Config {
	return Config{
		ServiceAccountJSON: e.fake.ServiceAccountJSON(),
		Endpoint:           e.fake.URL(),
		HTTPClient:         e.fake.Client(),
		Now:                e.clock.Now,
		Sleep:              e.sleeps.sleep,
		Logger:             slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// device returns a fresh registration token and its target.
func device() (string, push.Target) {
	tok := fcmtest.NewRegistrationToken()
	return tok, push.Target{Channel: push.ChannelFCM, Token: tok}
}
