package idp_test

import (
	"context"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/idp"
	"github.com/latchkey/latchkey/idp/idptest"
	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/mfa"
	"github.com/latchkey/latchkey/mfa/twilio"
	"github.com/latchkey/latchkey/mfa/twilio/twiliotest"
)

// The user's phone as typed on the account page (a Japanese national
// number), what reaches Twilio, and how pages show it.
const (
	phoneTyped  = "090-1234-5678"
	phoneE164   = "+819012345678"
	phoneMasked = "+81 •• •••• 5678"
	// phoneDigits must never appear on a page or in the database.
	phoneDigits = "9012345678"
)

// phoneFixture is the flow fixture with SMS and voice codes sent through
// a fake Twilio (real client, real signatures) whose status callbacks
// reach the provider's test server.
type phoneFixture struct {
	*fixture
	twilio  *twiliotest.Server
	metrics *idp.Metrics
}

// phonePolicy is the default policy with phone codes counting for mfa.
func phonePolicy() mfa.Policy {
	pol := mfa.DefaultPolicy()
	pol.PhoneSatisfiesMFA = true
	return pol
}

// defaultPhoneOptions are the phone settings of the tests: Japan, line
// type lookups, a call offered (not placed) after an undelivered SMS, and
// budgets of 3 codes per user an hour.
func defaultPhoneOptions(t idp.Telephony, publicURL string) idp.PhoneOptions {
	return idp.PhoneOptions{
		Telephony: t, PublicURL: publicURL, DefaultRegion: "JP", VoiceFallback: "offer",
		LineTypeLookup: true, SIMSwapLookup: false,
		Budgets: idp.PhoneBudgets{PerUser: 3, PerNumber: 5, PerPrefix: 50, PerCountry: 500, PerIP: 10,
			DailySpend: 50, SMSCost: 0.01, VoiceCost: 0.03},
	}
}

// newPhoneFixture starts a provider with pol and phone codes through a
// fake Twilio; edit changes the phone options.
func newPhoneFixture(t *testing.T, pol mfa.Policy, edit func(*idp.PhoneOptions), opts ...idptest.Option) *phoneFixture {
	t.Helper()
	fake := twiliotest.New(t)
	client, err := twilio.New(twilio.Config{
		AccountSID: fake.AccountSID, AuthToken: fake.AuthToken,
		MessagingServiceSID: "MG" + strings.Repeat("0123456789abcdef", 2), VoiceFrom: "+15005550006",
		Transport: fake.Transport(), Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("twilio client: %v", err)
	}
	metrics := idp.NewMetrics(prometheus.NewRegistry())
	phone := idptest.WithProviderOptions(func(o *idp.Options) {
		o.Metrics = metrics
		// The test server's URL: the fake posts its callbacks there.
		o.Phone = defaultPhoneOptions(idp.TwilioTelephony(client, nil), o.Issuer)
		if edit != nil {
			edit(&o.Phone)
		}
	})
	f := newMFAFixture(t, append([]idptest.Option{idptest.WithPolicy(pol), phone}, opts...)...)
	return &phoneFixture{fixture: f, twilio: fake, metrics: metrics}
}

// addPhone submits the number form of the phone page, ticking the consent
// box when consent is set.
func addPhone(t testing.TB, b *idptest.Browser, page *idptest.Response, typed string, consent bool) *idptest.Response {
	t.Helper()
	set := map[string]string{"number": typed, "consent": "on"}
	if !consent {
		set["consent"] = ""
	}
	return submitForm(t, b, page, "/account/phone", nil, set)
}

// phoneForm opens the phone page of a browser signed in to the account.
func (f *phoneFixture) phoneForm(t testing.TB, b *idptest.Browser) *idptest.Response {
	t.Helper()
	page := b.Follow(b.Get(f.env.URL("/account/phone")))
	if page.Path() != "/account/phone" || page.Status != http.StatusOK {
		t.Fatalf("phone page: %s %d, want the number form\n%s", page.URL, page.Status, page.Body)
	}
	return page
}

// enrolPhone adds and verifies typed with the browser b, signed in to the
// account page recently enough, as the user would: the number and the
// consent, then the code from the SMS. It returns the account page.
func (f *phoneFixture) enrolPhone(t testing.TB, b *idptest.Browser, typed string) *idptest.Response {
	t.Helper()
	sent := len(f.twilio.Messages())
	verify := addPhone(t, b, f.phoneForm(t, b), typed, true)
	if verify.Status != http.StatusOK || !strings.Contains(verify.Body, `action="/account/phone/verify"`) {
		t.Fatalf("adding %s: %d, want the verification page\n%s", typed, verify.Status, verify.Body)
	}
	msgs := f.twilio.Messages()
	if len(msgs) != sent+1 {
		t.Fatalf("%d messages after adding a number, want %d", len(msgs), sent+1)
	}
	done := verifyPhone(t, b, verify, smsCode(t, msgs[len(msgs)-1].Body))
	if done.Path() != "/account" || !strings.Contains(done.Body, "The phone number was verified and added.") {
		t.Fatalf("verifying %s: %s %d, want the account page with the notice\n%s", typed, done.URL, done.Status, done.Body)
	}
	return done
}

// verifyPhone enters code on the verification page.
func verifyPhone(t testing.TB, b *idptest.Browser, page *idptest.Response, code string) *idptest.Response {
	t.Helper()
	return submitForm(t, b, page, "/account/phone/verify", map[string]string{"op": ""}, map[string]string{"code": code})
}

// withPhone is newPhoneFixture with the user's phone enrolled through the
// account page.
func withPhone(t *testing.T, pol mfa.Policy, edit func(*idp.PhoneOptions), opts ...idptest.Option) *phoneFixture {
	t.Helper()
	f := newPhoneFixture(t, pol, edit, opts...)
	b, _ := f.accountBrowser(t)
	f.enrolPhone(t, b, phoneTyped)
	return f
}

// phones is the user's phones as stored.
func (f *phoneFixture) phones(t testing.TB) []storage.Phone {
	t.Helper()
	ps, err := f.env.Store.ListPhones(context.Background(), f.user.ID)
	if err != nil {
		t.Fatalf("list phones: %v", err)
	}
	return ps
}

var (
	// boundLine is the SMS's origin-bound last line: "@host #123456".
	boundLine = regexp.MustCompile(`\n@([a-z0-9.-]+) #([0-9]{6})$`)
	sixDigits = regexp.MustCompile(`[0-9]{6}`)
)

// smsCode is the code of an SMS body, read as a phone's keyboard would:
// from the origin-bound last line, which must repeat the code of the text.
func smsCode(t testing.TB, body string) string {
	t.Helper()
	m := boundLine.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("SMS %q does not end with the origin-bound line @host #code", body)
	}
	if first := sixDigits.FindString(body); first != m[2] {
		t.Fatalf("SMS %q: the text says %s, the last line %s", body, first, m[2])
	}
	return m[2]
}

