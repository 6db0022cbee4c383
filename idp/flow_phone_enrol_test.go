package idp_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/mfa"
)

// TestPhoneEnrolAtSignIn: when the policy lets users without a second
// factor set one up during a sign-in that needs it, and lists the phone as
// enrollable, a password-only user asked for mfa can add a number there:
// consent, the code sent to it, and that code is the sign-in's second
// factor (amr sms), followed by recovery codes shown once. Wrong codes
// while adding the number count apart from sign-in codes.
func TestPhoneEnrolAtSignIn(t *testing.T) {
	pol := phonePolicy()
	pol.EnrolAtSignIn = true
	pol.Enrollable = []mfa.Factor{mfa.SMS, mfa.TOTP}
	f := newPhoneFixture(t, pol, nil)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b := f.env.NewBrowser()
	a := newAuthRequest()

	page := f.mfaPage(t, b, r, a)
	if page.Path() != "/mfa/enrol" || !strings.Contains(page.Body, `action="/mfa/enrol/phone"`) ||
		!strings.Contains(page.Body, `autocomplete="tel"`) {
		t.Fatalf("mfa for a password-only user: %s %d, want the phone set-up\n%s", page.URL, page.Status, page.Body)
	}
	if !strings.Contains(page.Body, "factor=totp") {
		t.Error("no way to the authenticator app set-up from the phone set-up")
	}
	tx := txOf(t, page)

	res := submitForm(t, b, page, "/mfa/enrol/phone", nil, map[string]string{"number": phoneTyped, "consent": ""})
	if res.Status != http.StatusBadRequest || len(f.twilio.Messages()) != 0 {
		t.Fatalf("without consent: %d and %d messages, want 400 and none", res.Status, len(f.twilio.Messages()))
	}
	verify := submitForm(t, b, res, "/mfa/enrol/phone", nil, map[string]string{"number": phoneTyped, "consent": "on"})
	if verify.Status != http.StatusOK || !strings.Contains(verify.Body, `action="/mfa/enrol/phone/verify"`) ||
		txOf(t, verify) != tx {
		t.Fatalf("adding the number: %d, want the verification step of the same sign-in\n%s", verify.Status, verify.Body)
	}
	msgs := f.twilio.Messages()
	if len(msgs) != 1 || msgs[0].To != phoneE164 {
		t.Fatalf("messages = %+v, want one to %s", msgs, phoneE164)
	}
	code := smsCode(t, msgs[0].Body)

	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	bad := submitForm(t, b, verify, "/mfa/enrol/phone/verify", map[string]string{"op": ""}, map[string]string{"code": wrong})
	if bad.Status != http.StatusUnauthorized {
		t.Fatalf("wrong code: %d, want 401\n%s", bad.Status, bad.Body)
	}
	notice := submitForm(t, b, bad, "/mfa/enrol/phone/verify", map[string]string{"op": ""}, map[string]string{"code": code})
	if notice.Status != http.StatusOK || !strings.Contains(notice.Body, "Codes by text or call depend on your phone") {
		t.Fatalf("right code: %d, want the recovery codes\n%s", notice.Status, notice.Body)
	}
	if ps := f.phones(t); len(ps) != 1 || !ps[0].Verified() {
		t.Fatalf("phones = %+v, want one verified", ps)
	}
	cont := ""
	for _, l := range links(notice) {
		if strings.Contains(l, "/authorize/resume") {
			cont = l
		}
	}
	if cont == "" {
		t.Fatalf("no way on from the recovery codes:\n%s", notice.Body)
	}
	tok := r.exchange(a, clientRedirect(t, b.Follow(b.Get(cont))))
	checkAssurance(t, "phone enrolled at sign-in", tok.claims, acrMFA, []string{"pwd", "sms", "mfa"}, num(tok.claims["auth_time"]))
	if evs := auditEvents(t, f.env, "mfa.failed"); len(evs) != 0 {
		t.Errorf("a wrong code while adding the number counted as a failed sign-in code: %+v", evs)
	}
	if evs := auditEvents(t, f.env, "mfa.enrolled"); len(evs) != 1 || evs[0].Details["factor"] != "phone" {
		t.Errorf("mfa.enrolled events = %+v", evs)
	}
}
