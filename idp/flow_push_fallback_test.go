package idp_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/idp"
	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/mfa"
	"github.com/latchkey/latchkey/mfa/push"
)

// TestPushFallbackNotificationsDisabled: a device whose heartbeat says
// notifications are denied is not push-ready, so the sign-in skips push
// and the SMS is sent in the response that shows the second-factor page,
// with no click; a heartbeat granting them again brings push back.
func TestPushFallbackNotificationsDisabled(t *testing.T) {
	ctx := context.Background()
	f, dev, _ := withPushDevice(t, pushUser{phone: true}, nil, nil)
	dev.SetPermission(push.PermissionDenied)
	st, err := dev.Heartbeat(ctx)
	if err != nil || st.PushReady || st.Reason != push.ReasonPermission {
		t.Fatalf("heartbeat with notifications denied: %+v %v, want not ready for %s", st, err, push.ReasonPermission)
	}
	_, account := f.accountSession(t)
	if !strings.Contains(account.Body, "Notifications are turned off on this phone") {
		t.Errorf("the account page does not say why the device is not ready:\n%s", account.Body)
	}

	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b := f.env.NewBrowser()
	a := newAuthRequest()
	sent := f.smsCount()
	page := f.mfaPage(t, b, r, a)
	expectSMSPage(t, page)
	if f.smsCount() != sent+1 {
		t.Fatalf("%d SMS when the page was shown, want %d", f.smsCount(), sent+1)
	}
	if wayTo(page, mfa.Push) != "" {
		t.Error("push is offered though the device cannot show notifications")
	}
	noPush(t, dev)
	if reqs := f.service.Requests(); len(reqs) != 0 {
		t.Errorf("%d requests to the push service, want none", len(reqs))
	}
	// A status poll for this sign-in (a stale tab) has nothing to wait
	// for and says so rather than failing.
	if res := b.Get(f.env.URL("/mfa/push/status?wait=0&tx=" + txOf(t, page))); res.Status != http.StatusOK ||
		!strings.Contains(res.Body, `"status":"none"`) || !strings.Contains(res.Body, `"next":"/mfa?tx=`) {
		t.Errorf("push status of a sign-in without a push: %d %s", res.Status, res.Body)
	}
	if evs := auditEvents(t, f.env, "mfa.offered"); len(evs) == 0 || evs[0].Details["factor"] != "sms" || evs[0].Details["sent"] != "sms" {
		t.Errorf("mfa.offered events = %+v, want the SMS sent", evs)
	}
	tok := r.exchange(a, clientRedirect(t, enterCode(t, b, page, smsCode(t, f.lastSMS(t).Body))))
	checkAssurance(t, "id_token", tok.claims, acrMFA, []string{"pwd", "sms", "mfa"}, num(tok.claims["auth_time"]))

	dev.SetPermission(push.PermissionGranted)
	if st, err := dev.Heartbeat(ctx); err != nil || !st.PushReady {
		t.Fatalf("heartbeat granting notifications: %+v %v", st, err)
	}
	f.pushPage(t, f.env.NewBrowser(), r, newAuthRequest())
	nextPush(t, dev)
}

