package idp_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/idp"
	"github.com/latchkey/latchkey/idp/idptest"
	"github.com/latchkey/latchkey/mfa"
	"github.com/latchkey/latchkey/mfa/twilio/twiliotest"
)

// TestPhoneEnrolment: adding a phone on the account page needs the
// consent box; a Japanese national number reaches Twilio in E.164; numbers
// that cannot take codes (premium rate by their prefix, VoIP or invalid by
// the carrier's lookup) are refused before any SMS; the code sent proves
// the number; the number is stored sealed and shown masked, never whole.
func TestPhoneEnrolment(t *testing.T) {
	f := newPhoneFixture(t, phonePolicy(), nil)
	f.twilio.SetNumber("+818098765432", twiliotest.Number{LineType: "nonFixedVoip"})
	f.twilio.SetNumber("+817011112222", twiliotest.Number{Invalid: true})
	b, _ := f.accountBrowser(t)
	form := f.phoneForm(t, b)
	if !strings.Contains(form.Body, `name="consent"`) || !strings.Contains(form.Body, `type="tel"`) {
		t.Fatalf("phone page without the number field and the consent box:\n%s", form.Body)
	}

	res := addPhone(t, b, form, phoneTyped, false)
	if res.Status != http.StatusBadRequest || !strings.Contains(res.Body, "Tick the box to agree") {
		t.Fatalf("without consent: %d, want 400 asking for the box\n%s", res.Status, res.Body)
	}
	for _, c := range []struct{ typed, want string }{
		{"0990-123-456", "premium-rate"},                       // by the number plan
		{"080-9876-5432", "Internet phone numbers"},            // by the lookup
		{"070-1111-2222", "This is not a phone number we can"}, // by the lookup
	} {
		res := addPhone(t, b, res, c.typed, true)
		if res.Status != http.StatusBadRequest || !strings.Contains(res.Body, c.want) {
			t.Errorf("adding %s: %d, want 400 with %q\n%s", c.typed, res.Status, c.want, res.Body)
		}
	}
	if n := len(f.twilio.Messages()) + len(f.twilio.Calls()); n != 0 {
		t.Fatalf("%d messages or calls for refused numbers, want none", n)
	}
	var reasons []string
	for _, ev := range auditEvents(t, f.env, "phone.refused") {
		reasons = append(reasons, ev.Details["reason"])
	}
	slices.Sort(reasons)
	if want := []string{"phone.error.invalid", "phone.error.line_type", "phone.error.voip"}; !slices.Equal(reasons, want) {
		t.Errorf("phone.refused reasons = %v, want %v", reasons, want)
	}
	if ps := f.phones(t); len(ps) != 0 {
		t.Fatalf("refused numbers were stored: %+v", ps)
	}

	verify := addPhone(t, b, res, phoneTyped, true)
	if verify.Status != http.StatusOK || !strings.Contains(text(verify), "We texted a code to "+phoneMasked) {
		t.Fatalf("adding %s: %d, want the verification page\n%s", phoneTyped, verify.Status, verify.Body)
	}
	msgs := f.twilio.Messages()
	if len(msgs) != 1 || msgs[0].To != phoneE164 || msgs[0].StatusCallback != f.env.Issuer+"/phone/status" || msgs[0].ValidityPeriod != 300 {
		t.Fatalf("messages = %+v, want one to %s with the status callback and a 5-minute validity", msgs, phoneE164)
	}
	lookups := f.twilio.Lookups()
	if l := lookups[len(lookups)-1]; l.Number != phoneE164 || !slices.Contains(l.Fields, "line_type_intelligence") {
		t.Errorf("last lookup %+v, want line type intelligence for %s", l, phoneE164)
	}
	code := smsCode(t, msgs[0].Body)
	ps := f.phones(t)
	if len(ps) != 1 || ps[0].Verified() || ps[0].Country != "JP" || ps[0].Masked != phoneMasked || ps[0].ConsentAt.IsZero() {
		t.Fatalf("stored before the code: %+v, want one unverified JP phone with consent", ps)
	}
	for _, leak := range []string{phoneDigits, phoneE164, "1234-5678"} {
		if bytes.Contains(ps[0].Number, []byte(leak)) || strings.Contains(ps[0].NumberHash, leak) {
			t.Errorf("stored number holds %q in the clear", leak)
		}
	}

	wrong := verifyPhone(t, b, verify, otherCode(code))
	if wrong.Status != http.StatusUnauthorized || !strings.Contains(wrong.Body, "That code is not right") {
		t.Fatalf("wrong code: %d, want 401\n%s", wrong.Status, wrong.Body)
	}
	account := verifyPhone(t, b, wrong, code)
	if account.Path() != "/account" || !strings.Contains(account.Body, "The phone number was verified and added.") {
		t.Fatalf("right code: %s %d, want the account page\n%s", account.URL, account.Status, account.Body)
	}
	if !strings.Contains(text(account), phoneMasked) || !strings.Contains(account.Body, "Text and call") {
		t.Errorf("account page does not list %s as text and call:\n%s", phoneMasked, account.Body)
	}
	for _, page := range []*idptest.Response{verify, wrong, account} {
		if strings.Contains(page.Body, phoneDigits) || strings.Contains(page.Body, "1234-5678") {
			t.Errorf("%s shows the whole number", page.URL)
		}
	}
	if ps := f.phones(t); len(ps) != 1 || !ps[0].Verified() {
		t.Errorf("after the code: %+v, want the phone verified", ps)
	}
	if evs := auditEvents(t, f.env, "mfa.enrolled"); len(evs) != 1 || evs[0].Details["factor"] != "phone" || evs[0].Details["country"] != "JP" {
		t.Errorf("mfa.enrolled events = %+v", evs)
	}

	// With a verified phone that counts for mfa, changing phones needs
	// it: the page asks for its code first. Then the same number again is
	// refused; eleven minutes later the page asks again.
	step := b.Follow(b.Get(f.env.URL("/account/phone")))
	expectFactor(t, step, mfa.SMS)
	step = sendCode(t, b, step, mfa.SMS)
	form = enterCode(t, b, step, smsCode(t, f.lastSMS(t).Body))
	if form.Path() != "/account/phone" || form.Status != http.StatusOK {
		t.Fatalf("after the step-up: %s %d, want the phone page\n%s", form.URL, form.Status, form.Body)
	}
	if again := addPhone(t, b, form, "+81 90 1234 5678", true); again.Status != http.StatusBadRequest ||
		!strings.Contains(again.Body, "already on your account") {
		t.Errorf("the same number again: %d\n%s", again.Status, again.Body)
	}
	f.env.Clock.Advance(11 * time.Minute)
	if page := b.Follow(b.Get(f.env.URL("/account/phone"))); page.Path() != "/login" {
		t.Errorf("phone page eleven minutes after the password: %s, want the login page", page.URL)
	}
}

