package apns

import (
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/latchkey/latchkey/mfa/push"
)

func TestCustomHTTP2Client(t *testing.T) {
	e := newEnv(t, nil)
	cfg := e.config()
	cfg.TLSConfig, cfg.HTTPClient = nil, e.fake.Client()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, target := device()
	if err := s.Send(t.Context(), target, testMessage); err != nil {
		t.Fatalf("Send through the fake's HTTP/2 client: %v", err)
	}
}

func TestHTTP1ClientRefused(t *testing.T) {
	e := newEnv(t, nil)
	cfg := e.config()
	cfg.TLSConfig = nil
	// Go's transport with its own TLS config and no ForceAttemptHTTP2
	// speaks HTTP/1.1 only.
	cfg.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.fake.RootCAs()}}}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, target := device()
	err = s.Send(t.Context(), target, testMessage)
	if !errors.Is(err, ErrConfig) || errors.Is(err, push.ErrUnregistered) {
		t.Fatalf("Send = %v, want ErrConfig (HTTP/2 needed)", err)
	}
	if n := len(e.sleeps.all()); n != 0 {
		t.Errorf("slept %d times; a configuration error is not retried", n)
	}
	if n := len(e.fake.Notifications()); n != 0 {
		t.Errorf("%d notifications delivered", n)
	}
}

func TestDefaultClientSpeaksOnlyHTTP2(t *testing.T) {
	// A server that speaks only HTTP/1.1: the default client must not fall
	// back to it.
	var reached atomic.Bool
	h1 := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Store(true) }))
	h1.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	h1.StartTLS()
	t.Cleanup(h1.Close)
	e := newEnv(t, nil)
	cfg := e.config()
	cfg.Host = h1.URL
	cfg.TLSConfig = h1.Client().Transport.(*http.Transport).TLSClientConfig
	cfg.MaxRetries = -1
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tok, target := device()
	err = s.Send(t.Context(), target, testMessage)
	if err == nil {
		t.Fatal("Send over HTTP/1.1 succeeded")
	}
	if strings.Contains(err.Error(), tok) {
		t.Errorf("error text carries the device token: %v", err)
	}
	if reached.Load() {
		t.Error("the default client sent an HTTP/1.1 request")
	}
}
