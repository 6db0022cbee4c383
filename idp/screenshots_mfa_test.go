package idp_test

import (
	"context"
	"net/http"
	"strings"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/idp"
	"github.com/latchkey/latchkey/idp/idptest"
	"github.com/latchkey/latchkey/idp/idptest/chrome"
	"github.com/latchkey/latchkey/idp/web"
	"github.com/latchkey/latchkey/mfa"
	"github.com/latchkey/latchkey/mfa/push"
)

// The screenshots of phone codes, push approval and the dev outbox
// (TestScreenshots walks them after the pages of screenshots_test.go).

// The companion app is shown in a phone's viewport (emulated: Chromium's
// window is never narrower than 500 pixels).
const (
	shotPhoneWidth  = 390
	shotPhoneHeight = 844
)

// shotSendBtn is the button of a second-factor page that sends a code.
const shotSendBtn = `form input[name="op"][value="send"] ~ .actions button`

var shotMFAPages = []shotPage{
	{name: "account-add-phone", path: "/account/phone", ready: "#number"},
	{name: "account-verify-phone", path: "/account/phone", ready: "#phone-sent"},
	{name: "account-add-push", path: "/account/push", ready: ".qr svg"},
	{name: "authenticator-enrol", path: "/authenticator", ready: "#enrol-button"},
	{name: "mfa-push", path: "/mfa", ready: "#push-number"},
	{name: "authenticator-request", path: "/authenticator", ready: "#choices button"},
	{name: "mfa-sms", path: "/mfa", ready: shotSendBtn},
	{name: "mfa-sms-sent", path: "/mfa", ready: "#call-instead"},
	{name: "mfa-sms-undelivered", path: "/mfa", ready: "#phone-undelivered"},
	{name: "mfa-voice", path: "/mfa", ready: "#phone-sent"},
	{name: "dev-outbox", path: "/dev/outbox", ready: "table.events"},
}

// walkMFA: the user adds a phone number and then the companion app on the
// account page; a sign-in then asks for the push, which the app shows,
// and the user turns to an SMS instead, which is not delivered, and then
// to a call. The provider has push approval through a fake push service
// and SMS and calls through a fake Twilio (newPushFixture), on the real
// clock, which the app signs its requests with.
func (s *shots) walkMFA() {
	t := s.t
	f := newPushFixture(t, nil, nil, idptest.WithLocalhost(),
		idptest.WithMiddleware(web.RequestID, web.SecurityHeaders(false)),
		idptest.WithClock(idptest.NewClock(0)))

	desk := s.browser()
	desk.Navigate(f.env.URL("/account"))
	desk.Type("email", userEmail)
	desk.Type("password", userPassword)
	desk.Press(chrome.Enter)
	desk.WaitVisible("#account-heading")
	desk.Navigate(f.env.URL("/account/phone"))
	s.shot(desk, "account-add-phone")
	desk.Type("number", phoneTyped)
	s.click(desk, "#consent")
	desk.Press(chrome.Enter)
	s.shot(desk, "account-verify-phone")
	desk.Type("code", smsCode(t, f.lastSMS(t).Body))
	desk.Press(chrome.Enter)
	desk.WaitVisible("#account-heading")

	// Adding a second factor once there is one asks for it again: the SMS.
	desk.Navigate(f.env.URL("/account/push"))
	if chrome.Eval[string](desk.Browser, "location.pathname") == "/mfa" {
		desk.WaitVisible(shotSendBtn)
		s.click(desk, shotSendBtn)
		desk.WaitVisible("#phone-sent") // the SMS went out
		desk.Type("code", smsCode(t, f.lastSMS(t).Body))
		desk.Press(chrome.Enter)
	}
	s.shot(desk, "account-add-push")
	link := chrome.Eval[string](desk.Browser, `document.querySelector('a[href*="/authenticator#enrol="]').href`)

	// The phone follows the QR code's link to the companion app.
	phone := s.browser()
	_, err := chromedp.Call(phone.Context(), emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: shotPhoneWidth, Height: shotPhoneHeight, DeviceScaleFactor: 1, Mobile: true,
	})
	if err != nil {
		t.Fatalf("phone: emulate its screen: %v", err)
	}
	app := &companionRig{browserRig: &browserRig{t: t, f: f.fixture}, phone: phone.Browser,
		service: f.service, vapid: f.vapid, workers: watchServiceWorkers(t, phone.Browser)}
	app.grantNotifications()
	phone.Navigate(link)
	s.shot(phone, "authenticator-enrol")
	s.click(phone, "#enrol-button")
	phone.WaitVisible("#view-device #device-id")
	// Headless Chromium gets no push subscription (see
	// TestBrowserPushCompanionApp): the phone is given one from the fake
	// push service, as its next heartbeat would report.
	sub := f.service.NewSubscriptionFor(f.vapid)
	err = f.env.Store.UpdatePushDeviceState(context.Background(), app.pushDevice().ID, "granted", sub.JSON,
		push.ChannelWebPush, f.env.Clock.Now().UTC())
	if err != nil {
		t.Fatalf("give the phone a push subscription: %v", err)
	}

	// A sign-in to an app that needs two factors: the push goes out, the
	// phone shows the request.
	s.forget(desk)
	q := authorizeQuery()
	q.Set("acr_values", acrMFA)
	desk.Navigate(f.env.URL("/authorize?" + q.Encode()))
	desk.Type("email", userEmail)
	desk.Type("password", userPassword)
	desk.Press(chrome.Enter)
	s.shot(desk, "mfa-push")
	pushes := f.service.PushesTo(sub)
	if len(pushes) != 1 {
		t.Fatalf("%d pushes to the phone, want 1", len(pushes))
	}
	app.deliver(pushes[0].Payload)
	s.shot(phone, "authenticator-request")
	if number := desk.Text("#push-number"); !phone.Has(`#choices button[data-number="` + number + `"]`) {
		t.Errorf("the phone's choices do not hold the sign-in page's number %s", number)
	}

	// Another way: a text message, which the carrier reports undelivered,
	// then a call.
	sms := chrome.Eval[string](desk.Browser, `document.querySelector('.other-ways a[href*="factor=sms"]').href`)
	desk.Navigate(sms)
	s.shot(desk, "mfa-sms")
	s.click(desk, shotSendBtn)
	s.shot(desk, "mfa-sms-sent")
	if status, err := f.twilio.Deliver(f.lastSMS(t).SID, "undelivered", 30003); err != nil || status != http.StatusNoContent {
		t.Fatalf("undelivered report: %d %v, want 204", status, err)
	}
	desk.Navigate(sms)
	s.shot(desk, "mfa-sms-undelivered")
	s.click(desk, "#call-instead")
	s.shot(desk, "mfa-voice")
	if calls := f.twilio.Calls(); len(calls) != 1 {
		t.Errorf("%d calls after 'call me instead', want 1", len(calls))
	}

	s.walkOutbox(desk)
}

