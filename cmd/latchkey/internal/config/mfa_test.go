package config

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/mfa"
)

// The config's defaults are the engine's: a fresh installation without an
// [mfa] section runs mfa.DefaultPolicy.
func TestMFADefaultsAreThePolicyDefaults(t *testing.T) {
	d := Default()
	if d.MFA.AppName != "Latchkey" {
		t.Errorf("default app_name = %q, want Latchkey", d.MFA.AppName)
	}
	got, err := d.MFA.Policy()
	if err != nil {
		t.Fatal(err)
	}
	if want := mfa.DefaultPolicy(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Default().MFA.Policy() =\n%+v\nwant mfa.DefaultPolicy() =\n%+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("default policy does not validate: %v", err)
	}
	// Default hands out fresh tables: a caller filling one in must not
	// change the next Default.
	d.MFA.Aliases["x"] = "mfa"
	d.MFA.ClientLevels["y"] = "phr"
	d.MFA.Order[0] = "sms"
	if again := Default(); len(again.MFA.Aliases) != 0 || len(again.MFA.ClientLevels) != 0 || again.MFA.Order[0] != "passkey" {
		t.Fatalf("Default shares state between calls: %+v", again.MFA)
	}
}

// Every key of the section, set to a value other than its default, reaches
// the mfa.Policy.
func TestMFAFileRoundTrip(t *testing.T) {
	path := writeFile(t, `
[mfa]
app_name = " Example Corp "
order = ["TOTP", "passkey", " sms "]
phone_satisfies_mfa = true
recovery_satisfies_mfa = false
default_level = "mfa"
require_enrolment = true
enrol_at_sign_in = true
enrollable = ["totp", "passkey"]
risk_step_up = true
sim_swap_window = "72h"

[mfa.limits]
max_attempts = 3
hourly_budget = 12
lock_after = 6
lock_window = "30m"
lock_base = "1m"
lock_max = "12h"

[mfa.remember]
enabled = true
for = "168h"

[mfa.aliases]
"aal2" = "mfa"
"aal3" = "PHR"
"urn:mace:incommon:iap:silver" = "urn:latchkey:acr:mfa"
"urn:mace:incommon:iap:bronze" = "urn:latchkey:acr:pwd"

[mfa.client_levels]
payroll = "phr"
"wiki.internal" = "urn:latchkey:acr:pwd"
`)
	cfg, err := Load(path, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MFA.AppName != "Example Corp" {
		t.Errorf("app_name = %q, want it trimmed", cfg.MFA.AppName)
	}
	got, err := cfg.MFA.Policy()
	if err != nil {
		t.Fatal(err)
	}
	want := mfa.Policy{
		Order:                []mfa.Factor{mfa.TOTP, mfa.Passkey, mfa.SMS},
		PhoneSatisfiesMFA:    true,
		RecoverySatisfiesMFA: false,
		DefaultLevel:         mfa.LevelMFA,
		ClientLevels:         map[string]mfa.Level{"payroll": mfa.LevelPHR, "wiki.internal": mfa.LevelPwd},
		Aliases: map[string]mfa.Level{
			"aal2": mfa.LevelMFA, "aal3": mfa.LevelPHR,
			"urn:mace:incommon:iap:silver": mfa.LevelMFA, "urn:mace:incommon:iap:bronze": mfa.LevelPwd,
		},
		RequireEnrolment: true,
		EnrolAtSignIn:    true,
		Enrollable:       []mfa.Factor{mfa.TOTP, mfa.Passkey},
		RiskStepUp:       true,
		SIMSwapWindow:    mfa.Duration(72 * time.Hour),
		Limits: mfa.Limits{
			MaxAttempts: 3, HourlyBudget: 12, LockAfter: 6,
			LockWindow: mfa.Duration(30 * time.Minute), LockBase: mfa.Duration(time.Minute), LockMax: mfa.Duration(12 * time.Hour),
		},
		Remember: mfa.RememberPolicy{Enabled: true, For: mfa.Duration(168 * time.Hour)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Policy() =\n%+v\nwant\n%+v", got, want)
	}
	// Everything else kept its default.
	cfg.MFA = Default().MFA
	if !reflect.DeepEqual(cfg, Default()) {
		t.Errorf("an [mfa] section changed other sections: %+v", cfg)
	}
}

func TestMFAEnvOverrides(t *testing.T) {
	path := writeFile(t, `
[mfa]
order = ["passkey"]
[mfa.aliases]
"aal2" = "mfa"
"gone" = "pwd"
`)
	cfg, err := Load(path, env(map[string]string{
		"LATCHKEY_MFA_APP_NAME":               "Env Corp",
		"LATCHKEY_MFA_ORDER":                  "totp, sms",
		"LATCHKEY_MFA_PHONE_SATISFIES_MFA":    "true",
		"LATCHKEY_MFA_REQUIRE_ENROLMENT":      "true",
		"LATCHKEY_MFA_DEFAULT_LEVEL":          "urn:latchkey:acr:mfa",
		"LATCHKEY_MFA_ENROLLABLE":             "totp",
		"LATCHKEY_MFA_SIM_SWAP_WINDOW":        "0s",
		"LATCHKEY_MFA_LIMITS_MAX_ATTEMPTS":    "3",
		"LATCHKEY_MFA_LIMITS_LOCK_BASE":       "30s",
		"LATCHKEY_MFA_REMEMBER_ENABLED":       "true",
		"LATCHKEY_MFA_REMEMBER_FOR":           "24h",
		"LATCHKEY_MFA_ALIASES":                "aal2=phr, urn:mace:incommon:iap:silver=mfa,",
		"LATCHKEY_MFA_CLIENT_LEVELS":          "payroll=phr",
		"LATCHKEY_MFA_RECOVERY_SATISFIES_MFA": "false",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := Default().MFA
	want.AppName = "Env Corp"
	want.Order = []string{"totp", "sms"}
	want.PhoneSatisfiesMFA = true
	want.RecoverySatisfiesMFA = false
	want.RequireEnrolment = true
	want.DefaultLevel = "urn:latchkey:acr:mfa"
	want.Enrollable = []string{"totp"}
	want.SIMSwapWindow = D(0)
	want.Limits.MaxAttempts = 3
	want.Limits.LockBase = D(30 * time.Second)
	want.Remember = MFARemember{Enabled: true, For: D(24 * time.Hour)}
	// A table from the environment replaces the file's ("gone" is gone).
	want.Aliases = map[string]string{"aal2": "phr", "urn:mace:incommon:iap:silver": "mfa"}
	want.ClientLevels = map[string]string{"payroll": "phr"}
	if !reflect.DeepEqual(cfg.MFA, want) {
		t.Fatalf("MFA =\n%+v\nwant\n%+v", cfg.MFA, want)
	}
	p, err := cfg.MFA.Policy()
	if err != nil {
		t.Fatal(err)
	}
	if p.DefaultLevel != mfa.LevelMFA || p.Aliases["aal2"] != mfa.LevelPHR || p.ClientLevels["payroll"] != mfa.LevelPHR ||
		!reflect.DeepEqual(p.Order, []mfa.Factor{mfa.TOTP, mfa.SMS}) || p.Limits.MaxAttempts != 3 {
		t.Errorf("Policy() = %+v", p)
	}
}

func TestMFABadEnvironment(t *testing.T) {
	_, err := Load("", env(map[string]string{
		"LATCHKEY_MFA_ALIASES":             "aal2",
		"LATCHKEY_MFA_CLIENT_LEVELS":       "a=mfa,a=phr",
		"LATCHKEY_MFA_LIMITS_MAX_ATTEMPTS": "five",
		"LATCHKEY_MFA_REMEMBER_FOR":        "a month",
		"LATCHKEY_MFA_ORDER":               "totp,fax",
	}))
	if err == nil {
		t.Fatal("Load accepted bad environment")
	}
	for _, want := range []string{
		`mfa.aliases (from LATCHKEY_MFA_ALIASES): want key=value pairs separated by commas, got "aal2"`,
		`mfa.client_levels (from LATCHKEY_MFA_CLIENT_LEVELS): "a" is set twice`,
		"mfa.limits.max_attempts (from LATCHKEY_MFA_LIMITS_MAX_ATTEMPTS): want an integer",
		"mfa.remember.for (from LATCHKEY_MFA_REMEMBER_FOR): parse duration",
		`mfa.order[1]: unknown factor "fax"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestParsePairs(t *testing.T) {
	got, err := parsePairs(" a = mfa ,, x=y=phr,urn:a:b=urn:latchkey:acr:pwd ")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "mfa", "x=y": "phr", "urn:a:b": "urn:latchkey:acr:pwd"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parsePairs = %v, want %v", got, want)
	}
	for _, bad := range []string{"novalue", "=mfa", "a=b,a=c"} {
		if _, err := parsePairs(bad); err == nil {
			t.Errorf("parsePairs(%q) succeeded", bad)
		}
	}
}

func TestMFAUnknownKeys(t *testing.T) {
	path := writeFile(t, `
[mfa]
ordre = ["totp"]
[mfa.limits]
max_attempt = 3
[mfa.remember]
days = 30
`)
	_, err := Load(path, env(nil))
	if err == nil {
		t.Fatal("Load accepted unknown keys")
	}
	for _, want := range []string{"mfa.ordre: unknown key", "mfa.limits.max_attempt: unknown key", "mfa.remember.days: unknown key"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestMFAValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*MFA)
		want   string
	}{
		{"unknown factor", func(m *MFA) { m.Order = []string{"totp", "fax"} }, `mfa.order[1]: unknown factor "fax": want one of passkey, push, totp, sms, voice`},
		{"recovery in order", func(m *MFA) { m.Order = []string{"recovery_code"} }, `mfa.order[0]: unknown factor "recovery_code"`},
		{"repeated factor", func(m *MFA) { m.Order = []string{"totp", "sms", "totp"} }, "mfa.order[2]: totp is listed twice"},
		{"unknown enrollable", func(m *MFA) { m.Enrollable = []string{"password"} }, `mfa.enrollable[0]: unknown factor "password"`},
		{"bad level", func(m *MFA) { m.DefaultLevel = "aal2" }, `mfa.default_level: unknown level "aal2": want pwd, mfa, phr or urn:latchkey:acr:pwd, urn:latchkey:acr:mfa, urn:latchkey:acr:phr`},
		{"empty level", func(m *MFA) { m.DefaultLevel = "" }, `mfa.default_level: unknown level ""`},
		{"alias to bad level", func(m *MFA) { m.Aliases = map[string]string{"aal2": "strong"} }, `mfa.aliases."aal2": unknown level "strong"`},
		{"alias shadows a URN", func(m *MFA) { m.Aliases = map[string]string{"urn:latchkey:acr:pwd": "mfa"} }, `mfa.aliases."urn:latchkey:acr:pwd": urn:latchkey:acr:pwd is a level's own URN and cannot be an alias`},
		{"alias shadows a URN with itself", func(m *MFA) { m.Aliases = map[string]string{"urn:latchkey:acr:phr": "phr"} }, "is a level's own URN"},
		{"empty alias", func(m *MFA) { m.Aliases = map[string]string{" ": "mfa"} }, "an alias must not be empty"},
		{"client level", func(m *MFA) { m.ClientLevels = map[string]string{"payroll": "max"} }, `mfa.client_levels."payroll": unknown level "max"`},
		{"empty client", func(m *MFA) { m.ClientLevels = map[string]string{"": "mfa"} }, "a client id must not be empty"},
		{"app name colon", func(m *MFA) { m.AppName = "Corp: SSO" }, `mfa.app_name: must be 1 to 64 characters without a colon, got "Corp: SSO"`},
		{"app name empty", func(m *MFA) { m.AppName = "" }, "mfa.app_name: must be 1 to 64 characters"},
		{"app name long", func(m *MFA) { m.AppName = strings.Repeat("x", 65) }, "mfa.app_name: must be 1 to 64 characters"},
		{"sim swap", func(m *MFA) { m.SIMSwapWindow = D(-time.Hour) }, "mfa.sim_swap_window: must be between 0s and 8760h, got -1h"},
		{"attempts low", func(m *MFA) { m.Limits.MaxAttempts = 0 }, "mfa.limits.max_attempts: must be between 1 and 20, got 0"},
		{"attempts high", func(m *MFA) { m.Limits.MaxAttempts = 21 }, "mfa.limits.max_attempts: must be between 1 and 20, got 21"},
		{"budget", func(m *MFA) { m.Limits.HourlyBudget = 1001 }, "mfa.limits.hourly_budget: must be between 1 and 1000, got 1001"},
		{"lock after", func(m *MFA) { m.Limits.LockAfter = 0 }, "mfa.limits.lock_after: must be between 1 and 1000, got 0"},
		{"lock window", func(m *MFA) { m.Limits.LockWindow = D(time.Second) }, "mfa.limits.lock_window: must be between 1m and 720h, got 1s"},
		{"lock base", func(m *MFA) { m.Limits.LockBase = D(0) }, "mfa.limits.lock_base: must be between 1s and 24h, got 0s"},
		{"lock max", func(m *MFA) { m.Limits.LockMax = D(1000 * time.Hour) }, "mfa.limits.lock_max: must be between 1m and 720h, got 1000h"},
		{"lock max < base", func(m *MFA) { m.Limits.LockBase = D(time.Hour); m.Limits.LockMax = D(10 * time.Minute) }, "mfa.limits.lock_max: must not be shorter than mfa.limits.lock_base (1h)"},
		{"remember zero", func(m *MFA) { m.Remember = MFARemember{Enabled: true, For: D(0)} }, "mfa.remember.for: must be between 1h and 8760h, got 0s"},
		{"remember too long", func(m *MFA) { m.Remember = MFARemember{Enabled: true, For: D(9000 * time.Hour)} }, "mfa.remember.for: must be between 1h and 8760h, got 9000h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mutate(&c.MFA)
			c.normalize()
			err := c.Validate(Dev)
			if err == nil {
				t.Fatalf("Validate accepted the config; want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %q\nwant it to contain %q", err, tt.want)
			}
			for line := range strings.SplitSeq(err.Error(), "\n") {
				if !strings.HasPrefix(line, "mfa.") {
					t.Errorf("line %q does not name an mfa key", line)
				}
			}
		})
	}
}

// Policy refuses what it cannot convert, naming the key, so the binary
// cannot start with half a policy even if Validate was skipped.
func TestMFAPolicyConversionErrors(t *testing.T) {
	m := Default().MFA
	m.Order = []string{"fax"}
	m.DefaultLevel = "top"
	m.Aliases = map[string]string{"urn:latchkey:acr:mfa": "mfa"}
	_, err := m.Policy()
	if err == nil {
		t.Fatal("Policy accepted unknown names")
	}
	for _, want := range []string{"convert mfa policy: ", "mfa.order[0]", "mfa.default_level", `mfa.aliases."urn:latchkey:acr:mfa"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// Values that convert but break the engine's own rules fail Validate too,
// under the mfa section's name.
func TestMFAPolicyValidateRuns(t *testing.T) {
	c := Default()
	c.MFA.Order = []string{}
	c.MFA.Enrollable = []string{"totp"}
	err := c.Validate(Dev)
	if err == nil {
		t.Fatal("Validate accepted an empty factor order with enrollable factors")
	}
	if want := "mfa.enrollable[0]: totp is not in order"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Validate = %q, want it to start with %q", err, want)
	}
	if _, perr := c.MFA.Policy(); perr != nil {
		t.Errorf("the policy converts (%v): the error must come from mfa.Policy.Validate", perr)
	}
}

// Range problems and the engine's consistency problems are reported
// together, each key once.
func TestMFAAllProblemsAtOnce(t *testing.T) {
	c := Default()
	c.MFA.Order = []string{"sms"} // passkey and totp stay enrollable
	c.MFA.Limits.LockBase = D(0)
	err := c.Validate(Dev)
	if err == nil {
		t.Fatal("Validate accepted the config")
	}
	for _, want := range []string{
		"mfa.limits.lock_base: must be between 1s and 24h, got 0s",
		"mfa.enrollable[0]: passkey is not in order",
		"mfa.enrollable[1]: totp is not in order",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if n := strings.Count(err.Error(), "mfa.limits.lock_base:"); n != 1 {
		t.Errorf("lock_base reported %d times:\n%v", n, err)
	}
}
