package mfa

import (
	"testing"
	"time"
)

func withAliases(p *Policy) {
	p.Aliases = map[string]Level{"1": LevelPwd, "2": LevelMFA, "gold": LevelPHR}
}

func TestDecideRequestedACR(t *testing.T) {
	withPasskey := func(f *Facts) { f.User = append(f.User, enrolled(Passkey)) }
	runRows(t, []row{
		{
			name:  "an alias names its level and is published as sent",
			pol:   withAliases,
			facts: func(f *Facts) { f.RequestedACR = []string{"2"} },
			want: want{outcome: Challenge, target: LevelMFA, achieved: LevelPwd, offer: []Factor{TOTP, RecoveryCode}, acr: "2",
				steps: []string{"acr.chosen", "target.level"}},
		},
		{
			name: "a satisfied alias is published as sent",
			pol:  withAliases,
			facts: func(f *Facts) {
				f.RequestedACR = []string{"2"}
				f.Session = append(f.Session, proof(TOTP, ago(30*time.Second)))
			},
			want: want{outcome: Satisfied, target: LevelMFA, achieved: LevelMFA, acr: "2", used: []Factor{Password, TOTP}},
		},
		{
			name: "a stronger session publishes the value the client asked for",
			pol:  withAliases,
			facts: func(f *Facts) {
				f.RequestedACR = []string{"1"}
				f.Session = append(f.Session, proof(TOTP, ago(30*time.Second)))
			},
			want: want{outcome: Satisfied, target: LevelPwd, achieved: LevelMFA, acr: "1", amr: []string{"pwd", "otp", "mfa"}},
		},
		{
			name: "a stronger session publishes what it achieved when nothing was asked",
			facts: func(f *Facts) {
				f.Session = append(f.Session, proof(TOTP, ago(30*time.Second)))
			},
			want: want{outcome: Satisfied, target: LevelPwd, achieved: LevelMFA, acr: mfaURN},
		},
		{
			name:  "preference order: the first reachable value wins",
			pol:   withAliases,
			facts: func(f *Facts) { withPasskey(f); f.RequestedACR = []string{"gold", "2"} },
			want:  want{outcome: Challenge, target: LevelPHR, achieved: LevelPwd, offer: []Factor{Passkey}, acr: "gold"},
		},
		{
			name:  "preference order: first unreachable, second reachable",
			pol:   withAliases,
			facts: func(f *Facts) { f.RequestedACR = []string{"gold", "2"} },
			want: want{outcome: Challenge, target: LevelMFA, achieved: LevelPwd, offer: []Factor{TOTP, RecoveryCode}, acr: "2",
				steps: []string{"acr.unreachable", "acr.chosen", "target.level"}},
		},
		{
			name: "none reachable: denied with the first as target",
			facts: func(f *Facts) {
				f.RequestedACR = []string{phrURN, phrURN}
				f.Available = []Factor{Password, TOTP, RecoveryCode}
			},
			want: want{outcome: Denied, target: LevelPHR, achieved: LevelPwd, reason: ReasonUnreachable, acr: phrURN,
				steps: []string{"acr.unreachable", "acr.chosen", "factor.not_available(passkey)", "decision.denied"}},
		},
		{
			name: "none reachable before the first factor: sign in first",
			facts: func(f *Facts) {
				f.RequestedACR = []string{phrURN}
				f.Available = []Factor{Password, TOTP}
				f.Session = nil
			},
			want: want{outcome: NeedFirstFactor, target: LevelPHR, achieved: LevelNone, steps: []string{"acr.unreachable"}},
		},
		{
			name:  "an unknown value is skipped",
			pol:   withAliases,
			facts: func(f *Facts) { f.RequestedACR = []string{"urn:example:aal3", "2"} },
			want: want{outcome: Challenge, target: LevelMFA, achieved: LevelPwd, offer: []Factor{TOTP, RecoveryCode}, acr: "2",
				steps: []string{"acr.unknown", "acr.chosen"}},
		},
		{
			name:  "only unknown values: denied before any sign-in",
			facts: func(f *Facts) { f.RequestedACR = []string{"2", "MFA"}; f.Session = nil },
			want: want{outcome: Denied, target: LevelPwd, achieved: LevelNone, reason: ReasonUnknownACR,
				steps: []string{"acr.unknown", "acr.unknown", "acr.none_known", "decision.denied"}},
		},
		{
			name:  "empty values are no request",
			facts: func(f *Facts) { f.RequestedACR = []string{""} },
			want:  want{outcome: Satisfied, target: LevelPwd, achieved: LevelPwd, acr: pwdURN},
		},
		{
			name:  "an essential claim is required",
			facts: func(f *Facts) { f.ClaimsACR = []string{phrURN}; f.ClaimsACREssential = true },
			want: want{outcome: Denied, target: LevelPHR, achieved: LevelPwd, reason: ReasonUnreachable,
				steps: []string{"acr.unreachable", "decision.denied"}},
		},
		{
			name:  "an essential claim with only unknown values is refused",
			facts: func(f *Facts) { f.ClaimsACR = []string{"silver"}; f.ClaimsACREssential = true },
			want:  want{outcome: Denied, target: LevelPwd, achieved: LevelPwd, reason: ReasonUnknownACR},
		},
		{
			name:  "a voluntary claim that cannot be reached is ignored",
			facts: func(f *Facts) { f.ClaimsACR = []string{phrURN} },
			want: want{outcome: Satisfied, target: LevelPwd, achieved: LevelPwd, acr: pwdURN,
				steps: []string{"acr.voluntary_unreachable", "decision.satisfied"}},
		},
		{
			name:  "a reachable voluntary claim raises the target",
			facts: func(f *Facts) { f.ClaimsACR = []string{phrURN, mfaURN} },
			want: want{outcome: Challenge, target: LevelMFA, achieved: LevelPwd, offer: []Factor{TOTP, RecoveryCode}, acr: mfaURN,
				steps: []string{"acr.voluntary_unreachable", "acr.voluntary"}},
		},
		{
			name:  "unknown voluntary values are not a refusal",
			facts: func(f *Facts) { f.ClaimsACR = []string{"silver"} },
			want:  want{outcome: Satisfied, target: LevelPwd, achieved: LevelPwd, steps: []string{"acr.unknown"}},
		},
		{
			name: "a voluntary claim stronger than the required value is published",
			facts: func(f *Facts) {
				withPasskey(f)
				f.RequestedACR = []string{mfaURN}
				f.ClaimsACR = []string{phrURN}
			},
			want: want{outcome: Challenge, target: LevelPHR, achieved: LevelPwd, offer: []Factor{Passkey}, acr: phrURN},
		},
		{
			name: "acr_values come before the essential claim",
			pol:  withAliases,
			facts: func(f *Facts) {
				f.RequestedACR = []string{"gold"}
				f.ClaimsACR = []string{"2"}
				f.ClaimsACREssential = true
			},
			want: want{outcome: Challenge, target: LevelMFA, achieved: LevelPwd, offer: []Factor{TOTP, RecoveryCode}, acr: "2"},
		},
	})
}

