package idp_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/idp/idptest"
	"github.com/latchkey/latchkey/idp/idptest/chrome"
	"github.com/latchkey/latchkey/idp/web"
)

// screenshotsEnv names the directory TestScreenshots writes into (one
// subdirectory per language). `make screenshots` sets it to
// docs/screenshots; without it the test skips, so `make test` writes
// nothing. Give an absolute path: go test runs in the package directory.
const screenshotsEnv = "LATCHKEY_SCREENSHOTS"

// The screenshots' fixed parts: the window, the issuer shown in the footer
// (the test server's port changes every run; this is `make run`'s), and the
// request id that error pages quote (sent by the browser, which the
// provider echoes as a proxy's would be).
const (
	shotWidth     = 1024
	shotHeight    = 768
	shotIssuer    = "http://localhost:8080"
	shotRequestID = "4f1c2a9e7b3d8c60a5e1f2d3b4c5a697"
)

// shotPage is one hosted page to capture: the file name, the URL path the
// page has, and the element that shows it has arrived (and, for passkey
// pages, that their script has run).
type shotPage struct {
	name, path, ready string
	// failing pages answer with an error status, which Chromium logs as a
	// failed load of the document: that one console error is expected.
	failing bool
}

const (
	shotRegisterBtn = `form[data-webauthn="register"] #webauthn-button`
	shotAssertBtn   = `form[data-webauthn="assert"] #webauthn-button`
)

var shotPages = []shotPage{
	{name: "sign-in", path: "/login", ready: "#email"},
	{name: "sign-in-error", path: "/login", ready: "#login-error", failing: true},
	{name: "enrol-passkey", path: "/mfa/enrol", ready: shotRegisterBtn},
	{name: "enrol-totp", path: "/mfa/enrol", ready: ".qr svg"},
	{name: "recovery-codes", path: "/mfa/enrol", ready: "ul.codes"},
	{name: "consent", path: "/consent", ready: `button[value="allow"]`},
	{name: "account-add-passkey", path: "/account/passkey", ready: shotRegisterBtn},
	{name: "account", path: "/account", ready: "#account-heading"},
	{name: "sign-out", path: "/logout", ready: `form[action$="/logout/confirm"] button`},
	{name: "signed-out", path: "/logout/confirm", ready: `#main p[role="status"]`},
	{name: "error-unknown-client", path: "/authorize", ready: "#error-heading", failing: true},
	{name: "error-bad-redirect", path: "/authorize", ready: "#error-heading", failing: true},
	{name: "error-not-found", path: "/no-such-page", ready: "#error-heading", failing: true},
	{name: "mfa-passkey", path: "/mfa", ready: shotAssertBtn},
	{name: "mfa-totp", path: "/mfa", ready: `#code[autocomplete="one-time-code"]`},
	{name: "mfa-recovery-code", path: "/mfa", ready: `#code[autocomplete="off"]`},
	{name: "recovery-code-used", path: "/mfa", ready: "#notice-heading"},
}

// TestScreenshots walks a real Chromium through every hosted page, in each
// language, the way a user meets them, and saves a full-page PNG of each
// as $LATCHKEY_SCREENSHOTS/<lang>/<page>.png. On the way it checks what a
// picture would hide: each page is in the browser's language (<html
// lang>, a translated heading, no message key left untranslated), has a
// title, shows no message whose argument did not fit it ("%!s(int=30)"),
// and logs no console error (a CSP violation, a script error, a missing
// stylesheet).
func TestScreenshots(t *testing.T) {
	out := os.Getenv(screenshotsEnv)
	if out == "" {
		t.Skipf("set %s to a directory to write screenshots of the hosted pages into (make screenshots)", screenshotsEnv)
	}
	for _, lang := range []string{"en", "ja"} {
		t.Run(lang, func(t *testing.T) {
			dir := filepath.Join(out, lang)
			// A page that was renamed or removed must not leave its old picture.
			old, _ := filepath.Glob(filepath.Join(dir, "*.png")) // the pattern is valid
			for _, p := range old {
				if err := os.Remove(p); err != nil {
					t.Fatalf("remove old screenshot: %v", err)
				}
			}
			s := &shots{t: t, lang: lang, dir: dir, taken: map[string]bool{}}
			s.walk()
			for _, p := range allShotPages() {
				if !s.taken[p.name] {
					t.Errorf("no screenshot of %s in %s", p.name, lang)
				}
			}
		})
	}
}

// shots is one language's walk through the pages.
type shots struct {
	t     *testing.T
	lang  string
	dir   string
	taken map[string]bool
}

