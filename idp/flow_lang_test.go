package idp_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/idp"
	"github.com/latchkey/latchkey/idp/idptest"
	"github.com/latchkey/latchkey/mfa"
)

// TestErrorPageFooter: error pages end with the footer line every other hosted page
// has, naming the issuer.
func TestErrorPageFooter(t *testing.T) {
	f := newFixture(t)
	page := f.env.NewBrowser().Get(f.env.URL("/no-such-page"))
	_, footer, _ := strings.Cut(page.Body, `<footer class="site-footer">`)
	if page.Status != http.StatusNotFound || !strings.Contains(footer, f.env.Issuer) {
		t.Errorf("error page: %d, footer %q, want 404 and the issuer %s in the footer", page.Status, footer, f.env.Issuer)
	}
}

// TestAccountTOTPNameInPageLanguage: an authenticator app set up on an English page is
// listed under its default name in the language of the page showing it, here Japanese.
func TestAccountTOTPNameInPageLanguage(t *testing.T) {
	f := newMFAFixture(t)
	auth := f.enrolTOTP(t) // in an English browser
	b := f.env.NewBrowser()
	withHeader(b, "Accept-Language", "ja")
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	a := newAuthRequest()
	r.exchange(a, signInMFA(t, b, r.url(a, oauth2.SetAuthURLParam("acr_values", acrMFA)), auth))
	page := b.Follow(b.Get(f.env.URL("/account")))
	form := regexp.MustCompile(`(?s)<span class="row-main">([^<]*)</span>\s*<span class="row-meta">[^<]*</span>\s*<form method="post" action="/account/totp/remove"`).
		FindStringSubmatch(page.Body)
	if form == nil {
		t.Fatalf("no authenticator app on the account page:\n%s", page.Body)
	}
	if form[1] != "認証アプリ" || !strings.Contains(page.Body, `aria-label="認証アプリ を削除"`) {
		t.Errorf("Japanese account page names the app %q, want 認証アプリ (and in its remove button's label)", form[1])
	}
}

// langLink returns the language switcher's link to lang on page, resolved
// against the page's URL, or "" when the page has no switcher.
func langLink(page *idptest.Response, lang string) string {
	m := regexp.MustCompile(`<a href="([^"]*)" lang="` + regexp.QuoteMeta(lang) + `" hreflang="`).FindStringSubmatch(page.Body)
	if m == nil {
		return ""
	}
	u, err := page.URL.Parse(html.UnescapeString(m[1]))
	if err != nil {
		return ""
	}
	return u.String()
}

// switchLang follows page's switcher to lang and returns the page it leads
// to, failing the test unless that is a page (not a redirect, not an error)
// in lang.
func switchLang(t *testing.T, b *idptest.Browser, page *idptest.Response, lang string) *idptest.Response {
	t.Helper()
	link := langLink(page, lang)
	if link == "" {
		t.Fatalf("no switcher link to %s on %s (status %d):\n%s", lang, page.URL, page.Status, page.Body)
	}
	got := b.Get(link)
	if got.Status != http.StatusOK || !strings.Contains(got.Body, `<html lang="`+lang+`">`) {
		t.Fatalf("switcher link %s of %s: %d, want the page in %s:\n%s", link, page.URL, got.Status, lang, got.Body)
	}
	return got
}

// TestLangSwitchAfterWrongPassword: the switcher of the login page shown
// after a wrong password leads to the same sign-in (the transaction went in
// the form, not the URL), which goes on from there; also with the provider
// under a path of its issuer.
func TestLangSwitchAfterWrongPassword(t *testing.T) {
	for name, opts := range map[string][]idptest.Option{
		"root":      nil,
		"base path": {idptest.WithProviderOptions(func(o *idp.Options) { o.Issuer += "/idp" })},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, opts...)
			r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
			b := f.env.NewBrowser()
			a := newAuthRequest()
			login := b.Open(r.url(a))
			tx := login.Form().Fields.Get("tx")
			failed := b.SubmitLogin(login, userEmail, "not the password")
			if failed.Status != http.StatusUnauthorized {
				t.Fatalf("wrong password: %d, want 401", failed.Status)
			}
			ja := switchLang(t, b, failed, "ja")
			if ja.URL.String() != f.env.URL("/login")+"?lang=ja&tx="+url.QueryEscape(tx) || ja.Form().Fields.Get("tx") != tx ||
				!strings.Contains(ja.Body, "パスワード") {
				t.Fatalf("Japanese login page: %s, tx %q, want the login page in Japanese for tx %q:\n%s",
					ja.URL, ja.Form().Fields.Get("tx"), tx, ja.Body)
			}
			r.exchange(a, clientRedirect(t, b.SubmitLogin(ja, userEmail, userPassword)))
		})
	}
}

