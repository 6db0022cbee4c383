package idp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/mfa"
	"github.com/latchkey/latchkey/mfa/push"
	"github.com/latchkey/latchkey/mfa/push/pushtest"
)

// TestPushApprove: with acr_values=mfa a user with a push device is shown
// a two-digit number and the device gets a content-free push; its fetch
// (the acknowledgement) tells it the app, account and browser and three
// choices, one of them the number, never the number itself; approving
// with the number moves the waiting page on, and the id_token says pwd,
// swk (the device's software key) and mfa per RFC 8176, at acr mfa.
func TestPushApprove(t *testing.T) {
	ctx := context.Background()
	f, dev, _ := withPushDevice(t, pushUser{totp: true}, nil, nil)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b := f.env.NewBrowser()
	withHeader(b, "User-Agent", firefoxUA)
	a := newAuthRequest()
	page := f.pushPage(t, b, r, a)
	number := pushNumber(t, page)
	if !strings.Contains(page.Body, "Approve the sign-in on your phone") {
		t.Errorf("push page without its heading:\n%s", page.Body)
	}
	// Another way is there from the first second.
	if wayTo(page, mfa.TOTP) == "" {
		t.Error("no way to the authenticator app from the push page")
	}

	m := nextPush(t, dev)
	if m.Issuer != f.env.Issuer {
		t.Fatalf("push %+v, want from %s", m, f.env.Issuer)
	}
	if st, next := pushStatus(t, b, page); st != storage.PushPending || next != "" {
		t.Fatalf("status before the device fetched: %s %q, want pending and no next", st, next)
	}

	det := fetch(t, dev, m.ChallengeID)
	raw := dev.Last().Body
	if det.App != "Web App" || det.Account != userEmail || det.Browser != "Firefox on Windows" || det.IP != "127.0.0.1" {
		t.Errorf("details %+v, want Web App, %s, Firefox on Windows, 127.0.0.1", det, userEmail)
	}
	if !slices.Contains(det.Choices, number) || det.ExpiresIn <= 0 || det.ExpiresIn > 120 {
		t.Errorf("choices %v (the page shows %s), expires_in %d", det.Choices, number, det.ExpiresIn)
	}
	// The device refuses members the protocol does not list; the number
	// is not one of them.
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil || members["number"] != nil || members["choices"] == nil {
		t.Errorf("fetch response %s", raw)
	}
	// Fetching again shows the same choices and nonce.
	if again := fetch(t, dev, m.ChallengeID); !slices.Equal(again.Choices, det.Choices) || again.Nonce != det.Nonce {
		t.Errorf("second fetch %+v, first %+v", again, det)
	}
	if st, next := pushStatus(t, b, page); st != storage.PushDelivered || next != "" {
		t.Fatalf("status after the fetch: %s %q, want delivered and still waiting", st, next)
	}

	if _, err := dev.Approve(ctx, det, number); err != nil {
		t.Fatalf("approve: %v", err)
	}
	st, next := pushStatus(t, b, page)
	if path, factor := nextOf(t, next); st != storage.PushApproved || path != "/mfa" || factor != "push" {
		t.Fatalf("status after approval: %s %q, want approved and on to /mfa?factor=push", st, next)
	}
	tok := r.exchange(a, clientRedirect(t, b.Follow(b.Get(next))))
	checkAssurance(t, "id_token", tok.claims, acrMFA, []string{"pwd", "swk", "mfa"}, num(tok.claims["auth_time"]))

	if evs := auditEvents(t, f.env, "push.sent"); len(evs) != 1 || evs[0].Details["device"] != dev.ID() || evs[0].Details["channel"] != push.ChannelWebPush {
		t.Errorf("push.sent events = %+v", evs)
	}
	if evs := auditEvents(t, f.env, "push.approved"); len(evs) != 1 || evs[0].UserID != f.user.ID {
		t.Errorf("push.approved events = %+v", evs)
	}
	var evs []storage.AuditEvent
	for _, e := range auditEvents(t, f.env, "mfa.passed") {
		if e.ClientID != "" { // not the account page's step-ups while setting up
			evs = append(evs, e)
		}
	}
	if len(evs) != 1 || evs[0].Details["factor"] != "push" || evs[0].Details["credential"] != dev.ID() {
		t.Errorf("mfa.passed events = %+v", evs)
	}
	for outcome, want := range map[string]float64{"sent": 1, "delivered": 1, "approved": 1, "failed": 0, "timed_out": 0} {
		if got := f.pushes(t, outcome); got != want {
			t.Errorf("latchkey_pushes_total{outcome=%q} = %v, want %v", outcome, got, want)
		}
	}
	if got := f.fallbacks(t, ""); got != 0 {
		t.Errorf("latchkey_push_fallbacks_total = %v after an approval, want 0", got)
	}
	// The push service saw the message as Web Push wants it: encrypted
	// for the subscription, urgent, short-lived, signed with the
	// provider's VAPID key.
	ps := f.service.PushesTo(dev.Subscription())
	if len(ps) != 1 || ps[0].Urgency != "high" || ps[0].TTL != 120 || ps[0].VAPIDKey != f.vapid {
		t.Errorf("pushes = %+v", ps)
	}
}

