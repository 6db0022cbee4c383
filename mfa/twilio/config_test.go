package twilio

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/mfa/twilio/twiliotest"
)

const (
	goodSID   = "AC0123456789abcdef0123456789abcdef"
	goodToken = "fedcba9876543210fedcba9876543210"
)

func TestNewRefusesBadConfig(t *testing.T) {
	good := Config{AccountSID: goodSID, AuthToken: goodToken, MessagingServiceSID: testService, VoiceFrom: testFrom}
	if _, err := New(good); err != nil {
		t.Fatalf("New(good) = %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"blank account SID", func(c *Config) { c.AccountSID = "" }, "account SID is required"},
		{"blank auth token", func(c *Config) { c.AuthToken = "" }, "auth token is required"},
		{"account SID shape", func(c *Config) { c.AccountSID = "AC123" }, "account SID must be"},
		{"token characters", func(c *Config) { c.AuthToken = "abc:def" }, "letters and digits"},
		{"service SID shape", func(c *Config) { c.MessagingServiceSID = "MG1" }, "messaging service SID"},
		{"SMS from", func(c *Config) { c.SMSFrom = "Latchkey Identity" }, "SMS from"},
		{"voice from", func(c *Config) { c.VoiceFrom = "Latchkey" }, "voice from"},
		{"no channel", func(c *Config) { c.MessagingServiceSID, c.VoiceFrom = "", "" }, "no channel"},
		{"negative timeout", func(c *Config) { c.Timeout = -1 }, "timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.edit(&cfg)
			c, err := New(cfg)
			if c != nil || !errors.Is(err, ErrConfig) || !IsConfigError(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v, %v; want a configuration error saying %q", c, err, tc.want)
			}
		})
	}
	// Every problem at once.
	err := Config{}.Validate()
	for _, want := range []string{"account SID is required", "auth token is required", "no channel"} {
		if !strings.Contains(fmt.Sprint(err), want) {
			t.Errorf("Validate() = %v, missing %q", err, want)
		}
	}
}

func TestSenderIDAccepted(t *testing.T) {
	cfg := Config{AccountSID: goodSID, AuthToken: goodToken, SMSFrom: "Latchkey"}
	if err := cfg.Validate(); err != nil {
		t.Errorf("alphanumeric sender ID refused: %v", err)
	}
}

// twilio-go reads TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN when credentials
// are blank and TWILIO_EDGE / TWILIO_REGION always: none may have effect.
func TestTwilioEnvironmentIgnored(t *testing.T) {
	fake := twiliotest.New(t)
	t.Setenv("TWILIO_ACCOUNT_SID", fake.AccountSID)
	t.Setenv("TWILIO_AUTH_TOKEN", fake.AuthToken)
	t.Setenv("TWILIO_EDGE", "sydney")
	t.Setenv("TWILIO_REGION", "au1")
	if _, err := New(Config{MessagingServiceSID: testService, Transport: fake.Transport()}); !IsConfigError(err) {
		t.Fatalf("New with blank credentials and TWILIO_* set = %v, want refused", err)
	}
	c, _ := newClient(t, fake, nil)
	if _, err := c.SendSMS(t.Context(), SMS{To: testTo, Body: "code"}); err != nil {
		t.Fatalf("SendSMS: %v", err)
	}
	if _, err := c.Lookup(t.Context(), testTo, false); err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	for _, r := range fake.Requests() {
		if r.Host != "api.twilio.com" && r.Host != "lookups.twilio.com" {
			t.Errorf("request went to %s: TWILIO_EDGE/TWILIO_REGION were applied", r.Host)
		}
	}
}

func TestConfigNeverShowsToken(t *testing.T) {
	cfg := Config{AccountSID: goodSID, AuthToken: goodToken, VoiceFrom: testFrom}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "twilio", cfg)
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%v", &cfg), buf.String()} {
		if strings.Contains(s, goodToken) {
			t.Errorf("token shown in %s", s)
		}
		if !strings.Contains(s, goodSID) || !strings.Contains(s, "redacted") {
			t.Errorf("want the SID and a redaction mark in %s", s)
		}
	}
}
