package mfa

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// gen builds random but valid policies and arbitrary facts.
type gen struct{ r *rand.Rand }

func (g gen) coin() bool { return g.r.IntN(2) == 0 }

func (g gen) pick(n int) int { return g.r.IntN(n) }

// subset is a random ordered subset of fs.
func (g gen) subset(fs []Factor) []Factor {
	out := slices.Clone(fs)
	g.r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out[:g.pick(len(out)+1)]
}

// when is zero, in the past or in the future, around now.
func (g gen) when() time.Time {
	switch g.pick(4) {
	case 0:
		return time.Time{}
	case 1:
		return now.Add(time.Duration(g.r.Int64N(int64(10 * time.Minute))))
	}
	return now.Add(-time.Duration(g.r.Int64N(int64(10 * 24 * time.Hour))))
}

func (g gen) policy() Policy {
	p := DefaultPolicy()
	p.Order = g.subset([]Factor{Passkey, Push, TOTP, SMS, Voice, RecoveryCode})
	// Validate wants every enrollable factor in the order.
	p.Enrollable = g.subset(slices.DeleteFunc(slices.Clone(p.Order), func(f Factor) bool { return f == RecoveryCode }))
	p.PhoneSatisfiesMFA, p.RecoverySatisfiesMFA = g.coin(), g.coin()
	p.DefaultLevel = Levels[g.pick(len(Levels))]
	if g.coin() {
		p.ClientLevels = map[string]Level{"bank": Levels[g.pick(len(Levels))]}
	}
	p.Aliases = map[string]Level{"1": LevelPwd, "2": LevelMFA, "3": LevelPHR}
	p.RequireEnrolment, p.EnrolAtSignIn, p.RiskStepUp = g.coin(), g.coin(), g.coin()
	if g.coin() {
		p.SIMSwapWindow = 0
	}
	p.Remember.Enabled = g.coin()
	p.Remember.For = Duration(time.Duration(1+g.pick(10)) * 24 * time.Hour)
	return p
}

var acrPool = []string{pwdURN, mfaURN, phrURN, "1", "2", "3", "junk", ""}

func (g gen) acrs() []string {
	out := make([]string, g.pick(3))
	for i := range out {
		out[i] = acrPool[g.pick(len(acrPool))]
	}
	return out
}

func (g gen) facts() Facts {
	f := Facts{Now: now, ClientID: []string{"app", "bank"}[g.pick(2)]}
	f.RequestedACR = g.acrs()
	f.ClaimsACR, f.ClaimsACREssential = g.acrs(), g.coin()
	if g.coin() {
		f.FreshSince = now.Add(-time.Duration(g.r.Int64N(int64(3 * time.Hour))))
	}
	kinds := append(slices.Clone(Factors), "fax")
	if g.pick(4) != 0 {
		// Most sign-ins have a recent first factor: without one every
		// decision is NeedFirstFactor and the rest goes untested.
		f.Session = append(f.Session, Proof{
			Factor:       []Factor{Password, Passkey}[g.pick(2)],
			At:           now.Add(-time.Duration(g.r.Int64N(int64(10 * time.Minute)))),
			UserVerified: g.pick(4) == 0,
		})
	}
	for range g.pick(4) {
		f.Session = append(f.Session, Proof{
			Factor:       kinds[g.pick(len(kinds))],
			At:           now.Add(-time.Duration(g.r.Int64N(int64(4 * time.Hour)))),
			UserVerified: g.pick(4) == 0,
			Synced:       g.coin(),
		})
	}
	for _, k := range g.subset(kinds) {
		f.User = append(f.User, FactorState{
			Factor:                k,
			Enrolled:              g.pick(4) != 0,
			LockedUntil:           g.when(),
			BudgetLeft:            []int{-1, -1, 0, 1, 5}[g.pick(5)],
			BackedUp:              g.coin(),
			PushReady:             g.pick(4) != 0,
			NotificationsDisabled: g.pick(5) == 0,
			Unregistered:          g.pick(5) == 0,
			PhoneVerified:         g.pick(4) != 0,
			LineType:              []string{"mobile", "landline", ""}[g.pick(3)],
			SIMSwappedAt:          g.when(),
			Remaining:             g.pick(3),
		})
	}
	f.Available = g.subset(Factors)
	if g.coin() {
		f.RememberedAt = g.when()
	}
	f.Risk = Risk{NewDevice: g.pick(4) == 0, NewNetwork: g.pick(4) == 0, Velocity: g.pick(6) == 0}
	return f
}