// TestLangSwitchAfterWrongCode: on the second-factor page after a wrong
// code, the switcher keeps the sign-in and the factor asked for.
func TestLangSwitchAfterWrongCode(t *testing.T) {
	f := newMFAFixture(t)
	auth := f.enrolTOTP(t)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b := f.env.NewBrowser()
	a := newAuthRequest()
	page := b.SubmitLogin(b.Open(r.url(a, oauth2.SetAuthURLParam("acr_values", acrMFA))), userEmail, userPassword)
	expectFactor(t, page, mfa.TOTP)
	tx := page.Form().Fields.Get("tx")

	wrong := enterCode(t, b, page, auth.wrong(t))
	if wrong.Status != http.StatusUnauthorized {
		t.Fatalf("wrong code: %d, want 401", wrong.Status)
	}
	ja := switchLang(t, b, wrong, "ja")
	expectFactor(t, ja, mfa.TOTP)
	if ja.Form().Fields.Get("tx") != tx || !strings.Contains(ja.Body, "認証アプリのコードを入力してください") {
		t.Fatalf("Japanese second-factor page: tx %q, want %q, in Japanese:\n%s", ja.Form().Fields.Get("tx"), tx, ja.Body)
	}

	// A factor other than the first one offered stays chosen.
	page = b.Get(otherWay(ja, mfa.RecoveryCode))
	expectFactor(t, page, mfa.RecoveryCode)
	wrong = enterCode(t, b, page, "aaaaa-aaaaa")
	if wrong.Status != http.StatusUnauthorized {
		t.Fatalf("wrong recovery code: %d, want 401", wrong.Status)
	}
	en := switchLang(t, b, wrong, "en")
	expectFactor(t, en, mfa.RecoveryCode)

	// The notice after a recovery code is not shown again by any GET: no
	// switcher to lose it by.
	notice := enterCode(t, b, en, auth.codes[0])
	if notice.Status != http.StatusOK || !strings.Contains(notice.Body, `id="notice-heading"`) {
		t.Fatalf("recovery code: %d, want the notice:\n%s", notice.Status, notice.Body)
	}
	if l := langLink(notice, "ja"); l != "" {
		t.Errorf("the notice after a recovery code links to %s", l)
	}
}

// TestLangSwitchKeepsFactorShown: when wrong codes move the second-factor
// page on to another factor, the switcher asks for the factor shown, not the
// one the form posted.
func TestLangSwitchKeepsFactorShown(t *testing.T) {
	f := newMFAFixture(t, idptest.WithPolicy(lockoutPolicy())) // two tries per challenge
	auth := f.enrolTOTP(t)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b := f.env.NewBrowser()
	page := b.SubmitLogin(b.Open(r.url(newAuthRequest(), oauth2.SetAuthURLParam("acr_values", acrMFA))), userEmail, userPassword)
	page = enterCode(t, b, enterCode(t, b, page, auth.wrong(t)), auth.wrong(t))
	expectFactor(t, page, mfa.RecoveryCode)
	link, err := url.Parse(langLink(page, "ja"))
	if err != nil || link.Query().Get("factor") != string(mfa.RecoveryCode) {
		t.Errorf("switcher link %v after the page moved on to a recovery code, want factor=recovery_code", link)
	}
	expectFactor(t, switchLang(t, b, page, "ja"), mfa.RecoveryCode)
}