// TestPhoneSMSSignIn: with acr_values=mfa a password-and-phone user is
// offered a text; one press sends one SMS ending in the origin-bound line
// for the issuer's host; its code completes mfa with amr sms (RFC 8176).
func TestPhoneSMSSignIn(t *testing.T) {
	f := withPhone(t, phonePolicy(), nil)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b := f.env.NewBrowser()
	a := newAuthRequest()
	page := f.mfaPage(t, b, r, a)
	expectFactor(t, page, mfa.SMS)
	if !strings.Contains(text(page), "We will text a code to "+phoneMasked) || strings.Contains(page.Body, phoneDigits) {
		t.Fatalf("SMS page before sending:\n%s", page.Body)
	}
	if wayTo(page, mfa.Voice) == "" {
		t.Error("no way to a call from the SMS page")
	}
	if n := len(f.twilio.Messages()); n != 1 {
		t.Fatalf("%d messages before the user asked, want only the enrolment's", n)
	}
	enrolled := f.phones(t)[0].LastUsedAt

	page = sendCode(t, b, page, mfa.SMS)
	if page.Status != http.StatusOK || !strings.Contains(text(page), "We texted a code to "+phoneMasked) ||
		!strings.Contains(page.Body, `autocomplete="one-time-code"`) {
		t.Fatalf("after sending: %d\n%s", page.Status, page.Body)
	}
	msgs := f.twilio.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want the enrolment's and one more", len(msgs))
	}
	sms := msgs[1]
	code := smsCode(t, sms.Body)
	issuer, _ := url.Parse(f.env.Issuer)
	host := issuer.Hostname()
	if !strings.HasSuffix(sms.Body, "\n@"+host+" #"+code) || !strings.Contains(sms.Body, "Your Latchkey sign-in code is "+code) {
		t.Errorf("SMS body %q, want the code and the last line @%s #%s", sms.Body, host, code)
	}
	if len(f.twilio.Calls()) != 0 {
		t.Error("a call was placed for an SMS sign-in")
	}

	tok := r.exchange(a, clientRedirect(t, enterCode(t, b, page, code)))
	checkAssurance(t, "sms", tok.claims, acrMFA, []string{"pwd", "sms", "mfa"}, num(tok.claims["auth_time"]))
	if evs := auditEvents(t, f.env, "mfa.passed"); len(evs) != 1 || evs[0].Details["factor"] != "sms" {
		t.Errorf("mfa.passed events = %+v", evs)
	}
	if evs := auditEvents(t, f.env, "phone.code_sent"); len(evs) != 2 || evs[0].Details["purpose"] != "sign-in" || evs[0].Details["channel"] != "sms" {
		t.Errorf("phone.code_sent events = %+v", evs)
	}
	if ps := f.phones(t); !ps[0].LastUsedAt.After(enrolled) {
		t.Error("the phone's last use was not recorded")
	}

	// A code belongs to its sign-in: another one, with its own code sent,
	// refuses it.
	b2 := f.env.NewBrowser()
	page = sendCode(t, b2, f.mfaPage(t, b2, r, newAuthRequest()), mfa.SMS)
	if res := enterCode(t, b2, page, code); res.IsRedirect() || res.Status != http.StatusUnauthorized {
		t.Errorf("a used code in another sign-in: %d, want 401", res.Status)
	}
}