// shotTab is a browser and how many of its console errors were already
// accounted for.
type shotTab struct {
	*chrome.Browser
	seen int
}

func (s *shots) walk() {
	t := s.t
	f := newFixture(t, idptest.WithLocalhost(),
		// The binary's middleware, so the pages carry its CSP and request ids.
		idptest.WithMiddleware(web.RequestID, web.SecurityHeaders(false)))
	q := authorizeQuery()
	q.Set("acr_values", acrMFA)
	mfaSignIn := f.env.URL("/authorize?" + q.Encode())

	// A new user's first sign-in to an app that needs two factors: the
	// password (wrong, then right), then first-time set-up of a second
	// factor, which shows the recovery codes once.
	a := s.browser()
	a.Navigate(mfaSignIn)
	s.shot(a, "sign-in")
	a.Type("email", userEmail)
	a.Type("password", "not the password")
	a.Press(chrome.Enter)
	s.shot(a, "sign-in-error")
	a.Type("password", userPassword)
	a.Press(chrome.Enter)
	s.shot(a, "enrol-passkey")
	a.Navigate(chrome.Eval[string](a.Browser, `document.querySelector('a[href*="factor=totp"]').href`))
	s.shot(a, "enrol-totp")
	secret := chrome.Eval[string](a.Browser, `document.querySelector("code.secret").textContent`)
	a.Type("code", totpCode(t, strings.ReplaceAll(secret, " ", ""), f.env.Clock.Now()))
	a.Press(chrome.Enter)
	s.shot(a, "recovery-codes")
	codes := chrome.Eval[[]string](a.Browser, `[...document.querySelectorAll("ul.codes code")].map(c => c.textContent)`)
	if len(codes) == 0 {
		t.Fatal("no recovery codes on the page")
	}

	// A third-party app asks for consent; the user allows it.
	partner := f.partner(t, "openid", "profile", "email")
	a.Navigate(partner.url(newAuthRequest()))
	s.shot(a, "consent")
	a.Click(`button[value="allow"]`)
	a.WaitURL(partnerRedir) // the partner is not listening: the redirect is enough

	// The account page: a passkey added (by a virtual authenticator), the
	// app, the authenticator app, the recovery codes, the events.
	a.AddAuthenticator(nil)
	a.Navigate(f.env.URL("/account/passkey"))
	s.shot(a, "account-add-passkey")
	name := map[string]string{"en": "Work laptop", "ja": "仕事用ノートPC"}[s.lang]
	a.Type("name", name)
	a.Click(shotRegisterBtn)
	a.WaitVisible(".alert-success")
	a.Navigate(f.env.URL("/account"))
	s.shot(a, "account")
	if !strings.Contains(a.Text("#main"), name) {
		t.Errorf("the account page does not list the passkey %q", name)
	}

	// Sign-out asks first, then says it is done.
	a.Navigate(f.env.URL("/logout?client_id=" + webClientID))
	s.shot(a, "sign-out")
	a.Click(`form[action$="/logout/confirm"] button`)
	s.shot(a, "signed-out")

	// Error pages: an app nobody registered, a redirect address the app did
	// not register, a page that does not exist.
	q = authorizeQuery()
	q.Set("client_id", "unknown")
	a.Navigate(f.env.URL("/authorize?" + q.Encode()))
	s.shot(a, "error-unknown-client")
	q = authorizeQuery()
	q.Set("redirect_uri", "https://evil.example/callback")
	a.Navigate(f.env.URL("/authorize?" + q.Encode()))
	s.shot(a, "error-bad-redirect")
	a.Navigate(f.env.URL("/no-such-page"))
	s.shot(a, "error-not-found")

	// The second factor on another browser, which has none of the user's
	// passkeys: the passkey prompt waits (no authenticator answers), and
	// the other ways lead to the authenticator app and a recovery code.
	b := s.browser()
	b.AddAuthenticator(nil).Remove() // WebAuthn on, and no authenticator at all
	b.Navigate(mfaSignIn)
	b.Type("email", userEmail)
	b.Type("password", userPassword)
	b.Press(chrome.Enter)
	s.shot(b, "mfa-passkey")
	b.Navigate(chrome.Eval[string](b.Browser, `document.querySelector('.other-ways a[href*="factor=totp"]').href`))
	s.shot(b, "mfa-totp")
	b.Navigate(chrome.Eval[string](b.Browser, `document.querySelector('.other-ways a[href*="factor=recovery_code"]').href`))
	s.shot(b, "mfa-recovery-code")
	b.Type("code", codes[0])
	b.Press(chrome.Enter)
	s.shot(b, "recovery-code-used")

	s.walkMFA()
}

