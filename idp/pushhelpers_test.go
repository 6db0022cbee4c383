package idp_test

import (
	"context"
	"encoding/json"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/latchkey/latchkey/idp"
	"github.com/latchkey/latchkey/idp/idptest"
	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/mfa"
	"github.com/latchkey/latchkey/mfa/push"
	"github.com/latchkey/latchkey/mfa/push/pushtest"
	"github.com/latchkey/latchkey/mfa/push/webpush"
	"github.com/latchkey/latchkey/mfa/push/webpush/webpushtest"
	"github.com/latchkey/latchkey/mfa/twilio"
	"github.com/latchkey/latchkey/mfa/twilio/twiliotest"
)

// firefoxUA is the sign-in browser's User-Agent in the push tests: the
// device shows it as "Firefox on Windows".
const firefoxUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"

// pushFixture is the phone fixture (SMS and voice through a fake Twilio)
// with push approval through the real Web Push sender to a fake push
// service, whose decrypted pushes the reference devices read.
type pushFixture struct {
	*phoneFixture
	service *webpushtest.Server
	// vapid is the provider's VAPID public key; devices subscribe with it
	// as a browser does, so a push signed with another key is refused.
	vapid string
	// devices enrolled so far, newest last: a step-up on the account page
	// is approved with the newest.
	devices []*pushtest.Device
}

// answerStepUp completes the account page's step-up the way the user
// would with their newest factor: approving the push on the newest
// device, or the SMS code.
func (f *pushFixture) answerStepUp(t testing.TB, b *idptest.Browser, page *idptest.Response) *idptest.Response {
	t.Helper()
	if pushNumberRe.MatchString(page.Body) && len(f.devices) > 0 {
		d := f.devices[len(f.devices)-1]
		det := fetch(t, d, nextPush(t, d).ChallengeID)
		if _, err := d.Approve(context.Background(), det, pushNumber(t, page)); err != nil {
			t.Fatalf("approve the step-up: %v", err)
		}
		_, next := pushStatus(t, b, page)
		return b.Follow(b.Get(next))
	}
	page = sendCode(t, b, page, mfa.SMS)
	return b.Follow(enterCode(t, b, page, smsCode(t, f.lastSMS(t).Body)))
}