// TestPhoneVoiceSignIn: choosing a call places one whose TwiML reads the
// code digit by digit, twice; the code completes mfa with amr tel.
func TestPhoneVoiceSignIn(t *testing.T) {
	f := withPhone(t, phonePolicy(), nil)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b := f.env.NewBrowser()
	a := newAuthRequest()
	page := f.mfaPage(t, b, r, a)
	expectFactor(t, page, mfa.SMS)
	page = b.Get(wayTo(page, mfa.Voice))
	expectFactor(t, page, mfa.Voice)
	if !strings.Contains(text(page), "We will call "+phoneMasked) {
		t.Fatalf("voice page:\n%s", page.Body)
	}
	page = sendCode(t, b, page, mfa.Voice)
	if page.Status != http.StatusOK || !strings.Contains(text(page), "We are calling "+phoneMasked) {
		t.Fatalf("after calling: %d\n%s", page.Status, page.Body)
	}
	calls := f.twilio.Calls()
	if len(calls) != 1 || calls[0].To != phoneE164 || calls[0].StatusCallback != f.env.Issuer+"/phone/status" {
		t.Fatalf("calls = %+v, want one to %s with the status callback", calls, phoneE164)
	}
	code := callCode(t, calls[0])
	said := 0
	for _, s := range calls[0].Says {
		if s.Language != "en-US" {
			t.Errorf("<Say language=%q>, want en-US", s.Language)
		}
		if strings.Contains(s.Text, spaced(code, ", ")) {
			said++
		}
	}
	if said != 2 {
		t.Errorf("the call reads %q spaced %d times, want 2: %+v", code, said, calls[0].Says)
	}
	if n := len(f.twilio.Messages()); n != 1 {
		t.Errorf("%d messages, want only the enrolment's", n)
	}
	tok := r.exchange(a, clientRedirect(t, enterCode(t, b, page, code)))
	checkAssurance(t, "voice", tok.claims, acrMFA, []string{"pwd", "tel", "mfa"}, num(tok.claims["auth_time"]))
}

