package idp_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/idp/idptest"
	"github.com/latchkey/latchkey/mfa"
)

// TestTOTPReplay: a code accepted once is refused in another sign-in in
// the same time step (and the refusal is audited); the next step's code
// works.
func TestTOTPReplay(t *testing.T) {
	f := newMFAFixture(t)
	auth := f.enrolTOTP(t)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	mfaReq := oauth2.SetAuthURLParam("acr_values", acrMFA)

	b1 := f.env.NewBrowser()
	a1 := newAuthRequest()
	page1 := b1.SubmitLogin(b1.Open(r.url(a1, mfaReq)), userEmail, userPassword)
	b2 := f.env.NewBrowser()
	a2 := newAuthRequest()
	page2 := b2.SubmitLogin(b2.Open(r.url(a2, mfaReq)), userEmail, userPassword)
	expectFactor(t, page1, mfa.TOTP)
	expectFactor(t, page2, mfa.TOTP)

	code := auth.code(t)
	r.exchange(a1, clientRedirect(t, enterCode(t, b1, page1, code)))
	replayed := enterCode(t, b2, page2, code)
	if replayed.Status != http.StatusUnauthorized || mfaFactor(replayed) != string(mfa.TOTP) {
		t.Fatalf("replayed code: %s %d, want 401 on the code page\n%s", replayed.URL, replayed.Status, replayed.Body)
	}
	if evs := auditEvents(t, f.env, "mfa.replay_refused"); len(evs) != 1 || evs[0].UserID != f.user.ID || evs[0].ClientID != webClientID {
		t.Errorf("mfa.replay_refused events = %+v", evs)
	}
	tok := r.exchange(a2, clientRedirect(t, enterCode(t, b2, replayed, auth.code(t))))
	if tok.claims["acr"] != acrMFA {
		t.Errorf("acr = %v", tok.claims["acr"])
	}
}

// lockoutPolicy has small limits: two wrong codes void a challenge, three
// within the hour lock the factor for five minutes.
func lockoutPolicy() mfa.Policy {
	pol := mfa.DefaultPolicy()
	pol.Limits.MaxAttempts = 2
	pol.Limits.LockAfter = 3
	pol.Limits.LockWindow = mfa.Duration(time.Hour)
	pol.Limits.LockBase = mfa.Duration(5 * time.Minute)
	pol.Limits.LockMax = mfa.Duration(time.Hour)
	return pol
}

