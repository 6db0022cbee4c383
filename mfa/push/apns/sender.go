package apns

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
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
	maxBody       = 64 << 10
	// alertLocKey names the app's localized "approve a sign-in?" text.
	alertLocKey = "SIGN_IN_REQUEST"
)

// Sender delivers pushes through APNs. It is safe for concurrent use; use
// one Sender per key, so that one provider token is in use at a time.
type Sender struct {
	host    string
	topic   string
	client  *http.Client
	tokens  *providerToken
	timeout time.Duration
	retry   retry.Policy
	now     func() time.Time
	log     *slog.Logger
}

var _ push.Sender = (*Sender)(nil)

// New validates cfg (see Config) and returns a Sender. It makes no request.
func New(cfg Config) (*Sender, error) {
	key, host, err := cfg.settings()
	if err != nil {
		return nil, fmt.Errorf("apns: new sender: %w", err)
	}
	s := &Sender{
		host:    host,
		topic:   cfg.Topic,
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
	if s.client == nil {
		s.client = defaultClient(cfg.TLSConfig)
	}
	if s.timeout == 0 {
		s.timeout = DefaultTimeout
	}
	if s.retry.MaxRetries == 0 {
		s.retry.MaxRetries = DefaultMaxRetries // negative: none
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.tokens = &providerToken{teamID: cfg.TeamID, keyID: cfg.KeyID, key: key, now: s.now}
	return s, nil
}

// payload is the notification: a localized alert with no sign-in detail,
// mutable so that the app's extension can fetch and show the details.
type payload struct {
	APS       aps    `json:"aps"`
	Issuer    string `json:"iss"`
	Challenge string `json:"challenge"`
}

type aps struct {
	Alert          alert `json:"alert"`
	MutableContent int   `json:"mutable-content"`
}

type alert struct {
	LocKey string `json:"loc-key"`
}

// notification is one Send's request, the same for every attempt.
type notification struct {
	path       string
	body       []byte
	id         string // apns-id
	expiration string // apns-expiration
}

// Send delivers m to the device holding token t.Token (hex). An error
// matching push.ErrUnregistered means the token is gone; any other error is
// transient and was retried already, or (with ErrConfig) needs an operator.
func (s *Sender) Send(ctx context.Context, t push.Target, m push.Message) error {
	n, err := s.build(t, m)
	if err != nil {
		return fmt.Errorf("apns: send: %w", err)
	}
	refreshed := false
	err = s.retry.Do(ctx, func(ctx context.Context) error {
		return s.attempt(ctx, n, &refreshed)
	}, func(retries int, err error, delay time.Duration) {
		s.log.WarnContext(ctx, "apns: retrying", "retry", retries, "error", err.Error(), "delay", delay, "apns_id", n.id)
	})
	if err != nil {
		return fmt.Errorf("apns: send: %w", err)
	}
	return nil
}

// attempt posts once, and once more with a newly signed token if APNs
// answers ExpiredProviderToken for the first time in this Send
// (*refreshed records it): a clock behind Apple's ages tokens early.
func (s *Sender) attempt(ctx context.Context, n notification, refreshed *bool) error {
	for {
		tok, err := s.post(ctx, n)
		e, ok := errors.AsType[*Error](err)
		if !ok || e.Reason != ReasonExpiredProviderToken || *refreshed {
			return err
		}
		*refreshed = true
		s.tokens.invalidate(tok)
		s.log.WarnContext(ctx, "apns: provider token expired early; signing a new one (is the clock right?)", "apns_id", n.id)
	}
}

// post runs one request under the per-attempt timeout and returns the
// provider token it used.
func (s *Sender) post(ctx context.Context, n notification) (string, error) {
	tok, err := s.tokens.token()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.host+n.path, bytes.NewReader(n.body))
	if err != nil {
		return tok, fmt.Errorf("apns: request: %w", err)
	}
	req.Header.Set("authorization", "bearer "+tok)
	req.Header.Set("apns-topic", s.topic)
	req.Header.Set("apns-push-type", "alert")
	req.Header.Set("apns-priority", "10")
	req.Header.Set("apns-expiration", n.expiration)
	req.Header.Set("apns-id", n.id)
	req.Header.Set("content-type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		// *url.Error would repeat the URL, and with it the device token,
		// into logs.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return tok, fmt.Errorf("apns: request: %w", err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 {
		return tok, fmt.Errorf("%w: APNs needs HTTP/2 but the client spoke %s (HTTP %d)", ErrConfig, resp.Proto, resp.StatusCode)
	}
	rb, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return tok, fmt.Errorf("apns: response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return tok, parseError(resp, rb, time.Now())
	}
	s.log.DebugContext(ctx, "apns: sent", "apns_id", resp.Header.Get("apns-id"))
	return tok, nil
}

// build checks the target and message and fixes the request for every
// attempt: the same apns-id (so that Apple's logs show one notification)
// and the same absolute expiration.
func (s *Sender) build(t push.Target, m push.Message) (notification, error) {
	switch {
	case t.Channel != push.ChannelAPNs:
		return notification{}, fmt.Errorf("target channel %q is not %q", t.Channel, push.ChannelAPNs)
	case t.Token == "":
		return notification{}, fmt.Errorf("empty device token: %w", push.ErrUnregistered)
	case m.Issuer == "" || m.ChallengeID == "":
		return notification{}, errors.New("message needs an issuer and a challenge id")
	}
	body, err := json.Marshal(payload{
		APS:    aps{Alert: alert{LocKey: alertLocKey}, MutableContent: 1},
		Issuer: m.Issuer, Challenge: m.ChallengeID,
	})
	if err != nil {
		return notification{}, err
	}
	ttl := m.TTL
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	// Whole seconds, rounded up: 0 would mean "now or never".
	exp := s.now().Add(ttl + time.Second - 1).Unix()
	return notification{
		// The token is the device's; escaped so that it can only ever be
		// one path segment.
		path:       "/3/device/" + url.PathEscape(t.Token),
		body:       body,
		id:         newUUID(),
		expiration: strconv.FormatInt(exp, 10),
	}, nil
}

// retryAfterOf is how long APNs asked to wait, zero when it did not say.
func retryAfterOf(err error) time.Duration {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.RetryAfter
	}
	return 0
}

// newUUID returns a random (version 4) UUID in canonical form, as apns-id
// requires.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
