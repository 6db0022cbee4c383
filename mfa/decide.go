package mfa

import (
	"slices"
	"strings"
	"time"
)

// Decide is the policy engine: what a sign-in needs next, given policy p
// and the facts f. It is pure and deterministic (f.Now is the clock), so
// the same facts always give the same decision and trace.
//
// # Fresh proofs
//
// Only proofs of f.Session made at or after f.FreshSince count (all of
// them when it is zero). Both times are truncated to the second, because
// auth_time is published in seconds and an RP applying max_age to it must
// reach the engine's verdict. Stale proofs are traced as "proof.stale".
// Decision.Achieved is the level the fresh proofs reach (see Achieved),
// plus a remembered browser when one completes the sign-in.
//
// # Target
//
// The target starts at the client's minimum (p.ClientLevels[f.ClientID],
// else p.DefaultLevel; an empty level means "a first factor", LevelPwd).
// With p.RiskStepUp and a risk signal it is at least LevelMFA
// ("risk.step_up").
//
// Required acr values are f.RequestedACR followed by f.ClaimsACR when
// f.ClaimsACREssential, in that preference order; non-essential claims
// values are voluntary. Values resolve through Policy.Resolve; unknown
// ones are traced ("acr.unknown") and skipped, empty ones ignored. If
// required values were sent and none is known, the decision is Denied
// with ReasonUnknownACR at once, before any sign-in: no factor can help.
// Otherwise the first required value (in preference order) whose level is
// reachable is chosen; if none is, the first known one is kept and the
// sign-in ends Denied (ReasonUnreachable or ReasonLocked) once the first
// factor is known. Then the first reachable voluntary value may raise the
// target further; unreachable ones are ignored ("acr.voluntary_unreachable").
// The target is the strongest of the client minimum, the risk floor and
// the chosen values.
//
// A level is reachable when the fresh proofs (with a first factor assumed
// if there is none yet) already reach it, a remembered browser would
// complete it, a usable factor the user has enrolled would (see
// Challenge below), or the user may enrol one now that would.
//
// # Outcomes, in the order they are tried
//
//  1. Denied/ReasonUnknownACR: see above.
//  2. NeedFirstFactor: no fresh password or passkey proof, whatever else
//     is fresh.
//  3. Enrol with p.RequireEnrolment: the user has no second factor
//     (anything but a password, recovery codes or a remembered browser):
//     they set one up now, whatever the target. If nothing can be enrolled
//     the rule is skipped ("enrol.required_impossible") rather than
//     locking every such user out.
//  4. Satisfied: the fresh proofs reach the target. Or the target is
//     exactly LevelMFA, p.Remember.Enabled, f.RememberedAt is set, no more
//     than p.Remember.For old, not before f.FreshSince (the remembered
//     browser stands for a second factor proven at that time, so max_age
//     applies to it too), and no risk signal under p.RiskStepUp: then
//     Proof{Factor: RememberedBrowser, At: f.RememberedAt} completes it
//     ("remember.applied") and is part of Used, for the caller to persist.
//     Never for LevelPHR.
//  5. Challenge: the candidates are p.Order, deduplicated, with recovery
//     codes moved (or added) last, keeping those that (a) would complete
//     the target from the fresh proofs (for LevelPHR from a password, only
//     a passkey; for LevelMFA, a factor that counts for mfa and differs
//     from the first factor's kind), (b) are in f.Available, (c) are
//     enrolled, (d) are healthy (push ready, phone verified, not recently
//     SIM-swapped, no SMS to a landline, recovery codes left), not locked
//     and not out of budget. Each factor left out gets one step with the
//     first reason that applies, in that order. Offer keeps the order;
//     Start is Offer[0].
//  6. Enrol with p.EnrolAtSignIn (or p.RequireEnrolment): no candidate and
//     no second factor; Enrol is p.Enrollable ∩ f.Available ∩ the factors
//     that would complete the target. Users who have a second factor never
//     enrol here: a password alone must not bypass the factors they have.
//     An empty list is Denied/ReasonUnreachable.
//  7. Denied/ReasonLocked: no candidate, but some factor that would
//     otherwise be offered is locked or out of budget; RetryAt is the
//     earliest LockedUntil among them (zero when only budgets ran out).
//  8. Denied/ReasonUnreachable.
//
// # What is published
//
// On Satisfied, Used is a smallest set of fresh proofs reaching Achieved
// (which is at least the target: the session may be stronger than needed,
// and says so), preferring the newest proof of each kind; AMR = AMR(Used)
// and AuthTime is the oldest of Used.
//
// ACR is the value the client sent for the chosen level (alias or URN, as
// sent; the stronger of the required and voluntary choices, the required
// one on a tie) when it asked: Target is at least that level, so
// publishing the name the client asked for is truthful. When the client
// asked for nothing it is the canonical URN of Achieved on Satisfied (a
// session with mfa shows mfa even if pwd was enough) and of Target
// otherwise.
//
// Every decision's Trace ends with "decision.<outcome>".
func Decide(p Policy, f Facts) Decision {
	e := engine{p: p, f: f}
	return e.decide()
}

