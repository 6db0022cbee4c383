package mfa

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Validate reports every problem with p at once (errors.Join, one line
// each), naming the field by its JSON key: the stored policy document and
// the admin console speak those names. A policy that fails must not be
// used: the caller keeps the previous one or refuses to start, since a
// half-understood policy could silently weaken sign-in.
func (p Policy) Validate() error {
	v := &problems{}
	v.factors("order", p.Order, orderable)
	v.factors("enrollable", p.Enrollable, enrollable)
	for i, f := range p.Enrollable {
		if enrollable(f) == nil && !slices.Contains(p.Order, f) {
			// Enrolled during sign-in, it would then never be offered: the
			// user would hold a second factor that cannot be used, and be
			// refused enrolment of another.
			v.add(fmt.Sprintf("enrollable[%d]", i), "%s is not in order, so it would never be offered once enrolled", f)
		}
	}
	v.level("default_level", p.DefaultLevel)
	for _, client := range slices.Sorted(maps.Keys(p.ClientLevels)) {
		path := fmt.Sprintf("client_levels[%q]", client)
		if client == "" {
			v.add(path, "a client id must not be empty")
		}
		v.level(path, p.ClientLevels[client])
	}
	for _, alias := range slices.Sorted(maps.Keys(p.Aliases)) {
		path := fmt.Sprintf("aliases[%q]", alias)
		switch {
		case strings.TrimSpace(alias) == "":
			v.add(path, "an alias must not be empty")
		case slices.Contains(Levels, Level(alias)):
			// The URN must keep its standard meaning for every client.
			v.add(path, "shadows the canonical acr value %s", alias)
		}
		v.level(path, p.Aliases[alias])
	}
	if p.SIMSwapWindow < 0 {
		v.add("sim_swap_window", "must not be negative (0 disables the check), got %s", time.Duration(p.SIMSwapWindow))
	}

	l := p.Limits
	v.positive("limits.max_attempts", l.MaxAttempts)
	v.positive("limits.hourly_budget", l.HourlyBudget)
	v.positive("limits.lock_after", l.LockAfter)
	v.duration("limits.lock_window", l.LockWindow)
	v.duration("limits.lock_base", l.LockBase)
	v.duration("limits.lock_max", l.LockMax)
	if l.LockMax < l.LockBase {
		v.add("limits.lock_max", "must not be shorter than limits.lock_base (%s), got %s", time.Duration(l.LockBase), time.Duration(l.LockMax))
	}
	if p.Remember.Enabled {
		v.duration("remember.for", p.Remember.For)
	}
	return errors.Join(v.errs...)
}

// orderable: the factors Order may list. Recovery codes are allowed but
// change nothing: they are always offered last.
func orderable(f Factor) error {
	switch f {
	case Passkey, Push, TOTP, SMS, Voice, RecoveryCode:
		return nil
	case Password, RememberedBrowser:
		return fmt.Errorf("%s is not a second factor that can be offered", f)
	}
	return fmt.Errorf("unknown factor %q", f)
}

// enrollable: the factors a user can set up during sign-in. Recovery codes
// are issued alongside a second factor, not instead of one.
func enrollable(f Factor) error {
	switch f {
	case Passkey, Push, TOTP, SMS, Voice:
		return nil
	case Password, RememberedBrowser, RecoveryCode:
		return fmt.Errorf("%s cannot be enrolled as a second factor during sign-in", f)
	}
	return fmt.Errorf("unknown factor %q", f)
}

type problems struct{ errs []error }

func (v *problems) add(path, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("mfa policy: %s: %s", path, fmt.Sprintf(format, args...)))
}

func (v *problems) factors(path string, fs []Factor, ok func(Factor) error) {
	for i, f := range fs {
		at := fmt.Sprintf("%s[%d]", path, i)
		if err := ok(f); err != nil {
			v.add(at, "%s", err)
		} else if slices.Contains(fs[:i], f) {
			v.add(at, "%s is listed twice", f)
		}
	}
}

func (v *problems) level(path string, l Level) {
	if !slices.Contains(Levels, l) {
		v.add(path, "%q is not a level: want one of %s, %s, %s", string(l), LevelPwd, LevelMFA, LevelPHR)
	}
}

func (v *problems) positive(path string, n int) {
	if n <= 0 {
		v.add(path, "must be greater than 0, got %d", n)
	}
}

func (v *problems) duration(path string, d Duration) {
	if d <= 0 {
		v.add(path, "must be a positive duration, got %s", time.Duration(d))
	}
}
