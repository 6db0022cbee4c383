package fcm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/mfa/internal/retry"
	"github.com/latchkey/latchkey/mfa/push"
)

const (
	// Back-off between retries: base·2^attempt, capped, of which a random
	// half is jitter (so that nodes throttled together do not retry in
	// step).
	backoffBase = 500 * time.Millisecond
	backoffCap  = 8 * time.Second
	// maxRetryDelay: a Retry-After longer than this ends the retries even
	// without a deadline; a sign-in does not wait that long.
	maxRetryDelay = time.Minute
	// maxTTL is the longest android.ttl FCM accepts (four weeks).
	maxTTL = 28 * 24 * time.Hour
)

// Sender delivers pushes through FCM HTTP v1. It is safe for concurrent
// use.
type Sender struct {
	sendURL string
	client  *http.Client
	tokens  *tokenSource
	timeout time.Duration
	retry   retry.Policy
	now     func() time.Time
	log     *slog.Logger
}

var _ push.Sender = (*Sender)(nil)

// New validates cfg (see Config) and returns a Sender. It makes no request:
// the first Send fetches the access token.
func New(cfg Config) (*Sender, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, fmt.Errorf("fcm: new sender: %w", err)
	}
	snd := &Sender{
		sendURL: s.endpoint + "/v1/projects/" + s.projectID + "/messages:send",
		client:  cfg.HTTPClient,
		timeout: cfg.Timeout,
		retry: retry.Policy{
			MaxRetries: cfg.MaxRetries,
			Base:       backoffBase,
			Cap:        backoffCap,
			MaxWait:    maxRetryDelay,
			Temporary:  temporary,
			RetryAfter: retryAfterOf,
			Sleep:      cfg.Sleep,
		},
		now: cfg.Now,
		log: cfg.Logger,
	}
	if snd.client == nil {
		// Never follow a redirect: FCM sends none, and the bearer token
		// belongs to googleapis.com only.
		snd.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	if snd.timeout == 0 {
		snd.timeout = DefaultTimeout
	}
	if snd.retry.MaxRetries == 0 {
		snd.retry.MaxRetries = DefaultMaxRetries // negative: none
	}
	if snd.now == nil {
		snd.now = time.Now
	}
	if snd.log == nil {
		snd.log = slog.Default()
	}
	snd.tokens = newTokenSource(snd.client, s, snd.now)
	return snd, nil
}

// request is the body of messages:send.
type request struct {
	Message message `json:"message"`
}

type message struct {
	Token   string            `json:"token"`
	Data    map[string]string `json:"data"`
	Android android           `json:"android"`
}

type android struct {
	Priority string `json:"priority"`
	TTL      string `json:"ttl"`
}

// Send delivers m to the device holding registration token t.Token as a
// data-only message. An error matching push.ErrUnregistered means the token
// is gone; any other error is transient and was retried already, or (with
// ErrConfig) needs an operator.
func (s *Sender) Send(ctx context.Context, t push.Target, m push.Message) error {
	body, err := encode(t, m)
	if err != nil {
		return fmt.Errorf("fcm: send: %w", err)
	}
	refreshed := false
	err = s.retry.Do(ctx, func(ctx context.Context) error {
		return s.attempt(ctx, body, &refreshed)
	}, func(n int, err error, delay time.Duration) {
		s.log.WarnContext(ctx, "fcm: retrying", "retry", n, "error", err.Error(), "delay", delay)
	})
	if err != nil {
		return fmt.Errorf("fcm: send: %w", err)
	}
	return nil
}

// attempt sends once, and once more with a fresh access token if FCM
// answers 401 for the first time in this Send (*refreshed records it):
// Google may revoke a token before its announced expiry.
func (s *Sender) attempt(ctx context.Context, body []byte, refreshed *bool) error {
	for {
		tok, err := s.post(ctx, body)
		e, ok := errors.AsType[*Error](err)
		if !ok || e.StatusCode != http.StatusUnauthorized || e.ErrorCode != "" || *refreshed {
			return err
		}
		*refreshed = true
		s.tokens.invalidate(tok)
		s.log.InfoContext(ctx, "fcm: access token refused; fetching a new one")
	}
}

// post runs one messages:send under the per-attempt timeout and returns the
// access token it used.
func (s *Sender) post(ctx context.Context, body []byte) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	tok, err := s.tokens.token(ctx)
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.sendURL, bytes.NewReader(body))
	if err != nil {
		return tok, fmt.Errorf("fcm: request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := s.client.Do(req)
	if err != nil {
		return tok, fmt.Errorf("fcm: request: %w", err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return tok, fmt.Errorf("fcm: response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return tok, parseError(resp, rb, time.Now())
	}
	var ok struct {
		Name string `json:"name"`
	}
	if json.Unmarshal(rb, &ok) == nil {
		// The message name is FCM's id for support requests; it says
		// nothing about the device.
		s.log.DebugContext(ctx, "fcm: sent", "name", ok.Name)
	}
	return tok, nil
}

// encode builds the data-only message: no notification block, so nothing
// about the sign-in is displayed or seen by Google, and FCM hands the data
// to the app, which fetches the details itself.
func encode(t push.Target, m push.Message) ([]byte, error) {
	switch {
	case t.Channel != push.ChannelFCM:
		return nil, fmt.Errorf("target channel %q is not %q", t.Channel, push.ChannelFCM)
	case t.Token == "":
		return nil, fmt.Errorf("empty registration token: %w", push.ErrUnregistered)
	case m.Issuer == "" || m.ChallengeID == "":
		return nil, errors.New("message needs an issuer and a challenge id")
	}
	ttl := m.TTL
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	ttl = min(ttl, maxTTL)
	secs := int64((ttl + time.Second - 1) / time.Second) // FCM counts whole seconds here; round up
	return json.Marshal(request{Message: message{
		Token:   t.Token,
		Data:    map[string]string{"iss": m.Issuer, "challenge": m.ChallengeID},
		Android: android{Priority: "HIGH", TTL: strconv.FormatInt(secs, 10) + "s"},
	}})
}

// retryAfterOf is how long FCM asked to wait, zero when it did not say.
func retryAfterOf(err error) time.Duration {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.RetryAfter
	}
	return 0
}
