package idp_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/idp/idptest"
	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/mfa"
)

var recoveryCodeFormat = regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}$`)

// TestEnrolAtSignIn: a user without a second factor who signs in for an
// app that needs mfa sets up an authenticator app on the way (manual key,
// first code), is shown ten recovery codes once, and the app gets mfa.
func TestEnrolAtSignIn(t *testing.T) {
	f := newMFAFixture(t)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b := f.env.NewBrowser()
	a := newAuthRequest()
	page := b.SubmitLogin(b.Open(r.url(a, oauth2.SetAuthURLParam("acr_values", acrMFA))), userEmail, userPassword)
	if page.Path() != "/mfa/enrol" || page.Status != http.StatusOK {
		t.Fatalf("acr_values=mfa for a user without a second factor: %s %d, want the enrolment page\n%s", page.URL, page.Status, page.Body)
	}
	for _, want := range []string{"<svg", `href="otpauth://totp/`, `autocomplete="one-time-code"`} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("enrolment page lacks %s", want)
		}
	}
	auth := &authenticator{env: f.env, secret: manualKey(t, page)}

	// A wrong first code does not enrol anything.
	again := submitForm(t, b, page, "/mfa/enrol", nil, map[string]string{"code": auth.wrong(t)})
	if again.Status != http.StatusUnauthorized || manualKey(t, again) != auth.secret {
		t.Fatalf("wrong first code: %d, want 401 and the same key again", again.Status)
	}
	creds, err := f.env.Store.ListTOTP(context.Background(), f.user.ID)
	if err != nil || len(creds) != 1 || creds[0].Confirmed() {
		t.Fatalf("after a wrong first code: %+v %v, want one pending credential", creds, err)
	}

	notice := submitForm(t, b, again, "/mfa/enrol", nil, map[string]string{"code": auth.now(t)})
	codes := recoveryCodes(t, notice)
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes, want 10", len(codes))
	}
	for _, c := range codes {
		if !recoveryCodeFormat.MatchString(c) {
			t.Errorf("recovery code %q is not xxxxx-xxxxx in Crockford base32", c)
		}
	}
	if len(slices.Compact(slices.Sorted(slices.Values(codes)))) != 10 {
		t.Errorf("recovery codes repeat: %v", codes)
	}
	var cont string
	for _, l := range links(notice) {
		if strings.Contains(l, "/authorize/resume") {
			cont = l
		}
	}
	if cont == "" {
		t.Fatalf("no way on from the recovery codes:\n%s", notice.Body)
	}
	tok := r.exchange(a, clientRedirect(t, b.Follow(b.Get(cont))))
	checkAssurance(t, "after enrolment", tok.claims, acrMFA, wantMFAAMR, num(tok.claims["auth_time"]))

	// The app is the user's second factor from now on.
	b2 := f.env.NewBrowser()
	a = newAuthRequest()
	r.exchange(a, signInMFA(t, b2, r.url(a, oauth2.SetAuthURLParam("acr_values", acrMFA)), auth))
	if evs := auditEvents(t, f.env, "mfa.enrolled"); len(evs) != 1 || evs[0].UserID != f.user.ID {
		t.Errorf("mfa.enrolled events = %+v", evs)
	}
}

// TestEnrolAtSignInDisabled: when the policy does not let users enrol
// during sign-in, a user without a second factor cannot reach mfa and the
// app is told so, never silently given a password-level sign-in.
func TestEnrolAtSignInDisabled(t *testing.T) {
	pol := mfa.DefaultPolicy()
	pol.EnrolAtSignIn = false
	f := newMFAFixture(t, idptest.WithPolicy(pol))
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b := f.env.NewBrowser()
	a := newAuthRequest()
	res := b.SubmitLogin(b.Open(r.url(a, oauth2.SetAuthURLParam("acr_values", acrMFA))), userEmail, userPassword)
	expectAuthzError(t, clientRedirect(t, res), a, f.env.Issuer, "unmet_authentication_requirements")
	// The enrolment page is not reachable by hand either.
	a = newAuthRequest()
	res = b.Get(r.url(a, oauth2.SetAuthURLParam("acr_values", acrMFA)))
	for res.IsRedirect() && strings.HasPrefix(res.Location().String(), f.env.Issuer) {
		res = b.Get(res.Location().String())
	}
	expectAuthzError(t, clientRedirect(t, res), a, f.env.Issuer, "unmet_authentication_requirements")
}

