package idp_test

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/idp/idptest/chrome"
)

// Real-Chromium tests of what happens when a passkey cannot be used: the
// page shows the other ways at once and moves the focus to them, and the
// sign-in completes with another factor. Also the keyboard-only sign-in
// in English and Japanese.

// expectFallback waits for the second-factor page's passkey message and
// checks the focus went to the other ways, on the authenticator app's
// link. The user then follows it with the keyboard.
func (r *browserRig) expectFallback(key string) {
	r.t.Helper()
	status := selAssertForm + " " + selStatus
	r.b.WaitVisible(status)
	if got, want := r.b.Text(status), r.msg("en", key); got != want {
		r.t.Errorf("passkey message %q, want %q", got, want)
	}
	r.b.WaitVisible(selOtherWays)
	if href := r.focusedHref(); !strings.Contains(href, "factor=totp") {
		r.t.Fatalf("focus on %s (%q) after the passkey failed, want the authenticator app's link", r.b.Focused(), href)
	}
}

// TestBrowserPasskeyLost: the user's passkey is gone from the device (a
// wiped phone). On the sign-in page "Sign in with a passkey" finds
// nothing: the page says so and moves the focus to the email field. After
// the password, the second-factor page starts the passkey, which fails at
// once, and the focus is on "use your authenticator app" without a click:
// Enter, the code, and the RP gets pwd otp mfa.
func TestBrowserPasskeyLost(t *testing.T) {
	r := newBrowserRig(t, rigOptions{})
	app, key, pk := r.withAppAndPasskey()
	key.RemoveCredential(pk.CredentialID)

	a := r.start(acrMFA)
	r.b.WaitVisible(selLoginPasskey)
	r.b.Click(selLoginPasskey)
	status := `form[data-webauthn="login"] ` + selStatus
	r.b.WaitVisible(status)
	if got, want := r.b.Text(status), r.msg("en", "passkey.notallowed_login"); got != want {
		t.Errorf("sign-in page says %q, want %q", got, want)
	}
	if got := r.b.Focused(); got != "#email" {
		t.Errorf("focus on %s after the passkey failed, want the email field", got)
	}
	r.typePassword()
	r.expectFallback("passkey.notallowed")
	r.b.Press(chrome.Enter)
	r.enterTOTP(app)
	tok := r.finish(a)
	checkAssurance(t, "lost passkey", tok.claims, acrMFA, wantMFAAMR, num(tok.claims["auth_time"]))
	if evs := auditEvents(t, r.f.env, "passkey.clone_suspected"); len(evs) != 0 {
		t.Errorf("a missing passkey was taken for a clone: %+v", evs)
	}
	r.noConsoleErrors()
}

// TestBrowserPasskeyUserVerificationFailed: the fingerprint does not
// match. The browser refuses at once, the page offers the other ways, and
// the user signs in with a recovery code instead.
func TestBrowserPasskeyUserVerificationFailed(t *testing.T) {
	r := newBrowserRig(t, rigOptions{})
	app, key, _ := r.withAppAndPasskey()
	key.SetUserVerified(false)

	a := r.start(acrMFA)
	r.typePassword()
	r.expectFallback("passkey.notallowed")
	r.b.Click(selOtherWays + ` a[href*="factor=recovery_code"]`)
	r.b.WaitVisible(selRecoveryField)
	r.b.Type("code", app.codes[0])
	r.b.Press(chrome.Enter)
	r.b.WaitVisible("#notice-heading")
	r.b.Click(`.actions a.btn-primary`)
	tok := r.finish(a)
	checkAssurance(t, "recovery code after failed verification", tok.claims, acrMFA, wantMFAAMR, num(tok.claims["auth_time"]))
	r.noConsoleErrors()
}

// TestBrowserPasskeyPromptCancelled: the user dismisses the browser's
// passkey prompt (nobody touches the authenticator until the ceremony's
// timeout, which WebAuthn reports exactly like a cancel). The other ways
// are offered; the authenticator app finishes the sign-in.
func TestBrowserPasskeyPromptCancelled(t *testing.T) {
	r := newBrowserRig(t, rigOptions{})
	app, key, _ := r.withAppAndPasskey()
	key.SetPresence(false)
	r.b.LimitWebAuthnTimeout(time.Second)

	a := r.start(acrMFA)
	r.typePassword()
	r.expectFallback("passkey.notallowed")
	r.b.Press(chrome.Enter)
	r.enterTOTP(app)
	tok := r.finish(a)
	checkAssurance(t, "cancelled prompt", tok.claims, acrMFA, wantMFAAMR, num(tok.claims["auth_time"]))
	r.noConsoleErrors()
}