// TestLangSwitchAfterWrongFirstCode: while setting up an authenticator app
// at sign-in, the switcher after a wrong first code shows the same key in
// the same sign-in; the recovery codes that follow, shown once, have no
// switcher.
func TestLangSwitchAfterWrongFirstCode(t *testing.T) {
	f := newMFAFixture(t)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b := f.env.NewBrowser()
	a := newAuthRequest()
	page := b.SubmitLogin(b.Open(r.url(a, oauth2.SetAuthURLParam("acr_values", acrMFA))), userEmail, userPassword)
	if page.Path() != "/mfa/enrol" {
		t.Fatalf("sign-in without a second factor: %s, want the enrolment page", page.URL)
	}
	auth := &authenticator{env: f.env, secret: manualKey(t, page)}
	tx := page.Forms()[0].Fields.Get("tx")

	again := submitForm(t, b, page, "/mfa/enrol", nil, map[string]string{"code": auth.wrong(t)})
	if again.Status != http.StatusUnauthorized {
		t.Fatalf("wrong first code: %d, want 401", again.Status)
	}
	ja := switchLang(t, b, again, "ja")
	if ja.Path() != "/mfa/enrol" || manualKey(t, ja) != auth.secret || ja.Forms()[0].Fields.Get("tx") != tx {
		t.Fatalf("Japanese enrolment page: %s, tx %q, want the same key for tx %q", ja.URL, ja.Forms()[0].Fields.Get("tx"), tx)
	}
	notice := submitForm(t, b, ja, "/mfa/enrol", nil, map[string]string{"code": auth.now(t)})
	recoveryCodes(t, notice)
	if l := langLink(notice, "en"); l != "" {
		t.Errorf("the recovery codes, shown once, link to %s", l)
	}
}

// TestLangSwitchOnAccountPages: adding an authenticator app on the account
// page, the switcher after a wrong first code shows the same key.
func TestLangSwitchOnAccountPages(t *testing.T) {
	f := newMFAFixture(t)
	b, _ := f.accountBrowser(t)
	enrol := b.Follow(b.Get(f.env.URL("/account/totp")))
	auth := &authenticator{env: f.env, secret: manualKey(t, enrol)}
	again := submitForm(t, b, enrol, "/account/totp", nil, map[string]string{"code": auth.wrong(t)})
	if again.Status != http.StatusUnauthorized {
		t.Fatalf("wrong first code: %d, want 401", again.Status)
	}
	ja := switchLang(t, b, again, "ja")
	if ja.Path() != "/account/totp" || manualKey(t, ja) != auth.secret {
		t.Fatalf("Japanese enrolment page: %s, want /account/totp with the same key", ja.URL)
	}
	notice := submitForm(t, b, ja, "/account/totp", nil, map[string]string{"code": auth.now(t)})
	recoveryCodes(t, notice)
	if l := langLink(notice, "en"); l != "" {
		t.Errorf("the recovery codes, shown once, link to %s", l)
	}
}

// TestLangSwitchOnLogoutPages: the signed-out page (the answer to the
// confirmation's POST) and the confirmation asked by a relying party's POST
// switch language at the end_session_endpoint, keeping the client.
func TestLangSwitchOnLogoutPages(t *testing.T) {
	f := newFixture(t)
	b, _, _ := f.signedIn(t)
	done := b.Submit(b.Get(logoutURL(f.env, url.Values{"client_id": {webClientID}})), nil)
	if done.Status != http.StatusOK || !strings.Contains(done.Body, msgSignedOut) {
		t.Fatalf("confirmed logout: %d, want the signed-out page", done.Status)
	}
	ja := switchLang(t, b, done, "ja")
	if !strings.Contains(ja.Body, "サインアウトが完了しました。") || !strings.Contains(ja.Body, "Web App") {
		t.Errorf("Japanese signed-out page:\n%s", ja.Body)
	}

	b, r, _ := f.signedIn(t)
	confirm := b.PostForm(f.env.URL("/logout"), url.Values{"client_id": {webClientID},
		"post_logout_redirect_uri": {webPostLogout}, "state": {"s2"}})
	if confirm.Status != http.StatusOK || confirm.Form() == nil {
		t.Fatalf("logout by POST without a hint: %d, want the confirmation page", confirm.Status)
	}
	ja = switchLang(t, b, confirm, "ja")
	if !hasSession(t, b, r) {
		t.Fatal("switching language signed the user out")
	}
	if resp := b.Submit(ja, nil); resp.Header.Get("Location") != webPostLogout+"?state=s2" {
		t.Errorf("confirming the Japanese page: %d Location %q, want the client's page with its state", resp.Status, resp.Header.Get("Location"))
	}
}