// TestPushFallbackUnregistered: the push service answers 410 Gone (the
// app was removed): the SMS goes out in the same response, the device is
// marked unregistered (the account page says so) and is not tried again;
// a heartbeat with the same subscription does not revive it, one with a
// new subscription does.
func TestPushFallbackUnregistered(t *testing.T) {
	ctx := context.Background()
	f, dev, _ := withPushDevice(t, pushUser{phone: true}, nil, nil)
	dev.Unsubscribe()
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b := f.env.NewBrowser()
	a := newAuthRequest()
	sent := f.smsCount()
	page := f.mfaPage(t, b, r, a)
	expectSMSPage(t, page)
	if f.smsCount() != sent+1 {
		t.Fatalf("%d SMS when the page was shown, want %d", f.smsCount(), sent+1)
	}
	reqs := f.service.RequestsTo(dev.Subscription())
	if len(reqs) != 1 || reqs[0].Status != http.StatusGone {
		t.Fatalf("push service requests %+v, want one answered 410", reqs)
	}
	d := f.device(t, dev.ID())
	if d.TokenValid || d.UnregisteredAt.IsZero() {
		t.Errorf("device after 410: token valid %v, unregistered at %v; want marked unregistered", d.TokenValid, d.UnregisteredAt)
	}
	if evs := auditEvents(t, f.env, "push.send_failed"); len(evs) != 1 || evs[0].Details["reason"] != "unregistered" {
		t.Errorf("push.send_failed events = %+v", evs)
	}
	if got := f.pushes(t, "failed"); got != 1 {
		t.Errorf("latchkey_pushes_total{outcome=failed} = %v, want 1", got)
	}
	if got := f.pushes(t, "sent"); got != 0 {
		t.Errorf("latchkey_pushes_total{outcome=sent} = %v, want 0", got)
	}
	if all, gone := f.fallbacks(t, ""), f.fallbacks(t, "unregistered"); all != 1 || gone != 1 {
		t.Errorf("latchkey_push_fallbacks_total = %v, {reason=unregistered} %v; want one fallback, for that reason", all, gone)
	}
	tok := r.exchange(a, clientRedirect(t, enterCode(t, b, page, smsCode(t, f.lastSMS(t).Body))))
	checkAssurance(t, "id_token", tok.claims, acrMFA, []string{"pwd", "sms", "mfa"}, num(tok.claims["auth_time"]))

	_, account := f.accountSession(t)
	if !strings.Contains(account.Body, "This phone can no longer receive notifications") {
		t.Errorf("the account page does not say the device is unreachable:\n%s", account.Body)
	}
	// The next sign-in does not try the gone subscription again.
	expectSMSPage(t, f.mfaPage(t, f.env.NewBrowser(), r, newAuthRequest()))
	if n := len(f.service.Requests()); n != 1 {
		t.Errorf("%d requests to the push service, want still 1", n)
	}

	// The same subscription again: still not ready.
	if st, err := dev.Heartbeat(ctx); err != nil || st.PushReady || st.Reason != push.ReasonToken {
		t.Fatalf("heartbeat with the gone subscription: %+v %v, want not ready for %s", st, err, push.ReasonToken)
	}
	// A new subscription: ready, and pushes reach it.
	dev.Resubscribe()
	if st, err := dev.Heartbeat(ctx); err != nil || !st.PushReady {
		t.Fatalf("heartbeat with a new subscription: %+v %v", st, err)
	}
	f.pushPage(t, f.env.NewBrowser(), r, newAuthRequest())
	nextPush(t, dev)
	if ps := f.service.PushesTo(dev.Subscription()); len(ps) != 1 {
		t.Errorf("%d pushes to the new subscription, want 1", len(ps))
	}
}

// TestPushFallbackNoAck: a push not acknowledged (fetched) within the ack
// timeout (15 s, on the provider's injected clock) gives way: the status
// the page polls says where to go, the SMS goes out there, and the late
// device can neither fetch the challenge nor approve it.
func TestPushFallbackNoAck(t *testing.T) {
	ctx := context.Background()
	f, dev, _ := withPushDevice(t, pushUser{phone: true}, nil, nil)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b := f.env.NewBrowser()
	a := newAuthRequest()
	page := f.pushPage(t, b, r, a)
	number := pushNumber(t, page)

	f.env.Clock.Advance(14 * time.Second)
	if st, next := pushStatus(t, b, page); st != storage.PushPending || next != "" {
		t.Fatalf("status 14 s after the push: %s %q, want pending and still waiting", st, next)
	}
	f.env.Clock.Advance(2 * time.Second)
	st, next := pushStatus(t, b, page)
	if path, factor := nextOf(t, next); st != storage.PushExpired || path != "/mfa" || factor != "" {
		t.Fatalf("status 16 s after the push: %s %q, want expired and on to /mfa", st, next)
	}
	sent := f.smsCount()
	sms := b.Follow(b.Get(next))
	expectSMSPage(t, sms)
	if f.smsCount() != sent+1 {
		t.Fatalf("%d SMS, want %d", f.smsCount(), sent+1)
	}
	if wayTo(sms, mfa.Push) != "" {
		t.Error("the unacknowledged push is still offered in this sign-in")
	}

	// The phone comes back online: the push is there, but too late.
	m := nextPush(t, dev)
	_, err := dev.Fetch(ctx, m.ChallengeID)
	expectCode(t, "a late fetch", err, "challenge_expired", -1)
	// Even with the nonce (as if the fetch had worked) and the number.
	ch := f.challenge(t, m.ChallengeID)
	det := push.ChallengeDetails{Challenge: ch.ID, Nonce: ch.Nonce}
	_, err = dev.Approve(ctx, det, number)
	expectCode(t, "a late approval", err, "challenge_expired", -1)
	if ch := f.challenge(t, m.ChallengeID); ch.Status != storage.PushExpired {
		t.Errorf("challenge %s, want expired", ch.Status)
	}
	if got := f.pushes(t, "timed_out"); got != 1 {
		t.Errorf("latchkey_pushes_total{outcome=timed_out} = %v, want 1", got)
	}
	if all, late := f.fallbacks(t, ""), f.fallbacks(t, "no acknowledgement"); all != 1 || late != 1 {
		t.Errorf("latchkey_push_fallbacks_total = %v, {reason=no acknowledgement} %v; want 1 and 1", all, late)
	}
	tok := r.exchange(a, clientRedirect(t, enterCode(t, b, sms, smsCode(t, f.lastSMS(t).Body))))
	checkAssurance(t, "id_token", tok.claims, acrMFA, []string{"pwd", "sms", "mfa"}, num(tok.claims["auth_time"]))
}