// TestBrowserPasskeyCloneRefused: after a sign-in with the passkey, its
// authenticator's sign counter is rewound, as a copy of the key would
// report. The next assertion is refused: the page tells the user why,
// offers the other ways (and does not start the passkey again), the store
// keeps the higher counter, and passkey.clone_suspected is audited. The
// authenticator app completes the sign-in.
func TestBrowserPasskeyCloneRefused(t *testing.T) {
	r := newBrowserRig(t, rigOptions{})
	app, key, pk := r.withAppAndPasskey()

	a := r.start(acrMFA)
	r.typePassword()
	first := r.finish(a)
	if !hasAMR(first.claims, "hwk", "user") || first.claims["acr"] != acrMFA {
		t.Fatalf("first sign-in: acr %v amr %v, want the passkey", first.claims["acr"], first.claims["amr"])
	}
	stored := r.passkeys()[0].SignCount
	if stored < 2 {
		t.Fatalf("stored sign count %d after a sign-in, want at least 2", stored)
	}

	r.signOutBrowser()
	key.SetSignCount(pk.CredentialID, 0) // the next assertion says 1
	a = r.start(acrMFA)
	r.typePassword()
	r.b.WaitVisible("#mfa-error")
	if got, want := r.b.Text("#mfa-error"), r.msg("en", "passkey.error.cloned"); !strings.Contains(got, want) {
		t.Errorf("second-factor page says %q, want %q", got, want)
	}
	if r.b.Has(selAssertForm + "[data-webauthn-autostart]") {
		t.Error("the page starts the refused passkey again by itself")
	}
	if !r.b.Has(selOtherWays+` a[href*="factor=totp"]`) || !r.b.Has(selOtherWays+` a[href*="factor=recovery_code"]`) {
		t.Error("the refusal does not offer the authenticator app and a recovery code")
	}
	if got := r.passkeys()[0].SignCount; got != stored {
		t.Errorf("stored sign count %d after the refusal, want %d kept", got, stored)
	}
	evs := auditEvents(t, r.f.env, "passkey.clone_suspected")
	if len(evs) != 1 || evs[0].UserID != r.f.user.ID || evs[0].ClientID != browserClientID ||
		evs[0].Details["credential"] == "" || !strings.HasPrefix(hex.EncodeToString(pk.CredentialID), evs[0].Details["credential"]) {
		t.Errorf("passkey.clone_suspected events: %+v, want one for the user's passkey", evs)
	}

	r.b.Click(selOtherWays + ` a[href*="factor=totp"]`)
	r.enterTOTP(app)
	tok := r.finish(a)
	checkAssurance(t, "after a refused clone", tok.claims, acrMFA, wantMFAAMR, num(tok.claims["auth_time"]))
	if !bytes.Equal(key.Credential(pk.CredentialID).CredentialID, pk.CredentialID) {
		t.Error("the authenticator lost the credential")
	}
	// The refusal answers 401 with the page; Chromium logs that load.
	r.noConsoleErrors("/mfa")
}

// TestBrowserKeyboardSignIn: the sign-in and the authenticator-app page,
// in English and in Japanese (the browser's language), used with the
// keyboard alone: the focus starts in the email field, Tab goes to the
// password and then the button, Enter submits; the code field has the
// focus on its page. Each page is in the browser's language and the flow
// reaches the RP with pwd otp mfa.
func TestBrowserKeyboardSignIn(t *testing.T) {
	for _, lang := range []string{"en", "ja"} {
		t.Run(lang, func(t *testing.T) {
			r := newBrowserRig(t, rigOptions{browser: []chrome.Option{chrome.WithLanguage(lang)}})
			app := r.f.enrolTOTP(t)

			a := r.start(acrMFA)
			r.b.WaitVisible("#email")
			r.checkPage(lang, "login.heading")
			r.expectFocus("#email", "")
			r.b.Press(userEmail)
			r.b.Press(chrome.Tab)
			r.expectFocus("#password", "")
			r.b.Press(userPassword)
			r.b.Press(chrome.Tab)
			r.expectFocus("button", r.msg(lang, "login.submit"))
			r.b.Press(chrome.Enter)

			r.b.WaitVisible(selTOTPField)
			r.checkPage(lang, "mfa.totp.heading")
			r.expectFocus("#code", "")
			r.b.Press(app.code(t))
			r.b.Press(chrome.Tab)
			r.expectFocus("button", r.msg(lang, "mfa.submit"))
			r.b.Press(chrome.Enter)
			tok := r.finish(a)
			checkAssurance(t, "keyboard sign-in", tok.claims, acrMFA, wantMFAAMR, num(tok.claims["auth_time"]))
			r.noConsoleErrors()
		})
	}
}

// checkPage checks the page's language and its heading.
func (r *browserRig) checkPage(lang, heading string) {
	r.t.Helper()
	if got := chrome.Eval[string](r.b, "document.documentElement.lang"); got != lang {
		r.t.Errorf("%s: <html lang=%q>, want %q", r.b.URL(), got, lang)
	}
	if got, want := r.b.Text("h1"), r.msg(lang, heading); got != want {
		r.t.Errorf("%s: heading %q, want %q", r.b.URL(), got, want)
	}
}

// expectFocus fails the test unless the focus is on sel (as
// chrome.Browser.Focused describes it) and, when text is set, on an
// element with that text.
func (r *browserRig) expectFocus(sel, text string) {
	r.t.Helper()
	got := r.b.Focused()
	var label string
	if text != "" {
		label = chrome.Eval[string](r.b, "document.activeElement.textContent.trim()")
	}
	if got != sel || label != text {
		r.t.Fatalf("focus on %s %q, want %s %q", got, label, sel, text)
	}
}
