package twilio

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/mfa/twilio/twiliotest"
)

const (
	testService = "MG0123456789abcdef0123456789abcdef"
	testFrom    = "+15005550006"
	testTo      = "+14155550100"
)

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

// newClient returns a client of the fake with every channel configured and
// sleeps recorded; edit adjusts the config first.
func newClient(t *testing.T, fake *twiliotest.Server, edit func(*Config)) (*Client, *sleeps) {
	t.Helper()
	sl := &sleeps{}
	cfg := Config{
		AccountSID:          fake.AccountSID,
		AuthToken:           fake.AuthToken,
		MessagingServiceSID: testService,
		VoiceFrom:           testFrom,
		Transport:           fake.Transport(),
		Sleep:               sl.sleep,
		Logger:              slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c, sl
}

// receiver is Latchkey's side of status callbacks: an httptest server that
// verifies each callback against the public URL and records what it parsed.
type receiver struct {
	publicBase string
	srv        *httptest.Server
	mu         sync.Mutex
	got        []Callback
	refused    []error
}

// newReceiver starts a callback receiver that believes it is served at
// https://id.example.test, and points the fake's callbacks at it.
func newReceiver(t *testing.T, fake *twiliotest.Server) *receiver {
	t.Helper()
	rc := &receiver{publicBase: "https://id.example.test"}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cb, err := ParseCallback(r, PublicURL(rc.publicBase, r), fake.AuthToken)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		switch {
		case errors.Is(err, ErrSignature):
			rc.refused = append(rc.refused, err)
			w.WriteHeader(http.StatusForbidden)
		case err != nil:
			rc.refused = append(rc.refused, err)
			w.WriteHeader(http.StatusBadRequest)
		default:
			rc.got = append(rc.got, cb)
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	t.Cleanup(rc.srv.Close)
	fake.SetCallbackClient(&http.Client{Transport: &twiliotest.Rewriter{
		Routes: map[string]string{"id.example.test": rc.srv.URL},
	}})
	return rc
}

func (rc *receiver) callbacks() ([]Callback, []error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]Callback(nil), rc.got...), append([]error(nil), rc.refused...)
}