// TestLangSwitchAfterFailedPasskey: the pages shown again after a passkey
// that did not work (here: none sent, as when the browser gave up) switch
// language at the GET of their step.
func TestLangSwitchAfterFailedPasskey(t *testing.T) {
	f := newMFAFixture(t, idptest.WithLocalhost()) // WebAuthn refuses an IP address
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b := f.env.NewBrowser()
	a := newAuthRequest()
	login := b.Open(r.url(a, oauth2.SetAuthURLParam("acr_values", acrMFA)))
	tx := login.Form().Fields.Get("tx")

	failed := submitForm(t, b, login, "/login/passkey", nil, nil)
	if failed.Status != http.StatusBadRequest || failed.Path() != "/login/passkey" {
		t.Fatalf("passkey sign-in without a credential: %s %d, want the login page again", failed.URL, failed.Status)
	}
	ja := switchLang(t, b, failed, "ja")
	if ja.Path() != "/login" || ja.Form().Fields.Get("tx") != tx {
		t.Fatalf("switched page: %s, tx %q, want the login page for tx %q", ja.URL, ja.Form().Fields.Get("tx"), tx)
	}

	enrol := b.SubmitLogin(ja, userEmail, userPassword)
	if enrol.Path() != "/mfa/enrol" || !strings.Contains(enrol.Body, `action="/mfa/enrol/passkey"`) {
		t.Fatalf("sign-in without a second factor: %s, want the passkey set-up", enrol.URL)
	}
	failed = submitForm(t, b, enrol, "/mfa/enrol/passkey", nil, nil)
	if failed.Status != http.StatusBadRequest {
		t.Fatalf("passkey set-up without a credential: %d, want the set-up again", failed.Status)
	}
	en := switchLang(t, b, failed, "en")
	if en.Path() != "/mfa/enrol" || en.URL.Query().Get("tx") != tx || !strings.Contains(en.Body, `action="/mfa/enrol/passkey"`) {
		t.Fatalf("switched page: %s, want the passkey set-up of tx %q", en.URL, tx)
	}

	acct, _ := f.accountBrowser(t)
	add := acct.Follow(acct.Get(f.env.URL("/account/passkey")))
	failed = submitForm(t, acct, add, "/account/passkey", nil, nil)
	if failed.Status != http.StatusBadRequest {
		t.Fatalf("adding a passkey without a credential: %d, want the form again", failed.Status)
	}
	if ja := switchLang(t, acct, failed, "ja"); ja.Path() != "/account/passkey" {
		t.Errorf("switched page: %s, want /account/passkey", ja.URL)
	}
}