// engine holds one decision's inputs and the trace being written.
type engine struct {
	p     Policy
	f     Facts
	trace []Step
}

// wish is an acr value the client sent and the level it names.
type wish struct {
	value string
	level Level
}

func (e *engine) decide() Decision {
	var proofs []Proof
	for _, pr := range e.f.Session {
		if fresh(pr.At, e.f.FreshSince) {
			proofs = append(proofs, pr)
		} else {
			e.step("proof.stale", pr.Factor, "made at %s, before fresh_since %s", stamp(pr.At), stamp(e.f.FreshSince))
		}
	}
	sum := summarize(proofs)
	achieved := sum.level(e.p)
	e.step("level.achieved", "", "fresh proofs reach %s", levelName(achieved))

	d := Decision{Achieved: achieved}
	floor, ok := e.clientLevel()
	if !ok {
		// Fail closed: a level nobody knows cannot be met, and guessing
		// a weaker one would weaken sign-in.
		d.Outcome, d.Reason = Denied, ReasonUnreachable
		return e.finish(d, "the policy names an unknown level")
	}
	if e.p.RiskStepUp && e.f.Risk.Any() {
		e.step("risk.step_up", "", "signals %s: at least %s", riskNames(e.f.Risk), LevelMFA)
		floor = maxLevel(floor, LevelMFA)
	}

	// Reachability before the first factor is judged as if one were
	// proven: the question is what the rest of the sign-in can reach.
	base := sum
	if base.kinds&firstKinds == 0 {
		base = base.with(Proof{Factor: Password})
	}
	target, pub, known := e.chooseTarget(floor, base)
	d.Target, d.ACR = target, pub.value
	if d.ACR == "" {
		d.ACR = string(target)
	}
	if !known {
		d.Outcome, d.Reason = Denied, ReasonUnknownACR
		return e.finish(d, "no acr value the client requires is known")
	}
	e.step("target.level", "", "%s", target)

	if sum.kinds&firstKinds == 0 {
		d.Outcome = NeedFirstFactor
		return e.finish(d, "no fresh password or passkey proof")
	}

	hasSecond := e.hasSecondFactor()
	var enrol []Factor
	enrolChecked := false
	enrolNow := func() []Factor {
		if !enrolChecked {
			enrol, enrolChecked = e.enrolList(sum, target, true), true
		}
		return enrol
	}
	if e.p.RequireEnrolment && !hasSecond {
		if l := enrolNow(); len(l) > 0 {
			e.step("enrol.required", "", "the policy requires a second factor and the user has none")
			d.Outcome, d.Enrol = Enrol, l
			return e.finish(d, "enrol "+joinFactorNames(l))
		}
		e.step("enrol.required_impossible", "", "no factor can be enrolled now; going on without")
	}

	if achieved.AtLeast(target) {
		return e.satisfied(d, proofs, achieved, pub)
	}
	if rem, ok := e.remembered(target, true); ok {
		with := append(slices.Clip(proofs), rem)
		if l := Achieved(e.p, with); l.AtLeast(target) {
			e.step("remember.applied", RememberedBrowser, "remembered at %s", stamp(rem.At))
			return e.satisfied(d, with, l, pub)
		}
	}

	cs := e.candidates(sum, target, true)
	if len(cs.offer) > 0 {
		d.Outcome, d.Offer, d.Start = Challenge, cs.offer, cs.offer[0]
		return e.finish(d, "offer "+joinFactorNames(d.Offer)+"; start "+string(d.Start))
	}

	switch {
	case !hasSecond && (e.p.EnrolAtSignIn || e.p.RequireEnrolment):
		if l := enrolNow(); len(l) > 0 {
			e.step("enrol.first_time", "", "the user has no second factor and may enrol one now")
			d.Outcome, d.Enrol = Enrol, l
			return e.finish(d, "enrol "+joinFactorNames(l))
		}
		e.step("enrol.none_possible", "", "no enrollable factor completes %s", target)
		d.Outcome, d.Reason = Denied, ReasonUnreachable
		return e.finish(d, ReasonUnreachable)
	case !hasSecond:
		e.step("enrol.not_allowed", "", "the policy does not let users enrol during sign-in")
	case e.p.EnrolAtSignIn:
		e.step("enrol.has_second_factor", "", "the user has a second factor: no enrolment during sign-in")
	}
	if cs.locked {
		d.Outcome, d.Reason, d.RetryAt = Denied, ReasonLocked, cs.retryAt
		if d.RetryAt.IsZero() {
			return e.finish(d, ReasonLocked+": budget exhausted")
		}
		return e.finish(d, ReasonLocked+" until "+stamp(d.RetryAt))
	}
	d.Outcome, d.Reason = Denied, ReasonUnreachable
	return e.finish(d, ReasonUnreachable)
}