// newPushFixture starts a provider on a clock an hour behind (as every
// mfa fixture), with phonePolicy (order passkey, push, TOTP, SMS, voice),
// phone codes (budgets raised so that the push tests never meet them
// unless phoneEdit lowers them) and push approval; pushEdit changes the
// push options.
func newPushFixture(t testing.TB, pushEdit func(*idp.PushOptions), phoneEdit func(*idp.PhoneOptions), opts ...idptest.Option) *pushFixture {
	t.Helper()
	service := webpushtest.New(t)
	vapidKey, _, err := webpush.GenerateVAPIDKey()
	if err != nil {
		t.Fatal(err)
	}
	sender, err := webpush.New(webpush.Config{
		VAPIDPrivateKey: vapidKey, Subject: "mailto:ops@example.test",
		AllowedHosts: []string{service.Host()}, Transport: service.Transport(),
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("web push sender: %v", err)
	}
	tw := twiliotest.New(t)
	client, err := twilio.New(twilio.Config{
		AccountSID: tw.AccountSID, AuthToken: tw.AuthToken,
		MessagingServiceSID: "MG" + strings.Repeat("0123456789abcdef", 2), VoiceFrom: "+15005550006",
		Transport: tw.Transport(), Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("twilio client: %v", err)
	}
	metrics := idp.NewMetrics(prometheus.NewRegistry())
	setup := idptest.WithProviderOptions(func(o *idp.Options) {
		o.Metrics = metrics
		o.Phone = defaultPhoneOptions(idp.TwilioTelephony(client, nil), o.Issuer)
		o.Phone.Budgets.PerUser, o.Phone.Budgets.PerNumber, o.Phone.Budgets.PerIP = 50, 50, 50
		if phoneEdit != nil {
			phoneEdit(&o.Phone)
		}
		o.Push = idp.PushOptions{
			Senders:        map[string]push.Sender{push.ChannelWebPush: sender},
			VAPIDPublicKey: sender.PublicKey(),
		}
		if pushEdit != nil {
			pushEdit(&o.Push)
		}
	})
	f := newMFAFixture(t, append([]idptest.Option{idptest.WithPolicy(phonePolicy()), setup}, opts...)...)
	return &pushFixture{
		phoneFixture: &phoneFixture{fixture: f, twilio: tw, metrics: metrics},
		service:      service, vapid: sender.PublicKey(),
	}
}

// pushUser says which factors withPushDevice gives the user besides the
// push device.
type pushUser struct {
	totp  bool // an authenticator app
	phone bool // a verified phone (phoneTyped)
}

// withPushDevice is newPushFixture whose user enrolled a push device from
// the account page, and then the factors of u. It returns the device and
// the authenticator app (nil without one).
func withPushDevice(t testing.TB, u pushUser, pushEdit func(*idp.PushOptions), phoneEdit func(*idp.PhoneOptions), opts ...idptest.Option) (*pushFixture, *pushtest.Device, *authenticator) {
	t.Helper()
	f := newPushFixture(t, pushEdit, phoneEdit, opts...)
	// Once the user has a second factor, adding another needs a fresh
	// step-up with it: the authenticator app first (with the password
	// alone), then one step-up in the account session covers the rest.
	var auth *authenticator
	if u.totp {
		auth = f.enrolTOTP(t)
	}
	b, _ := f.accountSession(t)
	if auth != nil {
		page := b.Follow(b.Get(f.env.URL("/account/phone")))
		if page.Path() == "/mfa" {
			// The enrolment used this time step's code.
			f.env.Clock.Advance(30 * time.Second)
			page = b.Follow(enterCode(t, b, page, auth.now(t)))
		}
		if page.Path() != "/account/phone" && page.Path() != "/account" {
			t.Fatalf("step-up with the authenticator app: %s %d\n%s", page.URL, page.Status, page.Body)
		}
	}
	if u.phone {
		f.enrolPhone(t, b, phoneTyped)
	}
	dev := f.enrolDevice(t, b)
	return f, dev, auth
}

// accountSession signs in to the account page with the password in a new
// browser: fresh enough to add a push device for ten minutes.
func (f *pushFixture) accountSession(t testing.TB) (*idptest.Browser, *idptest.Response) {
	t.Helper()
	b := f.env.NewBrowser()
	page := b.SubmitLogin(b.Open(f.env.URL("/account")), userEmail, userPassword)
	if page.Path() != "/account" || page.Status != http.StatusOK {
		t.Fatalf("account page after sign-in: %s %d\n%s", page.URL, page.Status, page.Body)
	}
	return b, page
}

// newDevice is a phone with the companion app: its own key, a Web Push
// subscription for the provider's VAPID key, the provider's clock, and
// no cookies.
func (f *pushFixture) newDevice(t testing.TB, name string) *pushtest.Device {
	t.Helper()
	d, err := pushtest.New(pushtest.Config{
		Service: f.service, ApplicationServerKey: f.vapid, Now: f.env.Clock.Now,
		Client: &http.Client{}, Name: name,
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var (
	enrolHref = regexp.MustCompile(`href="([^"]*/authenticator#enrol=[^"]*)"`)
	appLink   = regexp.MustCompile(`<code class="secret"[^>]*>(latchkey-push://[^<]*)</code>`)
)

// enrolLink opens the account page's "add a push device" page in b and
// returns the link of its QR code (the https form, with #enrol=<token>),
// after checking the native-app form on the page names the same issuer
// and token.
func (f *pushFixture) enrolLink(t testing.TB, b *idptest.Browser) string {
	t.Helper()
	page := b.Follow(b.Get(f.env.URL("/account/push")))
	if page.Path() == "/mfa" {
		page = f.answerStepUp(t, b, page)
	}
	if page.Path() != "/account/push" || page.Status != http.StatusOK || !strings.Contains(page.Body, "<svg") {
		t.Fatalf("push enrolment page: %s %d, want the QR code\n%s", page.URL, page.Status, page.Body)
	}
	m := enrolHref.FindStringSubmatch(page.Body)
	n := appLink.FindStringSubmatch(page.Body)
	if m == nil || n == nil {
		t.Fatalf("no enrolment links on the page:\n%s", page.Body)
	}
	link := html.UnescapeString(m[1])
	iss, token, err := push.ParseEnrolmentLink(link)
	iss2, token2, err2 := push.ParseEnrolmentLink(html.UnescapeString(n[1]))
	if err != nil || err2 != nil || iss != f.env.Issuer || iss2 != iss || token2 != token {
		t.Fatalf("enrolment links %q (%s, %v) and %q (%s, %v), want both for %s with one token", link, iss, err, n[1], iss2, err2, f.env.Issuer)
	}
	return link
}

// enrolDevice enrols a new device from a QR code shown to b, which must
// be signed in to the account page.
func (f *pushFixture) enrolDevice(t testing.TB, b *idptest.Browser) *pushtest.Device {
	t.Helper()
	return f.enrolNamed(t, b, "Ada's phone")
}

func (f *pushFixture) enrolNamed(t testing.TB, b *idptest.Browser, name string) *pushtest.Device {
	t.Helper()
	d := f.newDevice(t, name)
	st, err := d.Enrol(context.Background(), f.enrolLink(t, b))
	if err != nil {
		t.Fatalf("enrol %s: %v", name, err)
	}
	f.devices = append(f.devices, d)
	silence := f.env.Options.Push.MaxSilence
	if silence == 0 {
		silence = 30 * 24 * time.Hour // the default
	}
	if !st.PushReady || st.Device != d.ID() || st.HeartbeatWithin != int64(silence/time.Second) {
		t.Fatalf("enrolment answer %+v, want %s push-ready, heartbeat within %s", st, d.ID(), silence)
	}
	return d
}

// pushPage opens an authorization request asking for mfa in b (signing in
// with the password when asked) and expects the push page: the number,
// with the push sent.
func (f *pushFixture) pushPage(t testing.TB, b *idptest.Browser, r *rp, a authRequest) *idptest.Response {
	t.Helper()
	page := f.mfaPage(t, b, r, a)
	expectFactor(t, page, mfa.Push)
	return page
}

var pushNumberRe = regexp.MustCompile(`<p class="number" id="push-number"[^>]*>([0-9]+)</p>`)

// pushNumber is the number the push page shows: two digits.
func pushNumber(t testing.TB, page *idptest.Response) string {
	t.Helper()
	m := pushNumberRe.FindStringSubmatch(page.Body)
	if m == nil || len(m[1]) != 2 {
		t.Fatalf("no two-digit number on %s:\n%s", page.URL, page.Body)
	}
	return m[1]
}

var statusURLRe = regexp.MustCompile(`data-status-url="([^"]+)"`)

// pushStatus asks the push page's status URL how the push is going, as
// its script does but without waiting (wait=0), and returns the status
// and where the page goes next ("" while it waits).
func pushStatus(t testing.TB, b *idptest.Browser, page *idptest.Response) (status, next string) {
	t.Helper()
	m := statusURLRe.FindStringSubmatch(page.Body)
	if m == nil {
		t.Fatalf("no status URL on %s:\n%s", page.URL, page.Body)
	}
	u, err := page.URL.Parse(html.UnescapeString(m[1]) + "&wait=0")
	if err != nil {
		t.Fatal(err)
	}
	res := b.Get(u.String())
	if res.Status != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("push status: %d %s\n%s", res.Status, res.Header.Get("Content-Type"), res.Body)
	}
	var body struct{ Status, Next string }
	if err := json.Unmarshal([]byte(res.Body), &body); err != nil {
		t.Fatalf("push status %q: %v", res.Body, err)
	}
	if body.Next != "" {
		nu, err := page.URL.Parse(body.Next)
		if err != nil {
			t.Fatal(err)
		}
		body.Next = nu.String()
	}
	return body.Status, body.Next
}

// nextPush is the device's next push, which must have arrived.
func nextPush(t testing.TB, d *pushtest.Device) push.Message {
	t.Helper()
	m, ok, err := d.NextPush()
	if err != nil || !ok {
		t.Fatalf("device %s: no push (%v)", d.ID(), err)
	}
	return m
}

// noPush fails the test if d has a push it has not read.
func noPush(t testing.TB, d *pushtest.Device) {
	t.Helper()
	if m, ok, err := d.NextPush(); ok || err != nil {
		t.Fatalf("device %s got a push %+v (%v), want none", d.ID(), m, err)
	}
}

// fetch fetches a challenge's details with d, which must succeed.
func fetch(t testing.TB, d *pushtest.Device, id string) push.ChallengeDetails {
	t.Helper()
	det, err := d.Fetch(context.Background(), id)
	if err != nil {
		t.Fatalf("fetch %s: %v", id, err)
	}
	return det
}

// expectCode fails the test unless err is the protocol error code (with
// attempts_left left when left >= 0).
func expectCode(t testing.TB, what string, err error, code string, left int) {
	t.Helper()
	if got := pushtest.Code(err); got != code {
		t.Fatalf("%s: %v, want %s", what, err, code)
	}
	if got := pushtest.AttemptsLeft(err); left >= 0 && got != left {
		t.Fatalf("%s: attempts_left %d, want %d", what, got, left)
	}
}

// challenge is a push challenge as stored.
func (f *pushFixture) challenge(t testing.TB, id string) storage.PushChallenge {
	t.Helper()
	ch, err := f.env.Store.GetPushChallenge(context.Background(), id)
	if err != nil {
		t.Fatalf("get push challenge %s: %v", id, err)
	}
	return ch
}

// device is a push device as stored.
func (f *pushFixture) device(t testing.TB, id string) storage.PushDevice {
	t.Helper()
	d, err := f.env.Store.GetPushDevice(context.Background(), id)
	if err != nil {
		t.Fatalf("get push device %s: %v", id, err)
	}
	return d
}

// pushes is latchkey_pushes_total for outcome.
func (f *pushFixture) pushes(t testing.TB, outcome string) float64 {
	t.Helper()
	return counter(t, f.metrics.Registry, "latchkey_pushes_total", map[string]string{"outcome": outcome})
}

// fallbacks is latchkey_push_fallbacks_total: for reason, or all reasons
// when reason is "".
func (f *pushFixture) fallbacks(t testing.TB, reason string) float64 {
	t.Helper()
	want := map[string]string{}
	if reason != "" {
		want["reason"] = reason
	}
	return counter(t, f.metrics.Registry, "latchkey_push_fallbacks_total", want)
}

// smsCount is how many SMS the fake Twilio accepted.
func (f *pushFixture) smsCount() int { return len(f.twilio.Messages()) }

// expectSMSPage fails the test unless page is the SMS page with a code
// already sent.
func expectSMSPage(t testing.TB, page *idptest.Response) {
	t.Helper()
	expectFactor(t, page, mfa.SMS)
	if !strings.Contains(text(page), "We texted a code to "+phoneMasked) {
		t.Fatalf("SMS page without a code sent:\n%s", page.Body)
	}
}

// statusPath is the path and factor of a next URL.
func nextOf(t testing.TB, next string) (path, factor string) {
	t.Helper()
	u, err := url.Parse(next)
	if err != nil {
		t.Fatal(err)
	}
	return u.Path, u.Query().Get("factor")
}