// TestLangSwitchOnPhonePages: adding a phone number, on the account page
// and at a sign-in's enrolment step, the pages answering the number's and
// the code's POSTs switch language at the GET of the number form (of the
// same sign-in), from which adding the number again still works.
func TestLangSwitchOnPhonePages(t *testing.T) {
	t.Run("account", func(t *testing.T) {
		f := newPhoneFixture(t, phonePolicy(), nil)
		b, _ := f.accountBrowser(t)
		refused := addPhone(t, b, f.phoneForm(t, b), phoneTyped, false)
		if refused.Status != http.StatusBadRequest {
			t.Fatalf("a number without consent: %d, want 400", refused.Status)
		}
		ja := switchLang(t, b, refused, "ja")
		if ja.Path() != "/account/phone" || !strings.Contains(ja.Body, `autocomplete="tel"`) || !strings.Contains(ja.Body, "電話番号を追加") {
			t.Fatalf("switched page: %s, want the number form in Japanese\n%s", ja.URL, ja.Body)
		}
		verify := addPhone(t, b, ja, phoneTyped, true)
		if verify.Status != http.StatusOK || !strings.Contains(verify.Body, `action="/account/phone/verify"`) {
			t.Fatalf("adding the number: %d, want the verification step\n%s", verify.Status, verify.Body)
		}
		if en := switchLang(t, b, verify, "en"); en.Path() != "/account/phone" || !strings.Contains(en.Body, `autocomplete="tel"`) {
			t.Errorf("switched verification step: %s, want the number form\n%s", en.URL, en.Body)
		}
		code := smsCode(t, f.lastSMS(t).Body)
		wrong := verifyPhone(t, b, verify, otherCode(code))
		if wrong.Status != http.StatusUnauthorized {
			t.Fatalf("wrong code: %d, want 401\n%s", wrong.Status, wrong.Body)
		}
		if en := switchLang(t, b, wrong, "en"); en.Path() != "/account/phone" {
			t.Errorf("switched page after a wrong code: %s, want /account/phone", en.URL)
		}
		if done := verifyPhone(t, b, wrong, code); done.Path() != "/account" {
			t.Errorf("the right code after switching: %s %d, want the account page", done.URL, done.Status)
		}
	})

	t.Run("sign-in", func(t *testing.T) {
		pol := phonePolicy()
		pol.EnrolAtSignIn = true
		pol.Enrollable = []mfa.Factor{mfa.TOTP, mfa.SMS}
		f := newPhoneFixture(t, pol, nil)
		r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
		b := f.env.NewBrowser()
		a := newAuthRequest()
		page := f.mfaPage(t, b, r, a) // the authenticator app's set-up, the first enrollable
		phoneWay := ""
		for _, l := range links(page) {
			if strings.Contains(l, "/mfa/enrol?") && strings.Contains(l, "factor=sms") {
				phoneWay = l
			}
		}
		if phoneWay == "" {
			t.Fatalf("no way to the phone set-up on %s:\n%s", page.URL, page.Body)
		}
		page = b.Get(phoneWay)
		tx := txOf(t, page)
		verify := submitForm(t, b, page, "/mfa/enrol/phone", nil, map[string]string{"number": phoneTyped, "consent": "on"})
		if verify.Status != http.StatusOK || !strings.Contains(verify.Body, `action="/mfa/enrol/phone/verify"`) {
			t.Fatalf("adding the number: %d, want the verification step\n%s", verify.Status, verify.Body)
		}
		ja := switchLang(t, b, verify, "ja")
		if ja.Path() != "/mfa/enrol" || txOf(t, ja) != tx || !strings.Contains(ja.Body, `action="/mfa/enrol/phone"`) ||
			!strings.Contains(ja.Body, "電話番号を追加") {
			t.Fatalf("switched verification step: %s, want the number form of tx %s in Japanese\n%s", ja.URL, tx, ja.Body)
		}
		// The number typed again on the switched page: a new code, which
		// finishes the set-up.
		verify = submitForm(t, b, ja, "/mfa/enrol/phone", nil, map[string]string{"number": phoneTyped, "consent": "on"})
		code := smsCode(t, f.lastSMS(t).Body)
		wrong := submitForm(t, b, verify, "/mfa/enrol/phone/verify", map[string]string{"op": ""}, map[string]string{"code": otherCode(code)})
		if wrong.Status != http.StatusUnauthorized {
			t.Fatalf("wrong code: %d, want 401\n%s", wrong.Status, wrong.Body)
		}
		if en := switchLang(t, b, wrong, "en"); en.Path() != "/mfa/enrol" || txOf(t, en) != tx {
			t.Errorf("switched page after a wrong code: %s, want the enrolment step of tx %s", en.URL, tx)
		}
		notice := submitForm(t, b, wrong, "/mfa/enrol/phone/verify", map[string]string{"op": ""}, map[string]string{"code": code})
		recoveryCodes(t, notice)
		if l := langLink(notice, "en"); l != "" {
			t.Errorf("the recovery codes, shown once, link to %s", l)
		}
	})
}
