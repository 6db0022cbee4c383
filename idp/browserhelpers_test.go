package idp_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/idp/idptest"
	"github.com/latchkey/latchkey/idp/idptest/chrome"
	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/idp/web"
	"github.com/latchkey/latchkey/templates"
)

// Helpers of the real-browser flow tests (browser_*_test.go): a provider
// at http://localhost (WebAuthn refuses IP addresses), the binary's
// security headers (so a CSP violation shows up in the console), a relying
// party whose callback is a real page the browser lands on, and a
// Chromium with a virtual platform authenticator.

// browserClientID is the first-party client of the browser tests.
const browserClientID = "browser-rp"

// Selectors of the hosted pages' passkey forms and buttons.
const (
	selLoginPasskey  = `form[data-webauthn="login"] #webauthn-button`
	selAssertForm    = `form[data-webauthn="assert"]`
	selRegisterBtn   = `form[data-webauthn="register"] #webauthn-button`
	selOtherWays     = `nav.other-ways[data-webauthn-fallback]`
	selTOTPField     = `#code[autocomplete="one-time-code"]`
	selRecoveryField = `#code[autocomplete="off"]`
	selStatus        = `#webauthn-status`
)

// browserRig is one browser test's world.
type browserRig struct {
	t  *testing.T
	f  *fixture
	b  *chrome.Browser
	rp *rp
	// callback is the RP's redirect URI, a page on a server of its own.
	callback string
	msgs     *web.Catalog
}

// rigOptions tune newBrowserRig.
type rigOptions struct {
	env     []idptest.Option
	browser []chrome.Option
}