// allShotPages is every page TestScreenshots captures.
func allShotPages() []shotPage { return slices.Concat(shotPages, shotMFAPages) }

// browser starts a Chromium in the walk's language with a fixed window
// (unless opts set another) and request id.
func (s *shots) browser(opts ...chrome.Option) *shotTab {
	s.t.Helper()
	b := chrome.New(s.t, append([]chrome.Option{chrome.WithLanguage(s.lang), chrome.WithWindowSize(shotWidth, shotHeight),
		chrome.WithTimeout(3 * time.Minute)}, opts...)...)
	_, err := chromedp.Call(b.Context(), network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
		Headers: network.Headers{web.RequestIDHeader: shotRequestID},
	})
	if err != nil {
		s.t.Fatalf("browser: set request id: %v", err)
	}
	return &shotTab{Browser: b}
}

// shotFacts is what shot checks on every page.
type shotFacts struct {
	Lang    string   `json:"lang"`
	Title   string   `json:"title"`
	Path    string   `json:"path"`
	Href    string   `json:"href"`
	Heading string   `json:"heading"`
	Keys    []string `json:"keys"`
	// Misformatted are texts where a message's argument did not fit its
	// verb ("%!s(int=30)").
	Misformatted []string `json:"misformatted"`
}

// shotFactsJS reads shotFacts. Keys are texts and user-facing attributes
// that look like message keys ("login.heading"): the catalogue answers a
// key it lacks with the key itself.
const shotFactsJS = `(() => {
	const key = /^[a-z_]+(\.[a-z0-9_]+)+$/;
	const keys = [], misformatted = [];
	const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
	for (let n = walk.nextNode(); n; n = walk.nextNode()) {
		if (key.test(n.textContent.trim())) keys.push(n.textContent.trim());
		if (n.textContent.includes("%!")) misformatted.push(n.textContent.trim());
	}
	for (const e of document.querySelectorAll("*")) {
		for (const a of e.attributes) {
			const shown = ["aria-label", "placeholder", "title", "alt"].includes(a.name) || a.name.startsWith("data-msg-");
			if (shown && key.test(a.value.trim())) keys.push(a.name + "=" + a.value);
		}
	}
	// The heading shown: the companion app keeps a hidden one per view.
	const h1 = [...document.querySelectorAll("h1")].find((h) => h.getClientRects().length > 0);
	return {lang: document.documentElement.lang, title: document.title, path: location.pathname,
		href: location.href, heading: h1 ? h1.textContent.trim() : "", keys, misformatted};
})()`

// shotSteadyJS puts the fixed issuer in the footer and waits for the fonts.
const shotSteadyJS = `(() => {
	for (const e of document.querySelectorAll(".issuer")) e.textContent = ` + "`" + shotIssuer + "`" + `;
	return document.fonts.ready.then(() => true);
})()`

// shot waits for the page, checks it, and saves its picture.
func (s *shots) shot(b *shotTab, name string) {
	t := s.t
	t.Helper()
	pages := allShotPages()
	i := slices.IndexFunc(pages, func(p shotPage) bool { return p.name == name })
	if i < 0 {
		t.Fatalf("screenshot %s is not in shotPages or shotMFAPages", name)
	}
	p := pages[i]
	b.WaitVisible(p.ready)
	got := chrome.Eval[shotFacts](b.Browser, shotFactsJS)
	if got.Path != p.path {
		t.Errorf("%s: page at %s, want %s", name, got.Href, p.path)
	}
	if got.Lang != s.lang {
		t.Errorf("%s: <html lang=%q>, want %q", name, got.Lang, s.lang)
	}
	if got.Title == "" || got.Heading == "" {
		t.Errorf("%s: title %q, heading %q: want both", name, got.Title, got.Heading)
	}
	if s.lang == "ja" && !strings.ContainsFunc(got.Heading, japaneseRune) {
		t.Errorf("%s: heading %q is not in Japanese", name, got.Heading)
	}
	for _, k := range got.Keys {
		t.Errorf("%s: untranslated message key %q on the page", name, k)
	}
	for _, m := range got.Misformatted {
		t.Errorf("%s: message with a misformatted argument on the page: %q", name, m)
	}
	errs := b.ConsoleErrors()
	for _, m := range errs[b.seen:] {
		if p.failing && m.Source == "network" && m.URL == got.Href {
			continue // the page's own error status
		}
		t.Errorf("%s: browser console: %s", name, m)
	}
	b.seen = len(errs)
	chrome.Eval[bool](b.Browser, shotSteadyJS)
	b.Screenshot(s.dir, name)
	s.taken[name] = true
}

func japaneseRune(r rune) bool { return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana) }