// usable restates the factor filter independently of check, for the
// invariant that nothing offered is known to be unusable.
func usable(p Policy, f Facts, fac Factor) bool {
	if !slices.Contains(f.Available, fac) {
		return false
	}
	i := slices.IndexFunc(f.User, func(s FactorState) bool { return s.Factor == fac })
	if i < 0 {
		return false
	}
	s := f.User[i]
	switch {
	case !s.Enrolled, s.LockedUntil.After(f.Now), s.BudgetLeft == 0:
		return false
	case fac == Push && (!s.PushReady || s.NotificationsDisabled || s.Unregistered):
		return false
	case (fac == SMS || fac == Voice) && !s.PhoneVerified:
		return false
	case (fac == SMS || fac == Voice) && p.SIMSwapWindow > 0 && !s.SIMSwappedAt.IsZero() && f.Now.Sub(s.SIMSwappedAt) < time.Duration(p.SIMSwapWindow):
		return false
	case fac == SMS && s.LineType == "landline":
		return false
	case fac == RecoveryCode && s.Remaining == 0:
		return false
	}
	return true
}

func TestDecideProperties(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(2025, 6))}
	outcomes := map[Outcome]int{}
	reasons := map[string]int{}
	const runs = 20000
	for i := range runs {
		p, f := g.policy(), g.facts()
		if err := p.Validate(); err != nil {
			t.Fatalf("run %d: generated policy is invalid: %v", i, err)
		}
		d := Decide(p, f)
		outcomes[d.Outcome]++
		reasons[d.Reason]++
		if msg := violation(p, f, d); msg != "" {
			t.Fatalf("run %d: %s\npolicy %+v\nfacts %+v\ndecision %+v\ntrace %s", i, msg, p, f, d, d.TraceString())
		}
		if again := Decide(p, f); !reflect.DeepEqual(again, d) {
			t.Fatalf("run %d: not deterministic:\n%+v\n%+v", i, d, again)
		}
	}
	// The generator must reach every outcome and reason, or the
	// invariants prove little.
	for _, o := range []Outcome{Satisfied, NeedFirstFactor, Challenge, Enrol, Denied} {
		if outcomes[o] < runs/100 {
			t.Errorf("outcome %s seen %d times in %d runs", o, outcomes[o], runs)
		}
	}
	for _, r := range []string{ReasonUnreachable, ReasonUnknownACR, ReasonLocked} {
		if reasons[r] < runs/1000 {
			t.Errorf("reason %s seen %d times in %d runs", r, reasons[r], runs)
		}
	}
	t.Logf("outcomes %v, reasons %v", outcomes, reasons)
}