// callCode is the code a call reads out: the digits of each <Say> that
// holds six, which must happen exactly twice (read, then repeated).
func callCode(t testing.TB, c twiliotest.Call) string {
	t.Helper()
	var codes []string
	for _, s := range c.Says {
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, s.Text)
		if len(digits) == 6 {
			codes = append(codes, digits)
		}
	}
	if len(codes) != 2 || codes[0] != codes[1] {
		t.Fatalf("call says %+v, want the same six digits twice", c.Says)
	}
	return codes[0]
}

// spaced is a code as a call reads it in English: one digit at a time.
func spaced(code, sep string) string { return strings.Join(strings.Split(code, ""), sep) }

// lastSMS is the newest message the fake accepted.
func (f *phoneFixture) lastSMS(t testing.TB) twiliotest.Message {
	t.Helper()
	msgs := f.twilio.Messages()
	if len(msgs) == 0 {
		t.Fatal("no SMS was sent")
	}
	return msgs[len(msgs)-1]
}

// mfaPage opens an authorization request asking for mfa in b, signs in
// with the password when asked, and returns the page it lands on.
func (f *phoneFixture) mfaPage(t testing.TB, b *idptest.Browser, r *rp, a authRequest, extra ...oauth2.AuthCodeOption) *idptest.Response {
	t.Helper()
	opts := append([]oauth2.AuthCodeOption{oauth2.SetAuthURLParam("acr_values", acrMFA)}, extra...)
	page := b.Open(r.url(a, opts...))
	if page.Path() == "/login" {
		page = b.SubmitLogin(page, userEmail, userPassword)
	}
	return page
}

// sendCode presses the button of page that sends the code by factor's
// channel: "Text me a code", "Call me", a resend or "Call me instead".
func sendCode(t testing.TB, b *idptest.Browser, page *idptest.Response, factor mfa.Factor) *idptest.Response {
	t.Helper()
	return submitForm(t, b, page, "/mfa", map[string]string{"op": "send", "factor": string(factor)}, nil)
}

// txOf is the login transaction of a second-factor page.
func txOf(t testing.TB, page *idptest.Response) string {
	t.Helper()
	for _, fm := range page.Forms() {
		if tx := fm.Fields.Get("tx"); tx != "" {
			return tx
		}
	}
	t.Fatalf("no transaction on %s:\n%s", page.URL, page.Body)
	return ""
}

// reload fetches the second-factor page of the transaction for factor.
func (f *phoneFixture) reload(t testing.TB, b *idptest.Browser, tx string, factor mfa.Factor) *idptest.Response {
	t.Helper()
	return b.Get(f.env.URL("/mfa?tx=" + url.QueryEscape(tx) + "&factor=" + string(factor)))
}

// counter sums the series of a counter whose labels include want.
func counter(t testing.TB, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			match := true
			for k, v := range want {
				match = match && labels[k] == v
			}
			if match {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// postCallback posts a status callback to the provider as anyone could:
// form, the X-Twilio-Signature sig (none when empty) and host as the Host
// header. It returns the status.
func (f *phoneFixture) postCallback(t testing.TB, form url.Values, sig, host string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.env.URL("/phone/status"), strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if sig != "" {
		req.Header.Set("X-Twilio-Signature", sig)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("post callback: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// text is a page's body with character references decoded (the templates
// write "+" as &#43;).
func text(page *idptest.Response) string { return html.UnescapeString(page.Body) }

// mfaReq asks for acr mfa.
func mfaReq() oauth2.AuthCodeOption { return oauth2.SetAuthURLParam("acr_values", acrMFA) }

// wayTo is the link of the page's "try another way" list to factor, or ""
// (the language switcher's links, which may name a factor too, are not
// ways).
func wayTo(page *idptest.Response, factor mfa.Factor) string {
	i := strings.Index(page.Body, `<nav class="other-ways"`)
	if i < 0 {
		return ""
	}
	nav := page.Body[i:]
	if j := strings.Index(nav, "</nav>"); j >= 0 {
		nav = nav[:j]
	}
	m := regexp.MustCompile(`href="([^"]*factor=` + string(factor) + `)"`).FindStringSubmatch(nav)
	if m == nil {
		return ""
	}
	u, err := page.URL.Parse(html.UnescapeString(m[1]))
	if err != nil {
		return ""
	}
	return u.String()
}
