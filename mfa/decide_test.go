package mfa

import (
	"testing"
	"time"
)

const (
	pwdURN = string(LevelPwd)
	mfaURN = string(LevelMFA)
	phrURN = string(LevelPHR)
)

func TestDecideLevels(t *testing.T) {
	runRows(t, []row{
		{
			name:  "no session: first factor",
			facts: func(f *Facts) { f.Session = nil },
			want: want{outcome: NeedFirstFactor, target: LevelPwd, achieved: LevelNone, acr: pwdURN,
				steps: []string{"level.achieved", "target.default", "target.level", "decision.need_first_factor"}},
		},
		{
			name: "password alone meets the default level",
			want: want{outcome: Satisfied, target: LevelPwd, achieved: LevelPwd, acr: pwdURN,
				used: []Factor{Password}, amr: []string{"pwd"}, authTime: ago(time.Minute)},
		},
		{
			name: "a user-verified passkey alone is phr",
			facts: func(f *Facts) {
				f.Session = []Proof{{Factor: Passkey, At: ago(time.Minute), UserVerified: true}}
			},
			want: want{outcome: Satisfied, target: LevelPwd, achieved: LevelPHR, acr: phrURN,
				used: []Factor{Passkey}, amr: []string{"hwk", "user", "mfa"}},
		},
		{
			name: "a synced passkey without user verification is one factor",
			facts: func(f *Facts) {
				f.Session = []Proof{{Factor: Passkey, At: ago(time.Minute), Synced: true}}
			},
			want: want{outcome: Satisfied, target: LevelPwd, achieved: LevelPwd, acr: pwdURN,
				used: []Factor{Passkey}, amr: []string{"swk"}},
		},
		{
			name: "password and a passkey without user verification is phr",
			facts: func(f *Facts) {
				askPHR(f)
				f.Session = append(f.Session, proof(Passkey, ago(30*time.Second)))
			},
			want: want{outcome: Satisfied, target: LevelPHR, achieved: LevelPHR, acr: phrURN,
				used: []Factor{Password, Passkey}, amr: []string{"pwd", "hwk", "mfa"}, authTime: ago(time.Minute)},
		},
		{
			name: "a passkey without user verification and TOTP is phr",
			facts: func(f *Facts) {
				askPHR(f)
				f.Session = []Proof{proof(Passkey, ago(2*time.Minute)), proof(TOTP, ago(time.Minute))}
			},
			want: want{outcome: Satisfied, target: LevelPHR, achieved: LevelPHR,
				used: []Factor{Passkey, TOTP}, amr: []string{"hwk", "otp", "mfa"}, authTime: ago(2 * time.Minute)},
		},
		{
			name: "password and SMS is not mfa by default",
			facts: func(f *Facts) {
				askMFA(f)
				f.Session = append(f.Session, proof(SMS, ago(30*time.Second)))
				f.User = append(f.User, enrolled(SMS))
			},
			want: want{outcome: Challenge, target: LevelMFA, achieved: LevelPwd, offer: []Factor{TOTP, RecoveryCode},
				steps: []string{"factor.cannot_satisfy(sms)", "factor.cannot_satisfy(voice)"}},
		},
		{
			name: "password and SMS is mfa when the policy says so",
			pol:  phoneMFA,
			facts: func(f *Facts) {
				askMFA(f)
				f.Session = append(f.Session, proof(SMS, ago(30*time.Second)))
			},
			want: want{outcome: Satisfied, target: LevelMFA, achieved: LevelMFA, acr: mfaURN,
				used: []Factor{Password, SMS}, amr: []string{"pwd", "sms", "mfa"}},
		},
		{
			name: "password, SMS and voice never make phr",
			pol:  phoneMFA,
			facts: func(f *Facts) {
				askPHR(f)
				f.Session = append(f.Session, proof(SMS, ago(40*time.Second)), proof(Voice, ago(30*time.Second)))
				f.User = append(f.User, enrolled(Passkey), enrolled(SMS), enrolled(Voice))
			},
			want: want{outcome: Challenge, target: LevelPHR, achieved: LevelMFA, offer: []Factor{Passkey},
				steps: []string{"factor.cannot_satisfy(totp)", "factor.cannot_satisfy(sms)", "factor.cannot_satisfy(voice)", "factor.cannot_satisfy(recovery_code)"}},
		},
		{
			name: "password and a recovery code is mfa, not phr",
			facts: func(f *Facts) {
				f.Session = append(f.Session, proof(RecoveryCode, ago(30*time.Second)))
			},
			want: want{outcome: Satisfied, target: LevelPwd, achieved: LevelMFA, acr: mfaURN,
				used: []Factor{Password, RecoveryCode}, amr: []string{"pwd", "otp", "mfa"}},
		},
		{
			name: "a recovery code is not mfa when the policy says so",
			pol:  func(p *Policy) { p.RecoverySatisfiesMFA = false },
			facts: func(f *Facts) {
				askMFA(f)
				f.Session = append(f.Session, proof(RecoveryCode, ago(30*time.Second)))
			},
			want: want{outcome: Challenge, target: LevelMFA, achieved: LevelPwd, offer: []Factor{TOTP},
				steps: []string{"factor.cannot_satisfy(recovery_code)"}},
		},
		{
			name: "later factors without a fresh first factor: first factor",
			facts: func(f *Facts) {
				f.Session = []Proof{proof(TOTP, ago(time.Minute)), proof(Push, ago(time.Minute))}
			},
			want: want{outcome: NeedFirstFactor, target: LevelPwd, achieved: LevelNone},
		},
	})
}

