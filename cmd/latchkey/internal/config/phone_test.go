package config

import (
	"strings"
	"testing"
)

func TestPhoneSection(t *testing.T) {
	twilio := map[string]string{
		"LATCHKEY_PHONE_SENDER":                 "twilio",
		"LATCHKEY_TWILIO_ACCOUNT_SID":           "AC0123456789abcdef0123456789abcdef",
		"LATCHKEY_TWILIO_AUTH_TOKEN":            "0123456789abcdef0123456789abcdef",
		"LATCHKEY_TWILIO_MESSAGING_SERVICE_SID": "MG0123456789abcdef0123456789abcdef",
		"LATCHKEY_TWILIO_VOICE_FROM":            "+15005550006",
	}
	with := func(base map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range base {
			out[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	cases := []struct {
		name    string
		env     map[string]string
		mode    Mode
		wantErr []string
	}{
		{name: "off by default", env: map[string]string{}, mode: Serve},
		{name: "twilio complete", env: twilio, mode: Serve},
		{name: "twilio with from number", mode: Serve, env: with(twilio, "LATCHKEY_TWILIO_MESSAGING_SERVICE_SID", "", "LATCHKEY_TWILIO_SMS_FROM", "+15005550006")},
		{name: "blank twilio credentials are refused, not read from TWILIO_*", mode: Serve,
			env:     map[string]string{"LATCHKEY_PHONE_SENDER": "twilio"},
			wantErr: []string{"twilio.account_sid: must be the account SID", "twilio.auth_token: must be set", "twilio.messaging_service_sid: or twilio.sms_from is required", "twilio.voice_from: must be an E.164 number"}},
		{name: "bad messaging service", mode: Serve, env: with(twilio, "LATCHKEY_TWILIO_MESSAGING_SERVICE_SID", "PN123"),
			wantErr: []string{"twilio.messaging_service_sid: must be a Messaging Service SID"}},
		{name: "dev sender in dev", env: map[string]string{"LATCHKEY_PHONE_SENDER": "dev"}, mode: Dev},
		{name: "dev sender in serve needs consent", env: map[string]string{"LATCHKEY_PHONE_SENDER": "dev"}, mode: Serve,
			wantErr: []string{"phone.sender: \"dev\" shows every code on a web page"}},
		{name: "dev sender in serve allowed", env: map[string]string{"LATCHKEY_PHONE_SENDER": "dev", "LATCHKEY_PHONE_ALLOW_DEV_SENDER": "true"}, mode: Serve},
		{name: "unknown sender", env: map[string]string{"LATCHKEY_PHONE_SENDER": "nexmo"}, mode: Dev,
			wantErr: []string{`phone.sender: must be one of , twilio, dev, got "nexmo"`}},
		{name: "countries upper-cased", env: map[string]string{"LATCHKEY_PHONE_COUNTRIES": "jp, us"}, mode: Dev},
		{name: "bad country", env: map[string]string{"LATCHKEY_PHONE_COUNTRIES": "JPN"}, mode: Dev,
			wantErr: []string{`phone.countries[0]: must be a two-letter country code, got "JPN"`}},
		{name: "bad fallback and budget", env: map[string]string{"LATCHKEY_PHONE_VOICE_FALLBACK": "sms", "LATCHKEY_PHONE_BUDGETS_PER_USER": "0", "LATCHKEY_PHONE_BUDGETS_DAILY_SPEND": "-1"}, mode: Dev,
			wantErr: []string{"phone.voice_fallback: must be one of offer, call", "phone.budgets.per_user: must be between 1 and 100", "phone.budgets.daily_spend: must be between 0 and 1000000"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("TWILIO_ACCOUNT_SID", "ACfromtheenvironment")
			t.Setenv("TWILIO_AUTH_TOKEN", "fromtheenvironment")
			env := with(tc.env, "LATCHKEY_SECRETS_KEY", testKey)
			cfg, err := Load("", func(k string) string { return env[k] })
			if err == nil {
				err = cfg.Validate(tc.mode)
			}
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	cfg, err := Load("", func(k string) string { return map[string]string{"LATCHKEY_PHONE_COUNTRIES": "jp, us"}[k] })
	if err != nil || strings.Join(cfg.Phone.Countries, ",") != "JP,US" {
		t.Errorf("countries = %v, %v; want JP,US", cfg.Phone.Countries, err)
	}
}
