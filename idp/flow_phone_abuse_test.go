package idp_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/idp"
	"github.com/latchkey/latchkey/mfa"
	"github.com/latchkey/latchkey/mfa/twilio/twiliotest"
)

// otherCode is a six-digit code that is not code.
func otherCode(code string) string {
	return strings.Map(func(r rune) rune { return '0' + (r-'0'+1)%10 }, code)
}

// TestPhoneWrongCodes: five wrong codes void the SMS challenge as they do
// an authenticator app's: the page moves on to the next factor with the
// try-another message and SMS is no longer offered in this sign-in. The
// code itself is void (the right one is refused on either channel); a
// call then reads a new code.
func TestPhoneWrongCodes(t *testing.T) {
	f := newPhoneFixture(t, phonePolicy(), nil)
	auth := f.enrolTOTP(t)
	b, _ := f.mfaAccountBrowser(t, auth)
	f.enrolPhone(t, b, phoneTyped)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b = f.env.NewBrowser()
	a := newAuthRequest()
	page := f.mfaPage(t, b, r, a)
	expectFactor(t, page, mfa.TOTP)
	page = sendCode(t, b, b.Get(wayTo(page, mfa.SMS)), mfa.SMS)
	code := smsCode(t, f.lastSMS(t).Body)
	tx := txOf(t, page)

	for i := range mfa.DefaultPolicy().Limits.MaxAttempts - 1 {
		page = enterCode(t, b, page, otherCode(code))
		if page.Status != http.StatusUnauthorized || mfaFactor(page) != string(mfa.SMS) || !strings.Contains(page.Body, "That code is not right") {
			t.Fatalf("wrong code %d: %d factor %q, want 401 on the SMS page\n%s", i+1, page.Status, mfaFactor(page), page.Body)
		}
	}
	page = enterCode(t, b, page, otherCode(code))
	if page.Status != http.StatusUnauthorized || mfaFactor(page) != string(mfa.TOTP) || !strings.Contains(page.Body, "Too many wrong codes for that method") {
		t.Fatalf("fifth wrong code: %d factor %q, want the authenticator page with the try-another message\n%s", page.Status, mfaFactor(page), page.Body)
	}
	if wayTo(page, mfa.SMS) != "" {
		t.Errorf("SMS is still offered after its challenge was voided:\n%s", page.Body)
	}
	if evs := auditEvents(t, f.env, "mfa.failed"); len(evs) != 5 || evs[0].Details["factor"] != "sms" {
		t.Errorf("mfa.failed events = %+v, want 5 for sms", evs)
	}
	if evs := auditEvents(t, f.env, "mfa.skipped"); len(evs) == 0 || evs[0].Details["factor"] != "sms" {
		t.Errorf("mfa.skipped events = %+v, want the voided SMS challenge", evs)
	}

	// The right code, posted by hand on either channel, is refused: the
	// code itself is void, not just the SMS challenge.
	fields := page.Form().Fields
	for _, factor := range []mfa.Factor{mfa.SMS, mfa.Voice} {
		v := url.Values{"csrf_token": {fields.Get("csrf_token")}, "tx": {tx}, "factor": {string(factor)}, "code": {code}}
		if res := b.PostForm(f.env.URL("/mfa"), v); res.IsRedirect() || res.Status < 400 {
			t.Errorf("the right code by %s after five wrong ones: %d, want it refused", factor, res.Status)
		}
	}

	// A call, still offered, reads a new code rather than the void one.
	voice := wayTo(page, mfa.Voice)
	if voice == "" {
		t.Fatalf("no way to a call after the SMS challenge was voided:\n%s", page.Body)
	}
	page = sendCode(t, b, b.Get(voice), mfa.Voice)
	calls := f.twilio.Calls()
	if page.Status != http.StatusOK || len(calls) != 1 {
		t.Fatalf("call after the void code: %d, %d calls\n%s", page.Status, len(calls), page.Body)
	}
	fresh := callCode(t, calls[0])
	if fresh == code {
		t.Fatal("the call reads out the voided code")
	}
	tok := r.exchange(a, clientRedirect(t, enterCode(t, b, page, fresh)))
	checkAssurance(t, "voice after the void SMS code", tok.claims, acrMFA, []string{"pwd", "tel", "mfa"}, num(tok.claims["auth_time"]))
}