// newBrowserRig starts the provider (its clock an hour behind, for TOTP
// codes: see newMFAFixture), the RP's callback page and a Chromium.
func newBrowserRig(t *testing.T, o rigOptions) *browserRig {
	t.Helper()
	env := append([]idptest.Option{idptest.WithLocalhost(),
		idptest.WithMiddleware(web.RequestID, web.SecurityHeaders(false))}, o.env...)
	f := newMFAFixture(t, env...)

	// The RP's callback answers with a page of its own; the test redeems
	// the code from the address, as the RP's handler would.
	rpSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>RP</title>`+
			`<link rel="icon" href="data:,"></head><body><p id="rp-callback">back at the app</p></body></html>`)
	}))
	t.Cleanup(rpSrv.Close)
	callback := chrome.Localhost(rpSrv.URL) + "/callback"
	secret := f.env.CreateClient(storage.Client{ID: browserClientID, Name: "Browser App", FirstParty: true,
		RedirectURIs: []string{callback}})
	msgs, err := web.LoadCatalog(templates.FS)
	if err != nil {
		t.Fatalf("load messages: %v", err)
	}
	return &browserRig{t: t, f: f, b: chrome.New(t, o.browser...),
		rp: newRP(t, f.env, browserClientID, secret, callback), callback: callback, msgs: msgs}
}

// msg is the hosted pages' text for key in lang.
func (r *browserRig) msg(lang, key string) string { return r.msgs.Localizer(lang).T(key) }

// start opens an authorization request of the RP in the browser; acr is
// its acr_values ("" for none).
func (r *browserRig) start(acr string) authRequest {
	r.t.Helper()
	a := newAuthRequest()
	var opts []oauth2.AuthCodeOption
	if acr != "" {
		opts = append(opts, oauth2.SetAuthURLParam("acr_values", acr))
	}
	r.b.Navigate(r.rp.url(a, opts...))
	return a
}

// finish waits for the browser to reach the RP's callback page and
// redeems the code there, verifying the id_token as go-oidc does.
func (r *browserRig) finish(a authRequest) *tokens {
	r.t.Helper()
	u, err := url.Parse(r.b.WaitURL(r.callback))
	if err != nil {
		r.t.Fatalf("callback address: %v", err)
	}
	r.b.WaitVisible("#rp-callback")
	return r.rp.exchange(a, u)
}

// typePassword fills in the sign-in form and submits it with Enter.
func (r *browserRig) typePassword() {
	r.t.Helper()
	r.b.WaitVisible("#password")
	r.b.Type("email", userEmail)
	r.b.Type("password", userPassword)
	r.b.Press(chrome.Enter)
}

// enterTOTP answers the authenticator-app page with the next code.
func (r *browserRig) enterTOTP(auth *authenticator) {
	r.t.Helper()
	r.b.WaitVisible(selTOTPField)
	r.b.Type("code", auth.code(r.t))
	r.b.Press(chrome.Enter)
}

// addPasskey signs in to the account page (password, and the app's code
// when totp is set: changing factors needs a fresh step-up) and adds a
// passkey named name with the browser's authenticator. It returns the
// stored passkey. The browser is left signed in.
func (r *browserRig) addPasskey(name string, totp *authenticator) storage.Passkey {
	r.t.Helper()
	before := r.passkeys()
	r.b.Navigate(r.f.env.URL("/account"))
	r.typePassword()
	r.b.WaitVisible("#account-heading")
	r.b.Click(`a[href$="/account/passkey"]`)
	if totp != nil {
		r.enterTOTP(totp)
	}
	r.b.WaitVisible(selRegisterBtn)
	r.b.Type("name", name)
	r.b.Click(selRegisterBtn)
	// A first second factor brings recovery codes; later ones the account
	// page with a confirmation.
	r.b.WaitVisible(`ul.codes, .alert-success`)
	after := r.passkeys()
	if len(after) != len(before)+1 {
		r.t.Fatalf("passkeys stored: %d before, %d after adding one", len(before), len(after))
	}
	for _, k := range after {
		if k.Name == name {
			return k
		}
	}
	r.t.Fatalf("no stored passkey named %q in %+v", name, after)
	return storage.Passkey{}
}

// passkeys lists the fixture user's stored passkeys.
func (r *browserRig) passkeys() []storage.Passkey {
	r.t.Helper()
	keys, err := r.f.env.Store.ListPasskeys(context.Background(), r.f.user.ID)
	if err != nil {
		r.t.Fatalf("list passkeys: %v", err)
	}
	return keys
}

// signOutBrowser forgets every cookie, so the next request starts a fresh
// sign-in; the authenticator and its passkeys stay.
func (r *browserRig) signOutBrowser() {
	r.t.Helper()
	if _, err := chromedp.Call(r.b.Context(), network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		r.t.Fatalf("browser: clear cookies: %v", err)
	}
}

// ignoreAutofillJS stands in for a user who does not pick the passkey the
// browser's autofill offers: a virtual authenticator answers a
// conditional-mediation request at once with its first passkey, which no
// person does. Conditional requests stay pending until the page aborts
// them; modal ones (a button, the second-factor page) are untouched.
const ignoreAutofillJS = `(() => {
	const c = navigator.credentials;
	if (!c) return;
	const get = c.get.bind(c);
	c.get = (opts) => {
		if (!opts || opts.mediation !== "conditional") return get(opts);
		return new Promise((_, reject) => {
			if (opts.signal) opts.signal.addEventListener("abort",
				() => reject(new DOMException("aborted", "AbortError")));
		});
	};
})();`

// ignoreAutofill makes every page of the tab from now on ignore
// conditional-mediation requests, as the user who types a password does.
func (r *browserRig) ignoreAutofill() {
	r.t.Helper()
	now := true
	_, err := chromedp.Call(r.b.Context(), page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: ignoreAutofillJS, RunImmediately: &now,
	})
	if err != nil {
		r.t.Fatalf("browser: ignore autofill: %v", err)
	}
}

// syncedAuthenticator is a platform authenticator whose passkeys are
// backed up (a synced passkey provider): BE and BS set.
func syncedAuthenticator() *cdpwebauthn.VirtualAuthenticatorOptions {
	o := chrome.PlatformAuthenticator()
	o.DefaultBackupEligibility, o.DefaultBackupState = true, true
	return &o
}

// focusedHref is the address of the focused link, "" when the focus is
// not on a link.
func (r *browserRig) focusedHref() string {
	r.t.Helper()
	return chrome.Eval[string](r.b, `document.activeElement && document.activeElement.href || ""`)
}

// withAppAndPasskey gives the fixture user an authenticator app (set up
// over HTTP) and a passkey on a virtual platform authenticator (added on
// the account page in the browser), then signs the browser out and makes
// it ignore the autofill, so the user can type the password.
func (r *browserRig) withAppAndPasskey() (*authenticator, *chrome.Authenticator, storage.Passkey) {
	r.t.Helper()
	app := r.f.enrolTOTP(r.t)
	key := r.b.AddAuthenticator(nil)
	pk := r.addPasskey("Laptop", app)
	r.signOutBrowser()
	r.ignoreAutofill()
	return app, key, pk
}

// visitedSince is visited without its first n entries.
func (r *browserRig) visitedSince(n int) []string {
	r.t.Helper()
	v := r.visited()
	if n > len(v) {
		return nil
	}
	return v[n:]
}

// visited lists the paths of the tab's history on the provider's host.
func (r *browserRig) visited() []string {
	r.t.Helper()
	h, err := chromedp.Run(r.b.Context(), chromedp.NavigationEntries())
	if err != nil {
		r.t.Fatalf("browser: history: %v", err)
	}
	var out []string
	for _, e := range h.Entries {
		if strings.HasPrefix(e.URL, r.f.env.URL("/")) {
			u, _ := url.Parse(e.URL) // the browser's own addresses parse
			out = append(out, u.Path)
		}
	}
	return out
}

// noConsoleErrors fails the test for console errors, except the failed
// load Chromium logs for a document answered with an error status at one
// of the given paths (a refused passkey answers 401 with a page).
func (r *browserRig) noConsoleErrors(errorPages ...string) {
	r.t.Helper()
	for _, m := range r.b.ConsoleErrors() {
		if m.Source == "network" {
			if u, err := url.Parse(m.URL); err == nil && slices.Contains(errorPages, u.Path) {
				continue
			}
		}
		r.t.Errorf("browser console: %s", m)
	}
}

// hasAMR reports whether the claims' amr holds every one of want.
func hasAMR(claims map[string]any, want ...string) bool {
	got := strs(claims["amr"])
	for _, w := range want {
		if !slices.Contains(got, w) {
			return false
		}
	}
	return true
}