// TestPushWrongNumber: three typed wrong numbers end the challenge
// (attempts_left 2, then 1, then challenge_ended) and the sign-in moves to
// the next factor, the SMS sent at once; a decoy (a choice that is not the
// number) ends a challenge at the first try.
func TestPushWrongNumber(t *testing.T) {
	ctx := context.Background()
	f, dev, _ := withPushDevice(t, pushUser{phone: true}, nil, nil)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)

	t.Run("typed", func(t *testing.T) {
		b := f.env.NewBrowser()
		a := newAuthRequest()
		page := f.pushPage(t, b, r, a)
		number := pushNumber(t, page)
		det := fetch(t, dev, nextPush(t, dev).ChallengeID)
		var typed []string
		for i, want := range []struct {
			code string
			left int
		}{{"wrong_number", 2}, {"wrong_number", 1}, {"challenge_ended", -1}} {
			n := pushtest.WrongNumber(det.Choices, number, typed...)
			typed = append(typed, n)
			_, err := dev.Approve(ctx, det, n)
			expectCode(t, "wrong number "+n, err, want.code, want.left)
			if i < 2 {
				if st, next := pushStatus(t, b, page); next != "" {
					t.Fatalf("after %d wrong numbers the page moved on: %s %s", i+1, st, next)
				}
			}
		}
		// The right number is too late now.
		_, err := dev.Approve(ctx, det, number)
		expectCode(t, "the right number after three wrong ones", err, "challenge_ended", -1)
		if ch := f.challenge(t, det.Challenge); ch.Status != storage.PushFailed || ch.WrongNumbers != push.MaxWrongNumbers {
			t.Errorf("challenge %s with %d wrong numbers, want failed with %d", ch.Status, ch.WrongNumbers, push.MaxWrongNumbers)
		}
		sent := f.smsCount()
		st, next := pushStatus(t, b, page)
		if path, factor := nextOf(t, next); st != storage.PushFailed || path != "/mfa" || factor != "" {
			t.Fatalf("status: %s %q, want failed and on to /mfa", st, next)
		}
		sms := b.Follow(b.Get(next))
		expectSMSPage(t, sms)
		if f.smsCount() != sent+1 {
			t.Fatalf("%d SMS after the push failed, want %d: the code goes out without a click", f.smsCount(), sent+1)
		}
		if wayTo(sms, mfa.Push) != "" {
			t.Error("the failed push is still offered in this sign-in")
		}
		tok := r.exchange(a, clientRedirect(t, enterCode(t, b, sms, smsCode(t, f.lastSMS(t).Body))))
		checkAssurance(t, "id_token", tok.claims, acrMFA, []string{"pwd", "sms", "mfa"}, num(tok.claims["auth_time"]))
		if evs := auditEvents(t, f.env, "push.wrong_number"); len(evs) != 3 || evs[0].Details["wrong"] != "3" {
			t.Errorf("push.wrong_number events = %+v", evs)
		}
	})

	t.Run("decoy", func(t *testing.T) {
		b := f.env.NewBrowser()
		page := f.pushPage(t, b, r, newAuthRequest())
		number := pushNumber(t, page)
		det := fetch(t, dev, nextPush(t, dev).ChallengeID)
		_, err := dev.Approve(ctx, det, pushtest.Decoy(det.Choices, number))
		expectCode(t, "a decoy", err, "challenge_ended", -1)
		_, err = dev.Approve(ctx, det, number)
		expectCode(t, "the right number after a decoy", err, "challenge_ended", -1)
		if ch := f.challenge(t, det.Challenge); ch.Status != storage.PushFailed || ch.WrongNumbers != 0 {
			t.Errorf("challenge %s with %d wrong numbers, want failed at once", ch.Status, ch.WrongNumbers)
		}
		sent := f.smsCount()
		st, next := pushStatus(t, b, page)
		if st != storage.PushFailed || next == "" {
			t.Fatalf("status after a decoy: %s %q, want failed and a next page", st, next)
		}
		expectSMSPage(t, b.Follow(b.Get(next)))
		if f.smsCount() != sent+1 {
			t.Errorf("%d SMS, want %d", f.smsCount(), sent+1)
		}
	})
	if got := f.pushes(t, "wrong_number"); got != 4 {
		t.Errorf("latchkey_pushes_total{outcome=wrong_number} = %v, want 4 (three typed, one decoy)", got)
	}
}