// TestPushSilentDevice: a device not heard from for longer than the
// configured silence (here an hour) is not sent pushes, the account page
// says why, and its next heartbeat makes it ready again.
func TestPushSilentDevice(t *testing.T) {
	ctx := context.Background()
	f, dev, _ := withPushDevice(t, pushUser{phone: true}, func(o *idp.PushOptions) { o.MaxSilence = time.Hour }, nil)
	f.env.Clock.Advance(61 * time.Minute)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	sent := f.smsCount()
	expectSMSPage(t, f.mfaPage(t, f.env.NewBrowser(), r, newAuthRequest()))
	if f.smsCount() != sent+1 {
		t.Fatalf("%d SMS, want %d", f.smsCount(), sent+1)
	}
	noPush(t, dev)
	_, account := f.accountSession(t)
	if !strings.Contains(account.Body, "Not heard from recently") {
		t.Errorf("the account page does not say the device is silent:\n%s", account.Body)
	}
	if st, err := dev.Heartbeat(ctx); err != nil || !st.PushReady || st.HeartbeatWithin != 3600 {
		t.Fatalf("heartbeat: %+v %v, want ready, heartbeat within 3600 s", st, err)
	}
	f.pushPage(t, f.env.NewBrowser(), r, newAuthRequest())
	nextPush(t, dev)
}

// TestPushBudget: push bombing. Five pushes per user in 15 minutes; the
// sixth sign-in in the window is not sent a push but an SMS, at once, and
// the account page shows that too many were asked for. After the window
// pushes go out again.
func TestPushBudget(t *testing.T) {
	f, dev, _ := withPushDevice(t, pushUser{phone: true}, nil, nil)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	for i := range 5 {
		page := f.pushPage(t, f.env.NewBrowser(), r, newAuthRequest())
		if pushNumber(t, page) == "" {
			t.Fatalf("sign-in %d without a number", i+1)
		}
		nextPush(t, dev)
	}
	sent := f.smsCount()
	page := f.mfaPage(t, f.env.NewBrowser(), r, newAuthRequest())
	expectSMSPage(t, page)
	if f.smsCount() != sent+1 {
		t.Fatalf("%d SMS, want %d", f.smsCount(), sent+1)
	}
	if wayTo(page, mfa.Push) != "" {
		t.Error("push offered past the budget")
	}
	noPush(t, dev)
	if n := len(f.service.PushesTo(dev.Subscription())); n != 5 {
		t.Errorf("%d pushes, want 5", n)
	}
	if evs := auditEvents(t, f.env, "push.budget_exceeded"); len(evs) != 1 || evs[0].UserID != f.user.ID {
		t.Errorf("push.budget_exceeded events = %+v, want one", evs)
	}
	if got := f.pushes(t, "budget"); got != 1 {
		t.Errorf("latchkey_pushes_total{outcome=budget} = %v, want 1", got)
	}
	if all, budget := f.fallbacks(t, ""), f.fallbacks(t, "push budget exhausted"); all != 1 || budget != 1 {
		t.Errorf("latchkey_push_fallbacks_total = %v, {reason=push budget exhausted} %v; want 1 and 1", all, budget)
	}
	_, account := f.accountSession(t)
	if !strings.Contains(account.Body, "Too many sign-in approvals requested") {
		t.Errorf("the account page does not show the push flood:\n%s", account.Body)
	}

	f.env.Clock.Advance(15*time.Minute + time.Second)
	f.pushPage(t, f.env.NewBrowser(), r, newAuthRequest())
	nextPush(t, dev)
}