// TestPhoneSIMSwap: a SIM changed yesterday (the carrier's lookup, asked
// before a sign-in code) stops the code: nothing is sent, the event is
// audited, and a user with nothing but the phone is told the app's level
// cannot be met; the next sign-in knows without a new lookup.
func TestPhoneSIMSwap(t *testing.T) {
	pol := phonePolicy()
	pol.SIMSwapWindow = mfa.Duration(7 * 24 * time.Hour)
	f := withPhone(t, pol, func(o *idp.PhoneOptions) { o.SIMSwapLookup = true })
	f.twilio.SetNumber(phoneE164, twiliotest.Number{SIMSwapDate: time.Now().Add(-24 * time.Hour)})
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b := f.env.NewBrowser()
	a := newAuthRequest()
	page := f.mfaPage(t, b, r, a)
	expectFactor(t, page, mfa.SMS)
	res := sendCode(t, b, page, mfa.SMS)
	expectAuthzError(t, clientRedirect(t, res), a, f.env.Issuer, "unmet_authentication_requirements")
	if msgs, calls := len(f.twilio.Messages()), len(f.twilio.Calls()); msgs != 1 || calls != 0 {
		t.Errorf("%d messages and %d calls, want only the enrolment's SMS", msgs, calls)
	}
	lookups := f.twilio.Lookups()
	if l := lookups[len(lookups)-1]; l.Number != phoneE164 || !strings.Contains(strings.Join(l.Fields, ","), "sim_swap") {
		t.Errorf("last lookup %+v, want a SIM swap lookup of %s", l, phoneE164)
	}
	evs := auditEvents(t, f.env, "phone.sim_swapped")
	if len(evs) != 1 || evs[0].UserID != f.user.ID || evs[0].Details["swapped_at"] == "" {
		t.Fatalf("phone.sim_swapped events = %+v", evs)
	}
	if ps := f.phones(t); ps[0].SIMSwappedAt.IsZero() || ps[0].SIMCheckedAt.IsZero() {
		t.Errorf("the phone does not record the swap: %+v", ps[0])
	}

	a = newAuthRequest()
	loc := f.env.NewBrowser().Login(r.url(a, mfaReq()), userEmail, userPassword)
	expectAuthzError(t, loc, a, f.env.Issuer, "unmet_authentication_requirements")
	if n := len(f.twilio.Lookups()); n != len(lookups) {
		t.Errorf("%d lookups, want no new one within the hour", n)
	}
}

// TestPhoneForgedCallback: only a report signed with the account's token
// for the configured URL is believed. A forged signature, none, or one
// made for another URL (with the Host header to match) is refused with 403
// and changes nothing: no status, no call placed on its word.
func TestPhoneForgedCallback(t *testing.T) {
	f := withPhone(t, phonePolicy(), func(o *idp.PhoneOptions) { o.VoiceFallback = "call" })
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b := f.env.NewBrowser()
	page := sendCode(t, b, f.mfaPage(t, b, r, newAuthRequest()), mfa.SMS)
	sid := f.lastSMS(t).SID
	status := func() string {
		t.Helper()
		m, err := f.env.Store.GetPhoneMessage(context.Background(), sid)
		if err != nil {
			t.Fatalf("get phone message: %v", err)
		}
		return m.Status
	}
	before := status()

	if got, err := f.twilio.DeliverForged(sid, "undelivered", 30003); err != nil || got != http.StatusForbidden {
		t.Errorf("forged report: %d %v, want 403", got, err)
	}
	form := url.Values{"AccountSid": {f.twilio.AccountSID}, "ApiVersion": {"2010-04-01"}, "MessageSid": {sid},
		"SmsSid": {sid}, "MessageStatus": {"undelivered"}, "SmsStatus": {"undelivered"}, "ErrorCode": {"30003"}, "To": {phoneE164}}
	for _, c := range []struct{ name, sig, host string }{
		{"no signature", "", ""},
		{"garbage signature", "bm90IGEgc2lnbmF0dXJl", ""},
		{"signed for another host", twiliotest.Signature(f.twilio.AuthToken, "http://evil.example/phone/status", form), "evil.example"},
		{"signed for the URL with a query", twiliotest.Signature(f.twilio.AuthToken, f.env.Issuer+"/phone/status?x=1", form), ""},
	} {
		if got := f.postCallback(t, form, c.sig, c.host); got != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", c.name, got)
		}
	}
	if got := status(); got != before {
		t.Errorf("message status %q after refused reports, want %q", got, before)
	}
	if n := len(f.twilio.Calls()); n != 0 {
		t.Fatalf("%d calls placed on forged reports", n)
	}
	if page = f.reload(t, b, txOf(t, page), mfa.SMS); strings.Contains(page.Body, "We could not deliver") {
		t.Error("the page believes a forged report")
	}
	if got := counter(t, f.metrics.Registry, "latchkey_phone_callbacks_total", map[string]string{"result": "forged"}); got != 5 {
		t.Errorf("forged callbacks counted %v, want 5", got)
	}

	// The same report signed for the configured URL is believed.
	if got := f.postCallback(t, form, twiliotest.Signature(f.twilio.AuthToken, f.env.Issuer+"/phone/status", form), ""); got != http.StatusNoContent {
		t.Fatalf("genuine report: %d, want 204", got)
	}
	if got := status(); got != "undelivered" {
		t.Errorf("message status %q after the genuine report, want undelivered", got)
	}
	if n := len(f.twilio.Calls()); n != 1 {
		t.Errorf("%d calls after the genuine undelivered report, want 1", n)
	}
}

