package config

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey/mfa"
)

// MFA is the [mfa] section: the default MFA policy (a policy saved in the
// store overrides it field by field) and the name authenticator apps show.
// Values use the config's spelling (short level names, Duration) and become
// an mfa.Policy through Policy.
type MFA struct {
	// AppName names the service in authenticator apps (the otpauth issuer).
	AppName string `toml:"app_name"`
	// Order: the second factors to offer, best first.
	Order                []string `toml:"order"`
	PhoneSatisfiesMFA    bool     `toml:"phone_satisfies_mfa"`
	RecoverySatisfiesMFA bool     `toml:"recovery_satisfies_mfa"`
	// DefaultLevel: pwd, mfa, phr or the level's URN.
	DefaultLevel     string   `toml:"default_level"`
	RequireEnrolment bool     `toml:"require_enrolment"`
	EnrolAtSignIn    bool     `toml:"enrol_at_sign_in"`
	Enrollable       []string `toml:"enrollable"`
	RiskStepUp       bool     `toml:"risk_step_up"`
	// SIMSwapWindow: 0 turns the SIM-swap check off.
	SIMSwapWindow Duration `toml:"sim_swap_window"`

	Limits   MFALimits   `toml:"limits"`
	Remember MFARemember `toml:"remember"`
	// Aliases: other acr values clients may send, each naming a level.
	Aliases map[string]string `toml:"aliases"`
	// ClientLevels: client id to the minimum level of that client.
	ClientLevels map[string]string `toml:"client_levels"`
}

// MFALimits is [mfa.limits]; see mfa.Limits.
type MFALimits struct {
	MaxAttempts  int      `toml:"max_attempts"`
	HourlyBudget int      `toml:"hourly_budget"`
	LockAfter    int      `toml:"lock_after"`
	LockWindow   Duration `toml:"lock_window"`
	LockBase     Duration `toml:"lock_base"`
	LockMax      Duration `toml:"lock_max"`
}

// MFARemember is [mfa.remember]; see mfa.RememberPolicy.
type MFARemember struct {
	Enabled bool     `toml:"enabled"`
	For     Duration `toml:"for"`
}

// defaultAppName is what authenticator apps show when app_name is unset.
const defaultAppName = "Latchkey"

// secondFactors are the factors the policy can order or enrol. Recovery
// codes are not among them: the engine always offers them last.
var secondFactors = []mfa.Factor{mfa.Passkey, mfa.Push, mfa.TOTP, mfa.SMS, mfa.Voice}

// shortLevels are the config's names for the levels.
var shortLevels = map[string]mfa.Level{"pwd": mfa.LevelPwd, "mfa": mfa.LevelMFA, "phr": mfa.LevelPHR}

// defaultMFA is mfa.DefaultPolicy in the config's spelling, so the
// engine's defaults are the config's without a second copy to drift.
func defaultMFA() MFA {
	p := mfa.DefaultPolicy()
	return MFA{
		AppName:              defaultAppName,
		Order:                factorNames(p.Order),
		PhoneSatisfiesMFA:    p.PhoneSatisfiesMFA,
		RecoverySatisfiesMFA: p.RecoverySatisfiesMFA,
		DefaultLevel:         shortLevel(p.DefaultLevel),
		RequireEnrolment:     p.RequireEnrolment,
		EnrolAtSignIn:        p.EnrolAtSignIn,
		Enrollable:           factorNames(p.Enrollable),
		RiskStepUp:           p.RiskStepUp,
		SIMSwapWindow:        D(time.Duration(p.SIMSwapWindow)),
		Limits: MFALimits{
			MaxAttempts:  p.Limits.MaxAttempts,
			HourlyBudget: p.Limits.HourlyBudget,
			LockAfter:    p.Limits.LockAfter,
			LockWindow:   D(time.Duration(p.Limits.LockWindow)),
			LockBase:     D(time.Duration(p.Limits.LockBase)),
			LockMax:      D(time.Duration(p.Limits.LockMax)),
		},
		Remember:     MFARemember{Enabled: p.Remember.Enabled, For: D(time.Duration(p.Remember.For))},
		Aliases:      shortLevelMap(p.Aliases),
		ClientLevels: shortLevelMap(p.ClientLevels),
	}
}