// TestRecoveryCodeSignIn: "try another way" leads to a recovery code; the
// notice says how many remain; a code works once; recovery codes publish
// amr otp.
func TestRecoveryCodeSignIn(t *testing.T) {
	f := newMFAFixture(t)
	auth := f.enrolTOTP(t)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	mfaReq := oauth2.SetAuthURLParam("acr_values", acrMFA)

	// recoveryPage signs in with the password in a new browser and takes
	// the other way to the recovery-code form.
	recoveryPage := func(a authRequest) (*idptest.Browser, *idptest.Response) {
		t.Helper()
		b := f.env.NewBrowser()
		page := b.SubmitLogin(b.Open(r.url(a, mfaReq)), userEmail, userPassword)
		expectFactor(t, page, mfa.TOTP)
		other := otherWay(page, mfa.RecoveryCode)
		if other == "" {
			t.Fatalf("no way to a recovery code on the second-factor page:\n%s", page.Body)
		}
		page = b.Get(other)
		expectFactor(t, page, mfa.RecoveryCode)
		if strings.Contains(page.Body, `name="remember"`) {
			t.Error("a recovery code offers to remember the browser")
		}
		if otherWay(page, mfa.TOTP) == "" {
			t.Error("the recovery-code page has no way back to the authenticator app")
		}
		return b, page
	}

	a := newAuthRequest()
	b, page := recoveryPage(a)
	notice := enterCode(t, b, page, auth.codes[0])
	if !strings.Contains(notice.Body, "You used a recovery code") || !strings.Contains(notice.Body, "You have 9 left") {
		t.Fatalf("after a recovery code: %s %d, want the notice with 9 left\n%s", notice.URL, notice.Status, notice.Body)
	}
	var cont string
	for _, l := range links(notice) {
		if strings.Contains(l, "/authorize/resume") {
			cont = l
		}
	}
	tok := r.exchange(a, clientRedirect(t, b.Follow(b.Get(cont))))
	checkAssurance(t, "recovery code", tok.claims, acrMFA, wantMFAAMR, num(tok.claims["auth_time"]))
	if evs := auditEvents(t, f.env, "recovery_code.used"); len(evs) != 1 || evs[0].Details["remaining"] != "9" {
		t.Errorf("recovery_code.used events = %+v", evs)
	}

	// The same code again is refused.
	a = newAuthRequest()
	b, page = recoveryPage(a)
	refused := enterCode(t, b, page, auth.codes[0])
	if refused.Status != http.StatusUnauthorized || mfaFactor(refused) != string(mfa.RecoveryCode) ||
		!strings.Contains(refused.Body, "That code is not right") {
		t.Fatalf("a used recovery code: %s %d, want 401 on the recovery-code page\n%s", refused.URL, refused.Status, refused.Body)
	}
	// Another one, typed sloppily (upper case, no dash), works.
	sloppy := strings.ToUpper(strings.ReplaceAll(auth.codes[1], "-", ""))
	notice = enterCode(t, b, refused, sloppy)
	if !strings.Contains(notice.Body, "You have 8 left") {
		t.Fatalf("second recovery code: %s %d\n%s", notice.URL, notice.Status, notice.Body)
	}
}

