package mfa

import (
	"slices"
	"testing"
	"time"
)

// now is the clock of every test decision. It has a sub-second part so
// that the whole-second rules are exercised.
var now = time.Date(2025, 6, 1, 12, 0, 0, 400_000_000, time.UTC)

func ago(d time.Duration) time.Time { return now.Add(-d) }

// allFactors: a deployment that runs every challengeable factor.
var allFactors = []Factor{Password, Passkey, Push, TOTP, SMS, Voice, RecoveryCode}

// enrolled is a healthy, enrolled factor with no budget limit.
func enrolled(f Factor, mods ...func(*FactorState)) FactorState {
	st := FactorState{Factor: f, Enrolled: true, BudgetLeft: -1}
	switch f {
	case Push:
		st.PushReady = true
	case SMS, Voice:
		st.PhoneVerified, st.LineType = true, "mobile"
	case RecoveryCode:
		st.Remaining = 10
	}
	for _, m := range mods {
		m(&st)
	}
	return st
}

func pwdAt(t time.Time) Proof { return Proof{Factor: Password, At: t, Credential: "pw"} }

func proof(f Factor, t time.Time) Proof { return Proof{Factor: f, At: t} }

// baseFacts: a user with TOTP and recovery codes who signed in with a
// password a minute ago, on a deployment running everything.
func baseFacts() Facts {
	return Facts{
		Now:       now,
		ClientID:  "app",
		Session:   []Proof{pwdAt(ago(time.Minute))},
		User:      []FactorState{enrolled(TOTP), enrolled(RecoveryCode)},
		Available: slices.Clone(allFactors),
	}
}

// stepKeys renders a trace as "rule(factor)" or "rule" keys.
func stepKeys(trace []Step) []string {
	keys := make([]string, len(trace))
	for i, s := range trace {
		keys[i] = s.Rule
		if s.Factor != "" {
			keys[i] += "(" + string(s.Factor) + ")"
		}
	}
	return keys
}

// want is what a decision must hold. Offer and Enrol are always compared
// (nil: none); the fields marked optional only when set.
type want struct {
	outcome  Outcome
	target   Level
	achieved Level
	offer    []Factor
	enrol    []Factor
	reason   string
	retryAt  time.Time
	acr      string    // optional
	used     []Factor  // optional: the factors of Used, oldest first
	amr      []string  // optional
	authTime time.Time // optional
	// steps must appear in the trace, in this order (others may be
	// between them); absent must not appear.
	steps  []string
	absent []string
}

func checkDecision(t *testing.T, d Decision, w want) {
	t.Helper()
	if d.Outcome != w.outcome {
		t.Errorf("outcome = %s, want %s", d.Outcome, w.outcome)
	}
	if d.Target != w.target {
		t.Errorf("target = %q, want %q", d.Target, w.target)
	}
	if d.Achieved != w.achieved {
		t.Errorf("achieved = %q, want %q", d.Achieved, w.achieved)
	}
	if !slices.Equal(d.Offer, w.offer) {
		t.Errorf("offer = %v, want %v", d.Offer, w.offer)
	}
	wantStart := Factor("")
	if len(w.offer) > 0 {
		wantStart = w.offer[0]
	}
	if d.Start != wantStart {
		t.Errorf("start = %q, want %q", d.Start, wantStart)
	}
	if !slices.Equal(d.Enrol, w.enrol) {
		t.Errorf("enrol = %v, want %v", d.Enrol, w.enrol)
	}
	if d.Reason != w.reason {
		t.Errorf("reason = %q, want %q", d.Reason, w.reason)
	}
	if !d.RetryAt.Equal(w.retryAt) {
		t.Errorf("retry at = %v, want %v", d.RetryAt, w.retryAt)
	}
	if w.acr != "" && d.ACR != w.acr {
		t.Errorf("acr = %q, want %q", d.ACR, w.acr)
	}
	if w.used != nil {
		var got []Factor
		for _, u := range d.Used {
			got = append(got, u.Factor)
		}
		if !slices.Equal(got, w.used) {
			t.Errorf("used = %v, want %v", got, w.used)
		}
	}
	if d.Outcome != Satisfied && (d.Used != nil || d.AMR != nil || !d.AuthTime.IsZero()) {
		t.Errorf("a %s decision carries used %v, amr %v, auth_time %v", d.Outcome, d.Used, d.AMR, d.AuthTime)
	}
	if w.amr != nil && !slices.Equal(d.AMR, w.amr) {
		t.Errorf("amr = %v, want %v", d.AMR, w.amr)
	}
	if !w.authTime.IsZero() && !d.AuthTime.Equal(w.authTime) {
		t.Errorf("auth_time = %v, want %v", d.AuthTime, w.authTime)
	}
	keys := stepKeys(d.Trace)
	if len(keys) == 0 || keys[len(keys)-1] != "decision."+string(d.Outcome) {
		t.Errorf("trace does not end with decision.%s: %v", d.Outcome, keys)
	}
	rest := keys
	for _, s := range w.steps {
		i := slices.Index(rest, s)
		if i < 0 {
			t.Errorf("trace lacks %s (in order %v): %s", s, w.steps, d.TraceString())
			break
		}
		rest = rest[i+1:]
	}
	for _, s := range w.absent {
		if slices.Contains(keys, s) {
			t.Errorf("trace has %s: %s", s, d.TraceString())
		}
	}
	if t.Failed() {
		t.Logf("trace: %s", d.TraceString())
	}
}

// row is one table case: a change to DefaultPolicy and to baseFacts.
type row struct {
	name  string
	pol   func(*Policy)
	facts func(*Facts)
	want  want
}

func runRows(t *testing.T, rows []row) {
	t.Helper()
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			p := DefaultPolicy()
			if r.pol != nil {
				r.pol(&p)
			}
			if err := p.Validate(); err != nil {
				t.Fatalf("test policy is invalid: %v", err)
			}
			f := baseFacts()
			if r.facts != nil {
				r.facts(&f)
			}
			d := Decide(p, f)
			checkDecision(t, d, r.want)
			if again := Decide(p, f); again.TraceString() != d.TraceString() {
				t.Errorf("trace is not deterministic:\n%s\n%s", d.TraceString(), again.TraceString())
			}
		})
	}
}

// askMFA: acr_values=urn:latchkey:acr:mfa.
func askMFA(f *Facts) { f.RequestedACR = []string{string(LevelMFA)} }

// askPHR: acr_values=urn:latchkey:acr:phr.
func askPHR(f *Facts) { f.RequestedACR = []string{string(LevelPHR)} }

func phoneMFA(p *Policy) { p.PhoneSatisfiesMFA = true }

// all chains changes.
func all[T any](fs ...func(*T)) func(*T) {
	return func(v *T) {
		for _, f := range fs {
			f(v)
		}
	}
}

// setOrder sets the policy's order and keeps only the enrollable factors
// it lists, as Validate requires.
func setOrder(p *Policy, order []Factor) {
	p.Order = order
	p.Enrollable = slices.DeleteFunc(p.Enrollable, func(f Factor) bool { return !slices.Contains(order, f) })
}
