package mfa

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// candidateSet is what the factor filter found.
type candidateSet struct {
	// offer: the factors to offer, best first.
	offer []Factor
	// locked: some factor that could complete the step is enrolled,
	// available and healthy, and refused only because it is locked or out
	// of budget.
	locked bool
	// retryAt: the earliest end of those locks (zero if only budgets).
	retryAt time.Time
}

// candidates filters the policy's order (recovery codes always last) down
// to the factors that can complete target from the proofs summarised by s
// and that the user can use right now. With trace, every factor left out
// gets a step naming the first rule that excluded it.
func (e *engine) candidates(s summary, target Level, trace bool) candidateSet {
	var cs candidateSet
	order := make([]Factor, 0, len(e.p.Order)+1)
	for _, f := range e.p.Order {
		// Recovery codes are the way back in, not a preference: they go
		// last wherever the policy lists them.
		if f != RecoveryCode && !slices.Contains(order, f) {
			order = append(order, f)
		}
	}
	order = append(order, RecoveryCode)
	for _, f := range order {
		rule, detail, st := e.check(f, s, target)
		if rule == "" {
			cs.offer = append(cs.offer, f)
			continue
		}
		if trace {
			e.step(rule, f, "%s", detail)
		}
		switch rule {
		case "factor.locked":
			cs.locked = true
			if cs.retryAt.IsZero() || st.LockedUntil.Before(cs.retryAt) {
				cs.retryAt = st.LockedUntil
			}
		case "factor.budget_exhausted":
			cs.locked = true
		}
	}
	return cs
}

// check returns the rule that excludes f from the offer ("" if none), a
// detail for the trace and the factor's state. The order of the checks
// decides which reason a factor with several problems reports: first what
// the policy allows, then what the deployment runs, then what the user
// has, then its health, and lock and budget last, so a factor reported as
// locked is one that would work once unlocked.
func (e *engine) check(f Factor, s summary, target Level) (rule, detail string, st FactorState) {
	if !challengeable(f) {
		return "factor.not_second", fmt.Sprintf("%s cannot be offered as a second factor", f), st
	}
	if !s.with(Proof{Factor: f}).level(e.p).AtLeast(target) {
		return "factor.cannot_satisfy", fmt.Sprintf("cannot complete %s from %s", target, levelName(s.level(e.p))), st
	}
	if !slices.Contains(e.f.Available, f) {
		return "factor.not_available", "not available in this deployment", st
	}
	st, ok := e.state(f)
	if !ok || !st.Enrolled {
		return "factor.not_enrolled", "the user has not enrolled it", st
	}
	now := e.f.Now
	switch f {
	case Push:
		switch {
		case st.NotificationsDisabled:
			return "push.notifications_disabled", "the device cannot display notifications", st
		case st.Unregistered:
			return "push.unregistered", "the push service no longer knows the device", st
		case !st.PushReady:
			return "push.not_ready", "no device is ready to receive a push", st
		}
	case SMS, Voice:
		window := time.Duration(e.p.SIMSwapWindow)
		switch {
		case !st.PhoneVerified:
			return "phone.unverified", "the phone number is not verified", st
		case window > 0 && !st.SIMSwappedAt.IsZero() && now.Sub(st.SIMSwappedAt) < window:
			return "phone.sim_swapped", fmt.Sprintf("SIM changed at %s, within %s", stamp(st.SIMSwappedAt), window), st
		case f == SMS && strings.EqualFold(st.LineType, "landline"):
			return "phone.landline", "a landline cannot receive SMS", st
		}
	case RecoveryCode:
		if st.Remaining <= 0 {
			return "recovery.none_left", "no unused recovery code left", st
		}
	}
	if st.LockedUntil.After(now) {
		return "factor.locked", "locked until " + stamp(st.LockedUntil), st
	}
	// -1 is "no budget"; any other negative is a caller's bug, read as
	// exhausted so that it fails closed.
	if st.BudgetLeft != -1 && st.BudgetLeft <= 0 {
		return "factor.budget_exhausted", "no challenges left in this period", st
	}
	return "", "", st
}

// enrolList is the policy's enrollable factors (in its order) that this
// deployment runs and that, once proven, complete target from s.
func (e *engine) enrolList(s summary, target Level, trace bool) []Factor {
	var out []Factor
	for i, f := range e.p.Enrollable {
		if slices.Contains(e.p.Enrollable[:i], f) {
			continue
		}
		rule, detail := "", ""
		switch {
		case enrollable(f) != nil:
			rule, detail = "enrol.not_enrollable", "cannot be enrolled as a second factor during sign-in"
		case !slices.Contains(e.f.Available, f):
			rule, detail = "enrol.not_available", "not available in this deployment"
		case !s.with(Proof{Factor: f}).level(e.p).AtLeast(target):
			rule, detail = "enrol.cannot_satisfy", "cannot complete "+string(target)
		default:
			out = append(out, f)
			continue
		}
		if trace {
			e.step(rule, f, "%s", detail)
		}
	}
	return out
}

// challengeable: the factors that can be asked for after a first factor.
func challengeable(f Factor) bool {
	switch f {
	case Passkey, Push, TOTP, SMS, Voice, RecoveryCode:
		return true
	}
	return false
}

// hasSecondFactor reports whether the user has enrolled a second factor.
// Recovery codes do not count (they back up a second factor), nor does a
// remembered browser; a passkey does, since it can also serve as one.
func (e *engine) hasSecondFactor() bool {
	for _, st := range e.f.User {
		if st.Enrolled && enrollable(st.Factor) == nil {
			return true
		}
	}
	return false
}

// state is the user's entry for f; the first one wins if the caller sent
// several.
func (e *engine) state(f Factor) (FactorState, bool) {
	for _, st := range e.f.User {
		if st.Factor == f {
			return st, true
		}
	}
	return FactorState{}, false
}
