package twilio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"time"
)

// Defaults applied by New to zero fields.
const (
	DefaultTimeout    = 10 * time.Second
	DefaultMaxRetries = 3
)

var (
	accountSIDRe = regexp.MustCompile(`^AC[0-9a-fA-F]{32}$`)
	serviceSIDRe = regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`)
	// twilio-go refuses credentials with anything but letters and digits
	// (its errors 21222/21224); say so at start-up instead.
	alnumRe = regexp.MustCompile(`^[A-Za-z0-9]+$`)
	e164Re  = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)
	// An alphanumeric sender ID: up to 11 letters, digits and spaces, at
	// least one letter (Twilio's rule).
	senderIDRe = regexp.MustCompile(`^[A-Za-z0-9 ]*[A-Za-z][A-Za-z0-9 ]*$`)
)

// Config configures a Client. AccountSID and AuthToken are required and never
// read from the environment (twilio-go falls back to TWILIO_ACCOUNT_SID and
// TWILIO_AUTH_TOKEN when they are blank; New refuses blanks, and the client
// is built so that TWILIO_EDGE and TWILIO_REGION are ignored too).
//
// SMS needs MessagingServiceSID or SMSFrom (both may be set: Twilio then sends
// from SMSFrom and applies the service's features); voice needs VoiceFrom.
// New needs at least one channel; SendSMS or Call on a channel that is not
// configured returns an error matching ErrConfig.
type Config struct {
	AccountSID string // "AC" + 32 hex digits
	AuthToken  string // secret: redacted by String and LogValue

	MessagingServiceSID string // "MG" + 32 hex digits
	SMSFrom             string // E.164 number or alphanumeric sender ID
	VoiceFrom           string // E.164 number, a Twilio number or verified caller ID

	// Timeout bounds each HTTP attempt (twilio-go takes no context);
	// DefaultTimeout when zero. The context's deadline also applies.
	Timeout time.Duration
	// MaxRetries is how many times a 20429 or 5xx answer is retried;
	// DefaultMaxRetries when zero, none when negative.
	MaxRetries int
	// Transport sends the requests; http.DefaultTransport when nil. Tests
	// pass twiliotest's transport, which leads api.twilio.com to a fake.
	Transport http.RoundTripper
	// Sleep waits between retries; a context-aware timer when nil.
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger receives retry warnings; slog.Default() when nil. Nothing logged
	// carries the auth token, a message body or a phone number.
	Logger *slog.Logger
}

// String redacts the auth token, so that printing a Config is safe.
func (c Config) String() string {
	return fmt.Sprintf("twilio.Config{AccountSID:%s AuthToken:%s MessagingServiceSID:%s SMSFrom:%s VoiceFrom:%s Timeout:%s MaxRetries:%d}",
		c.AccountSID, redact(c.AuthToken), c.MessagingServiceSID, c.SMSFrom, c.VoiceFrom, c.Timeout, c.MaxRetries)
}

// GoString keeps %#v from printing the token.
func (c Config) GoString() string { return c.String() }

// LogValue redacts the auth token in structured logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("account_sid", c.AccountSID),
		slog.String("auth_token", redact(c.AuthToken)),
		slog.String("messaging_service_sid", c.MessagingServiceSID),
		slog.String("sms_from", c.SMSFrom),
		slog.String("voice_from", c.VoiceFrom),
		slog.Duration("timeout", c.Timeout),
		slog.Int("max_retries", c.MaxRetries),
	)
}

func redact(secret string) string {
	if secret == "" {
		return ""
	}
	return "[redacted]"
}

// Validate checks the configuration all at once; every problem is reported,
// each matching ErrConfig.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	switch {
	case c.AccountSID == "":
		bad("account SID is required (TWILIO_ACCOUNT_SID is deliberately not read)")
	case !accountSIDRe.MatchString(c.AccountSID):
		bad("account SID must be AC followed by 32 hex digits")
	}
	switch {
	case c.AuthToken == "":
		bad("auth token is required (TWILIO_AUTH_TOKEN is deliberately not read)")
	case !alnumRe.MatchString(c.AuthToken):
		bad("auth token must be letters and digits only")
	}
	if c.MessagingServiceSID != "" && !serviceSIDRe.MatchString(c.MessagingServiceSID) {
		bad("messaging service SID must be MG followed by 32 hex digits")
	}
	if c.SMSFrom != "" && !e164Re.MatchString(c.SMSFrom) && (len(c.SMSFrom) > 11 || !senderIDRe.MatchString(c.SMSFrom)) {
		bad("SMS from must be an E.164 number or an alphanumeric sender ID of at most 11 characters")
	}
	if c.VoiceFrom != "" && !e164Re.MatchString(c.VoiceFrom) {
		bad("voice from must be an E.164 number")
	}
	if !c.smsConfigured() && c.VoiceFrom == "" {
		bad("no channel: set a messaging service SID or SMS from number for SMS, a voice from number for calls")
	}
	if c.Timeout < 0 {
		bad("timeout must not be negative")
	}
	return errors.Join(errs...)
}

func (c Config) smsConfigured() bool { return c.MessagingServiceSID != "" || c.SMSFrom != "" }