func TestDecideOrder(t *testing.T) {
	everyFactor := func(f *Facts) {
		f.User = []FactorState{enrolled(Voice), enrolled(RecoveryCode), enrolled(SMS), enrolled(TOTP), enrolled(Push), enrolled(Passkey)}
	}
	runRows(t, []row{
		{
			name:  "default order, recovery codes last",
			pol:   phoneMFA,
			facts: all(everyFactor, askMFA),
			want: want{outcome: Challenge, target: LevelMFA, achieved: LevelPwd,
				offer: []Factor{Passkey, Push, TOTP, SMS, Voice, RecoveryCode}, acr: mfaURN},
		},
		{
			name:  "custom order: unlisted factors are never offered",
			pol:   all(phoneMFA, func(p *Policy) { setOrder(p, []Factor{TOTP, SMS, Push}) }),
			facts: all(everyFactor, askMFA),
			want: want{outcome: Challenge, target: LevelMFA, achieved: LevelPwd,
				offer: []Factor{TOTP, SMS, Push, RecoveryCode}},
		},
		{
			name:  "recovery codes go last wherever the order lists them",
			pol:   func(p *Policy) { setOrder(p, []Factor{RecoveryCode, TOTP, Push}) },
			facts: all(everyFactor, askMFA),
			want: want{outcome: Challenge, target: LevelMFA, achieved: LevelPwd,
				offer: []Factor{TOTP, Push, RecoveryCode}},
		},
		{
			name:  "phr offers only a passkey",
			pol:   phoneMFA,
			facts: all(everyFactor, askPHR),
			want: want{outcome: Challenge, target: LevelPHR, achieved: LevelPwd, offer: []Factor{Passkey},
				steps: []string{"factor.cannot_satisfy(push)", "factor.cannot_satisfy(totp)", "factor.cannot_satisfy(sms)", "factor.cannot_satisfy(voice)", "factor.cannot_satisfy(recovery_code)", "decision.challenge"}},
		},
		{
			name: "a passkey first factor is completed by another kind, not by itself",
			facts: func(f *Facts) {
				everyFactor(f)
				askMFA(f)
				f.Session = []Proof{proof(Passkey, ago(time.Minute))}
			},
			want: want{outcome: Challenge, target: LevelMFA, achieved: LevelPwd,
				offer: []Factor{Push, TOTP, RecoveryCode}, steps: []string{"factor.cannot_satisfy(passkey)"}},
		},
		{
			name: "a passkey first factor reaches phr with TOTP",
			facts: func(f *Facts) {
				askPHR(f)
				f.Session = []Proof{proof(Passkey, ago(time.Minute))}
			},
			want: want{outcome: Challenge, target: LevelPHR, achieved: LevelPwd, offer: []Factor{TOTP, RecoveryCode}},
		},
	})
}