// TestPushDeny: "deny" ends the push for this sign-in, which moves on to
// the authenticator app; push is not locked: the next sign-in gets a push
// again. The account page lists the denial.
func TestPushDeny(t *testing.T) {
	ctx := context.Background()
	f, dev, auth := withPushDevice(t, pushUser{totp: true}, nil, nil)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b := f.env.NewBrowser()
	a := newAuthRequest()
	page := f.pushPage(t, b, r, a)
	det := fetch(t, dev, nextPush(t, dev).ChallengeID)
	if _, err := dev.Deny(ctx, det); err != nil {
		t.Fatalf("deny: %v", err)
	}
	st, next := pushStatus(t, b, page)
	if st != storage.PushDenied || next == "" {
		t.Fatalf("status after deny: %s %q, want denied and a next page", st, next)
	}
	other := b.Follow(b.Get(next))
	expectFactor(t, other, mfa.TOTP)
	if wayTo(other, mfa.Push) != "" {
		t.Error("the denied push is offered again in this sign-in")
	}
	// Asking for push by hand does not send another one.
	if again := b.Follow(b.Get(f.env.URL("/mfa?tx=" + txOf(t, other) + "&factor=push"))); mfaFactor(again) == "push" {
		t.Error("/mfa?factor=push after a deny shows the push page again")
	}
	noPush(t, dev)
	tok := r.exchange(a, clientRedirect(t, enterCode(t, b, other, auth.code(t))))
	checkAssurance(t, "id_token", tok.claims, acrMFA, wantMFAAMR, num(tok.claims["auth_time"]))

	// No lock: another sign-in is sent a push.
	b2 := f.env.NewBrowser()
	f.pushPage(t, b2, r, newAuthRequest())
	nextPush(t, dev)

	if got := f.pushes(t, "denied"); got != 1 {
		t.Errorf("latchkey_pushes_total{outcome=denied} = %v, want 1", got)
	}
	_, account := f.accountSession(t)
	if !strings.Contains(account.Body, "A sign-in was denied on your phone") {
		t.Errorf("the account page does not list the denial:\n%s", account.Body)
	}
}

// TestPushNotMe: "this wasn't me" ends the sign-in (its transaction is
// unusable), locks push for the user (the next sign-in is not sent a push
// but offered the authenticator app) for an hour, and shows on the
// account page as a security event.
func TestPushNotMe(t *testing.T) {
	ctx := context.Background()
	f, dev, _ := withPushDevice(t, pushUser{totp: true}, nil, nil)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	attacker := f.env.NewBrowser()
	page := f.pushPage(t, attacker, r, newAuthRequest())
	tx := txOf(t, page)
	det := fetch(t, dev, nextPush(t, dev).ChallengeID)
	if _, err := dev.NotMe(ctx, det); err != nil {
		t.Fatalf("not me: %v", err)
	}
	if ch := f.challenge(t, det.Challenge); ch.Status != storage.PushNotMe {
		t.Errorf("challenge %s, want not_me", ch.Status)
	}
	// The transaction is over: neither the page nor its status go on.
	for _, u := range []string{"/mfa?tx=" + tx, "/mfa?tx=" + tx + "&factor=totp", "/mfa/push/status?tx=" + tx + "&wait=0"} {
		if res := attacker.Follow(attacker.Get(f.env.URL(u))); res.Status != http.StatusBadRequest || res.IsRedirect() {
			t.Errorf("%s after 'not me': %d %s, want 400", u, res.Status, res.URL)
		}
	}
	// A new sign-in (the attacker knows the password) is not sent a push.
	next := f.mfaPage(t, attacker, r, newAuthRequest())
	expectFactor(t, next, mfa.TOTP)
	if wayTo(next, mfa.Push) != "" {
		t.Error("push is offered while locked")
	}
	noPush(t, dev)

	evs := auditEvents(t, f.env, "push.reported")
	if len(evs) != 1 || evs[0].UserID != f.user.ID || evs[0].Details["device"] != dev.ID() {
		t.Fatalf("push.reported events = %+v", evs)
	}
	if got := f.pushes(t, "not_me"); got != 1 {
		t.Errorf("latchkey_pushes_total{outcome=not_me} = %v, want 1", got)
	}
	_, account := f.accountSession(t)
	if !strings.Contains(account.Body, "A sign-in was reported as not you: push approval is paused") {
		t.Errorf("the account page does not show the report:\n%s", account.Body)
	}

	// After the lock (one hour) push is offered again.
	f.env.Clock.Advance(61 * time.Minute)
	f.pushPage(t, f.env.NewBrowser(), r, newAuthRequest())
	nextPush(t, dev)
}