// TestPhoneCarrierErrors: Twilio's 21211 on a send marks the number
// unreachable for good (the account page says so); 21610 (the user
// replied STOP) leaves calls only.
func TestPhoneCarrierErrors(t *testing.T) {
	t.Run("21211", func(t *testing.T) {
		f := withPhone(t, phonePolicy(), nil)
		f.twilio.SetNumber(phoneE164, twiliotest.Number{Error: 21211})
		r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
		b := f.env.NewBrowser()
		a := newAuthRequest()
		// The phone was the user's only second factor: with it gone the
		// engine offers first-time set-up.
		res := sendCode(t, b, f.mfaPage(t, b, r, a), mfa.SMS)
		if res.Path() != "/mfa/enrol" {
			t.Errorf("after 21211: %s %d, want the first-time set-up\n%s", res.URL, res.Status, res.Body)
		}
		if ps := f.phones(t); ps[0].Status != "invalid" {
			t.Errorf("phone status %q after 21211, want invalid", ps[0].Status)
		}
		if evs := auditEvents(t, f.env, "phone.send_failed"); len(evs) != 1 || evs[0].Details["status"] != "invalid" {
			t.Errorf("phone.send_failed events = %+v", evs)
		}
		if got := counter(t, f.metrics.Registry, "latchkey_phone_codes_sent_total", map[string]string{"outcome": "failed"}); got != 1 {
			t.Errorf("failed sends counted %v, want 1", got)
		}
		if _, account := f.accountBrowser(t); !strings.Contains(text(account), phoneMasked) || !strings.Contains(account.Body, "Cannot be reached") {
			t.Errorf("account page does not say the phone cannot be reached:\n%s", account.Body)
		}
	})

	t.Run("21610", func(t *testing.T) {
		// Budget enough for a second sign-in.
		f := withPhone(t, phonePolicy(), func(o *idp.PhoneOptions) { o.Budgets.PerUser = 10 })
		f.twilio.SetNumber(phoneE164, twiliotest.Number{Error: 21610})
		r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
		b := f.env.NewBrowser()
		a := newAuthRequest()
		page := sendCode(t, b, f.mfaPage(t, b, r, a), mfa.SMS)
		if page.Status != http.StatusServiceUnavailable || mfaFactor(page) != string(mfa.Voice) || wayTo(page, mfa.SMS) != "" ||
			!strings.Contains(page.Body, "We could not send a code to your phone just now") {
			t.Fatalf("after 21610: %d factor %q, want 503 on the voice page without SMS\n%s", page.Status, mfaFactor(page), page.Body)
		}
		// Nothing was texted, and a call needs no wait.
		if strings.Contains(page.Body, "We texted a code") || !strings.Contains(text(page), "We will call "+phoneMasked) {
			t.Errorf("voice page after the failed text claims a text or does not offer the call:\n%s", page.Body)
		}
		if ps := f.phones(t); ps[0].Status != "stopped" {
			t.Errorf("phone status %q after 21610, want stopped", ps[0].Status)
		}
		// STOP is about texts: calls go through.
		f.twilio.SetNumber(phoneE164, twiliotest.Number{})
		page = sendCode(t, b, page, mfa.Voice)
		calls := f.twilio.Calls()
		if page.Status != http.StatusOK || len(calls) != 1 {
			t.Fatalf("call after STOP: %d, %d calls\n%s", page.Status, len(calls), page.Body)
		}
		tok := r.exchange(a, clientRedirect(t, enterCode(t, b, page, callCode(t, calls[0]))))
		checkAssurance(t, "voice after STOP", tok.claims, acrMFA, []string{"pwd", "tel", "mfa"}, num(tok.claims["auth_time"]))

		b2, account := f.accountBrowser(t)
		if !strings.Contains(account.Body, "Calls only (you replied STOP to our texts)") {
			t.Errorf("account page does not say calls only:\n%s", account.Body)
		}
		page = f.mfaPage(t, b2, r, newAuthRequest())
		expectFactor(t, page, mfa.Voice)
		if wayTo(page, mfa.SMS) != "" {
			t.Error("SMS is offered to a number that replied STOP")
		}
	})
}