// Each unusable factor is skipped at once with its rule, and the next one
// starts. Push (or SMS) is put first so that skipping it is visible.
func TestDecideSkipsUnusableFactors(t *testing.T) {
	pushFirst := func(p *Policy) { setOrder(p, []Factor{Push, TOTP}) }
	phoneFirst := all(phoneMFA, func(p *Policy) { setOrder(p, []Factor{SMS, Voice, TOTP}) })
	withPush := func(mods ...func(*FactorState)) func(*Facts) {
		return func(f *Facts) { askMFA(f); f.User = append(f.User, enrolled(Push, mods...)) }
	}
	withSMS := func(mods ...func(*FactorState)) func(*Facts) {
		return func(f *Facts) { askMFA(f); f.User = append(f.User, enrolled(SMS, mods...)) }
	}
	skipped := func(rule string, offer ...Factor) want {
		steps := []string{rule, "decision.challenge"}
		if rule == "decision.challenge" {
			steps = steps[1:]
		}
		return want{outcome: Challenge, target: LevelMFA, achieved: LevelPwd, offer: offer, steps: steps}
	}
	runRows(t, []row{
		{name: "healthy push is offered first", pol: pushFirst, facts: withPush(),
			want: want{outcome: Challenge, target: LevelMFA, achieved: LevelPwd, offer: []Factor{Push, TOTP, RecoveryCode}}},
		{name: "not available", pol: pushFirst,
			facts: all(withPush(), func(f *Facts) { f.Available = []Factor{Password, TOTP, RecoveryCode} }),
			want:  skipped("factor.not_available(push)", TOTP, RecoveryCode)},
		{name: "not enrolled", pol: pushFirst, facts: withPush(func(s *FactorState) { s.Enrolled = false }),
			want: skipped("factor.not_enrolled(push)", TOTP, RecoveryCode)},
		{name: "no state at all", pol: pushFirst, facts: askMFA,
			want: skipped("factor.not_enrolled(push)", TOTP, RecoveryCode)},
		{name: "locked", pol: pushFirst, facts: withPush(func(s *FactorState) { s.LockedUntil = now.Add(time.Minute) }),
			want: skipped("factor.locked(push)", TOTP, RecoveryCode)},
		{name: "lock expired", pol: pushFirst, facts: withPush(func(s *FactorState) { s.LockedUntil = now }),
			want: skipped("decision.challenge", Push, TOTP, RecoveryCode)},
		{name: "budget exhausted", pol: pushFirst, facts: withPush(func(s *FactorState) { s.BudgetLeft = 0 }),
			want: skipped("factor.budget_exhausted(push)", TOTP, RecoveryCode)},
		{name: "budget left", pol: pushFirst, facts: withPush(func(s *FactorState) { s.BudgetLeft = 1 }),
			want: skipped("decision.challenge", Push, TOTP, RecoveryCode)},
		{name: "notifications disabled", pol: pushFirst, facts: withPush(func(s *FactorState) { s.NotificationsDisabled = true }),
			want: skipped("push.notifications_disabled(push)", TOTP, RecoveryCode)},
		{name: "unregistered", pol: pushFirst, facts: withPush(func(s *FactorState) { s.Unregistered = true }),
			want: skipped("push.unregistered(push)", TOTP, RecoveryCode)},
		{name: "push not ready", pol: pushFirst, facts: withPush(func(s *FactorState) { s.PushReady = false }),
			want: skipped("push.not_ready(push)", TOTP, RecoveryCode)},
		{name: "healthy phone is offered first", pol: phoneFirst, facts: withSMS(),
			want: skipped("decision.challenge", SMS, TOTP, RecoveryCode)},
		{name: "phone unverified", pol: phoneFirst, facts: withSMS(func(s *FactorState) { s.PhoneVerified = false }),
			want: skipped("phone.unverified(sms)", TOTP, RecoveryCode)},
		{name: "SIM swapped within the window", pol: phoneFirst,
			facts: withSMS(func(s *FactorState) { s.SIMSwappedAt = ago(2 * 24 * time.Hour) }),
			want:  skipped("phone.sim_swapped(sms)", TOTP, RecoveryCode)},
		{name: "SIM swapped before the window", pol: phoneFirst,
			facts: withSMS(func(s *FactorState) { s.SIMSwappedAt = ago(8 * 24 * time.Hour) }),
			want:  skipped("decision.challenge", SMS, TOTP, RecoveryCode)},
		{name: "SIM swap check disabled", pol: all(phoneFirst, func(p *Policy) { p.SIMSwapWindow = 0 }),
			facts: withSMS(func(s *FactorState) { s.SIMSwappedAt = ago(time.Hour) }),
			want:  skipped("decision.challenge", SMS, TOTP, RecoveryCode)},
		{name: "landline takes a call, not an SMS", pol: phoneFirst,
			facts: func(f *Facts) {
				askMFA(f)
				landline := func(s *FactorState) { s.LineType = "landline" }
				f.User = append(f.User, enrolled(SMS, landline), enrolled(Voice, landline))
			},
			want: skipped("phone.landline(sms)", Voice, TOTP, RecoveryCode)},
		{name: "no recovery codes left", pol: phoneFirst,
			facts: func(f *Facts) {
				askMFA(f)
				f.User = []FactorState{enrolled(TOTP), enrolled(RecoveryCode, func(s *FactorState) { s.Remaining = 0 })}
			},
			want: skipped("recovery.none_left(recovery_code)", TOTP)},
		{name: "SMS cannot satisfy mfa by default", pol: func(p *Policy) { setOrder(p, []Factor{SMS, TOTP}) }, facts: withSMS(),
			want: skipped("factor.cannot_satisfy(sms)", TOTP, RecoveryCode)},
	})
}