// TestPhoneUndelivered: a signed "undelivered" (30003) report makes the
// page offer a call at once, which carries the same code; with
// voice_fallback "call" the report itself places that call.
func TestPhoneUndelivered(t *testing.T) {
	for _, fallback := range []string{"offer", "call"} {
		t.Run(fallback, func(t *testing.T) {
			f := withPhone(t, phonePolicy(), func(o *idp.PhoneOptions) { o.VoiceFallback = fallback })
			r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
			b := f.env.NewBrowser()
			a := newAuthRequest()
			page := sendCode(t, b, f.mfaPage(t, b, r, a), mfa.SMS)
			sms := f.lastSMS(t)
			code := smsCode(t, sms.Body)
			if status, err := f.twilio.Deliver(sms.SID, "undelivered", 30003); err != nil || status != http.StatusNoContent {
				t.Fatalf("undelivered report: %d %v, want 204", status, err)
			}
			if evs := auditEvents(t, f.env, "phone.undelivered"); len(evs) != 1 || evs[0].Details["error_code"] != "30003" {
				t.Errorf("phone.undelivered events = %+v", evs)
			}
			page = f.reload(t, b, txOf(t, page), mfa.SMS)
			if fallback == "offer" {
				if len(f.twilio.Calls()) != 0 {
					t.Fatal("a call was placed without the user asking")
				}
				if !strings.Contains(text(page), "We could not deliver the text message to "+phoneMasked) || !strings.Contains(page.Body, `id="call-instead"`) {
					t.Fatalf("page after the undelivered report, want the offer of a call:\n%s", page.Body)
				}
				// No resend wait: the code never arrived.
				page = sendCode(t, b, page, mfa.Voice)
				if page.Status != http.StatusOK {
					t.Fatalf("call me instead: %d\n%s", page.Status, page.Body)
				}
			} else if !strings.Contains(text(page), "We are calling "+phoneMasked) {
				t.Errorf("page after the report placed a call:\n%s", page.Body)
			}
			calls := f.twilio.Calls()
			if len(calls) != 1 || callCode(t, calls[0]) != code {
				t.Fatalf("calls = %+v, want one reading the SMS's code %s", calls, code)
			}
			if n := len(f.twilio.Messages()); n != 2 {
				t.Errorf("%d messages, want the enrolment's and the undelivered one", n)
			}
			tok := r.exchange(a, clientRedirect(t, enterCode(t, b, page, code)))
			checkAssurance(t, "voice fallback", tok.claims, acrMFA, []string{"pwd", "tel", "mfa"}, num(tok.claims["auth_time"]))
		})
	}
}

var waitSeconds = regexp.MustCompile(`We just sent the code\. You can ask for it again in ([0-9]+) seconds\.`)