// TestRememberBrowser: with the policy's consent, a browser remembered
// after the authenticator code stands in for it at the next sign-in
// (amr rba), never for phr, and forgetting it on the account page brings
// the code back.
func TestRememberBrowser(t *testing.T) {
	pol := mfa.DefaultPolicy()
	pol.Remember.Enabled = true
	f := newMFAFixture(t, idptest.WithPolicy(pol))
	auth := f.enrolTOTP(t)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	mfaReq := oauth2.SetAuthURLParam("acr_values", acrMFA)
	const cookie = "latchkey_remember"

	b := f.env.NewBrowser()
	a := newAuthRequest()
	page := b.SubmitLogin(b.Open(r.url(a, mfaReq)), userEmail, userPassword)
	expectFactor(t, page, mfa.TOTP)
	if !strings.Contains(page.Body, `name="remember"`) {
		t.Fatalf("no remember checkbox with Remember.Enabled:\n%s", page.Body)
	}
	// A recovery code is for getting back in, not for trusting a browser.
	if rc := b.Get(otherWay(page, mfa.RecoveryCode)); mfaFactor(rc) != string(mfa.RecoveryCode) || strings.Contains(rc.Body, `name="remember"`) {
		t.Errorf("recovery-code page: factor %q, remember offered %v", mfaFactor(rc), strings.Contains(rc.Body, `name="remember"`))
	}
	r.exchange(a, clientRedirect(t, enterCode(t, b, page, auth.code(t), "remember", "on")))
	remembered := b.Cookie(cookie)
	if remembered == "" {
		t.Fatal("no remember cookie")
	}

	// later is the same browser on another day: the session is gone, the
	// remember cookie is not.
	base, _ := url.Parse(f.env.URL("/"))
	later := func() *idptest.Browser {
		nb := f.env.NewBrowser()
		nb.Client.Jar.SetCookies(base, []*http.Cookie{{Name: cookie, Value: remembered, Path: "/"}})
		return nb
	}
	b2 := later()
	a = newAuthRequest()
	res := b2.SubmitLogin(b2.Open(r.url(a, mfaReq)), userEmail, userPassword)
	tok := r.exchange(a, clientRedirect(t, res))
	if tok.claims["acr"] != acrMFA || !slices.Contains(strs(tok.claims["amr"]), "rba") || !slices.Contains(strs(tok.claims["amr"]), "pwd") {
		t.Errorf("remembered browser: acr %v amr %v, want mfa with pwd and rba", tok.claims["acr"], tok.claims["amr"])
	}
	if slices.Contains(strs(tok.claims["amr"]), "otp") {
		t.Errorf("amr %v claims a code nobody entered", tok.claims["amr"])
	}

	// A remembered browser never counts for phr.
	a = newAuthRequest()
	expectAuthzError(t, b2.Authorize(r.url(a, oauth2.SetAuthURLParam("acr_values", acrPHR))), a, f.env.Issuer,
		"unmet_authentication_requirements")

	// Another user's sign-in in this browser does not inherit it.
	f.env.CreateUser("grace@example.test", "Grace Hopper", "another long password")
	b3 := later()
	a = newAuthRequest()
	res = b3.SubmitLogin(b3.Open(r.url(a, mfaReq)), "grace@example.test", "another long password")
	if res.Path() != "/mfa/enrol" {
		t.Errorf("another user in a browser remembered for ada: %s, want grace's own enrolment", res.URL)
	}

	// The account page lists the browser as this one; forgetting it
	// brings the code back.
	acct := b2.Follow(b2.Get(f.env.URL("/account")))
	if acct.Path() != "/account" || !strings.Contains(acct.Body, "(this browser)") {
		t.Fatalf("account page of the remembered browser: %s %d\n%s", acct.URL, acct.Status, acct.Body)
	}
	done := submitForm(t, b2, acct, "/account/browsers/forget", nil, nil)
	if done.Path() != "/account" || !strings.Contains(done.Body, "The browser was forgotten") {
		t.Fatalf("forget browser: %s %d\n%s", done.URL, done.Status, done.Body)
	}
	if evs := auditEvents(t, f.env, "remembered_browser.revoked"); len(evs) != 1 {
		t.Errorf("remembered_browser.revoked events = %+v", evs)
	}
	b4 := later()
	a = newAuthRequest()
	page = b4.SubmitLogin(b4.Open(r.url(a, mfaReq)), userEmail, userPassword)
	expectFactor(t, page, mfa.TOTP)
}