func TestDecideLockouts(t *testing.T) {
	runRows(t, []row{
		{
			name: "a locked TOTP with a usable SMS offers SMS",
			pol:  phoneMFA,
			facts: func(f *Facts) {
				askMFA(f)
				f.User = []FactorState{enrolled(TOTP, func(s *FactorState) { s.LockedUntil = now.Add(time.Hour) }), enrolled(SMS)}
			},
			want: want{outcome: Challenge, target: LevelMFA, achieved: LevelPwd, offer: []Factor{SMS},
				steps: []string{"factor.locked(totp)", "factor.not_enrolled(recovery_code)", "decision.challenge"}},
		},
		{
			name: "everything locked: denied until the earliest unlock",
			facts: func(f *Facts) {
				askMFA(f)
				f.User = []FactorState{
					enrolled(TOTP, func(s *FactorState) { s.LockedUntil = now.Add(10 * time.Minute) }),
					enrolled(Push, func(s *FactorState) { s.LockedUntil = now.Add(5 * time.Minute) }),
					enrolled(RecoveryCode, func(s *FactorState) { s.BudgetLeft = 0 }),
				}
			},
			want: want{outcome: Denied, target: LevelMFA, achieved: LevelPwd, reason: ReasonLocked, retryAt: now.Add(5 * time.Minute),
				steps: []string{"factor.locked(push)", "factor.locked(totp)", "factor.budget_exhausted(recovery_code)", "enrol.has_second_factor", "decision.denied"}},
		},
		{
			name: "only a budget ran out: denied, no retry time",
			facts: func(f *Facts) {
				askMFA(f)
				f.User = []FactorState{enrolled(TOTP, func(s *FactorState) { s.BudgetLeft = 0 })}
			},
			want: want{outcome: Denied, target: LevelMFA, achieved: LevelPwd, reason: ReasonLocked},
		},
		{
			name: "a negative budget other than -1 fails closed",
			facts: func(f *Facts) {
				askMFA(f)
				f.User = []FactorState{enrolled(TOTP, func(s *FactorState) { s.BudgetLeft = -2 })}
			},
			want: want{outcome: Denied, target: LevelMFA, achieved: LevelPwd, reason: ReasonLocked,
				steps: []string{"factor.budget_exhausted(totp)"}},
		},
		{
			name: "locked and broken is not only locked: unreachable",
			pol:  func(p *Policy) { setOrder(p, []Factor{Push}) },
			facts: func(f *Facts) {
				askMFA(f)
				f.User = []FactorState{enrolled(Push, func(s *FactorState) {
					s.LockedUntil = now.Add(time.Hour)
					s.Unregistered = true
				})}
			},
			want: want{outcome: Denied, target: LevelMFA, achieved: LevelPwd, reason: ReasonUnreachable,
				steps: []string{"push.unregistered(push)"}, absent: []string{"factor.locked(push)"}},
		},
		{
			name: "a user with a locked second factor never enrols another",
			facts: func(f *Facts) {
				askMFA(f)
				f.User = []FactorState{enrolled(TOTP, func(s *FactorState) { s.LockedUntil = now.Add(time.Hour) })}
			},
			want: want{outcome: Denied, target: LevelMFA, achieved: LevelPwd, reason: ReasonLocked, retryAt: now.Add(time.Hour)},
		},
	})
}