func TestDecideClientLevel(t *testing.T) {
	bank := func(p *Policy) { p.ClientLevels = map[string]Level{"bank": LevelMFA} }
	runRows(t, []row{
		{
			name:  "the client's minimum applies",
			pol:   bank,
			facts: func(f *Facts) { f.ClientID = "bank" },
			want: want{outcome: Challenge, target: LevelMFA, achieved: LevelPwd, offer: []Factor{TOTP, RecoveryCode}, acr: mfaURN,
				steps: []string{"target.client"}},
		},
		{
			name:  "other clients get the default",
			pol:   bank,
			want:  want{outcome: Satisfied, target: LevelPwd, achieved: LevelPwd, steps: []string{"target.default"}},
			facts: nil,
		},
		{
			name:  "a weaker request does not lower the minimum",
			pol:   bank,
			facts: func(f *Facts) { f.ClientID = "bank"; f.RequestedACR = []string{pwdURN} },
			want:  want{outcome: Challenge, target: LevelMFA, achieved: LevelPwd, offer: []Factor{TOTP, RecoveryCode}, acr: pwdURN},
		},
		{
			name:  "a default of mfa",
			pol:   func(p *Policy) { p.DefaultLevel = LevelMFA },
			facts: func(f *Facts) { f.Session = append(f.Session, proof(TOTP, ago(time.Second))) },
			want:  want{outcome: Satisfied, target: LevelMFA, achieved: LevelMFA, acr: mfaURN},
		},
	})
}