// clientLevel is the client's minimum level, false if the policy names a
// level that does not exist (Validate refuses such a policy).
func (e *engine) clientLevel() (Level, bool) {
	l, ok := e.p.ClientLevels[e.f.ClientID]
	rule, detail := "target.client", "client "+quote(e.f.ClientID)+" needs "
	if !ok {
		l, rule, detail = e.p.DefaultLevel, "target.default", "default minimum "
	}
	switch {
	case l == LevelNone:
		e.step(rule, "", "%s", detail+"a first factor")
		return LevelPwd, true
	case l.Rank() == 0:
		e.step("policy.invalid_level", "", "%s is not a level", quote(string(l)))
		return LevelNone, false
	}
	e.step(rule, "", "%s", detail+string(l))
	return l, true
}

// chooseTarget applies the client's acr values to floor (see Decide); base
// summarises the proofs reachability is judged from. It returns the target,
// the value to publish (zero if the client asked for nothing usable) and
// false if required values were sent and none is known.
func (e *engine) chooseTarget(floor Level, base summary) (Level, wish, bool) {
	seen := map[string]bool{}
	resolve := func(values []string, into []wish) ([]wish, bool) {
		given := false
		for _, v := range values {
			if v == "" {
				continue
			}
			given = true
			if seen[v] {
				continue
			}
			seen[v] = true
			l, ok := e.p.Resolve(v)
			if !ok {
				e.step("acr.unknown", "", "%s is not a known acr value", quote(v))
				continue
			}
			into = append(into, wish{value: v, level: l})
		}
		return into, given
	}
	required, given := resolve(e.f.RequestedACR, nil)
	var voluntary []wish
	if e.f.ClaimsACREssential {
		var g bool
		required, g = resolve(e.f.ClaimsACR, required)
		given = given || g
	} else {
		voluntary, _ = resolve(e.f.ClaimsACR, nil)
	}
	if given && len(required) == 0 {
		e.step("acr.none_known", "", "the client requires acr values and none is known")
		return floor, wish{}, false
	}

	target := floor
	var pub wish
	if len(required) > 0 {
		chosen := -1
		for i, w := range required {
			if e.reachable(base, maxLevel(floor, w.level)) {
				chosen = i
				break
			}
			e.step("acr.unreachable", "", "%s (%s) cannot be reached now", quote(w.value), w.level)
		}
		if chosen < 0 {
			chosen = 0
			e.step("acr.chosen", "", "%s (%s): none is reachable, keeping the first", quote(required[0].value), required[0].level)
		} else {
			e.step("acr.chosen", "", "%s (%s)", quote(required[chosen].value), required[chosen].level)
		}
		pub = required[chosen]
		target = maxLevel(floor, pub.level)
	}
	for _, w := range voluntary {
		t := maxLevel(target, w.level)
		if !e.reachable(base, t) {
			e.step("acr.voluntary_unreachable", "", "%s (%s) cannot be reached now; ignored", quote(w.value), w.level)
			continue
		}
		e.step("acr.voluntary", "", "%s (%s)", quote(w.value), w.level)
		target = t
		if pub.value == "" || w.level.Rank() > pub.level.Rank() {
			pub = w
		}
		break
	}
	return target, pub, true
}

