package apns

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/mfa/push"
	"github.com/latchkey/latchkey/mfa/push/apns/apnstest"
)

var testMessage = push.Message{Issuer: "https://id.example.com", ChallengeID: "ch_7f3a", TTL: 90 * time.Second}

// clock is a settable clock.
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
	fake      *apnstest.Server
	sender    *Sender
	clock     *clock // the sender's
	fakeClock *clock // Apple's; advanced with clock unless a test skews them
	sleeps    *sleeps
}

// advance moves both clocks.
func (e *env) advance(d time.Duration) {
	e.clock.Advance(d)
	e.fakeClock.Advance(d)
}

// newEnv starts a fake APNs and a Sender of it using the default
// HTTP/2-only client, with sleeps recorded; edit adjusts the config first.
func newEnv(t *testing.T, edit func(*Config)) *env {
	t.Helper()
	start := time.Date(2030, 4, 5, 6, 7, 8, 0, time.UTC)
	e := &env{
		fake:      apnstest.New(t),
		clock:     &clock{t: start},
		fakeClock: &clock{t: start},
		sleeps:    &sleeps{},
	}
	e.fake.SetClock(e.fakeClock.Now)
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
		TeamID:        e.fake.TeamID,
		KeyID:         e.fake.KeyID,
		PrivateKeyPEM: e.fake.PrivateKeyPEM(),
		Topic:         e.fake.Topic,
		Host:          e.fake.URL(),
		TLSConfig:     &tls.Config{RootCAs: e.fake.RootCAs()},
		Now:           e.clock.Now,
		Sleep:         e.sleeps.sleep,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// device returns a fresh device token and its target.
func device() (string, push.Target) {
	tok := apnstest.NewDeviceToken()
	return tok, push.Target{Channel: push.ChannelAPNs, Token: tok}
}
