package idp_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/idp/idptest"
	"github.com/latchkey/latchkey/mfa"
)

// accountBrowser signs in to the account page in a new browser.
func (f *fixture) accountBrowser(t *testing.T) (*idptest.Browser, *idptest.Response) {
	t.Helper()
	b := f.env.NewBrowser()
	page := b.SubmitLogin(b.Open(f.env.URL("/account")), userEmail, userPassword)
	if page.Path() != "/account" || page.Status != http.StatusOK {
		t.Fatalf("account page after sign-in: %s %d\n%s", page.URL, page.Status, page.Body)
	}
	return b, page
}

// mfaAccountBrowser is accountBrowser for a user with an authenticator
// app, signed in at mfa (through an app's request), so changes need no
// further step-up for ten minutes.
func (f *fixture) mfaAccountBrowser(t *testing.T, auth *authenticator) (*idptest.Browser, *idptest.Response) {
	t.Helper()
	b := f.env.NewBrowser()
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	a := newAuthRequest()
	r.exchange(a, signInMFA(t, b, r.url(a, oauth2.SetAuthURLParam("acr_values", acrMFA)), auth))
	page := b.Follow(b.Get(f.env.URL("/account")))
	if page.Path() != "/account" || page.Status != http.StatusOK {
		t.Fatalf("account page: %s %d\n%s", page.URL, page.Status, page.Body)
	}
	return b, page
}

// TestAccountNeedsSignIn: the account page sends a stranger to sign in and
// back to the account page afterwards.
func TestAccountNeedsSignIn(t *testing.T) {
	f := newMFAFixture(t)
	b := f.env.NewBrowser()
	res := b.Get(f.env.URL("/account"))
	if !res.IsRedirect() || res.Location().Path != "/login" || res.Location().Query().Get("tx") == "" {
		t.Fatalf("account page without a session: %d %v, want a redirect to the login page", res.Status, res.Location())
	}
	page := b.SubmitLogin(b.Follow(res), userEmail, userPassword)
	if page.Path() != "/account" || page.Status != http.StatusOK || !strings.Contains(page.Body, "Signed in as "+userEmail) {
		t.Fatalf("after sign-in: %s %d, want the account page\n%s", page.URL, page.Status, page.Body)
	}
	for _, want := range []string{"You have not set up an authenticator app", "Add an authenticator app", "Signed in with password"} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("account page lacks %q", want)
		}
	}
}

// TestAccountAddTOTPNeedsFreshSignIn: adding an authenticator app more
// than ten minutes after the password asks for the password again first.
func TestAccountAddTOTPNeedsFreshSignIn(t *testing.T) {
	f := newMFAFixture(t)
	b, _ := f.accountBrowser(t)
	f.env.Clock.Advance(11 * time.Minute)

	page := b.Follow(b.Get(f.env.URL("/account/totp")))
	if page.Path() != "/login" {
		t.Fatalf("adding an app eleven minutes after sign-in: %s, want the login page", page.URL)
	}
	enrol := b.SubmitLogin(page, userEmail, userPassword)
	if enrol.Path() != "/account/totp" || enrol.Status != http.StatusOK {
		t.Fatalf("after the fresh password: %s %d, want the enrolment page\n%s", enrol.URL, enrol.Status, enrol.Body)
	}
	auth := &authenticator{env: f.env, secret: manualKey(t, enrol)}
	if !strings.Contains(enrol.Body, `href="/account"`) {
		t.Error("the account enrolment page has no way back")
	}
	notice := submitForm(t, b, enrol, "/account/totp", nil, map[string]string{"code": auth.now(t)})
	codes := recoveryCodes(t, notice)
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes with the first authenticator app, want 10", len(codes))
	}
	page = b.Follow(b.Get(f.env.URL("/account")))
	if !strings.Contains(page.Body, "Authenticator app") || !strings.Contains(page.Body, "10 of 10 recovery codes left") {
		t.Errorf("account page after adding an app:\n%s", page.Body)
	}

	// A second app needs mfa now: a fresh password alone is not enough.
	f.env.Clock.Advance(11 * time.Minute)
	page = b.Follow(b.Get(f.env.URL("/account/totp")))
	page = b.SubmitLogin(page, userEmail, userPassword)
	expectFactor(t, page, mfa.TOTP)
	page = enterCode(t, b, page, auth.code(t))
	if page.Path() != "/account/totp" || page.Status != http.StatusOK {
		t.Fatalf("after the step-up: %s %d, want the enrolment page", page.URL, page.Status)
	}
}