// TestPushReplay: the same signed approval posted twice is refused as a
// replay; a second device of the user cannot fetch or answer the first
// one's challenge; the push goes to the device heard from last.
func TestPushReplay(t *testing.T) {
	ctx := context.Background()
	f, first, _ := withPushDevice(t, pushUser{}, nil, nil)
	b, _ := f.accountSession(t)
	second := f.enrolNamed(t, b, "Ada's tablet")
	// The first device is heard from last: it gets the push.
	f.env.Clock.Advance(time.Second)
	if st, err := first.Heartbeat(ctx); err != nil || !st.PushReady {
		t.Fatalf("heartbeat: %+v %v", st, err)
	}

	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	browser := f.env.NewBrowser()
	a := newAuthRequest()
	page := f.pushPage(t, browser, r, a)
	number := pushNumber(t, page)
	m := nextPush(t, first)
	noPush(t, second)

	_, err := second.Fetch(ctx, m.ChallengeID)
	expectCode(t, "another device's fetch", err, "unknown_challenge", -1)
	det := fetch(t, first, m.ChallengeID)
	// Even knowing the nonce and the number, another key cannot answer.
	_, err = second.Approve(ctx, det, number)
	expectCode(t, "another device's approval", err, "unknown_challenge", -1)
	if ch := f.challenge(t, m.ChallengeID); ch.Status != storage.PushDelivered {
		t.Fatalf("challenge %s after the other device's answer, want still delivered", ch.Status)
	}

	if _, err := first.Approve(ctx, det, number); err != nil {
		t.Fatalf("approve: %v", err)
	}
	approval := first.Last()
	err = first.Post(ctx, "/push/answer", approval.JWS, http.StatusOK, nil)
	expectCode(t, "the approval replayed", err, "replayed_request", -1)
	if first.Last().Status != http.StatusBadRequest {
		t.Errorf("replay answered %d, want 400", first.Last().Status)
	}
	// A new request with the same decision finds the challenge answered.
	_, err = first.Approve(ctx, det, number)
	expectCode(t, "a second approval", err, "already_answered", -1)

	_, next := pushStatus(t, browser, page)
	r.exchange(a, clientRedirect(t, browser.Follow(browser.Get(next))))
	var passed []storage.AuditEvent
	for _, e := range auditEvents(t, f.env, "mfa.passed") {
		if e.ClientID != "" { // not the account page's step-up that added the tablet
			passed = append(passed, e)
		}
	}
	if len(passed) != 1 || passed[0].Details["credential"] != first.ID() {
		t.Errorf("mfa.passed events = %+v, want one for %s", passed, first.ID())
	}
}

// TestPushLateApproval: once the user moves on to the authenticator app,
// an approval of the push (by the right device, with the right number)
// is refused, and the app's code completes the sign-in with amr otp.
func TestPushLateApproval(t *testing.T) {
	ctx := context.Background()
	f, dev, auth := withPushDevice(t, pushUser{totp: true}, nil, nil)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b := f.env.NewBrowser()
	a := newAuthRequest()
	page := f.pushPage(t, b, r, a)
	number := pushNumber(t, page)
	det := fetch(t, dev, nextPush(t, dev).ChallengeID)

	totpPage := b.Follow(b.Get(wayTo(page, mfa.TOTP)))
	expectFactor(t, totpPage, mfa.TOTP)
	if ch := f.challenge(t, det.Challenge); ch.Status != storage.PushSuperseded {
		t.Fatalf("challenge %s after choosing the app, want superseded", ch.Status)
	}
	_, err := dev.Approve(ctx, det, number)
	expectCode(t, "a late approval", err, "challenge_expired", -1)
	if ch := f.challenge(t, det.Challenge); ch.Status != storage.PushSuperseded {
		t.Fatalf("challenge %s after the late approval, want still superseded", ch.Status)
	}
	// A late deny has nothing left to end: refused the same way, and not
	// counted or audited as a denial.
	_, err = dev.Deny(ctx, det)
	expectCode(t, "a late deny", err, "challenge_expired", -1)
	if evs := auditEvents(t, f.env, "push.denied"); len(evs) != 0 {
		t.Errorf("push.denied events after a late deny = %+v, want none", evs)
	}
	tok := r.exchange(a, clientRedirect(t, enterCode(t, b, totpPage, auth.code(t))))
	checkAssurance(t, "id_token", tok.claims, acrMFA, wantMFAAMR, num(tok.claims["auth_time"]))
	if got := f.pushes(t, "approved"); got != 0 {
		t.Errorf("latchkey_pushes_total{outcome=approved} = %v, want 0", got)
	}
}