// walkOutbox shows `latchkey dev`'s outbox with a phone's verification
// SMS and a sign-in's call, sent in the walk's language by a provider of
// its own whose telephony is the outbox.
func (s *shots) walkOutbox(b *shotTab) {
	t := s.t
	outbox := idp.NewOutbox(nil)
	of := newFixture(t, idptest.WithLocalhost(), idptest.WithPolicy(phonePolicy()),
		idptest.WithMiddleware(web.RequestID, web.SecurityHeaders(false)),
		idptest.WithProviderOptions(func(o *idp.Options) { o.Phone = defaultPhoneOptions(outbox, "") }),
		idptest.WithProviderRoutes(func(p *idp.Provider) []idp.Route { return []idp.Route{p.OutboxRoute(outbox)} }))
	f := &phoneFixture{fixture: of}
	acct, _ := of.accountBrowser(t)
	withHeader(acct, "Accept-Language", s.lang)
	verify := addPhone(t, acct, f.phoneForm(t, acct), phoneTyped, true)
	if done := verifyPhone(t, acct, verify, smsCode(t, outbox.Messages()[0].Text)); done.Path() != "/account" {
		t.Fatalf("verifying with the outbox's code: %s %d\n%s", done.URL, done.Status, done.Body)
	}
	signIn := of.env.NewBrowser()
	withHeader(signIn, "Accept-Language", s.lang)
	page := f.mfaPage(t, signIn, newRP(t, of.env, webClientID, of.webSecret, webRedirect), newAuthRequest())
	call := wayTo(page, mfa.Voice)
	if call == "" {
		t.Fatalf("no way to a call on the SMS page:\n%s", page.Body)
	}
	if sent := sendCode(t, signIn, signIn.Get(call), mfa.Voice); sent.Status != http.StatusOK {
		t.Fatalf("call me: %d\n%s", sent.Status, sent.Body)
	}
	if msgs := outbox.Messages(); len(msgs) != 2 || msgs[0].Channel != "voice" {
		t.Fatalf("outbox %+v, want an SMS and a call", msgs)
	}

	s.forget(b)
	b.Navigate(of.env.URL("/dev/outbox"))
	s.shot(b, "dev-outbox")
	if got := b.Text("table.events"); !strings.Contains(got, phoneE164) {
		t.Errorf("the outbox does not list the number %s:\n%s", phoneE164, got)
	}
}

// forget drops the browser's cookies: the next provider (every test
// server is on localhost, where cookies do not tell ports apart) sees a
// new browser.
func (s *shots) forget(b *shotTab) {
	s.t.Helper()
	if _, err := chromedp.Call(b.Context(), network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		s.t.Fatalf("browser: clear cookies: %v", err)
	}
}

// click clicks sel and moves the mouse out of the way, so that the next
// picture shows no element under the pointer as hovered.
func (s *shots) click(b *shotTab, sel string) {
	s.t.Helper()
	b.Click(sel)
	_, err := chromedp.Call(b.Context(), input.DispatchMouseEvent, input.DispatchMouseEventParams{Type: input.DispatchMouseEventTypeMouseMoved})
	if err != nil {
		s.t.Fatalf("browser: move the mouse away: %v", err)
	}
}