// TestMFAAudited: the decision (with its trace), the offer, a failure and
// the pass of a second factor are all audit events of the user and client.
func TestMFAAudited(t *testing.T) {
	f := newMFAFixture(t)
	auth := f.enrolTOTP(t)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b := f.env.NewBrowser()
	a := newAuthRequest()
	page := b.SubmitLogin(b.Open(r.url(a, oauth2.SetAuthURLParam("acr_values", acrMFA))), userEmail, userPassword)
	page = enterCode(t, b, page, auth.wrong(t))
	r.exchange(a, clientRedirect(t, enterCode(t, b, page, auth.code(t))))

	mine := func(typ string) []storage.AuditEvent {
		t.Helper()
		var out []storage.AuditEvent
		for _, e := range auditEvents(t, f.env, typ) {
			if e.UserID == f.user.ID && e.ClientID == webClientID {
				out = append(out, e)
			}
		}
		if len(out) == 0 {
			t.Errorf("no %s event for the user and client", typ)
		}
		return out
	}
	decisions := mine("mfa.decision")
	challenged := false
	for _, d := range decisions {
		if d.Details["trace"] == "" || d.Details["outcome"] == "" {
			t.Errorf("mfa.decision without outcome or trace: %+v", d.Details)
		}
		if d.Details["outcome"] == string(mfa.Challenge) && d.Details["target"] == acrMFA && strings.Contains(d.Details["offer"], "totp") {
			challenged = true
		}
	}
	if !challenged {
		t.Errorf("no decision to challenge for mfa offering totp among %+v", decisions)
	}
	for _, typ := range []string{"mfa.offered", "mfa.failed", "mfa.passed"} {
		for _, e := range mine(typ) {
			if e.Details["factor"] != string(mfa.TOTP) {
				t.Errorf("%s factor = %q, want totp", typ, e.Details["factor"])
			}
		}
	}
	if n := len(mine("mfa.failed")); n != 1 {
		t.Errorf("%d mfa.failed events, want 1", n)
	}
	for _, e := range mine("authorize.granted") {
		if e.Details["acr"] != acrMFA {
			t.Errorf("authorize.granted acr = %q", e.Details["acr"])
		}
	}
	// No event holds the code or the secret.
	all, err := f.env.Store.ListAudit(context.Background(), storage.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range all {
		for k, v := range e.Details {
			if strings.Contains(v, auth.secret) || (len(v) == 6 && strings.Trim(v, "0123456789") == "") {
				t.Errorf("audit %s detail %s = %q looks like a secret or a code", e.Type, k, v)
			}
		}
	}
}

// TestThirdPartyStepUp: a third-party client asking for mfa gets the
// password, the code, then consent (the consent follows the renewed
// session), and acr mfa.
func TestThirdPartyStepUp(t *testing.T) {
	f := newMFAFixture(t)
	auth := f.enrolTOTP(t)
	pr := f.partner(t, "openid", "profile")
	b := f.env.NewBrowser()
	a := newAuthRequest()
	page := b.SubmitLogin(b.Open(pr.url(a, oauth2.SetAuthURLParam("acr_values", acrMFA))), userEmail, userPassword)
	expectFactor(t, page, mfa.TOTP)
	page = enterCode(t, b, page, auth.code(t))
	tok := pr.exchange(a, b.SubmitConsent(page, "allow").Location())
	checkAssurance(t, "third party", tok.claims, acrMFA, wantMFAAMR, num(tok.claims["auth_time"]))
}