// TestAccountRemoveTOTP: removing the authenticator app with a stale
// session asks for the password and the app's code again; the removal
// then voids the recovery codes.
func TestAccountRemoveTOTP(t *testing.T) {
	f := newMFAFixture(t)
	auth := f.enrolTOTP(t)
	b, page := f.mfaAccountBrowser(t, auth)
	f.env.Clock.Advance(11 * time.Minute)

	res := submitForm(t, b, page, "/account/totp/remove", nil, nil)
	if res.Path() != "/login" {
		t.Fatalf("removing the app with an eleven-minute-old session: %s, want the login page", res.URL)
	}
	res = b.SubmitLogin(res, userEmail, userPassword)
	expectFactor(t, res, mfa.TOTP)
	res = enterCode(t, b, res, auth.code(t))
	if res.Path() != "/account" {
		t.Fatalf("after the step-up: %s %d, want the account page", res.URL, res.Status)
	}
	creds, _ := f.env.Store.ListTOTP(context.Background(), f.user.ID)
	if len(creds) != 1 {
		t.Fatalf("the step-up alone removed the app: %+v", creds)
	}

	res = submitForm(t, b, res, "/account/totp/remove", nil, nil)
	if res.Path() != "/account" || !strings.Contains(res.Body, "The authenticator app was removed") {
		t.Fatalf("remove after the step-up: %s %d\n%s", res.URL, res.Status, res.Body)
	}
	creds, _ = f.env.Store.ListTOTP(context.Background(), f.user.ID)
	codes, _ := f.env.Store.ListRecoveryCodes(context.Background(), f.user.ID)
	if len(creds) != 0 || len(codes) != 0 {
		t.Errorf("after removing the only app: %d credentials, %d recovery codes, want none", len(creds), len(codes))
	}
	if evs := auditEvents(t, f.env, "mfa.removed"); len(evs) != 1 {
		t.Errorf("mfa.removed events = %+v", evs)
	}
	if evs := auditEvents(t, f.env, "account.step_up_required"); len(evs) == 0 {
		t.Error("no account.step_up_required event")
	}
}

// TestAccountRegenerateRecoveryCodes: new codes replace the old ones; an
// old code no longer signs in, a new one does; the page lists the
// recovery code as a security event.
func TestAccountRegenerateRecoveryCodes(t *testing.T) {
	f := newMFAFixture(t)
	auth := f.enrolTOTP(t)
	b, page := f.mfaAccountBrowser(t, auth)
	if !strings.Contains(page.Body, "10 of 10 recovery codes left") {
		t.Errorf("account page lacks the recovery-code count:\n%s", page.Body)
	}
	notice := submitForm(t, b, page, "/account/recovery", nil, nil)
	fresh := recoveryCodes(t, notice)
	if len(fresh) != 10 {
		t.Fatalf("%d new codes, want 10", len(fresh))
	}
	for _, c := range fresh {
		if slices.Contains(auth.codes, c) {
			t.Errorf("new code %s was an old one", c)
		}
	}

	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	useCode := func(code string) (*idptest.Browser, *idptest.Response) {
		t.Helper()
		nb := f.env.NewBrowser()
		a := newAuthRequest()
		p := nb.SubmitLogin(nb.Open(r.url(a, oauth2.SetAuthURLParam("acr_values", acrMFA))), userEmail, userPassword)
		p = nb.Get(otherWay(p, mfa.RecoveryCode))
		expectFactor(t, p, mfa.RecoveryCode)
		return nb, enterCode(t, nb, p, code)
	}
	if _, res := useCode(auth.codes[0]); res.Status != http.StatusUnauthorized {
		t.Errorf("an old recovery code after regeneration: %s %d, want 401", res.URL, res.Status)
	}
	if _, res := useCode(fresh[0]); !strings.Contains(res.Body, "You have 9 left") {
		t.Errorf("a new recovery code: %s %d\n%s", res.URL, res.Status, res.Body)
	}

	page = b.Follow(b.Get(f.env.URL("/account")))
	for _, want := range []string{"Recovery code used", "New recovery codes made", "9 of 10 recovery codes left", "Wrong verification code"} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("account page lacks %q", want)
		}
	}
}

