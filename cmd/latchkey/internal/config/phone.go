package config

import (
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Phone is the [phone] section: SMS and voice codes, who may receive them
// and what they may cost.
type Phone struct {
	// Sender is "" (phone codes off), "twilio", or "dev" (the outbox of
	// `latchkey dev`: messages are shown at /dev/outbox and logged).
	Sender string `toml:"sender"`
	// AllowDevSender lets `latchkey serve` run with the dev outbox, which
	// shows every code on a web page: for demos and staging only.
	AllowDevSender bool `toml:"allow_dev_sender"`
	// DefaultRegion is the country (ISO 3166-1, "US") of numbers typed
	// without a country code.
	DefaultRegion string `toml:"default_region"`
	// Countries that may receive codes (ISO 3166-1 alpha-2); empty: all.
	Countries []string `toml:"countries"`
	// VoiceFallback: when an SMS is reported undelivered, "offer" a voice
	// call on the page or "call" at once.
	VoiceFallback string `toml:"voice_fallback"`
	// AllowVoIP accepts non-fixed VoIP numbers (Google Voice and the like),
	// which anyone can rent by the minute.
	AllowVoIP bool `toml:"allow_voip"`
	// LineTypeLookup asks the carrier database what a number is before it
	// is enrolled; SIMSwapLookup asks when its SIM last changed before a
	// code is sent (mfa.sim_swap_window says what counts as recent).
	LineTypeLookup bool `toml:"line_type_lookup"`
	SIMSwapLookup  bool `toml:"sim_swap_lookup"`

	Budgets PhoneBudgets `toml:"budgets"`
}

// PhoneBudgets is [phone.budgets]: how many codes may leave per hour, per
// key, and how much they may cost per day.
type PhoneBudgets struct {
	PerUser    int `toml:"per_user"`
	PerNumber  int `toml:"per_number"`
	PerPrefix  int `toml:"per_prefix"`
	PerCountry int `toml:"per_country"`
	PerIP      int `toml:"per_ip"`
	// DailySpend caps the estimated cost of all codes per day (in the
	// account's currency, usually USD); SMSCost and VoiceCost are the
	// estimates charged per message and per call.
	DailySpend float64 `toml:"daily_spend"`
	SMSCost    float64 `toml:"sms_cost"`
	VoiceCost  float64 `toml:"voice_cost"`
	// KillSwitch stops every SMS and call at once (toll fraud under way).
	KillSwitch bool `toml:"kill_switch"`
}

// Twilio is the [twilio] section. Its String, GoString and LogValue redact
// the auth token.
type Twilio struct {
	AccountSID string `toml:"account_sid"`
	AuthToken  string `toml:"auth_token"`
	// MessagingServiceSID (MG...) or SMSFrom (an E.164 number or
	// alphanumeric sender id) sends SMS; VoiceFrom (E.164) places calls.
	MessagingServiceSID string `toml:"messaging_service_sid"`
	SMSFrom             string `toml:"sms_from"`
	VoiceFrom           string `toml:"voice_from"`
	// PublicURL is the base URL Twilio reaches Latchkey at for status
	// callbacks, and the URL their signatures are computed over; empty:
	// the issuer.
	PublicURL string   `toml:"public_url"`
	Timeout   Duration `toml:"timeout"`
}

func defaultPhone() Phone {
	return Phone{
		DefaultRegion:  "US",
		Countries:      []string{},
		VoiceFallback:  "offer",
		LineTypeLookup: true,
		SIMSwapLookup:  false,
		Budgets: PhoneBudgets{
			PerUser: 3, PerNumber: 5, PerPrefix: 50, PerCountry: 500, PerIP: 10,
			DailySpend: 50, SMSCost: 0.01, VoiceCost: 0.03,
		},
	}
}

func defaultTwilio() Twilio { return Twilio{Timeout: D(10 * time.Second)} }

var (
	regionPattern = regexp.MustCompile(`^[A-Z]{2}$`)
	sidPattern    = regexp.MustCompile(`^[A-Za-z0-9]+$`)
	e164Pattern   = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
)

// normalize upper-cases region codes, which users write either way.
func (p *Phone) normalize() {
	p.DefaultRegion = strings.ToUpper(strings.TrimSpace(p.DefaultRegion))
	for i := range p.Countries {
		p.Countries[i] = strings.ToUpper(strings.TrimSpace(p.Countries[i]))
	}
}

func (p Phone) validate(v *validator, t Twilio, mode Mode) {
	v.oneOf("phone.sender", p.Sender, "", "twilio", "dev")
	if p.Sender == "dev" && mode == Serve && !p.AllowDevSender {
		v.problem("phone.sender", `"dev" shows every code on a web page; in serve mode set phone.allow_dev_sender = true to mean it`)
	}
	if !regionPattern.MatchString(p.DefaultRegion) {
		v.problem("phone.default_region", "must be a two-letter country code such as US or JP, got %q", p.DefaultRegion)
	}
	for i, c := range p.Countries {
		if !regionPattern.MatchString(c) {
			v.problem(fmt.Sprintf("phone.countries[%d]", i), "must be a two-letter country code, got %q", c)
		}
	}
	v.oneOf("phone.voice_fallback", p.VoiceFallback, "offer", "call")
	b := p.Budgets
	v.intBetween("phone.budgets.per_user", int64(b.PerUser), 1, 100)
	v.intBetween("phone.budgets.per_number", int64(b.PerNumber), 1, 1000)
	v.intBetween("phone.budgets.per_prefix", int64(b.PerPrefix), 1, 100000)
	v.intBetween("phone.budgets.per_country", int64(b.PerCountry), 1, 10000000)
	v.intBetween("phone.budgets.per_ip", int64(b.PerIP), 1, 100000)
	for _, c := range []struct {
		path string
		val  float64
	}{{"phone.budgets.daily_spend", b.DailySpend}, {"phone.budgets.sms_cost", b.SMSCost}, {"phone.budgets.voice_cost", b.VoiceCost}} {
		if c.val < 0 || c.val > 1e6 {
			v.problem(c.path, "must be between 0 and 1000000, got %v", c.val)
		}
	}
	if p.Sender == "twilio" {
		t.validate(v)
	}
}

// validate runs only when Twilio is the sender. Blank credentials are
// refused here because twilio-go would silently fall back to TWILIO_*
// environment variables.
func (t Twilio) validate(v *validator) {
	if !sidPattern.MatchString(t.AccountSID) || !strings.HasPrefix(t.AccountSID, "AC") {
		v.problem("twilio.account_sid", "must be the account SID (AC followed by letters and digits)")
	}
	if !sidPattern.MatchString(t.AuthToken) {
		v.problem("twilio.auth_token", "must be set (letters and digits); prefer LATCHKEY_TWILIO_AUTH_TOKEN")
	}
	switch {
	case t.MessagingServiceSID == "" && t.SMSFrom == "":
		v.problem("twilio.messaging_service_sid", "or twilio.sms_from is required to send SMS")
	case t.MessagingServiceSID != "" && (!sidPattern.MatchString(t.MessagingServiceSID) || !strings.HasPrefix(t.MessagingServiceSID, "MG")):
		v.problem("twilio.messaging_service_sid", "must be a Messaging Service SID (MG...)")
	}
	if !e164Pattern.MatchString(t.VoiceFrom) {
		v.problem("twilio.voice_from", "must be an E.164 number (+15551234567) to place calls from")
	}
	if t.PublicURL != "" {
		if u, err := url.Parse(t.PublicURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.Fragment != "" {
			v.problem("twilio.public_url", "must be an absolute http(s) URL without query or fragment, got %q", t.PublicURL)
		}
	}
	v.between("twilio.timeout", t.Timeout, time.Second, time.Minute)
}

// String redacts the auth token.
func (t Twilio) String() string {
	tok := ""
	if t.AuthToken != "" {
		tok = redacted
	}
	return fmt.Sprintf("{AccountSID:%s AuthToken:%s MessagingServiceSID:%s SMSFrom:%s VoiceFrom:%s PublicURL:%s Timeout:%s}",
		t.AccountSID, tok, t.MessagingServiceSID, t.SMSFrom, t.VoiceFrom, t.PublicURL, t.Timeout)
}

// GoString redacts the auth token.
func (t Twilio) GoString() string { return "config.Twilio" + t.String() }

// LogValue redacts the auth token.
func (t Twilio) LogValue() slog.Value {
	tok := ""
	if t.AuthToken != "" {
		tok = redacted
	}
	return slog.GroupValue(slog.String("account_sid", t.AccountSID), slog.String("auth_token", tok),
		slog.String("messaging_service_sid", t.MessagingServiceSID), slog.String("sms_from", t.SMSFrom),
		slog.String("voice_from", t.VoiceFrom), slog.String("public_url", t.PublicURL))
}