func TestDecideEnrolment(t *testing.T) {
	noSecond := func(f *Facts) { f.User = nil }
	runRows(t, []row{
		{
			name:  "first-time set-up during a sign-in that needs mfa",
			facts: all(noSecond, askMFA),
			want: want{outcome: Enrol, target: LevelMFA, achieved: LevelPwd, enrol: []Factor{Passkey, TOTP},
				steps: []string{"factor.not_enrolled(totp)", "enrol.first_time", "decision.enrol"}},
		},
		{
			name:  "phr: only a passkey may be enrolled",
			facts: all(noSecond, askPHR),
			want: want{outcome: Enrol, target: LevelPHR, achieved: LevelPwd, enrol: []Factor{Passkey},
				steps: []string{"enrol.cannot_satisfy(totp)", "decision.enrol"}},
		},
		{
			name: "phr without passkeys in the deployment: unreachable",
			facts: all(noSecond, askPHR, func(f *Facts) {
				f.Available = []Factor{Password, TOTP, RecoveryCode}
			}),
			want: want{outcome: Denied, target: LevelPHR, achieved: LevelPwd, reason: ReasonUnreachable,
				steps: []string{"acr.unreachable", "enrol.not_available(passkey)", "enrol.cannot_satisfy(totp)", "enrol.none_possible", "decision.denied"}},
		},
		{
			name:  "enrolment at sign-in disabled: unreachable",
			pol:   func(p *Policy) { p.EnrolAtSignIn = false },
			facts: all(noSecond, askMFA),
			want: want{outcome: Denied, target: LevelMFA, achieved: LevelPwd, reason: ReasonUnreachable,
				steps: []string{"enrol.not_allowed", "decision.denied"}},
		},
		{
			name:  "recovery codes alone are not a second factor",
			pol:   func(p *Policy) { p.RecoverySatisfiesMFA = false },
			facts: all(askMFA, func(f *Facts) { f.User = []FactorState{enrolled(RecoveryCode)} }),
			want:  want{outcome: Enrol, target: LevelMFA, achieved: LevelPwd, enrol: []Factor{Passkey, TOTP}},
		},
		{
			name:  "recovery codes that count for mfa are offered before enrolment",
			facts: all(askMFA, func(f *Facts) { f.User = []FactorState{enrolled(RecoveryCode)} }),
			want:  want{outcome: Challenge, target: LevelMFA, achieved: LevelPwd, offer: []Factor{RecoveryCode}},
		},
		{
			name:  "no enrolment when the password is enough",
			facts: noSecond,
			want:  want{outcome: Satisfied, target: LevelPwd, achieved: LevelPwd, absent: []string{"enrol.first_time"}},
		},
		{
			name:  "required enrolment, whatever the target",
			pol:   func(p *Policy) { p.RequireEnrolment = true; p.EnrolAtSignIn = false },
			facts: noSecond,
			want: want{outcome: Enrol, target: LevelPwd, achieved: LevelPwd, enrol: []Factor{Passkey, TOTP},
				steps: []string{"enrol.required", "decision.enrol"}},
		},
		{
			name:  "required enrolment after the first factor only",
			pol:   func(p *Policy) { p.RequireEnrolment = true },
			facts: all(noSecond, func(f *Facts) { f.Session = nil }),
			want:  want{outcome: NeedFirstFactor, target: LevelPwd, achieved: LevelNone},
		},
		{
			name: "required enrolment never asks a user who has a second factor",
			pol:  func(p *Policy) { p.RequireEnrolment = true },
			want: want{outcome: Satisfied, target: LevelPwd, achieved: LevelPwd, absent: []string{"enrol.required"}},
		},
		{
			name: "required enrolment with nothing to enrol goes on",
			pol:  func(p *Policy) { p.RequireEnrolment = true },
			facts: all(noSecond, func(f *Facts) {
				f.Available = []Factor{Password, SMS}
			}),
			want: want{outcome: Satisfied, target: LevelPwd, achieved: LevelPwd,
				steps: []string{"enrol.not_available(passkey)", "enrol.not_available(totp)", "enrol.required_impossible", "decision.satisfied"}},
		},
		{
			name:  "enrollable SMS is offered for mfa only when it counts",
			pol:   func(p *Policy) { p.Enrollable = []Factor{SMS, TOTP} },
			facts: all(noSecond, askMFA),
			want: want{outcome: Enrol, target: LevelMFA, achieved: LevelPwd, enrol: []Factor{TOTP},
				steps: []string{"enrol.cannot_satisfy(sms)"}},
		},
	})
}

