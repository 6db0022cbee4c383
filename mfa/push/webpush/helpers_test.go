package webpush_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/mfa/push"
	"github.com/latchkey/latchkey/mfa/push/webpush"
	"github.com/latchkey/latchkey/mfa/push/webpush/webpushtest"
)

// sleeps records the back-off a Sender asked for, without waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// newSender returns a Sender with a fresh VAPID key that may post to fake,
// and the record of its sleeps; change adjusts the configuration first.
func newSender(t *testing.T, fake *webpushtest.Server, change func(*webpush.Config)) (*webpush.Sender, *sleeps) {
	t.Helper()
	priv, _, err := webpush.GenerateVAPIDKey()
	if err != nil {
		t.Fatal(err)
	}
	sl := &sleeps{}
	cfg := webpush.Config{
		VAPIDPrivateKey: priv,
		Subject:         "mailto:ops@example.com",
		AllowedHosts:    []string{fake.Host()},
		Transport:       fake.Transport(),
		Sleep:           sl.sleep,
	}
	if change != nil {
		change(&cfg)
	}
	s, err := webpush.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, sl
}

func target(sub webpushtest.Subscription) push.Target {
	return push.Target{Channel: push.ChannelWebPush, Token: sub.JSON}
}

var msg = push.Message{Issuer: "https://idp.example.com", ChallengeID: "ch_8Xq2", TTL: 30 * time.Second}

func statuses(rs []webpushtest.Request) []int {
	out := make([]int, len(rs))
	for i, r := range rs {
		out[i] = r.Status
	}
	return out
}
