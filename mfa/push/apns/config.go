package apns

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"time"
)

// APNs hosts and the defaults New applies to zero fields.
const (
	DefaultHost       = "https://api.push.apple.com"
	SandboxHost       = "https://api.sandbox.push.apple.com"
	DefaultTimeout    = 10 * time.Second
	DefaultMaxRetries = 3
	// DefaultTTL applies to a push.Message without a TTL; APNs would
	// otherwise store the notification for up to 30 days.
	DefaultTTL = 2 * time.Minute
)

// ErrConfig marks a configuration New refuses, or one APNs refused (an
// invalid provider token, a topic the key may not push to). Retrying does
// not help; an operator must act.
var ErrConfig = errors.New("apns: configuration")

var (
	// Team and key ids are 10 characters in the developer account.
	appleIDRe = regexp.MustCompile(`^[A-Z0-9]{10}$`)
	// A bundle id: reverse-DNS, letters, digits, hyphens and dots.
	bundleIDRe = regexp.MustCompile(`^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$`)
)

// Config configures a Sender.
type Config struct {
	TeamID string // the developer account's team id: the JWT's iss
	KeyID  string // the .p8 key's id: the JWT's kid
	// PrivateKeyPEM is the .p8 file: a PKCS#8 P-256 key. Secret: redacted
	// by String and LogValue.
	PrivateKeyPEM []byte
	// Topic is the app's bundle id (apns-topic).
	Topic string
	// Host is the APNs base URL: DefaultHost when empty, SandboxHost for
	// development builds of the app.
	Host string

	// HTTPClient sends the requests; it must speak HTTP/2. When nil, an
	// HTTP/2-only client using TLSConfig.
	HTTPClient *http.Client
	// TLSConfig is the default client's TLS configuration (RootCAs for a
	// fake's certificate); the system roots when nil. Not used with
	// HTTPClient.
	TLSConfig *tls.Config
	// Timeout bounds each attempt; DefaultTimeout when zero. The context's
	// deadline also applies.
	Timeout time.Duration
	// MaxRetries is how many times a 429, 500 or 503 answer is retried;
	// DefaultMaxRetries when zero, none when negative.
	MaxRetries int
	// Now is the clock for the JWT's iat, the token's reuse and
	// apns-expiration; time.Now when nil.
	Now func() time.Time
	// Sleep waits between retries; a context-aware timer when nil.
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger receives retry warnings; slog.Default() when nil. Nothing
	// logged carries a device token, the provider token or the key.
	Logger *slog.Logger
}

// String redacts the key, so that printing a Config is safe.
func (c Config) String() string {
	return fmt.Sprintf("apns.Config{TeamID:%s KeyID:%s PrivateKeyPEM:%s Topic:%s Host:%s Timeout:%s MaxRetries:%d}",
		c.TeamID, c.KeyID, redact(c.PrivateKeyPEM), c.Topic, c.Host, c.Timeout, c.MaxRetries)
}

// GoString keeps %#v from printing the key.
func (c Config) GoString() string { return c.String() }

// LogValue redacts the key in structured logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("team_id", c.TeamID),
		slog.String("key_id", c.KeyID),
		slog.String("private_key", redact(c.PrivateKeyPEM)),
		slog.String("topic", c.Topic),
		slog.String("host", c.Host),
		slog.Duration("timeout", c.Timeout),
		slog.Int("max_retries", c.MaxRetries),
	)
}

func redact(secret []byte) string {
	if len(secret) == 0 {
		return ""
	}
	return "[redacted]"
}

// Validate checks the configuration all at once; every problem is reported,
// each matching ErrConfig.
func (c Config) Validate() error {
	_, _, err := c.settings()
	return err
}

// settings returns the validated key and host (no trailing slash).
func (c Config) settings() (*ecdsa.PrivateKey, string, error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	switch {
	case c.TeamID == "":
		bad("team id is required")
	case !appleIDRe.MatchString(c.TeamID):
		bad("team id must be 10 upper-case letters and digits")
	}
	switch {
	case c.KeyID == "":
		bad("key id is required")
	case !appleIDRe.MatchString(c.KeyID):
		bad("key id must be 10 upper-case letters and digits")
	}
	var key *ecdsa.PrivateKey
	if len(c.PrivateKeyPEM) == 0 {
		bad("private key (.p8) is required")
	} else if k, err := parseP8(c.PrivateKeyPEM); err != nil {
		bad("private key: %w", err)
	} else {
		key = k
	}
	switch {
	case c.Topic == "":
		bad("topic (the app's bundle id) is required")
	case !bundleIDRe.MatchString(c.Topic):
		bad("topic %q is not a bundle id", c.Topic)
	}
	host := c.Host
	if host == "" {
		host = DefaultHost
	}
	if u, err := url.Parse(host); err != nil || u.Scheme != "https" || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		bad("host %q must be an https URL without path, such as %s", c.Host, DefaultHost)
	}
	for len(host) > 0 && host[len(host)-1] == '/' {
		host = host[:len(host)-1]
	}
	if c.HTTPClient != nil && c.TLSConfig != nil {
		bad("set HTTPClient or TLSConfig, not both (TLSConfig configures the default client)")
	}
	if c.Timeout < 0 {
		bad("timeout must not be negative")
	}
	return key, host, errors.Join(errs...)
}

// parseP8 reads an APNs auth key: PKCS#8 PEM holding a P-256 key.
func parseP8(pemBytes []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("no PEM block (expected the .p8 file's content)")
	}
	if block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("PEM block %q, want \"PRIVATE KEY\" (PKCS#8, as in a .p8 file)", block.Type)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("not a PKCS#8 key")
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("a %T, want an EC P-256 key (ES256)", k)
	}
	return ek, nil
}

// defaultClient is an HTTP/2-only client: APNs speaks nothing else, and a
// silent fall-back to HTTP/1.1 would only turn into obscure failures.
func defaultClient(tlsConfig *tls.Config) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if tlsConfig != nil {
		tr.TLSClientConfig = tlsConfig.Clone()
	} else {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetHTTP2(true)
	return &http.Client{
		Transport: tr,
		// APNs never redirects; the provider token is for Apple only.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
