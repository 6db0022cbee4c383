package webpush

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Defaults applied by New to zero fields.
const (
	// DefaultTimeout bounds one HTTP attempt. A push service that has not
	// answered in 5 s is better retried, within the caller's deadline, than
	// waited on: the user is looking at a spinner.
	DefaultTimeout    = 5 * time.Second
	DefaultMaxRetries = 3
	// DefaultTTL is the TTL header when Message.TTL is zero: a sign-in
	// request older than a minute is of no use to anyone.
	DefaultTTL = 60 * time.Second
)

// ErrConfig matches every problem Validate reports.
var ErrConfig = errors.New("webpush: invalid configuration")

// topicRe: RFC 8030 Section 5.4 limits a topic to 32 characters of the
// URL- and filename-safe base64 alphabet.
var topicRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// Config configures a Sender.
type Config struct {
	// VAPIDPrivateKey is the application server's key (RFC 8292) as PEM or
	// as a base64url raw scalar (see ParseVAPIDKey); VAPIDKey gives it
	// parsed instead. Exactly one is required. Secret: redacted by String
	// and LogValue. GenerateVAPIDKey makes one.
	VAPIDPrivateKey string
	VAPIDKey        *ecdsa.PrivateKey
	// Subject is the VAPID sub claim: a mailto: address or an https URL
	// where the push service's operator can reach whoever runs Latchkey
	// (RFC 8292 Section 2.1). Required.
	Subject string
	// Topic, when set, is sent as the Topic header (RFC 8030 Section 5.4):
	// a push not yet delivered is replaced by a newer one with the same
	// topic, so a phone that was offline shows one sign-in request, not a
	// queue of stale ones. At most 32 base64url characters.
	Topic string
	// AllowedHosts lists the push services the sender posts to (see
	// DefaultPushServices, the default when nil). Tests add the fake's
	// host:port.
	AllowedHosts []string

	// Timeout bounds each HTTP attempt; DefaultTimeout when zero. The
	// context's deadline also applies.
	Timeout time.Duration
	// MaxRetries is how many times a 429, 5xx or failed request is
	// retried; DefaultMaxRetries when zero, none when negative.
	MaxRetries int
	// Transport sends the requests; http.DefaultTransport when nil.
	// Redirects are never followed (a push service does not redirect, and
	// following one would leave AllowedHosts).
	Transport http.RoundTripper
	// Sleep waits between retries; a context-aware timer when nil.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock for the VAPID token's exp; time.Now when nil.
	Now func() time.Time
	// Logger receives retry warnings; slog.Default() when nil. Nothing
	// logged carries the key, an endpoint's path or a payload.
	Logger *slog.Logger
}

// String redacts the private key, so that printing a Config is safe.
func (c Config) String() string {
	return fmt.Sprintf("webpush.Config{VAPIDPrivateKey:%s VAPIDKey:%s Subject:%s Topic:%s AllowedHosts:%v Timeout:%s MaxRetries:%d}",
		redact(c.VAPIDPrivateKey != ""), redact(c.VAPIDKey != nil), c.Subject, c.Topic, c.AllowedHosts, c.Timeout, c.MaxRetries)
}

// GoString keeps %#v from printing the key.
func (c Config) GoString() string { return c.String() }

// LogValue redacts the private key in structured logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("vapid_private_key", redact(c.VAPIDPrivateKey != "" || c.VAPIDKey != nil)),
		slog.String("subject", c.Subject),
		slog.String("topic", c.Topic),
		slog.Any("allowed_hosts", c.AllowedHosts),
		slog.Duration("timeout", c.Timeout),
		slog.Int("max_retries", c.MaxRetries),
	)
}

func redact(set bool) string {
	if !set {
		return ""
	}
	return "[redacted]"
}

// Validate checks the configuration all at once; every problem is
// reported, each matching ErrConfig.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	switch {
	case c.VAPIDPrivateKey == "" && c.VAPIDKey == nil:
		bad("a VAPID private key is required (webpush.GenerateVAPIDKey makes one)")
	case c.VAPIDPrivateKey != "" && c.VAPIDKey != nil:
		bad("give the VAPID private key once, as text or parsed, not both")
	case c.VAPIDKey != nil && c.VAPIDKey.Curve != elliptic.P256():
		bad("the VAPID key must be on P-256")
	case c.VAPIDPrivateKey != "":
		if _, err := ParseVAPIDKey(c.VAPIDPrivateKey); err != nil {
			bad("%s", strings.TrimPrefix(err.Error(), "webpush: "))
		}
	}
	if err := checkSubject(c.Subject); err != nil {
		bad("subject %s", err)
	}
	if c.Topic != "" && !topicRe.MatchString(c.Topic) {
		bad("topic must be 1 to 32 characters of A-Z a-z 0-9 - _")
	}
	for _, h := range c.AllowedHosts {
		name := strings.TrimPrefix(h, "*.")
		if name == "" || strings.ContainsAny(name, "/*@ ") {
			bad("allowed host %q must be host, host:port or *.domain", h)
		}
	}
	if c.Timeout < 0 {
		bad("timeout must not be negative")
	}
	return errors.Join(errs...)
}

// checkSubject: RFC 8292 Section 2.1 wants a mailto: or https: URI. Apple
// refuses a token without one, and operators use it to reach the sender
// before blocking it.
func checkSubject(sub string) error {
	switch {
	case sub == "":
		return errors.New(`is required: "mailto:admin@example.com" or an https URL`)
	case strings.HasPrefix(sub, "mailto:"):
		addr := strings.TrimPrefix(sub, "mailto:")
		if a, err := mail.ParseAddress(addr); err != nil || a.Address != addr {
			return errors.New("must be mailto: followed by one email address")
		}
	case strings.HasPrefix(sub, "https://"):
		u, err := url.Parse(sub)
		if err != nil || u.Hostname() == "" || u.User != nil {
			return errors.New("must be an https URL with a host")
		}
	default:
		return errors.New(`must start with "mailto:" or "https://"`)
	}
	return nil
}
