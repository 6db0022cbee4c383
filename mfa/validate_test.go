package mfa

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestValidateDefaultPolicy(t *testing.T) {
	if err := DefaultPolicy().Validate(); err != nil {
		t.Fatalf("DefaultPolicy().Validate() = %v", err)
	}
	p := DefaultPolicy()
	p.Remember.Enabled = true
	p.Aliases = map[string]Level{"2": LevelMFA, "urn:example:aal3": LevelPHR}
	p.ClientLevels = map[string]Level{"bank": LevelPHR}
	p.Order = append(p.Order, RecoveryCode)
	p.SIMSwapWindow = 0
	if err := p.Validate(); err != nil {
		t.Fatalf("a valid policy: %v", err)
	}
}

func TestValidateRefuses(t *testing.T) {
	cases := []struct {
		name   string
		change func(*Policy)
		want   string
	}{
		{"unknown factor in order", func(p *Policy) { p.Order = []Factor{TOTP, "fax"} }, `order[1]: unknown factor "fax"`},
		{"password in order", func(p *Policy) { p.Order = []Factor{Password} }, "order[0]: password is not a second factor"},
		{"remembered browser in order", func(p *Policy) { p.Order = []Factor{RememberedBrowser} }, "order[0]: remembered_browser is not a second factor"},
		{"repeated factor in order", func(p *Policy) { p.Order = []Factor{TOTP, SMS, TOTP} }, "order[2]: totp is listed twice"},
		{"unknown factor in enrollable", func(p *Policy) { p.Enrollable = []Factor{"Passkey"} }, `enrollable[0]: unknown factor "Passkey"`},
		{"recovery codes in enrollable", func(p *Policy) { p.Enrollable = []Factor{TOTP, RecoveryCode} }, "enrollable[1]: recovery_code cannot be enrolled"},
		{"repeated factor in enrollable", func(p *Policy) { p.Enrollable = []Factor{TOTP, TOTP} }, "enrollable[1]: totp is listed twice"},
		{"enrollable factor missing from the order", func(p *Policy) { p.Order = []Factor{Passkey, SMS} }, "enrollable[1]: totp is not in order"},
		{"enrollable factors with an empty order", func(p *Policy) { p.Order = nil }, "enrollable[0]: passkey is not in order"},
		{"empty default level", func(p *Policy) { p.DefaultLevel = "" }, `default_level: "" is not a level`},
		{"short default level", func(p *Policy) { p.DefaultLevel = "mfa" }, `default_level: "mfa" is not a level`},
		{"bad client level", func(p *Policy) { p.ClientLevels = map[string]Level{"bank": "urn:latchkey:acr:aal2"} }, `client_levels["bank"]: "urn:latchkey:acr:aal2" is not a level`},
		{"empty client id", func(p *Policy) { p.ClientLevels = map[string]Level{"": LevelMFA} }, `client_levels[""]: a client id must not be empty`},
		{"bad alias target", func(p *Policy) { p.Aliases = map[string]Level{"2": "2"} }, `aliases["2"]: "2" is not a level`},
		{"alias shadows a urn", func(p *Policy) { p.Aliases = map[string]Level{phrURN: LevelPwd} }, `aliases["urn:latchkey:acr:phr"]: shadows the canonical acr value`},
		{"empty alias", func(p *Policy) { p.Aliases = map[string]Level{" ": LevelPwd} }, `aliases[" "]: an alias must not be empty`},
		{"negative sim swap window", func(p *Policy) { p.SIMSwapWindow = Duration(-time.Hour) }, "sim_swap_window: must not be negative"},
		{"zero max attempts", func(p *Policy) { p.Limits.MaxAttempts = 0 }, "limits.max_attempts: must be greater than 0, got 0"},
		{"negative hourly budget", func(p *Policy) { p.Limits.HourlyBudget = -1 }, "limits.hourly_budget: must be greater than 0, got -1"},
		{"zero lock after", func(p *Policy) { p.Limits.LockAfter = 0 }, "limits.lock_after: must be greater than 0"},
		{"zero lock window", func(p *Policy) { p.Limits.LockWindow = 0 }, "limits.lock_window: must be a positive duration, got 0s"},
		{"negative lock base", func(p *Policy) { p.Limits.LockBase = Duration(-time.Second) }, "limits.lock_base: must be a positive duration"},
		{"zero lock max", func(p *Policy) { p.Limits.LockMax = 0 }, "limits.lock_max: must be a positive duration"},
		{"lock max under lock base", func(p *Policy) { p.Limits.LockMax = Duration(time.Minute) }, "limits.lock_max: must not be shorter than limits.lock_base (5m0s), got 1m0s"},
		{"remembering for no time", func(p *Policy) { p.Remember = RememberPolicy{Enabled: true} }, "remember.for: must be a positive duration, got 0s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := DefaultPolicy()
			c.change(&p)
			err := p.Validate()
			if err == nil {
				t.Fatalf("Validate() = nil, want an error containing %q", c.want)
			}
			if !strings.Contains(err.Error(), "mfa policy: "+c.want) {
				t.Fatalf("Validate() = %q, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestValidateRemembersDisabledDuration(t *testing.T) {
	p := DefaultPolicy()
	p.Remember = RememberPolicy{Enabled: false, For: 0}
	if err := p.Validate(); err != nil {
		t.Fatalf("a disabled remember rule needs no duration: %v", err)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	p := DefaultPolicy()
	p.Order = []Factor{"fax"}
	p.Enrollable = nil
	p.DefaultLevel = "x"
	p.Limits = Limits{}
	err := p.Validate()
	if err == nil {
		t.Fatal("Validate() = nil")
	}
	lines := strings.Split(err.Error(), "\n")
	// order, default_level, 3 counts, 3 durations.
	if len(lines) != 8 {
		t.Fatalf("Validate() reported %d problems, want 8:\n%s", len(lines), err)
	}
}

// The stored policy document round-trips through JSON and still
// validates; durations are written as Go duration strings.
func TestPolicyJSONRoundTrip(t *testing.T) {
	p := DefaultPolicy()
	p.Aliases = map[string]Level{"2": LevelMFA}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"lock_base":"5m0s"`) {
		t.Fatalf("durations are not strings: %s", b)
	}
	var back Policy
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if err := back.Validate(); err != nil {
		t.Fatalf("round-tripped policy: %v", err)
	}
	if back.Limits.LockMax != p.Limits.LockMax || back.Aliases["2"] != LevelMFA {
		t.Fatalf("round trip lost values: %+v", back)
	}
}