func TestDecideRememberedBrowser(t *testing.T) {
	remember := func(p *Policy) { p.Remember.Enabled = true }
	rememberedAt := ago(3 * 24 * time.Hour)
	remembered := func(f *Facts) { f.RememberedAt = rememberedAt }
	runRows(t, []row{
		{
			name:  "counts for mfa",
			pol:   remember,
			facts: all(askMFA, remembered),
			want: want{outcome: Satisfied, target: LevelMFA, achieved: LevelMFA, acr: mfaURN,
				used: []Factor{RememberedBrowser, Password}, amr: []string{"rba", "pwd", "mfa"}, authTime: rememberedAt,
				steps: []string{"remember.applied(remembered_browser)", "decision.satisfied"}},
		},
		{
			name:  "not needed for pwd",
			pol:   remember,
			facts: remembered,
			want: want{outcome: Satisfied, target: LevelPwd, achieved: LevelPwd, used: []Factor{Password},
				absent: []string{"remember.applied(remembered_browser)"}},
		},
		{
			name:  "expired",
			pol:   func(p *Policy) { remember(p); p.Remember.For = Duration(48 * time.Hour) },
			facts: all(askMFA, remembered),
			want: want{outcome: Challenge, target: LevelMFA, achieved: LevelPwd, offer: []Factor{TOTP, RecoveryCode},
				steps: []string{"remember.expired(remembered_browser)"}},
		},
		{
			name:  "never for phr",
			pol:   remember,
			facts: all(askPHR, remembered, func(f *Facts) { f.User = append(f.User, enrolled(Passkey)) }),
			want: want{outcome: Challenge, target: LevelPHR, achieved: LevelPwd, offer: []Factor{Passkey},
				steps: []string{"remember.not_for_phr(remembered_browser)"}},
		},
		{
			name:  "disabled by a risk signal under risk step-up",
			pol:   func(p *Policy) { remember(p); p.RiskStepUp = true },
			facts: all(remembered, func(f *Facts) { f.Risk.NewNetwork = true }),
			want: want{outcome: Challenge, target: LevelMFA, achieved: LevelPwd, offer: []Factor{TOTP, RecoveryCode},
				steps: []string{"risk.step_up", "remember.risk(remembered_browser)"}},
		},
		{
			name:  "disabled by the policy",
			facts: all(askMFA, remembered),
			want: want{outcome: Challenge, target: LevelMFA, achieved: LevelPwd, offer: []Factor{TOTP, RecoveryCode},
				steps: []string{"remember.disabled(remembered_browser)"}},
		},
		{
			name:  "older than max_age",
			pol:   remember,
			facts: all(askMFA, remembered, func(f *Facts) { f.FreshSince = ago(24 * time.Hour) }),
			want: want{outcome: Challenge, target: LevelMFA, achieved: LevelPwd, offer: []Factor{TOTP, RecoveryCode},
				steps: []string{"remember.stale(remembered_browser)"}},
		},
		{
			name: "a remembered browser already in the session counts for mfa",
			pol:  remember,
			facts: all(askMFA, func(f *Facts) {
				f.Session = append(f.Session, proof(RememberedBrowser, rememberedAt))
			}),
			want: want{outcome: Satisfied, target: LevelMFA, achieved: LevelMFA, used: []Factor{RememberedBrowser, Password}},
		},
	})
}