func factorNames(fs []mfa.Factor) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = string(f)
	}
	return out
}

func shortLevel(l mfa.Level) string {
	for name, lv := range shortLevels {
		if lv == l {
			return name
		}
	}
	return string(l)
}

// shortLevelMap is never nil: an empty TOML table decodes to an empty map,
// and the example file must equal Default.
func shortLevelMap(m map[string]mfa.Level) map[string]string {
	out := make(map[string]string, len(m))
	for k, l := range m {
		out[k] = shortLevel(l)
	}
	return out
}

// normalize lower-cases the names the section defines (factors, levels);
// alias keys and client ids are kept as written, since acr values and
// client ids are compared exactly.
func (m *MFA) normalize() {
	m.AppName = strings.TrimSpace(m.AppName)
	lower := func(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
	for i := range m.Order {
		m.Order[i] = lower(m.Order[i])
	}
	for i := range m.Enrollable {
		m.Enrollable[i] = lower(m.Enrollable[i])
	}
	m.DefaultLevel = lower(m.DefaultLevel)
	for k, v := range m.Aliases {
		m.Aliases[k] = lower(v)
	}
	for k, v := range m.ClientLevels {
		m.ClientLevels[k] = lower(v)
	}
}

// Policy converts the section into the engine's policy. It fails, naming
// the key, on a value it cannot convert (unknown factor or level, an alias
// that redefines a level's URN); Validate also runs mfa.Policy.Validate on
// the result and checks the ranges.
func (m MFA) Policy() (mfa.Policy, error) {
	v := &validator{}
	p := m.convert(v)
	if err := errors.Join(v.errs...); err != nil {
		return mfa.Policy{}, fmt.Errorf("convert mfa policy: %w", err)
	}
	return p, nil
}

// convert builds the policy, reporting each value it cannot convert to v.
func (m MFA) convert(v *validator) mfa.Policy {
	p := mfa.Policy{
		Order:                v.factors("mfa.order", m.Order),
		PhoneSatisfiesMFA:    m.PhoneSatisfiesMFA,
		RecoverySatisfiesMFA: m.RecoverySatisfiesMFA,
		DefaultLevel:         v.level("mfa.default_level", m.DefaultLevel),
		RequireEnrolment:     m.RequireEnrolment,
		EnrolAtSignIn:        m.EnrolAtSignIn,
		Enrollable:           v.factors("mfa.enrollable", m.Enrollable),
		RiskStepUp:           m.RiskStepUp,
		SIMSwapWindow:        mfa.Duration(m.SIMSwapWindow.Duration),
		Limits: mfa.Limits{
			MaxAttempts:  m.Limits.MaxAttempts,
			HourlyBudget: m.Limits.HourlyBudget,
			LockAfter:    m.Limits.LockAfter,
			LockWindow:   mfa.Duration(m.Limits.LockWindow.Duration),
			LockBase:     mfa.Duration(m.Limits.LockBase.Duration),
			LockMax:      mfa.Duration(m.Limits.LockMax.Duration),
		},
		Remember: mfa.RememberPolicy{Enabled: m.Remember.Enabled, For: mfa.Duration(m.Remember.For.Duration)},
	}
	for _, alias := range sortedKeys(m.Aliases) {
		path := fmt.Sprintf("mfa.aliases.%q", alias)
		switch {
		case strings.TrimSpace(alias) == "":
			v.problem(path, "an alias must not be empty")
			continue
		case slices.Contains(mfa.Levels, mfa.Level(alias)):
			// Clients already send the URN itself; aliasing it would change
			// what a standard acr value means.
			v.problem(path, "%s is a level's own URN and cannot be an alias", alias)
			continue
		}
		if l := v.level(path, m.Aliases[alias]); l != mfa.LevelNone {
			if p.Aliases == nil {
				p.Aliases = map[string]mfa.Level{}
			}
			p.Aliases[alias] = l
		}
	}
	for _, client := range sortedKeys(m.ClientLevels) {
		path := fmt.Sprintf("mfa.client_levels.%q", client)
		if strings.TrimSpace(client) == "" {
			v.problem(path, "a client id must not be empty")
			continue
		}
		if l := v.level(path, m.ClientLevels[client]); l != mfa.LevelNone {
			if p.ClientLevels == nil {
				p.ClientLevels = map[string]mfa.Level{}
			}
			p.ClientLevels[client] = l
		}
	}
	return p
}

// validate checks the section's ranges and, if it converts, the policy's
// own consistency rules (mfa.Policy.Validate).
func (m MFA) validate(v *validator) {
	before := len(v.errs)
	if m.AppName == "" || strings.ContainsRune(m.AppName, ':') || !utf8.ValidString(m.AppName) || utf8.RuneCountInString(m.AppName) > 64 {
		// The otpauth:// label is "issuer:account": a colon would split it.
		v.problem("mfa.app_name", "must be 1 to 64 characters without a colon, got %q", m.AppName)
	}
	v.between("mfa.sim_swap_window", m.SIMSwapWindow, 0, 365*24*time.Hour)

	l := m.Limits
	v.intBetween("mfa.limits.max_attempts", int64(l.MaxAttempts), 1, 20)
	v.intBetween("mfa.limits.hourly_budget", int64(l.HourlyBudget), 1, 1000)
	v.intBetween("mfa.limits.lock_after", int64(l.LockAfter), 1, 1000)
	v.between("mfa.limits.lock_window", l.LockWindow, time.Minute, 30*24*time.Hour)
	v.between("mfa.limits.lock_base", l.LockBase, time.Second, 24*time.Hour)
	v.between("mfa.limits.lock_max", l.LockMax, time.Minute, 30*24*time.Hour)
	if l.LockMax.Duration < l.LockBase.Duration {
		v.problem("mfa.limits.lock_max", "must not be shorter than mfa.limits.lock_base (%s)", l.LockBase)
	}
	// Checked even while disabled: a stored policy may enable remembering
	// and keep this duration.
	v.between("mfa.remember.for", m.Remember.For, time.Hour, 365*24*time.Hour)

	reported := map[string]bool{}
	for _, err := range v.errs[before:] {
		path, _, _ := strings.Cut(err.Error(), ": ")
		reported[path] = true
	}
	converted := len(v.errs)
	p := m.convert(v)
	if len(v.errs) > converted {
		return // half a policy: the engine's checks would only echo these
	}
	if err := p.Validate(); err != nil {
		// One problem per line, each under its TOML path like every other
		// line of Validate's error: the engine names fields by their JSON
		// keys, which are the section's keys. A key the range checks
		// already reported is not reported twice.
		for line := range strings.SplitSeq(err.Error(), "\n") {
			rest, ok := strings.CutPrefix(line, "mfa policy: ")
			if !ok {
				v.problem("mfa", "%s", line)
				continue
			}
			if path, _, _ := strings.Cut(rest, ": "); !reported["mfa."+path] {
				v.errs = append(v.errs, errors.New("mfa."+rest))
			}
		}
	}
}

// factors converts a list of second-factor names, reporting unknown and
// repeated ones with their index.
func (v *validator) factors(path string, names []string) []mfa.Factor {
	out := make([]mfa.Factor, 0, len(names))
	for i, name := range names {
		f := mfa.Factor(name)
		switch {
		case !slices.Contains(secondFactors, f):
			v.problem(fmt.Sprintf("%s[%d]", path, i), "unknown factor %q: want one of %s", name, strings.Join(factorNames(secondFactors), ", "))
		case slices.Contains(out, f):
			v.problem(fmt.Sprintf("%s[%d]", path, i), "%s is listed twice", name)
		default:
			out = append(out, f)
		}
	}
	return out
}

// level converts pwd, mfa, phr or a level's URN.
func (v *validator) level(path, s string) mfa.Level {
	if l, ok := shortLevels[s]; ok {
		return l
	}
	if l := mfa.Level(s); l.Rank() > 0 {
		return l
	}
	v.problem(path, "unknown level %q: want pwd, mfa, phr or %s", s, strings.Join(levelURNs(), ", "))
	return mfa.LevelNone
}

func levelURNs() []string {
	out := make([]string, len(mfa.Levels))
	for i, l := range mfa.Levels {
		out[i] = string(l)
	}
	return out
}

// sortedKeys keeps the order of problems stable from run to run.
func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