// TestAccountRevokeApp: removing a third-party app's access ends its
// tokens at once.
func TestAccountRevokeApp(t *testing.T) {
	f := newMFAFixture(t)
	pr := f.partner(t, oidc.ScopeOpenID, "profile")
	b := f.env.NewBrowser()
	a := newAuthRequest()
	tok := pr.exchange(a, b.LoginAndConsent(pr.url(a), userEmail, userPassword, "allow"))
	introspect := func() map[string]any {
		t.Helper()
		status, _, body := postForm(t, f.env.URL("/introspect"), url.Values{"token": {tok.oauth.AccessToken}}, thirdPartyID, f.partnerSecret)
		if status != http.StatusOK {
			t.Fatalf("introspect: %d %v", status, body)
		}
		return body
	}
	if introspect()["active"] != true {
		t.Fatal("the partner's token is not active")
	}

	page := b.Follow(b.Get(f.env.URL("/account")))
	if !strings.Contains(page.Body, "Partner Analytics") {
		t.Fatalf("account page does not list the partner:\n%s", page.Body)
	}
	done := submitForm(t, b, page, "/account/apps/revoke", map[string]string{"client": thirdPartyID}, nil)
	if done.Path() != "/account" || !strings.Contains(done.Body, "The app&#39;s access was removed") {
		t.Fatalf("revoke: %s %d\n%s", done.URL, done.Status, done.Body)
	}
	if got := introspect()["active"]; got != false {
		t.Errorf("the partner's token after revocation: active = %v", got)
	}
	if _, err := f.env.Store.GetConsent(context.Background(), f.user.ID, thirdPartyID); err == nil {
		t.Error("the consent survived")
	}
	if strings.Contains(done.Body, "Partner Analytics") {
		t.Error("the partner is still listed")
	}
	// The next request asks for consent again.
	a = newAuthRequest()
	if page := b.Open(pr.url(a)); page.Path() != "/consent" {
		t.Errorf("after revocation: %s, want the consent page", page.URL)
	}
}

// TestAccountJapanese: the account page and the second-factor page in
// Japanese for a browser that prefers it.
func TestAccountJapanese(t *testing.T) {
	f := newMFAFixture(t)
	auth := f.enrolTOTP(t)
	b := f.env.NewBrowser()
	withHeader(b, "Accept-Language", "ja,en;q=0.5")
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	a := newAuthRequest()
	page := b.SubmitLogin(b.Open(r.url(a, oauth2.SetAuthURLParam("acr_values", acrMFA))), userEmail, userPassword)
	expectFactor(t, page, mfa.TOTP)
	for _, want := range []string{`lang="ja"`, "認証アプリのコードを入力してください", "別の方法を試す", "リカバリーコードを使う"} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("Japanese second-factor page lacks %q", want)
		}
	}
	r.exchange(a, clientRedirect(t, enterCode(t, b, page, auth.code(t))))

	page = b.Follow(b.Get(f.env.URL("/account")))
	for _, want := range []string{`lang="ja"`, "本人確認の方法", "認証アプリ", "最近のセキュリティイベント", "リカバリーコードは残り 10 個です"} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("Japanese account page lacks %q", want)
		}
	}
	if strings.Contains(page.Body, "Ways to prove it") {
		t.Error("English text on the Japanese account page")
	}
}

// TestAccountCSRF: the account page's forms refuse a POST without the
// CSRF token, and so does the second-factor form.
func TestAccountCSRF(t *testing.T) {
	f := newMFAFixture(t)
	auth := f.enrolTOTP(t)
	b, page := f.mfaAccountBrowser(t, auth)
	for _, action := range []string{"/account/recovery", "/account/totp/remove", "/account/browsers/forget", "/account/apps/revoke"} {
		var form url.Values
		for _, fm := range page.Forms() {
			if u, _ := url.Parse(fm.Action); u != nil && u.Path == action {
				form = fm.Fields
			}
		}
		if form == nil {
			form = url.Values{"id": {"x"}, "client": {"x"}}
		}
		form.Del("csrf_token")
		if res := b.PostForm(f.env.URL(action), form); res.Status != http.StatusForbidden {
			t.Errorf("POST %s without csrf_token: %d, want 403", action, res.Status)
		}
	}
	creds, _ := f.env.Store.ListTOTP(context.Background(), f.user.ID)
	if len(creds) != 1 {
		t.Error("a POST without csrf_token removed the app")
	}

	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	nb := f.env.NewBrowser()
	a := newAuthRequest()
	mfaPage := nb.SubmitLogin(nb.Open(r.url(a, oauth2.SetAuthURLParam("acr_values", acrMFA))), userEmail, userPassword)
	fields := mfaPage.Form().Fields
	fields.Set("code", auth.code(t))
	fields.Del("csrf_token")
	if res := nb.PostForm(f.env.URL("/mfa"), fields); res.Status != http.StatusForbidden {
		t.Errorf("POST /mfa without csrf_token: %d, want 403", res.Status)
	}
}