func TestDecideRisk(t *testing.T) {
	runRows(t, []row{
		{
			name:  "risk raises the target to mfa",
			pol:   func(p *Policy) { p.RiskStepUp = true },
			facts: func(f *Facts) { f.Risk.Velocity = true },
			want: want{outcome: Challenge, target: LevelMFA, achieved: LevelPwd, offer: []Factor{TOTP, RecoveryCode}, acr: mfaURN,
				steps: []string{"risk.step_up", "target.level"}},
		},
		{
			name:  "risk without step-up changes nothing",
			facts: func(f *Facts) { f.Risk.NewDevice = true },
			want:  want{outcome: Satisfied, target: LevelPwd, achieved: LevelPwd, absent: []string{"risk.step_up"}},
		},
		{
			name:  "risk does not lower phr",
			pol:   func(p *Policy) { p.RiskStepUp = true },
			facts: all(askPHR, func(f *Facts) { f.Risk.NewDevice = true; f.User = append(f.User, enrolled(Passkey)) }),
			want:  want{outcome: Challenge, target: LevelPHR, achieved: LevelPwd, offer: []Factor{Passkey}},
		},
	})
}

// Decide is defined for policies Validate would refuse: it neither panics
// nor weakens sign-in.
func TestDecideUnvalidatedPolicy(t *testing.T) {
	t.Run("zero policy", func(t *testing.T) {
		d := Decide(Policy{}, baseFacts())
		checkDecision(t, d, want{outcome: Satisfied, target: LevelPwd, achieved: LevelPwd,
			steps: []string{"target.default", "decision.satisfied"}})
	})
	t.Run("unknown default level fails closed", func(t *testing.T) {
		p := DefaultPolicy()
		p.DefaultLevel = "urn:latchkey:acr:aal9"
		d := Decide(p, baseFacts())
		checkDecision(t, d, want{outcome: Denied, target: LevelNone, achieved: LevelPwd, reason: ReasonUnreachable,
			steps: []string{"policy.invalid_level", "decision.denied"}})
	})
	t.Run("first factors and strangers in the order are never offered", func(t *testing.T) {
		p := DefaultPolicy()
		setOrder(&p, []Factor{Password, RememberedBrowser, "fax", TOTP, TOTP})
		f := baseFacts()
		askMFA(&f)
		d := Decide(p, f)
		checkDecision(t, d, want{outcome: Challenge, target: LevelMFA, achieved: LevelPwd, offer: []Factor{TOTP, RecoveryCode},
			steps: []string{"factor.not_second(password)", "factor.not_second(remembered_browser)", "factor.not_second(fax)"}})
	})
	t.Run("recovery codes in enrollable are not enrolled", func(t *testing.T) {
		p := DefaultPolicy()
		p.Enrollable = []Factor{RecoveryCode, TOTP}
		f := baseFacts()
		f.User = nil
		askMFA(&f)
		d := Decide(p, f)
		checkDecision(t, d, want{outcome: Enrol, target: LevelMFA, achieved: LevelPwd, enrol: []Factor{TOTP},
			steps: []string{"enrol.not_enrollable(recovery_code)"}})
	})
}
