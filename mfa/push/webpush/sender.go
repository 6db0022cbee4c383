package webpush

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/mfa/internal/retry"
	"github.com/latchkey/latchkey/mfa/push"
)

// Back-off between retries: base·2^attempt, capped, of which a random half
// is jitter (so that many nodes rate-limited at once do not retry in step).
// Short, because a push is only useful within the push timeout (15 s).
const (
	backoffBase = 250 * time.Millisecond
	backoffCap  = 4 * time.Second
	// maxRetryAfter: a Retry-After longer than this is not waited for (the
	// sign-in will have moved to another factor long before).
	maxRetryAfter = 30 * time.Second
)

// Sender delivers pushes through Web Push: RFC 8030 requests, payloads
// encrypted per RFC 8291, VAPID authentication per RFC 8292. It is safe for
// concurrent use.
type Sender struct {
	key       *ecdsa.PrivateKey
	publicKey string
	subject   string
	topic     string
	allowed   []string
	client    *http.Client
	timeout   time.Duration
	retry     retry.Policy
	now       func() time.Time
	log       *slog.Logger
}

var _ push.Sender = (*Sender)(nil)

// New validates cfg (see Config) and returns a Sender.
func New(cfg Config) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("webpush: new sender: %w", err)
	}
	key := cfg.VAPIDKey
	if key == nil {
		var err error
		if key, err = ParseVAPIDKey(cfg.VAPIDPrivateKey); err != nil {
			return nil, fmt.Errorf("webpush: new sender: %w", err)
		}
	}
	pub, err := publicKeyString(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("webpush: new sender: VAPID public key: %w", err)
	}
	s := &Sender{
		key:       key,
		publicKey: pub,
		subject:   cfg.Subject,
		topic:     cfg.Topic,
		allowed:   cfg.AllowedHosts,
		timeout:   cfg.Timeout,
		retry: retry.Policy{
			MaxRetries: cfg.MaxRetries,
			Base:       backoffBase,
			Cap:        backoffCap,
			// The service said when; sooner would only be refused
			// again.
			RetryAfter: retryAfterOf,
			MaxWait:    maxRetryAfter,
			Temporary:  retryable,
			Sleep:      cfg.Sleep,
		},
		now: cfg.Now,
		log: cfg.Logger,
	}
	transport := cfg.Transport
	if transport == nil {
		transport = http.DefaultTransport
	}
	s.client = &http.Client{
		Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	if s.allowed == nil {
		s.allowed = DefaultPushServices
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
	return s, nil
}

// PublicKey is the VAPID public key, base64url of the uncompressed point:
// the applicationServerKey the companion web app subscribes with.
func (s *Sender) PublicKey() string { return s.publicKey }

// CheckSubscription parses a PushSubscription JSON and checks that this
// sender can post to it; enrolment and heartbeats call it so that a bad
// subscription is refused when it is reported, not at the first sign-in.
// Errors match ErrInvalidSubscription or ErrEndpointNotAllowed, and
// push.ErrUnregistered.
func (s *Sender) CheckSubscription(token string) error {
	_, err := s.subscription(token)
	return err
}

func (s *Sender) subscription(token string) (*Subscription, error) {
	sub, err := ParseSubscription(token)
	if err != nil {
		return nil, err
	}
	if !hostAllowed(sub.Endpoint, s.allowed) {
		return nil, fmt.Errorf("%w: %s is not a known push service (Config.AllowedHosts)", ErrEndpointNotAllowed, sub.Endpoint.Host)
	}
	if !sub.Expires.IsZero() && !s.now().Before(sub.Expires) {
		return nil, fmt.Errorf("%w: the subscription expired at %s", ErrInvalidSubscription, sub.Expires.UTC().Format(time.RFC3339))
	}
	return sub, nil
}

// Send encrypts m for the subscription in t.Token and posts it to the
// subscription's push service. 404 and 410 answers, and a subscription that
// cannot be used, return errors matching push.ErrUnregistered at once; 429,
// 5xx and failed requests are retried with back-off (or the service's
// Retry-After) while ctx leaves time; other refusals match ErrRejected.
func (s *Sender) Send(ctx context.Context, t push.Target, m push.Message) error {
	if t.Channel != push.ChannelWebPush {
		return fmt.Errorf("webpush: send: target channel %q is not %q", t.Channel, push.ChannelWebPush)
	}
	if m.Issuer == "" || m.ChallengeID == "" {
		return errors.New("webpush: send: the message needs an issuer and a challenge ID")
	}
	sub, err := s.subscription(t.Token)
	if err != nil {
		return err
	}
	payload, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("webpush: send: encode message: %w", err)
	}
	body, err := encryptFor(sub, payload)
	if err != nil {
		return err
	}
	token, err := vapidToken(s.key, sub.Origin(), s.subject, s.now())
	if err != nil {
		return err
	}
	req := request{
		endpoint: sub.Endpoint.String(),
		host:     sub.Endpoint.Host,
		body:     body,
		// RFC 8292 Section 3: the "vapid" scheme carries the token (t)
		// and the key that verifies it (k).
		authorization: "vapid t=" + token + ", k=" + s.publicKey,
		ttl:           ttlSeconds(m.TTL),
	}
	return s.do(ctx, req)
}

