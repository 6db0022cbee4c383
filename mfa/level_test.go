package mfa

import (
	"slices"
	"testing"
	"time"
)

func TestAchieved(t *testing.T) {
	at := ago(time.Minute)
	pw := proof(Password, at)
	pk := proof(Passkey, at)
	pkUV := Proof{Factor: Passkey, At: at, UserVerified: true}
	def := DefaultPolicy()
	lenient := DefaultPolicy()
	lenient.PhoneSatisfiesMFA, lenient.Remember.Enabled = true, true
	strict := DefaultPolicy()
	strict.RecoverySatisfiesMFA = false

	cases := []struct {
		name   string
		p      Policy
		proofs []Proof
		want   Level
	}{
		{"nothing", def, nil, LevelNone},
		{"second factors without a first", lenient, []Proof{proof(TOTP, at), proof(SMS, at), proof(RememberedBrowser, at)}, LevelNone},
		{"password", def, []Proof{pw}, LevelPwd},
		{"two passwords", def, []Proof{pw, pw}, LevelPwd},
		{"passkey without uv", def, []Proof{pk}, LevelPwd},
		{"passkey with uv", def, []Proof{pkUV}, LevelPHR},
		{"password + passkey", def, []Proof{pw, pk}, LevelPHR},
		{"passkey + totp", def, []Proof{pk, proof(TOTP, at)}, LevelPHR},
		{"passkey + push", def, []Proof{pk, proof(Push, at)}, LevelPHR},
		{"password + totp", def, []Proof{pw, proof(TOTP, at)}, LevelMFA},
		{"password + push", def, []Proof{pw, proof(Push, at)}, LevelMFA},
		{"password + sms, phone off", def, []Proof{pw, proof(SMS, at)}, LevelPwd},
		{"password + voice, phone off", def, []Proof{pw, proof(Voice, at)}, LevelPwd},
		{"password + sms, phone on", lenient, []Proof{pw, proof(SMS, at)}, LevelMFA},
		{"password + voice, phone on", lenient, []Proof{pw, proof(Voice, at)}, LevelMFA},
		{"password + sms + voice, phone on", lenient, []Proof{pw, proof(SMS, at), proof(Voice, at)}, LevelMFA},
		{"password + recovery", def, []Proof{pw, proof(RecoveryCode, at)}, LevelMFA},
		{"password + recovery, recovery off", strict, []Proof{pw, proof(RecoveryCode, at)}, LevelPwd},
		{"password + remembered, remember off", def, []Proof{pw, proof(RememberedBrowser, at)}, LevelPwd},
		{"password + remembered, remember on", lenient, []Proof{pw, proof(RememberedBrowser, at)}, LevelMFA},
		{"passkey + remembered is not phr", lenient, []Proof{pk, proof(RememberedBrowser, at)}, LevelMFA},
		{"unknown factor counts for nothing", lenient, []Proof{pw, proof("fax", at)}, LevelPwd},
		{"uv passkey makes phr whatever else", def, []Proof{pw, proof(SMS, at), pkUV}, LevelPHR},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Achieved(c.p, c.proofs); got != c.want {
				t.Errorf("Achieved = %q, want %q", got, c.want)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	p := DefaultPolicy()
	p.Aliases = map[string]Level{"2": LevelMFA, "gold": LevelPHR, "broken": "urn:nope"}
	cases := []struct {
		acr  string
		want Level
		ok   bool
	}{
		{pwdURN, LevelPwd, true},
		{mfaURN, LevelMFA, true},
		{phrURN, LevelPHR, true},
		{"2", LevelMFA, true},
		{"gold", LevelPHR, true},
		{"GOLD", LevelNone, false},
		{"broken", LevelNone, false},
		{"", LevelNone, false},
		{"urn:latchkey:acr:aal3", LevelNone, false},
	}
	for _, c := range cases {
		got, ok := p.Resolve(c.acr)
		if got != c.want || ok != c.ok {
			t.Errorf("Resolve(%q) = %q, %v; want %q, %v", c.acr, got, ok, c.want, c.ok)
		}
	}
}

func TestAMR(t *testing.T) {
	at := ago(time.Minute)
	cases := []struct {
		name   string
		proofs []Proof
		want   []string
	}{
		{"none", nil, nil},
		{"password", []Proof{proof(Password, at)}, []string{"pwd"}},
		{"two passwords are one factor", []Proof{proof(Password, at), proof(Password, at)}, []string{"pwd"}},
		{"device-bound passkey", []Proof{proof(Passkey, at)}, []string{"hwk"}},
		{"synced passkey", []Proof{{Factor: Passkey, At: at, Synced: true}}, []string{"swk"}},
		{"user-verified passkey", []Proof{{Factor: Passkey, At: at, UserVerified: true}}, []string{"hwk", "user", "mfa"}},
		{"synced user-verified passkey", []Proof{{Factor: Passkey, At: at, UserVerified: true, Synced: true}}, []string{"swk", "user", "mfa"}},
		{"password + totp", []Proof{proof(Password, at), proof(TOTP, at)}, []string{"pwd", "otp", "mfa"}},
		{"password + push", []Proof{proof(Password, at), proof(Push, at)}, []string{"pwd", "swk", "mfa"}},
		{"password + sms", []Proof{proof(Password, at), proof(SMS, at)}, []string{"pwd", "sms", "mfa"}},
		{"password + voice", []Proof{proof(Password, at), proof(Voice, at)}, []string{"pwd", "tel", "mfa"}},
		{"password + recovery", []Proof{proof(Password, at), proof(RecoveryCode, at)}, []string{"pwd", "otp", "mfa"}},
		{"totp and recovery share otp", []Proof{proof(Password, at), proof(TOTP, at), proof(RecoveryCode, at)}, []string{"pwd", "otp", "mfa"}},
		{"synced passkey + push share swk", []Proof{{Factor: Passkey, At: at, Synced: true}, proof(Push, at)}, []string{"swk", "mfa"}},
		{"remembered browser", []Proof{proof(Password, at), proof(RememberedBrowser, at)}, []string{"pwd", "rba", "mfa"}},
		{"order follows the proofs", []Proof{proof(TOTP, at), proof(Password, at)}, []string{"otp", "pwd", "mfa"}},
		{"unknown factor adds nothing", []Proof{proof(Password, at), proof("fax", at)}, []string{"pwd"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := AMR(c.proofs); !slices.Equal(got, c.want) {
				t.Errorf("AMR = %v, want %v", got, c.want)
			}
		})
	}
}

func TestMinimalProofs(t *testing.T) {
	p := DefaultPolicy()
	old, mid, recent := ago(time.Hour), ago(30*time.Minute), ago(time.Minute)
	proofs := []Proof{
		{Factor: Password, At: old, Credential: "old"},
		{Factor: TOTP, At: mid},
		{Factor: RecoveryCode, At: mid},
		{Factor: Password, At: recent, Credential: "new"},
	}
	got := minimalProofs(p, proofs, LevelMFA)
	if len(got) != 2 || got[0].Factor != TOTP || got[1].Credential != "new" {
		t.Fatalf("minimalProofs(mfa) = %+v, want the TOTP then the newest password", got)
	}
	got = minimalProofs(p, proofs, LevelPwd)
	if len(got) != 1 || got[0].Credential != "new" {
		t.Fatalf("minimalProofs(pwd) = %+v, want the newest password alone", got)
	}
	// Equal times: the later proof in the session wins.
	tie := []Proof{{Factor: Password, At: recent, Credential: "a"}, {Factor: Password, At: recent, Credential: "b"}}
	if got := minimalProofs(p, tie, LevelPwd); len(got) != 1 || got[0].Credential != "b" {
		t.Fatalf("minimalProofs(tie) = %+v, want b", got)
	}
}
