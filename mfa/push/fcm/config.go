package fcm

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Defaults applied by New to zero fields.
const (
	DefaultEndpoint   = "https://fcm.googleapis.com"
	DefaultTokenURL   = "https://oauth2.googleapis.com/token"
	DefaultTimeout    = 10 * time.Second
	DefaultMaxRetries = 3
	// DefaultTTL applies to a push.Message without a TTL: FCM's own
	// default is four weeks, far beyond any sign-in.
	DefaultTTL = 2 * time.Minute
)

// Scope is the OAuth 2.0 scope the access token is requested for.
const Scope = "https://www.googleapis.com/auth/firebase.messaging"

// ErrConfig marks a configuration New refuses, or one Google refused (a key
// the token endpoint rejects, a service account without permission on the
// project). Retrying does not help; an operator must act.
var ErrConfig = errors.New("fcm: configuration")

// Config configures a Sender.
type Config struct {
	// ServiceAccountJSON is the service-account key file as downloaded from
	// the Firebase console (type "service_account", project_id,
	// private_key_id, private_key, client_email, token_uri). Secret:
	// redacted by String and LogValue.
	ServiceAccountJSON []byte
	// ProjectID overrides the key's project_id, for a service account that
	// sends for another project.
	ProjectID string
	// Endpoint is the FCM API's base URL; DefaultEndpoint when empty.
	Endpoint string

	// HTTPClient sends every request (token and send); a client that
	// follows no redirects when nil. Tests pass one that trusts the fake's
	// certificate.
	HTTPClient *http.Client
	// Timeout bounds each attempt (token fetch and send); DefaultTimeout
	// when zero. The context's deadline also applies.
	Timeout time.Duration
	// MaxRetries is how many times a 429 or 5xx answer is retried;
	// DefaultMaxRetries when zero, none when negative.
	MaxRetries int
	// Now is the clock for JWT times and token expiry; time.Now when nil.
	Now func() time.Time
	// Sleep waits between retries; a context-aware timer when nil.
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger receives retry warnings; slog.Default() when nil. Nothing
	// logged carries a registration token, an access token or the key.
	Logger *slog.Logger
}

// String redacts the key, so that printing a Config is safe.
func (c Config) String() string {
	return fmt.Sprintf("fcm.Config{ServiceAccountJSON:%s ProjectID:%s Endpoint:%s Timeout:%s MaxRetries:%d}",
		redact(c.ServiceAccountJSON), c.ProjectID, c.Endpoint, c.Timeout, c.MaxRetries)
}

// GoString keeps %#v from printing the key.
func (c Config) GoString() string { return c.String() }

// LogValue redacts the key in structured logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("service_account_json", redact(c.ServiceAccountJSON)),
		slog.String("project_id", c.ProjectID),
		slog.String("endpoint", c.Endpoint),
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

// serviceAccount is the part of a Google service-account key file the
// Sender uses.
type serviceAccount struct {
	Type         string `json:"type"`
	ProjectID    string `json:"project_id"`
	PrivateKeyID string `json:"private_key_id"`
	PrivateKey   string `json:"private_key"`
	ClientEmail  string `json:"client_email"`
	TokenURI     string `json:"token_uri"`
}

// settings is a validated Config.
type settings struct {
	projectID string
	endpoint  string // no trailing slash
	email     string
	keyID     string
	tokenURL  string
	key       *rsa.PrivateKey
}

// Validate checks the configuration all at once; every problem is reported,
// each matching ErrConfig.
func (c Config) Validate() error {
	_, err := c.settings()
	return err
}

func (c Config) settings() (settings, error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	var s settings
	var sa serviceAccount
	switch {
	case len(c.ServiceAccountJSON) == 0:
		bad("service account key is required")
	case json.Unmarshal(c.ServiceAccountJSON, &sa) != nil:
		bad("service account key is not a JSON object")
	default:
		if sa.Type != "service_account" {
			bad("service account key: type must be \"service_account\", not %q", sa.Type)
		}
		if sa.ClientEmail == "" {
			bad("service account key: client_email is required")
		}
		key, err := parseRSAKey(sa.PrivateKey)
		if err != nil {
			bad("service account key: private_key: %w", err)
		}
		s.email, s.keyID, s.key = sa.ClientEmail, sa.PrivateKeyID, key
		s.tokenURL = sa.TokenURI
		if s.tokenURL == "" {
			s.tokenURL = DefaultTokenURL
		}
		if err := checkHTTPS(s.tokenURL, true); err != nil {
			bad("service account key: token_uri: %w", err)
		}
	}
	s.projectID = c.ProjectID
	if s.projectID == "" {
		s.projectID = sa.ProjectID
	}
	switch {
	case s.projectID == "":
		bad("project id is required (the key's project_id or ProjectID)")
	case url.PathEscape(s.projectID) != s.projectID:
		bad("project id %q has characters a Firebase project id cannot have", s.projectID)
	}
	s.endpoint = c.Endpoint
	if s.endpoint == "" {
		s.endpoint = DefaultEndpoint
	}
	if err := checkHTTPS(s.endpoint, false); err != nil {
		bad("endpoint: %w", err)
	}
	for len(s.endpoint) > 0 && s.endpoint[len(s.endpoint)-1] == '/' {
		s.endpoint = s.endpoint[:len(s.endpoint)-1]
	}
	if c.Timeout < 0 {
		bad("timeout must not be negative")
	}
	return s, errors.Join(errs...)
}

// checkHTTPS refuses anything but an https URL: the bearer token and the
// signed assertion must not cross the network in clear.
func checkHTTPS(raw string, pathAllowed bool) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return errors.New("not a URL")
	case u.Scheme != "https" || u.Host == "":
		return fmt.Errorf("%q must be an https URL", raw)
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return fmt.Errorf("%q must have no query, fragment or user", raw)
	case !pathAllowed && u.Path != "" && u.Path != "/":
		return fmt.Errorf("%q must have no path (the API path is added)", raw)
	}
	return nil
}

// parseRSAKey reads the key file's private_key: PKCS#8 ("PRIVATE KEY", what
// Google issues) or PKCS#1 ("RSA PRIVATE KEY").
func parseRSAKey(pemText string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	switch block.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("not a PKCS#8 key")
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("a %T, not an RSA key (RS256 needs RSA)", k)
		}
		return checkRSASize(rk)
	case "RSA PRIVATE KEY":
		rk, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("not a PKCS#1 RSA key")
		}
		return checkRSASize(rk)
	default:
		return nil, fmt.Errorf("PEM block %q is not a private key", block.Type)
	}
}

// checkRSASize refuses keys shorter than Google issues (2048 bits): the
// token endpoint would refuse their signatures anyway.
func checkRSASize(k *rsa.PrivateKey) (*rsa.PrivateKey, error) {
	if k.N.BitLen() < 2048 {
		return nil, fmt.Errorf("a %d-bit RSA key; at least 2048 bits are needed", k.N.BitLen())
	}
	return k, nil
}