// encryptFor encrypts payload with a fresh ephemeral key and salt.
func encryptFor(sub *Subscription, payload []byte) ([]byte, error) {
	ephemeral, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("webpush: encrypt: ephemeral key: %w", err)
	}
	salt := make([]byte, saltSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("webpush: encrypt: salt: %w", err)
	}
	return encrypt(payload, sub.p256dh, sub.auth, ephemeral, salt)
}

// ttlSeconds is the TTL header (RFC 8030 Section 5.2): whole seconds,
// rounded up so that a sub-second TTL does not become 0 ("deliver now or
// never"); DefaultTTL when unset.
func ttlSeconds(ttl time.Duration) int64 {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return int64(math.Ceil(ttl.Seconds()))
}

// request is one push, the same bytes for every attempt.
type request struct {
	endpoint      string
	host          string
	body          []byte
	authorization string
	ttl           int64
}

// do posts r, retrying 429, 5xx and failed requests with exponential
// back-off and jitter (or the service's Retry-After), at most
// Config.MaxRetries times, never sleeping past ctx's deadline.
func (s *Sender) do(ctx context.Context, r request) error {
	// Checked here as well as in Do so that the error names the host, as
	// every other error of a post does.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("webpush: post to %s: %w", r.host, err)
	}
	return s.retry.Do(ctx, func(ctx context.Context) error {
		return s.post(ctx, r)
	}, func(n int, err error, delay time.Duration) {
		s.log.WarnContext(ctx, "webpush: retrying", "host", r.host, "attempt", n,
			"http_status", statusOf(err), "delay", delay)
	})
}

// post makes one attempt. Success is any 2xx (RFC 8030 Section 5: 201
// Created with the push message's Location).
func (s *Sender) post(ctx context.Context, r request) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.endpoint, bytes.NewReader(r.body))
	if err != nil {
		return fmt.Errorf("webpush: post to %s: %w", r.host, err)
	}
	req.Header.Set("TTL", strconv.FormatInt(r.ttl, 10))
	req.Header.Set("Content-Encoding", "aes128gcm")
	req.Header.Set("Content-Type", "application/octet-stream")
	// RFC 8030 Section 5.3: "high" is for time-sensitive messages, which
	// a sign-in waiting for approval is; services may defer lower ones on
	// a phone saving battery.
	req.Header.Set("Urgency", "high")
	req.Header.Set("Authorization", r.authorization)
	if s.topic != "" {
		req.Header.Set("Topic", s.topic)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		// *url.Error repeats the URL, whose path is the subscription's
		// secret; keep the cause and name the host only.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return fmt.Errorf("webpush: post to %s: %w", r.host, err)
	}
	defer resp.Body.Close()
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	return &Error{
		StatusCode: resp.StatusCode,
		Host:       r.host,
		Message:    sanitize(excerpt),
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), s.now()),
	}
}

// parseRetryAfter reads delay-seconds or an HTTP date (RFC 9110 Section
// 10.2.3); zero when absent, malformed or in the past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 || n > int64(math.MaxInt64/int64(time.Second)) {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// retryAfterOf is how long the service asked to wait, zero when it did not
// say.
func retryAfterOf(err error) time.Duration {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.RetryAfter
	}
	return 0
}

func statusOf(err error) int {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.StatusCode
	}
	return 0
}