// resendWait is the wait a refused resend states, in seconds; -1 if none.
// (The tests' clock runs with real time, so it may be a second or two
// under the schedule's.)
func resendWait(page *idptest.Response) int {
	m := waitSeconds.FindStringSubmatch(page.Body)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestPhoneResendWait: a resend within 30 s is refused with the wait and
// sends nothing; after 30 s it sends the same code again, and the next
// wait is 60 s.
func TestPhoneResendWait(t *testing.T) {
	f := withPhone(t, phonePolicy(), nil)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b := f.env.NewBrowser()
	a := newAuthRequest()
	page := sendCode(t, b, f.mfaPage(t, b, r, a), mfa.SMS)
	code := smsCode(t, f.lastSMS(t).Body)
	if !strings.Contains(page.Body, `id="resend-wait"`) {
		t.Errorf("no resend wait shown after sending:\n%s", page.Body)
	}

	again := sendCode(t, b, page, mfa.SMS)
	if w := resendWait(again); again.Status != http.StatusTooManyRequests || w < 1 || w > 30 {
		t.Fatalf("resend at once: %d, wait %d s, want 429 and a wait of up to 30 seconds\n%s", again.Status, w, again.Body)
	}
	if n := len(f.twilio.Messages()); n != 2 {
		t.Fatalf("%d messages after a refused resend, want 2", n)
	}

	f.env.Clock.Advance(30 * time.Second)
	page = sendCode(t, b, again, mfa.SMS)
	if page.Status != http.StatusOK || len(f.twilio.Messages()) != 3 {
		t.Fatalf("resend after 30 s: %d, %d messages\n%s", page.Status, len(f.twilio.Messages()), page.Body)
	}
	if got := smsCode(t, f.lastSMS(t).Body); got != code {
		t.Errorf("resent code %s, want the same %s", got, code)
	}
	again = sendCode(t, b, page, mfa.SMS)
	if w := resendWait(again); again.Status != http.StatusTooManyRequests || w <= 30 || w > 60 {
		t.Errorf("second resend at once: %d, wait %d s, want 429 and a wait of up to 60 seconds\n%s", again.Status, w, again.Body)
	}
	r.exchange(a, clientRedirect(t, enterCode(t, b, again, code)))
}

// TestPhoneBudget: the user's hourly budget (3) stops the fourth send
// before Twilio; the page moves to the authenticator app with the reason,
// and the code already sent can still be entered.
func TestPhoneBudget(t *testing.T) {
	// The enrolment's SMS is charged too: the test moves on an hour.
	f := newPhoneFixture(t, phonePolicy(), nil, idptest.WithClock(idptest.NewClock(-3*time.Hour)))
	auth := f.enrolTOTP(t)
	b, _ := f.mfaAccountBrowser(t, auth)
	f.enrolPhone(t, b, phoneTyped)
	f.env.Clock.Advance(61 * time.Minute)

	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b = f.env.NewBrowser()
	a := newAuthRequest()
	page := f.mfaPage(t, b, r, a)
	expectFactor(t, page, mfa.TOTP)
	page = sendCode(t, b, b.Get(wayTo(page, mfa.SMS)), mfa.SMS)
	code := smsCode(t, f.lastSMS(t).Body)
	for _, wait := range []time.Duration{30 * time.Second, 60 * time.Second} {
		f.env.Clock.Advance(wait)
		page = sendCode(t, b, page, mfa.SMS)
		if page.Status != http.StatusOK {
			t.Fatalf("resend after %s: %d\n%s", wait, page.Status, page.Body)
		}
	}
	if n := len(f.twilio.Messages()); n != 4 {
		t.Fatalf("%d messages, want the enrolment's and 3 sign-in sends", n)
	}
	f.env.Clock.Advance(120 * time.Second)
	page = sendCode(t, b, page, mfa.SMS)
	if page.Status != http.StatusServiceUnavailable || mfaFactor(page) != string(mfa.TOTP) ||
		!strings.Contains(page.Body, "Too many codes were sent to this phone recently") {
		t.Fatalf("fourth send: %d factor %q, want 503 on the authenticator page with the budget message\n%s", page.Status, mfaFactor(page), page.Body)
	}
	if n := len(f.twilio.Messages()); n != 4 {
		t.Fatalf("%d messages, want the fourth send stopped before Twilio", n)
	}
	if evs := auditEvents(t, f.env, "phone.budget_exceeded"); len(evs) != 1 || evs[0].Details["budget"] != "phone-user" {
		t.Errorf("phone.budget_exceeded events = %+v", evs)
	}
	if got := counter(t, f.metrics.Registry, "latchkey_phone_codes_sent_total", map[string]string{"outcome": "budget"}); got != 1 {
		t.Errorf("codes refused by budget = %v, want 1", got)
	}
	// The code that went out still works.
	other := wayTo(page, mfa.SMS)
	if other == "" {
		t.Fatalf("the SMS code page is gone with a live code:\n%s", page.Body)
	}
	tok := r.exchange(a, clientRedirect(t, enterCode(t, b, b.Get(other), code)))
	checkAssurance(t, "sms after budget", tok.claims, acrMFA, []string{"pwd", "sms", "mfa"}, num(tok.claims["auth_time"]))
}

// TestPhoneDevOutbox: with the dev outbox as the sender (latchkey dev) a
// phone is added and an SMS sign-in completed with no carrier at all; the
// messages, codes included, are listed at /dev/outbox, and the status
// endpoint believes no report.
func TestPhoneDevOutbox(t *testing.T) {
	outbox := idp.NewOutbox(nil)
	mf := newMFAFixture(t, idptest.WithPolicy(phonePolicy()),
		idptest.WithProviderOptions(func(o *idp.Options) { o.Phone = defaultPhoneOptions(outbox, "") }),
		idptest.WithProviderRoutes(func(p *idp.Provider) []idp.Route { return []idp.Route{p.OutboxRoute(outbox)} }))
	f := &phoneFixture{fixture: mf}
	b, _ := f.accountBrowser(t)
	verify := addPhone(t, b, f.phoneForm(t, b), phoneTyped, true)
	msgs := outbox.Messages()
	if len(msgs) != 1 || msgs[0].Channel != "sms" || msgs[0].To != phoneE164 {
		t.Fatalf("outbox after adding the phone: %+v, want one SMS to %s", msgs, phoneE164)
	}
	if done := verifyPhone(t, b, verify, smsCode(t, msgs[0].Text)); done.Path() != "/account" {
		t.Fatalf("verifying with the outbox's code: %s %d\n%s", done.URL, done.Status, done.Body)
	}

	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b = f.env.NewBrowser()
	a := newAuthRequest()
	page := sendCode(t, b, f.mfaPage(t, b, r, a), mfa.SMS)
	msgs = outbox.Messages()
	if len(msgs) != 2 || msgs[0].Channel != "sms" {
		t.Fatalf("outbox after the sign-in's send: %+v, want a second SMS, newest first", msgs)
	}
	code := smsCode(t, msgs[0].Text)
	dev := b.Get(f.env.URL("/dev/outbox"))
	if dev.Status != http.StatusOK || !strings.Contains(text(dev), phoneE164) || !strings.Contains(dev.Body, "#"+code) ||
		!strings.Contains(dev.Body, "Dev outbox") {
		t.Errorf("/dev/outbox: %d, want the SMS with its code %s\n%s", dev.Status, code, dev.Body)
	}
	tok := r.exchange(a, clientRedirect(t, enterCode(t, b, page, code)))
	checkAssurance(t, "outbox sms", tok.claims, acrMFA, []string{"pwd", "sms", "mfa"}, num(tok.claims["auth_time"]))
	form := url.Values{"MessageSid": {msgs[0].SID}, "MessageStatus": {"undelivered"}}
	if got := f.postCallback(t, form, "c2lnbmF0dXJl", ""); got != http.StatusForbidden {
		t.Errorf("a report with the outbox as sender: %d, want 403", got)
	}
}

// TestPhoneMetrics: a code sent, reported delivered and entered is
// counted as sent, delivered and verified, by channel and country, on the
// provider's registry and its /metrics exposition.
func TestPhoneMetrics(t *testing.T) {
	f := withPhone(t, phonePolicy(), nil)
	reg := f.metrics.Registry
	sent := map[string]string{"channel": "sms", "country": "JP", "outcome": "sent"}
	verified := map[string]string{"channel": "sms"}
	// The enrolment's code counts too.
	sent0, verified0 := counter(t, reg, "latchkey_phone_codes_sent_total", sent), counter(t, reg, "latchkey_phone_codes_verified_total", verified)
	if sent0 != 1 || verified0 != 1 {
		t.Errorf("after the enrolment: %v sent, %v verified, want 1 and 1", sent0, verified0)
	}

	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b := f.env.NewBrowser()
	a := newAuthRequest()
	page := sendCode(t, b, f.mfaPage(t, b, r, a), mfa.SMS)
	sms := f.lastSMS(t)
	if status, err := f.twilio.Deliver(sms.SID, "delivered", 0); err != nil || status != http.StatusNoContent {
		t.Fatalf("delivered report: %d %v", status, err)
	}
	if m, err := f.env.Store.GetPhoneMessage(context.Background(), sms.SID); err != nil || m.Status != "delivered" {
		t.Errorf("stored message %+v %v, want delivered", m, err)
	}
	r.exchange(a, clientRedirect(t, enterCode(t, b, page, smsCode(t, sms.Body))))

	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"latchkey_phone_codes_sent_total", sent, sent0 + 1},
		{"latchkey_phone_deliveries_total", map[string]string{"channel": "sms", "country": "JP", "status": "delivered"}, 1},
		{"latchkey_phone_codes_verified_total", verified, verified0 + 1},
		{"latchkey_phone_callbacks_total", map[string]string{"result": "ok"}, 1},
	} {
		if got := counter(t, reg, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	rec := httptest.NewRecorder()
	f.metrics.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if want := `latchkey_phone_deliveries_total{channel="sms",country="JP",status="delivered"} 1`; !strings.Contains(rec.Body.String(), want) {
		t.Errorf("/metrics lacks %s", want)
	}
}

// TestPhoneJapanese: with ui_locales=ja the pages, the SMS (one UCS-2
// segment, still ending in the origin-bound line) and the call (<Say
// language="ja-JP">, digits read one by one) are in Japanese.
func TestPhoneJapanese(t *testing.T) {
	f := withPhone(t, phonePolicy(), nil)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b := f.env.NewBrowser()
	a := newAuthRequest()
	page := f.mfaPage(t, b, r, a, oauth2.SetAuthURLParam("ui_locales", "ja"))
	expectFactor(t, page, mfa.SMS)
	if !strings.Contains(page.Body, `<html lang="ja">`) || !strings.Contains(page.Body, "SMSのコードで確認") {
		t.Fatalf("SMS page with ui_locales=ja is not in Japanese:\n%s", page.Body)
	}
	page = sendCode(t, b, page, mfa.SMS)
	sms := f.lastSMS(t)
	code := smsCode(t, sms.Body)
	if !strings.Contains(sms.Body, "ログイン確認コード：") || !strings.Contains(sms.Body, code) || sms.Segments != 1 {
		t.Errorf("SMS %q (%d segments), want the Japanese text with the code in one segment", sms.Body, sms.Segments)
	}

	// After the resend wait, a call instead: the same code, in Japanese.
	f.env.Clock.Advance(30 * time.Second)
	page = sendCode(t, b, page, mfa.Voice)
	calls := f.twilio.Calls()
	if page.Status != http.StatusOK || len(calls) != 1 || !strings.Contains(text(page), "電話でコードをお知らせしています") {
		t.Fatalf("call in Japanese: %d, %d calls\n%s", page.Status, len(calls), page.Body)
	}
	if got := callCode(t, calls[0]); got != code {
		t.Errorf("the call reads %s, want the SMS's %s", got, code)
	}
	read := false
	for _, s := range calls[0].Says {
		if s.Language != "ja-JP" {
			t.Errorf(`<Say language=%q>, want "ja-JP"`, s.Language)
		}
		read = read || strings.Contains(s.Text, spaced(code, "、"))
	}
	if !read {
		t.Errorf("no <Say> reads %s digit by digit: %+v", code, calls[0].Says)
	}
	tok := r.exchange(a, clientRedirect(t, enterCode(t, b, page, code)))
	checkAssurance(t, "voice in Japanese", tok.claims, acrMFA, []string{"pwd", "tel", "mfa"}, num(tok.claims["auth_time"]))
}