// TestPushEnrolment: the QR code's token enrols one device, once, for
// five minutes; a key enrols once; requests must be fresh and for this
// issuer; heartbeats report the permission; a removed device is told it
// is unknown.
func TestPushEnrolment(t *testing.T) {
	ctx := context.Background()
	f := newPushFixture(t, nil, nil)
	b, _ := f.accountSession(t)
	link := f.enrolLink(t, b)
	dev := f.newDevice(t, "Ada's phone")
	if st, err := dev.Enrol(ctx, link); err != nil || !st.PushReady || dev.Last().Status != http.StatusCreated {
		t.Fatalf("enrol: %+v %v (status %d)", st, err, dev.Last().Status)
	}
	// From now on the account page's step-ups are approved with it.
	f.devices = append(f.devices, dev)
	if evs := auditEvents(t, f.env, "mfa.enrolled"); len(evs) != 1 || evs[0].Details["factor"] != "push" || evs[0].Details["credential"] != dev.ID() {
		t.Errorf("mfa.enrolled events = %+v", evs)
	}
	d := f.device(t, dev.ID())
	if d.UserID != f.user.ID || d.Name != "Ada's phone" || d.Platform != "web" || d.Channel != push.ChannelWebPush ||
		d.Token != dev.Subscription().JSON || !d.TokenValid || d.Permission != push.PermissionGranted {
		t.Errorf("stored device %+v", d)
	}

	_, err := f.newDevice(t, "Eve's phone").Enrol(ctx, link)
	expectCode(t, "the token a second time", err, "invalid_enrolment_token", -1)
	_, err = dev.Enrol(ctx, f.enrolLink(t, b))
	expectCode(t, "the same key again", err, "device_exists", -1)
	// With a push device, changing factors needs it: the second QR code
	// was shown only after a step-up to mfa, approved on the phone.
	if evs := auditEvents(t, f.env, "account.step_up_required"); len(evs) != 1 || evs[0].Details["level"] != "urn:latchkey:acr:mfa" {
		t.Errorf("account.step_up_required events = %+v, want one to mfa", evs)
	}
	late := f.enrolLink(t, b)
	f.env.Clock.Advance(6 * time.Minute)
	_, err = f.newDevice(t, "Ada's tablet").Enrol(ctx, late)
	expectCode(t, "a token six minutes old", err, "invalid_enrolment_token", -1)
	if ds, _ := f.env.Store.ListPushDevices(ctx, f.user.ID); len(ds) != 1 {
		t.Fatalf("%d devices, want 1", len(ds))
	}

	// Requests must be fresh, for this issuer, and never sent twice.
	stale := dev.Claims(push.KindHeartbeat)
	stale.Channel, stale.Permission = push.ChannelWebPush, push.PermissionGranted
	stale.IssuedAt -= int64((push.MaxSkew + time.Minute) / time.Second)
	expectCode(t, "a stale heartbeat", dev.Send(ctx, "/push/heartbeat", stale, http.StatusOK, nil), "stale_request", -1)
	other := dev.Claims(push.KindHeartbeat)
	other.Channel, other.Permission, other.Audience = push.ChannelWebPush, push.PermissionGranted, "https://id.example.com"
	expectCode(t, "a heartbeat for another issuer", dev.Send(ctx, "/push/heartbeat", other, http.StatusOK, nil), "invalid_request", -1)
	if _, err := dev.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	expectCode(t, "a heartbeat replayed", dev.Post(ctx, "/push/heartbeat", dev.Last().JWS, http.StatusOK, nil), "replayed_request", -1)

	// Permission: denied makes the device not ready, granted ready again.
	dev.SetPermission(push.PermissionDenied)
	if st, err := dev.Heartbeat(ctx); err != nil || st.PushReady || st.Reason != push.ReasonPermission {
		t.Fatalf("heartbeat, denied: %+v %v", st, err)
	}
	dev.SetPermission(push.PermissionGranted)
	if st, err := dev.Heartbeat(ctx); err != nil || !st.PushReady {
		t.Fatalf("heartbeat, granted: %+v %v", st, err)
	}
	account := b.Follow(b.Get(f.env.URL("/account")))
	if !strings.Contains(account.Body, "Ada&#39;s phone") || !strings.Contains(account.Body, "Ready") {
		t.Fatalf("the account page does not list the ready device:\n%s", account.Body)
	}

	// Removed on the account page: the device learns it is unknown.
	done := submitForm(t, b, account, "/account/push/remove", map[string]string{"id": dev.ID()}, nil)
	if done.Path() != "/account" || strings.Contains(done.Body, "Ada&#39;s phone") {
		t.Fatalf("after removing: %s %d\n%s", done.URL, done.Status, done.Body)
	}
	_, err = dev.Heartbeat(ctx)
	expectCode(t, "a heartbeat of a removed device", err, "unknown_device", -1)
	if dev.Last().Status != http.StatusUnauthorized {
		t.Errorf("unknown device answered %d, want 401", dev.Last().Status)
	}
	if evs := auditEvents(t, f.env, "mfa.removed"); len(evs) != 1 || evs[0].Details["factor"] != "push" {
		t.Errorf("mfa.removed events = %+v", evs)
	}
}