// reachable reports whether the sign-in can reach t from the proofs s
// summarises (see Decide). It writes no trace.
func (e *engine) reachable(s summary, t Level) bool {
	if s.level(e.p).AtLeast(t) {
		return true
	}
	if _, ok := e.remembered(t, false); ok {
		return true
	}
	if len(e.candidates(s, t, false).offer) > 0 {
		return true
	}
	return !e.hasSecondFactor() && (e.p.EnrolAtSignIn || e.p.RequireEnrolment) && len(e.enrolList(s, t, false)) > 0
}

// remembered returns the remembered-browser proof if it may stand in for
// the second factor of a sign-in whose target is target (see Decide).
// With trace, a refusal is explained; a browser that is not remembered
// gets no step.
func (e *engine) remembered(target Level, trace bool) (Proof, bool) {
	at := e.f.RememberedAt
	if at.IsZero() || target.Rank() < LevelMFA.Rank() {
		return Proof{}, false
	}
	rule, detail := "", ""
	switch {
	case !e.p.Remember.Enabled:
		rule, detail = "remember.disabled", "the policy does not let browsers stand in for a second factor"
	case target != LevelMFA:
		rule, detail = "remember.not_for_phr", "a remembered browser never completes "+string(target)
	case e.f.Now.Sub(at) > time.Duration(e.p.Remember.For):
		rule, detail = "remember.expired", "remembered at "+stamp(at)+", more than "+time.Duration(e.p.Remember.For).String()+" ago"
	case e.p.RiskStepUp && e.f.Risk.Any():
		rule, detail = "remember.risk", "risk signals "+riskNames(e.f.Risk)+": the second factor must be proven again"
	case !fresh(at, e.f.FreshSince):
		rule, detail = "remember.stale", "remembered at "+stamp(at)+", before fresh_since "+stamp(e.f.FreshSince)
	default:
		return Proof{Factor: RememberedBrowser, At: at}, true
	}
	if trace {
		e.step(rule, RememberedBrowser, "%s", detail)
	}
	return Proof{}, false
}

// satisfied completes d as Satisfied at level, established by proofs.
func (e *engine) satisfied(d Decision, proofs []Proof, level Level, pub wish) Decision {
	d.Outcome, d.Achieved = Satisfied, level
	d.Used = minimalProofs(e.p, proofs, level)
	d.AMR = AMR(d.Used)
	if len(d.Used) > 0 {
		d.AuthTime = d.Used[0].At // oldest first
	}
	if pub.value == "" {
		d.ACR = string(level)
	}
	return e.finish(d, "acr "+quote(d.ACR)+", amr "+strings.Join(d.AMR, ",")+", auth_time "+stamp(d.AuthTime))
}

// finish ends the trace with the outcome and hands it to d.
func (e *engine) finish(d Decision, detail string) Decision {
	e.step("decision."+string(d.Outcome), "", "%s", detail)
	d.Trace = e.trace
	return d
}
