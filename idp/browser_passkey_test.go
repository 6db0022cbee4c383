package idp_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/idp/idptest"
	"github.com/latchkey/latchkey/idp/idptest/chrome"
	"github.com/latchkey/latchkey/mfa"
)

// Real-Chromium tests of passkeys: registration on the account page and at
// first-time enrolment, sign-in without a password (the button and the
// autofill), and a passkey as the second factor for phr. Each sign-in is
// an authorization request of a go-oidc/x/oauth2 relying party that the
// browser follows to the RP's callback page; the test then redeems the
// code and checks the id_token. Fallbacks are in browser_fallback_test.go.

// TestBrowserPasskeyRegisterAndSignIn: a user with only a password adds a
// passkey with a name of their choosing on the account page (the fresh
// password sign-in is the step-up), is shown recovery codes because it is
// their first second factor, and sees the passkey listed. In a fresh
// sign-in for phr they press "Sign in with a passkey" and never type a
// password: the id_token says phr, amr hwk user mfa (a device-bound
// passkey that verified the user), and auth_time is the passkey's time.
func TestBrowserPasskeyRegisterAndSignIn(t *testing.T) {
	r := newBrowserRig(t, rigOptions{})
	key := r.b.AddAuthenticator(nil)

	const name = "Ada's laptop (work)"
	pk := r.addPasskey(name, nil)
	if !r.b.Has("ul.codes li code") {
		t.Fatal("adding a first second factor did not show recovery codes")
	}
	r.b.Click(`a.btn-primary[href$="/account"]`)
	r.b.WaitVisible("#account-heading")
	if !strings.Contains(r.b.Text(".rows .row-main"), name) {
		t.Errorf("account page does not list the passkey %q", name)
	}
	creds := key.Credentials()
	if len(creds) != 1 || !bytes.Equal(creds[0].CredentialID, pk.CredentialID) || !creds[0].IsResidentCredential {
		t.Fatalf("authenticator holds %d credentials (want the stored one, discoverable)", len(creds))
	}
	if got := string(creds[0].UserHandle); got != r.f.user.ID {
		t.Errorf("user handle %q, want the opaque user id %q, never the email", got, r.f.user.ID)
	}
	if pk.BackedUp || !pk.UserVerified {
		t.Errorf("stored passkey backed up %v, user verified %v: want a device-bound passkey that verified the user", pk.BackedUp, pk.UserVerified)
	}
	r.noConsoleErrors()

	r.signOutBrowser()
	r.ignoreAutofill() // this user presses the button
	before := r.f.env.Clock.Now().Unix()
	a := r.start(acrPHR)
	r.b.WaitVisible(selLoginPasskey)
	if got := r.b.Text(selLoginPasskey); got != r.msg("en", "login.passkey") {
		t.Errorf("passkey button says %q", got)
	}
	r.b.Click(selLoginPasskey)
	tok := r.finish(a)
	after := r.f.env.Clock.Now().Unix()
	authTime := num(tok.claims["auth_time"])
	if authTime < before || authTime > after {
		t.Errorf("auth_time = %d, want the passkey's time in [%d, %d]", authTime, before, after)
	}
	checkAssurance(t, "passkey sign-in", tok.claims, acrPHR, []string{"hwk", "user", "mfa"}, authTime)
	if tok.claims["sub"] != r.f.user.ID {
		t.Errorf("sub = %v, want %s", tok.claims["sub"], r.f.user.ID)
	}
	if slices.Contains(r.visitedSince(0), "/mfa") {
		t.Error("a user-verified passkey was asked for a second factor")
	}
	if got := key.Credential(pk.CredentialID).SignCount; got != 2 {
		t.Errorf("authenticator sign count %v, want 2 (registration, one sign-in)", got)
	}
	if ks := r.passkeys(); len(ks) != 1 || ks[0].SignCount != 2 || ks[0].LastUsedAt.Before(ks[0].CreatedAt) {
		t.Errorf("stored passkey after use: %+v, want sign count 2 and a last use", ks)
	}
	r.noConsoleErrors()
}

// TestBrowserPasskeyAutofill: the sign-in page's email field offers
// passkeys in the browser's autofill (autocomplete="username webauthn"),
// and choosing one signs in without a password or a click on the button.
// Chromium's virtual authenticator picks its passkey at once, so opening
// the page is all it takes: the flow must reach the RP having shown the
// sign-in page, with a passkey's amr.
func TestBrowserPasskeyAutofill(t *testing.T) {
	r := newBrowserRig(t, rigOptions{})
	r.b.AddAuthenticator(syncedAuthenticator())

	r.start("")
	r.b.WaitVisible("#email")
	if got := chrome.Eval[string](r.b, `document.getElementById("email").getAttribute("autocomplete")`); got != "username webauthn" {
		t.Errorf("email field autocomplete=%q, want \"username webauthn\" for passkey autofill", got)
	}
	pk := r.addPasskey("Phone", nil)
	if !pk.BackedUp {
		t.Error("a passkey from a synced authenticator was stored as device-bound")
	}
	r.signOutBrowser()

	seen := len(r.visited())
	a := r.start("")
	tok := r.finish(a)
	if got := r.visitedSince(seen); !slices.Contains(got, "/login") {
		t.Errorf("pages on the way: %v, want the sign-in page (a fresh sign-in, not a session)", got)
	}
	if got := strs(tok.claims["amr"]); !slices.Equal(got, []string{"swk", "user", "mfa"}) {
		t.Errorf("amr = %v, want swk user mfa (a synced passkey that verified the user, no password)", got)
	}
	evs := auditEvents(t, r.f.env, "login.succeeded")
	if len(evs) == 0 || evs[0].UserID != r.f.user.ID || evs[0].Details["amr"] != "swk user mfa" {
		t.Errorf("last login.succeeded event: %+v, want the passkey sign-in", evs[:min(len(evs), 1)])
	}
	r.noConsoleErrors()
}