// TestLockout: wrong codes move the page on to the next factor instead of
// a dead end; enough of them lock the authenticator app for the user
// (audited), so the next sign-in starts with a recovery code; with no
// recovery code left the app is told the level is out of reach for now;
// when the lock ends the authenticator app works again.
func TestLockout(t *testing.T) {
	f := newMFAFixture(t, idptest.WithPolicy(lockoutPolicy()))
	auth := f.enrolTOTP(t)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b := f.env.NewBrowser()
	mfaReq := oauth2.SetAuthURLParam("acr_values", acrMFA)

	a := newAuthRequest()
	page := b.SubmitLogin(b.Open(r.url(a, mfaReq)), userEmail, userPassword)
	expectFactor(t, page, mfa.TOTP)
	page = enterCode(t, b, page, auth.wrong(t))
	if page.Status != http.StatusUnauthorized || mfaFactor(page) != string(mfa.TOTP) || !strings.Contains(page.Body, "That code is not right") {
		t.Fatalf("first wrong code: %d factor %q, want 401 and the code page again\n%s", page.Status, mfaFactor(page), page.Body)
	}
	page = enterCode(t, b, page, auth.wrong(t))
	if page.Status != http.StatusUnauthorized || mfaFactor(page) != string(mfa.RecoveryCode) ||
		!strings.Contains(page.Body, "Too many wrong codes for that method") {
		t.Fatalf("second wrong code: %d factor %q, want the recovery-code page with the try-another message\n%s", page.Status, mfaFactor(page), page.Body)
	}
	if otherWay(page, mfa.TOTP) != "" {
		t.Error("the void authenticator challenge is still offered")
	}
	// The void challenge refuses even the right code in this transaction.
	if res := b.Get(f.env.URL("/mfa?tx=" + page.Form().Fields.Get("tx") + "&factor=totp")); mfaFactor(res) != string(mfa.RecoveryCode) {
		t.Errorf("asking for the void factor by hand: factor %q, want recovery_code", mfaFactor(res))
	}
	if len(auditEvents(t, f.env, "mfa.locked")) != 0 {
		t.Fatal("two failures locked the factor (LockAfter is 3)")
	}
	if skipped := auditEvents(t, f.env, "mfa.skipped"); len(skipped) == 0 || skipped[0].Details["factor"] != string(mfa.TOTP) {
		t.Errorf("mfa.skipped events = %+v, want the void authenticator challenge", skipped)
	}

	// A new transaction: a new challenge, but the third failure locks.
	a = newAuthRequest()
	page = b.Open(r.url(a, mfaReq))
	expectFactor(t, page, mfa.TOTP)
	page = enterCode(t, b, page, auth.wrong(t))
	if mfaFactor(page) != string(mfa.RecoveryCode) || !strings.Contains(page.Body, "Too many wrong codes for that method") {
		t.Fatalf("locking failure: factor %q, want the recovery-code page\n%s", mfaFactor(page), page.Body)
	}
	locked := auditEvents(t, f.env, "mfa.locked")
	if len(locked) != 1 || locked[0].UserID != f.user.ID || locked[0].Details["factor"] != string(mfa.TOTP) {
		t.Fatalf("mfa.locked events = %+v", locked)
	}

	// Every new sign-in starts with a recovery code while the lock lasts,
	// in another browser too (the lock is the user's, in the store).
	b2 := f.env.NewBrowser()
	a = newAuthRequest()
	page = b2.SubmitLogin(b2.Open(r.url(a, mfaReq)), userEmail, userPassword)
	expectFactor(t, page, mfa.RecoveryCode)
	if otherWay(page, mfa.TOTP) != "" {
		t.Error("the locked authenticator app is offered")
	}

	// Without recovery codes the level cannot be reached until the lock
	// ends.
	if err := f.env.Store.ReplaceRecoveryCodes(context.Background(), f.user.ID, nil, f.env.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	a = newAuthRequest()
	loc := b.Authorize(r.url(a, mfaReq))
	expectAuthzError(t, loc, a, f.env.Issuer, "unmet_authentication_requirements")
	if d := loc.Query().Get("error_description"); !strings.Contains(d, "locked") {
		t.Errorf("error_description = %q, want it to say the methods are locked", d)
	}

	f.env.Clock.Advance(6 * time.Minute)
	a = newAuthRequest()
	tok := r.exchange(a, signInMFA(t, b, r.url(a, mfaReq), auth))
	if tok.claims["acr"] != acrMFA {
		t.Errorf("acr after the lock ended = %v", tok.claims["acr"])
	}
}

// TestSecondFactorRenewsSession: the session id changes when the session
// gains a factor, and the id from before the step-up is dead, so an id
// planted or stolen before the second factor never carries it.
func TestSecondFactorRenewsSession(t *testing.T) {
	f := newMFAFixture(t)
	auth := f.enrolTOTP(t)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b := f.env.NewBrowser()
	a := newAuthRequest()
	page := b.SubmitLogin(b.Open(r.url(a, oauth2.SetAuthURLParam("acr_values", acrMFA))), userEmail, userPassword)
	expectFactor(t, page, mfa.TOTP)
	const name = "latchkey_session"
	before := b.Cookie(name)
	tok := r.exchange(a, clientRedirect(t, enterCode(t, b, page, auth.code(t))))
	after := b.Cookie(name)
	if before == "" || after == "" || before == after {
		t.Fatalf("session cookie before and after the second factor: %q %q, want two different ids", before, after)
	}
	if tok.claims["sid"] == "" {
		t.Error("no sid")
	}

	// A browser holding the old id has no session at all.
	old := f.env.NewBrowser()
	base, _ := url.Parse(f.env.URL("/"))
	old.Client.Jar.SetCookies(base, []*http.Cookie{{Name: name, Value: before, Path: "/"}})
	a = newAuthRequest()
	expectAuthzError(t, old.Authorize(r.url(a, oauth2.SetAuthURLParam("prompt", "none"))), a, f.env.Issuer, "login_required")
}

// TestEnrolIsNotABypass: a user who has an authenticator app cannot use
// the first-time enrolment step to add another with the password alone.
func TestEnrolIsNotABypass(t *testing.T) {
	f := newMFAFixture(t)
	f.enrolTOTP(t)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b := f.env.NewBrowser()
	a := newAuthRequest()
	page := b.SubmitLogin(b.Open(r.url(a, oauth2.SetAuthURLParam("acr_values", acrMFA))), userEmail, userPassword)
	expectFactor(t, page, mfa.TOTP)
	txID := page.Form().Fields.Get("tx")

	res := b.Follow(b.Get(f.env.URL("/mfa/enrol?tx=" + url.QueryEscape(txID))))
	if strings.Contains(res.Body, `class="secret"`) || mfaFactor(res) != string(mfa.TOTP) {
		t.Fatalf("GET /mfa/enrol for a user with an app: %s %d, want the code page again\n%s", res.URL, res.Status, res.Body)
	}
	// A posted "first code" for a made-up enrolment changes nothing.
	fields := page.Form().Fields
	fields.Set("code", "123456")
	res = b.Follow(b.PostForm(f.env.URL("/mfa/enrol"), fields))
	if res.IsRedirect() {
		t.Fatalf("POST /mfa/enrol for a user with an app sent the browser to the client: %v", res.Location())
	}
	creds, err := f.env.Store.ListTOTP(context.Background(), f.user.ID)
	if err != nil || len(creds) != 1 {
		t.Errorf("credentials after the attempts: %d %v, want the one enrolled", len(creds), err)
	}
}

// TestSecondFactorForeignTransaction: another browser (here signed in as
// another user) cannot answer or even see a transaction's second factor,
// and bad input is a 4xx, never a 5xx.
func TestSecondFactorForeignTransaction(t *testing.T) {
	f := newMFAFixture(t)
	auth := f.enrolTOTP(t)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b := f.env.NewBrowser()
	a := newAuthRequest()
	page := b.SubmitLogin(b.Open(r.url(a, oauth2.SetAuthURLParam("acr_values", acrMFA))), userEmail, userPassword)
	expectFactor(t, page, mfa.TOTP)
	txID := page.Form().Fields.Get("tx")

	f.env.CreateUser("grace@example.test", "Grace Hopper", "another long password")
	other := f.env.NewBrowser()
	oa := newAuthRequest()
	other.Login(r.url(oa), "grace@example.test", "another long password")
	res := other.Get(f.env.URL("/mfa?tx=" + url.QueryEscape(txID)))
	if res.Status < 400 || res.Status >= 500 || mfaFactor(res) != "" {
		t.Errorf("another user's browser opening the transaction's second factor: %d, want a 4xx error page", res.Status)
	}
	// Its own CSRF token, ada's transaction and ada's right code.
	ownPage := other.Get(f.env.URL("/account"))
	csrf := ""
	for _, fm := range ownPage.Forms() {
		if v := fm.Fields.Get("csrf_token"); v != "" {
			csrf = v
		}
	}
	post := other.PostForm(f.env.URL("/mfa"), url.Values{"tx": {txID}, "factor": {"totp"}, "code": {auth.code(t)}, "csrf_token": {csrf}})
	if post.Status < 400 || post.Status >= 500 {
		t.Errorf("another user's browser answering the transaction: %d, want a 4xx", post.Status)
	}
	// The code was not spent: ada can still use it.
	if res := enterCode(t, b, page, auth.now(t)); !res.IsRedirect() {
		t.Errorf("ada's code after the foreign attempt: %s %d", res.URL, res.Status)
	}

	for _, u := range []string{"/mfa", "/mfa?tx=nope", "/mfa?tx=" + url.QueryEscape(txID) + "&factor=%00", "/mfa/enrol?tx=nope"} {
		if res := f.env.NewBrowser().Get(f.env.URL(u)); res.Status < 400 || res.Status >= 500 {
			t.Errorf("GET %s: %d, want 4xx", u, res.Status)
		}
	}
}

// TestHourlyBudget: each user may check only so many codes per factor per
// hour; when the budget is spent the page moves on to the next factor,
// and the budget comes back after the hour.
func TestHourlyBudget(t *testing.T) {
	pol := mfa.DefaultPolicy()
	// Two checks an hour. The enrolment's first code is counted apart
	// (wrong codes while adding an app must not lock the existing one).
	pol.Limits.HourlyBudget = 2
	pol.Limits.LockAfter = 100
	// The test moves the clock on by more than an hour.
	f := newMFAFixture(t, idptest.WithPolicy(pol), idptest.WithClock(idptest.NewClock(-3*time.Hour)))
	auth := f.enrolTOTP(t)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b := f.env.NewBrowser()
	mfaReq := oauth2.SetAuthURLParam("acr_values", acrMFA)

	a := newAuthRequest()
	page := b.SubmitLogin(b.Open(r.url(a, mfaReq)), userEmail, userPassword)
	page = enterCode(t, b, page, auth.wrong(t))
	expectFactor(t, page, mfa.TOTP)
	page = enterCode(t, b, page, auth.wrong(t))
	if mfaFactor(page) != string(mfa.RecoveryCode) {
		t.Fatalf("after the hour's budget of checks: factor %q, want recovery_code\n%s", mfaFactor(page), page.Body)
	}
	a = newAuthRequest()
	page = b.Open(r.url(a, mfaReq))
	expectFactor(t, page, mfa.RecoveryCode)

	f.env.Clock.Advance(61 * time.Minute)
	a = newAuthRequest()
	r.exchange(a, signInMFA(t, b, r.url(a, mfaReq), auth))
}

// TestEnrolAttemptsExhausted: after the challenge's wrong-code limit the
// enrolment page must not go on telling the user that a right code is
// wrong (and to check their clock): it either accepts it or says the
// attempts ran out.
func TestEnrolAttemptsExhausted(t *testing.T) {
	f := newMFAFixture(t)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b := f.env.NewBrowser()
	a := newAuthRequest()
	page := b.SubmitLogin(b.Open(r.url(a, oauth2.SetAuthURLParam("acr_values", acrMFA))), userEmail, userPassword)
	if page.Path() != "/mfa/enrol" {
		t.Fatalf("%s, want the enrolment page", page.URL)
	}
	auth := &authenticator{env: f.env, secret: manualKey(t, page)}
	for range mfa.DefaultPolicy().Limits.MaxAttempts {
		page = submitForm(t, b, page, "/mfa/enrol", nil, map[string]string{"code": auth.wrong(t)})
		if page.Status != http.StatusUnauthorized {
			t.Fatalf("wrong first code: %d, want 401", page.Status)
		}
	}
	page = submitForm(t, b, page, "/mfa/enrol", nil, map[string]string{"code": auth.now(t)})
	if page.Path() == "/mfa/enrol" && strings.Contains(page.Body, "That code is not right") {
		t.Errorf("the right code after %d wrong ones: %d %q, want it accepted or a too-many-attempts message",
			mfa.DefaultPolicy().Limits.MaxAttempts, page.Status, "That code is not right")
	}
}