// violation returns the first broken invariant, "" if none.
func violation(p Policy, f Facts, d Decision) string {
	if len(d.Trace) == 0 || d.Trace[len(d.Trace)-1].Rule != "decision."+string(d.Outcome) {
		return "trace does not end with the outcome"
	}
	var fresh []Proof
	for _, pr := range f.Session {
		if f.FreshSince.IsZero() || !pr.At.Truncate(time.Second).Before(f.FreshSince.Truncate(time.Second)) {
			fresh = append(fresh, pr)
		}
	}
	hasFirst := slices.ContainsFunc(fresh, func(pr Proof) bool { return pr.Factor.IsFirst() })
	if d.ACR == "" {
		return "no acr"
	}
	if min := p.DefaultLevel; d.Reason != ReasonUnknownACR {
		if l, ok := p.ClientLevels[f.ClientID]; ok {
			min = l
		}
		if !d.Target.AtLeast(min) {
			return "target below the client's minimum"
		}
		if p.RiskStepUp && f.Risk.Any() && !d.Target.AtLeast(LevelMFA) {
			return "risk did not raise the target"
		}
	}
	if d.Outcome != Challenge && (d.Offer != nil || d.Start != "") {
		return "offer outside a challenge"
	}
	if d.Outcome != Enrol && d.Enrol != nil {
		return "enrol list outside enrolment"
	}
	if d.Outcome != Satisfied {
		if d.Used != nil || d.AMR != nil || !d.AuthTime.IsZero() {
			return "used/amr/auth_time outside satisfaction"
		}
		if d.Achieved != Achieved(p, fresh) {
			return "achieved is not the level of the fresh proofs"
		}
	}
	if d.Outcome != Denied && (d.Reason != "" || !d.RetryAt.IsZero()) {
		return "reason outside a denial"
	}
	if d.Outcome == NeedFirstFactor && hasFirst {
		return "asked for a first factor the session has"
	}
	if !hasFirst && d.Outcome != NeedFirstFactor && d.Reason != ReasonUnknownACR {
		return "went on without a fresh first factor"
	}

	switch d.Outcome {
	case Satisfied:
		if !d.Achieved.AtLeast(d.Target) {
			return "satisfied below the target"
		}
		if len(d.Used) == 0 || len(d.Used) > 2 {
			return "used is not a minimal set"
		}
		if Achieved(p, d.Used) != d.Achieved {
			return "used does not establish achieved"
		}
		oldest := d.Used[0].At
		for _, u := range d.Used {
			if !f.FreshSince.IsZero() && u.At.Truncate(time.Second).Before(f.FreshSince.Truncate(time.Second)) {
				return "a used proof is stale"
			}
			synthetic := u.Factor == RememberedBrowser && u.At.Equal(f.RememberedAt)
			if !slices.Contains(fresh, u) && !synthetic {
				return "a used proof is not from the session"
			}
			if synthetic && d.Target != LevelMFA && !slices.Contains(fresh, u) {
				return "a remembered browser completed a level other than mfa"
			}
			if u.At.Before(oldest) {
				oldest = u.At
			}
		}
		if !d.AuthTime.Equal(oldest) {
			return "auth_time is not the oldest used proof"
		}
		if !slices.Equal(d.AMR, AMR(d.Used)) {
			return "amr is not AMR(used)"
		}
	case Challenge:
		if len(d.Offer) == 0 || d.Start != d.Offer[0] {
			return "start is not the first offer"
		}
		for i, fac := range d.Offer {
			if slices.Contains(d.Offer[:i], fac) {
				return "a factor is offered twice"
			}
			if !usable(p, f, fac) {
				return "offered " + string(fac) + ", which is known to be unusable"
			}
			if !Achieved(p, append(slices.Clone(fresh), Proof{Factor: fac})).AtLeast(d.Target) {
				return "offered " + string(fac) + ", which cannot complete the target"
			}
			if fac != RecoveryCode && !slices.Contains(p.Order, fac) {
				return "offered " + string(fac) + ", which the policy does not list"
			}
		}
		if i := slices.Index(d.Offer, RecoveryCode); i >= 0 && i != len(d.Offer)-1 {
			return "recovery codes are not last"
		}
	case Enrol:
		if len(d.Enrol) == 0 {
			return "nothing to enrol"
		}
		for _, fac := range d.Enrol {
			if !slices.Contains(f.Available, fac) || !slices.Contains(p.Enrollable, fac) {
				return "enrol " + string(fac) + ", which is not available and enrollable"
			}
		}
		for _, s := range f.User {
			if s.Enrolled && slices.Contains([]Factor{Passkey, Push, TOTP, SMS, Voice}, s.Factor) {
				return "a user with a second factor is asked to enrol"
			}
		}
	case Denied:
		switch d.Reason {
		case ReasonLocked:
			if !d.RetryAt.IsZero() && !d.RetryAt.After(f.Now) {
				return "retry time is not in the future"
			}
		case ReasonUnreachable, ReasonUnknownACR:
			if !d.RetryAt.IsZero() {
				return "retry time without a lock"
			}
		default:
			return "unknown reason " + d.Reason
		}
	}
	if strings.Contains(d.TraceString(), "\n") {
		return "trace string spans lines"
	}
	return ""
}

func BenchmarkDecide(b *testing.B) {
	p := DefaultPolicy()
	p.PhoneSatisfiesMFA = true
	p.Aliases = map[string]Level{"2": LevelMFA}
	f := baseFacts()
	f.RequestedACR = []string{phrURN, "2"}
	f.User = []FactorState{enrolled(Push, func(s *FactorState) { s.Unregistered = true }), enrolled(TOTP), enrolled(SMS), enrolled(RecoveryCode)}
	for b.Loop() {
		d := Decide(p, f)
		if d.Outcome != Challenge {
			b.Fatalf("outcome %s", d.Outcome)
		}
	}
}