// TestBrowserPasskeyForPHR: a user with an authenticator app and a
// passkey types the password for an RP asking acr_values=phr (an alias of
// urn:latchkey:acr:phr here). An app's code cannot make phr, so the
// second-factor step offers the passkey only; the page starts it by
// itself, and the id_token carries the alias the RP asked for and a
// passkey's amr, no otp.
func TestBrowserPasskeyForPHR(t *testing.T) {
	pol := mfa.DefaultPolicy()
	pol.Aliases = map[string]mfa.Level{"phr": mfa.LevelPHR}
	r := newBrowserRig(t, rigOptions{env: []idptest.Option{idptest.WithPolicy(pol)}})
	_, _, _ = r.withAppAndPasskey()

	seen := len(r.visited())
	a := r.start("phr")
	r.typePassword()
	tok := r.finish(a)
	if got := r.visitedSince(seen); !slices.Contains(got, "/login") || !slices.Contains(got, "/mfa") {
		t.Errorf("pages on the way: %v, want the sign-in and the second-factor pages", got)
	}
	offers := auditEvents(t, r.f.env, "mfa.offered")
	if len(offers) == 0 || offers[0].Details["factor"] != string(mfa.Passkey) || offers[0].Details["offer"] != string(mfa.Passkey) {
		t.Errorf("last mfa.offered event: %+v, want the passkey offered alone", offers[:min(len(offers), 1)])
	}
	if tok.claims["acr"] != "phr" {
		t.Errorf("acr = %v, want the alias the RP asked for, phr", tok.claims["acr"])
	}
	if !hasAMR(tok.claims, "hwk", "user", "mfa") || hasAMR(tok.claims, "otp") {
		t.Errorf("amr = %v, want a passkey's (hwk user mfa) and no otp", tok.claims["amr"])
	}
	r.noConsoleErrors()
}

// TestBrowserPasskeyDeviceBound: a password-only user meets first-time
// set-up at a sign-in that needs two factors and creates a passkey there.
// A passkey tied to the device (no backup) gets the recovery codes with a
// warning that they are the way back in, and the account page keeps
// asking for another way in; a synced passkey gets neither. The amr tells
// the two apart too (hwk, swk).
//
// Chromium's virtual authenticators set the backup flags from
// DefaultBackupEligibility and DefaultBackupState (false unless set).
func TestBrowserPasskeyDeviceBound(t *testing.T) {
	for _, c := range []struct {
		name     string
		synced   bool
		intro    string
		transfer string
	}{
		{name: "device-bound", intro: "recovery.intro_device_bound", transfer: "hwk"},
		{name: "synced", synced: true, intro: "recovery.intro", transfer: "swk"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newBrowserRig(t, rigOptions{})
			if c.synced {
				r.b.AddAuthenticator(syncedAuthenticator())
			} else {
				r.b.AddAuthenticator(nil)
			}
			a := r.start(acrMFA)
			r.typePassword()
			r.b.WaitVisible(selRegisterBtn)
			r.b.Click(selRegisterBtn)
			r.b.WaitVisible("ul.codes")
			if got, want := r.b.Text("#notice-heading + p"), r.msg("en", c.intro); got != want {
				t.Errorf("recovery codes page says %q, want %q", got, want)
			}
			r.b.Click(`.actions a.btn-primary`)
			tok := r.finish(a)
			// Creating the passkey verified the user, which is two factors
			// on its own: the password is not needed to make mfa.
			if want := []string{c.transfer, "user", "mfa"}; tok.claims["acr"] != acrMFA || !slices.Equal(strs(tok.claims["amr"]), want) {
				t.Errorf("acr %v amr %v, want %s and %v", tok.claims["acr"], tok.claims["amr"], acrMFA, want)
			}

			r.b.Navigate(r.f.env.URL("/account"))
			r.b.WaitVisible("#account-heading")
			warned := strings.Contains(r.b.Text("#main"), r.msg("en", "account.device_bound"))
			if warned == c.synced {
				t.Errorf("account page warns about a device-bound passkey: %v, want %v", warned, !c.synced)
			}
			r.noConsoleErrors()
		})
	}
}
