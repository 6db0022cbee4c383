package mfa

import (
	"strings"
	"testing"
	"time"
)

func TestTraceString(t *testing.T) {
	d := Decision{Trace: []Step{
		{Rule: "level.achieved", Detail: "fresh proofs reach none"},
		{Rule: "factor.locked", Factor: TOTP, Detail: "locked until 2025-06-01T12:05:00Z"},
		{Rule: "bare", Factor: SMS},
		{Rule: "decision.denied"},
	}}
	want := "level.achieved: fresh proofs reach none; factor.locked(totp): locked until 2025-06-01T12:05:00Z; bare(sms); decision.denied"
	if got := d.TraceString(); got != want {
		t.Fatalf("TraceString =\n%s\nwant\n%s", got, want)
	}
	if got := (Decision{}).TraceString(); got != "" {
		t.Fatalf("empty trace = %q", got)
	}
}

func TestTraceOfADecision(t *testing.T) {
	p := DefaultPolicy()
	f := baseFacts()
	askMFA(&f)
	f.User[0].LockedUntil = now.Add(5 * time.Minute)
	want := `level.achieved: fresh proofs reach urn:latchkey:acr:pwd; ` +
		`target.default: default minimum urn:latchkey:acr:pwd; ` +
		`acr.chosen: "urn:latchkey:acr:mfa" (urn:latchkey:acr:mfa); ` +
		`target.level: urn:latchkey:acr:mfa; ` +
		`factor.not_enrolled(passkey): the user has not enrolled it; ` +
		`factor.not_enrolled(push): the user has not enrolled it; ` +
		`factor.locked(totp): locked until 2025-06-01T12:05:00Z; ` +
		`factor.cannot_satisfy(sms): cannot complete urn:latchkey:acr:mfa from urn:latchkey:acr:pwd; ` +
		`factor.cannot_satisfy(voice): cannot complete urn:latchkey:acr:mfa from urn:latchkey:acr:pwd; ` +
		`decision.challenge: offer recovery_code; start recovery_code`
	if got := Decide(p, f).TraceString(); got != want {
		t.Fatalf("TraceString =\n%s\nwant\n%s", got, want)
	}
}

// The trace carries no credential ids and clips what the client sent.
func TestTraceHoldsNoSecretsAndClipsInput(t *testing.T) {
	p := DefaultPolicy()
	f := baseFacts()
	f.Session = []Proof{{Factor: Password, At: ago(time.Minute), Credential: "cred-4f2a"}, {Factor: TOTP, At: ago(time.Second), Credential: "totp-77"}}
	long := strings.Repeat("é", 200) + "; decision.satisfied"
	f.RequestedACR = []string{long, mfaURN}
	s := Decide(p, f).TraceString()
	for _, secret := range []string{"cred-4f2a", "totp-77"} {
		if strings.Contains(s, secret) {
			t.Errorf("trace contains credential %q: %s", secret, s)
		}
	}
	if strings.Contains(s, "; decision.satisfied\"") || strings.Count(s, "é") > maxQuoted {
		t.Errorf("a long acr value is not clipped: %s", s)
	}
	if !strings.Contains(s, `...`) {
		t.Errorf("clipping is not marked: %s", s)
	}
	if strings.Count(s, "decision.") != 1 {
		t.Errorf("client input forged a decision step: %s", s)
	}
}
