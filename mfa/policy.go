package mfa

import (
	"time"
)

// Policy is what an operator decides: defaults come from the config file,
// the stored copy (edited later by the admin console) wins. It is plain
// data with JSON tags so the store can keep it as one document.
type Policy struct {
	// Order is the preference among second factors, best first. Factors
	// missing from it are never offered (recovery codes excepted: they are
	// always offered last while the user has some).
	Order []Factor `json:"order"`
	// PhoneSatisfiesMFA lets SMS and voice codes complete LevelMFA. They
	// never complete LevelPHR.
	PhoneSatisfiesMFA bool `json:"phone_satisfies_mfa"`
	// RecoverySatisfiesMFA lets a recovery code complete LevelMFA (it is
	// the way back in when the other factors are gone).
	RecoverySatisfiesMFA bool `json:"recovery_satisfies_mfa"`
	// DefaultLevel is the level every client needs unless ClientLevels says
	// otherwise.
	DefaultLevel Level `json:"default_level"`
	// ClientLevels: per-client minimum level.
	ClientLevels map[string]Level `json:"client_levels,omitempty"`
	// Aliases: other names for levels that clients may send in acr_values
	// (for example NIST AAL URIs, or "1", "2", "3").
	Aliases map[string]Level `json:"aliases,omitempty"`
	// RequireEnrolment: a user with no second factor must enrol one at the
	// next sign-in, whatever the client asks for.
	RequireEnrolment bool `json:"require_enrolment"`
	// EnrolAtSignIn: a user with no second factor may enrol one during a
	// sign-in that needs it (first-time set-up). Users who already have a
	// second factor never enrol during sign-in: that would let a password
	// alone bypass the factors they have.
	EnrolAtSignIn bool `json:"enrol_at_sign_in"`
	// Enrollable: the factors a user can enrol during sign-in, best first.
	Enrollable []Factor `json:"enrollable"`
	// RiskStepUp raises the target to at least LevelMFA when a risk
	// signal is present.
	RiskStepUp bool `json:"risk_step_up"`
	// SIMSwapWindow: a phone whose SIM changed within this period is not
	// trusted for a code. Zero disables the check.
	SIMSwapWindow Duration `json:"sim_swap_window"`

	// Limits (enforced by the caller with counters in the store; the
	// resulting locks and budgets reach Decide as facts).
	Limits Limits `json:"limits"`
	// Remember: the remembered-browser rules.
	Remember RememberPolicy `json:"remember"`
}

// Limits bounds attempts and sends.
type Limits struct {
	// MaxAttempts: wrong codes per challenge before it is void.
	MaxAttempts int `json:"max_attempts"`
	// HourlyBudget: challenges (codes checked, messages sent, pushes) per
	// user and factor per hour.
	HourlyBudget int `json:"hourly_budget"`
	// LockAfter failures within LockWindow lock the factor for LockBase,
	// doubling with each further failure up to LockMax.
	LockAfter  int      `json:"lock_after"`
	LockWindow Duration `json:"lock_window"`
	LockBase   Duration `json:"lock_base"`
	LockMax    Duration `json:"lock_max"`
}

// RememberPolicy says whether and for how long a browser can stand in for
// the second factor.
type RememberPolicy struct {
	Enabled bool     `json:"enabled"`
	For     Duration `json:"for"`
}

// DefaultPolicy is the policy of a fresh installation: passkey, push, TOTP,
// SMS, voice; phone codes are recovery factors, not an mfa level;
// enrolment is offered during sign-in but not forced.
func DefaultPolicy() Policy {
	return Policy{
		Order:                []Factor{Passkey, Push, TOTP, SMS, Voice},
		PhoneSatisfiesMFA:    false,
		RecoverySatisfiesMFA: true,
		DefaultLevel:         LevelPwd,
		RequireEnrolment:     false,
		EnrolAtSignIn:        true,
		Enrollable:           []Factor{Passkey, TOTP},
		RiskStepUp:           false,
		SIMSwapWindow:        Duration(7 * 24 * time.Hour),
		Limits: Limits{
			MaxAttempts:  5,
			HourlyBudget: 20,
			LockAfter:    10,
			LockWindow:   Duration(time.Hour),
			LockBase:     Duration(5 * time.Minute),
			LockMax:      Duration(24 * time.Hour),
		},
		Remember: RememberPolicy{Enabled: false, For: Duration(30 * 24 * time.Hour)},
	}
}

// Duration is a time.Duration that reads and writes as a Go duration
// string ("15m") in JSON and TOML.
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}