func TestDecideFreshness(t *testing.T) {
	runRows(t, []row{
		{
			name: "a session already strong and fresh enough is not asked again",
			facts: func(f *Facts) {
				askMFA(f)
				f.Session = append(f.Session, proof(TOTP, ago(30*time.Second)))
				f.FreshSince = ago(5 * time.Minute)
			},
			want: want{outcome: Satisfied, target: LevelMFA, achieved: LevelMFA, used: []Factor{Password, TOTP},
				amr: []string{"pwd", "otp", "mfa"}, authTime: ago(time.Minute), absent: []string{"proof.stale(password)"}},
		},
		{
			name: "a pwd session asked for mfa gets only the second factor",
			facts: func(f *Facts) {
				askMFA(f)
				f.FreshSince = ago(5 * time.Minute)
			},
			want: want{outcome: Challenge, target: LevelMFA, achieved: LevelPwd, offer: []Factor{TOTP, RecoveryCode}},
		},
		{
			name: "max_age older than the password: sign in again",
			facts: func(f *Facts) {
				askMFA(f)
				f.Session = []Proof{pwdAt(ago(time.Hour)), proof(TOTP, ago(time.Minute))}
				f.FreshSince = ago(10 * time.Minute)
			},
			want: want{outcome: NeedFirstFactor, target: LevelMFA, achieved: LevelNone,
				steps: []string{"proof.stale(password)", "decision.need_first_factor"}},
		},
		{
			name: "a new password after an old mfa sign-in: only the second factor",
			facts: func(f *Facts) {
				askMFA(f)
				f.Session = []Proof{pwdAt(ago(2 * time.Hour)), proof(TOTP, ago(2*time.Hour-time.Second)), pwdAt(ago(time.Minute))}
				f.FreshSince = ago(5 * time.Minute)
			},
			want: want{outcome: Challenge, target: LevelMFA, achieved: LevelPwd, offer: []Factor{TOTP, RecoveryCode},
				steps: []string{"proof.stale(password)", "proof.stale(totp)", "decision.challenge"}},
		},
		{
			name: "whole seconds: a proof in the same second as fresh_since is fresh",
			facts: func(f *Facts) {
				// now is hh:mm:00.4; the proof at hh:mm:00.1 is before
				// fresh_since (hh:mm:00.4) but in the same second.
				f.Session = []Proof{pwdAt(now.Add(-300 * time.Millisecond))}
				f.FreshSince = now
			},
			want: want{outcome: Satisfied, target: LevelPwd, achieved: LevelPwd},
		},
		{
			name: "whole seconds: a proof in the second before is stale",
			facts: func(f *Facts) {
				f.Session = []Proof{pwdAt(now.Add(-500 * time.Millisecond))}
				f.FreshSince = now
			},
			want: want{outcome: NeedFirstFactor, target: LevelPwd, achieved: LevelNone, steps: []string{"proof.stale(password)"}},
		},
		{
			name: "the newest proof of a kind is used",
			facts: func(f *Facts) {
				askMFA(f)
				f.Session = []Proof{pwdAt(ago(time.Hour)), proof(TOTP, ago(59*time.Minute)), pwdAt(ago(time.Minute)), proof(TOTP, ago(30*time.Second))}
			},
			want: want{outcome: Satisfied, target: LevelMFA, achieved: LevelMFA, used: []Factor{Password, TOTP}, authTime: ago(time.Minute)},
		},
		{
			name: "a user-verified passkey alone beats an older pair",
			facts: func(f *Facts) {
				askPHR(f)
				f.Session = []Proof{pwdAt(ago(time.Hour)), proof(Passkey, ago(50*time.Minute)),
					{Factor: Passkey, At: ago(time.Minute), UserVerified: true}, proof(Passkey, ago(30*time.Second))}
			},
			want: want{outcome: Satisfied, target: LevelPHR, achieved: LevelPHR, used: []Factor{Passkey},
				amr: []string{"hwk", "user", "mfa"}, authTime: ago(time.Minute)},
		},
	})
}
