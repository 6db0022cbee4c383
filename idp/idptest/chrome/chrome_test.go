package chrome_test

import (
	"bytes"
	"errors"
	"fmt"
	"image/png"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/latchkey/latchkey/idp/idptest/chrome"
)

func TestLocalhost(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8080":         "http://localhost:8080",
		"http://127.0.0.1:8080/a?b=c#d": "http://localhost:8080/a?b=c#d",
		"http://[::1]:9000/x":           "http://localhost:9000/x",
		"https://127.0.0.2/":            "https://localhost/",
		"http://localhost:1/":           "http://localhost:1/",
		"http://192.0.2.1:80/":          "http://192.0.2.1:80/",
		"https://id.example.com/":       "https://id.example.com/",
		"::not a url":                   "::not a url",
	} {
		if got := chrome.Localhost(in); got != want {
			t.Errorf("Localhost(%q) = %q, want %q", in, got, want)
		}
	}
}

// outcome records how Require ended a test, without ending the real one.
type outcome struct {
	testing.TB
	mu           sync.Mutex
	fatal, skip  string
	failed       bool
	logs         []string
	reportFailed bool // Failed answers true, so New's cleanup reports
}

func (o *outcome) Fatalf(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	// The first failure is the one that counts, as with a real Fatalf,
	// which would have stopped the test there.
	if o.fatal == "" {
		o.fatal = fmt.Sprintf(format, args...)
	}
}

func (o *outcome) Skipf(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.skip = fmt.Sprintf(format, args...)
}

func (o *outcome) Logf(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.logs = append(o.logs, fmt.Sprintf(format, args...))
}

func (o *outcome) Failed() bool { return o.reportFailed || o.TB.Failed() }

func TestMissingChromium(t *testing.T) {
	t.Setenv("LATCHKEY_CHROMIUM", "/nonexistent/chromium")
	if _, err := chrome.ExecPath(); !errors.Is(err, chrome.ErrNoChromium) {
		t.Fatalf("ExecPath with a missing LATCHKEY_CHROMIUM: %v, want ErrNoChromium", err)
	}

	t.Setenv("CI", "")
	o := &outcome{TB: t}
	if p := chrome.Require(o); p != "" || o.fatal != "" || !strings.Contains(o.skip, "apt-get install -y chromium") ||
		!strings.Contains(o.skip, "make deps") {
		t.Errorf("outside CI: path %q, fatal %q, skip %q; want a skip with the install hint", p, o.fatal, o.skip)
	}
	if b := chrome.New(o); b != nil {
		t.Errorf("New without a browser returned a Browser")
	}

	t.Setenv("CI", "true")
	o = &outcome{TB: t}
	if p := chrome.Require(o); p != "" || o.skip != "" || !strings.Contains(o.fatal, "apt-get install -y chromium") {
		t.Errorf("under CI=true: path %q, skip %q, fatal %q; want a failure with the install hint", p, o.skip, o.fatal)
	}

	// A named binary that exists is used as it is.
	sh, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("LATCHKEY_CHROMIUM", sh)
	if p, err := chrome.ExecPath(); p != sh || err != nil {
		t.Errorf("ExecPath with LATCHKEY_CHROMIUM=%s: %q, %v", sh, p, err)
	}
}

// register creates a passkey on the page's authenticator.
func register(t *testing.T, b *chrome.Browser) ceremonyResult {
	t.Helper()
	r := chrome.Eval[ceremonyResult](b, "register()")
	if !r.OK || r.ID == "" {
		t.Fatalf("register: %v", r)
	}
	return r
}

func login(t *testing.T, b *chrome.Browser, args string) ceremonyResult {
	t.Helper()
	return chrome.Eval[ceremonyResult](b, "login("+args+")")
}

func wantNotAllowed(t *testing.T, r ceremonyResult, what string) {
	t.Helper()
	if r.OK || r.Error != "NotAllowedError" {
		t.Errorf("%s: %v, want NotAllowedError", what, r)
	}
}

func TestPasskeyRegisterAndSignIn(t *testing.T) {
	b := chrome.New(t)
	b.Open(site(t)+"/", "#email")
	a := b.AddAuthenticator(nil)

	reg := register(t, b)
	creds := a.Credentials()
	if len(creds) != 1 {
		t.Fatalf("authenticator holds %d credentials after registering, want 1", len(creds))
	}
	c := creds[0]
	if !c.IsResidentCredential || c.RpID != "localhost" || string(c.UserHandle) != "user-1" || len(c.PrivateKey) == 0 {
		t.Errorf("credential: resident %v, rpId %q, user handle %q, key %d bytes", c.IsResidentCredential, c.RpID, c.UserHandle, len(c.PrivateKey))
	}

	first := login(t, b, "")
	if !first.OK || first.ID != reg.ID || first.User != "user-1" || !first.UV || first.SignCount != reg.SignCount+1 {
		t.Fatalf("sign in with the passkey: %v, want id %s, user user-1, UV, sign count %d", first, reg.ID, reg.SignCount+1)
	}
	second := login(t, b, "")
	if !second.OK || second.SignCount <= first.SignCount {
		t.Errorf("second sign in: %v, want a sign count above %d", second, first.SignCount)
	}
	// The page's own chatter (autocomplete hints, a missing favicon, the
	// algorithm warning) is not an error.
	b.NoConsoleErrors()
}

func TestLostPasskey(t *testing.T) {
	b := chrome.New(t)
	b.Open(site(t)+"/", "#email")
	a := b.AddAuthenticator(nil)
	register(t, b)
	kept := a.Credentials()[0]

	a.RemoveCredential(kept.CredentialID)
	if n := len(a.Credentials()); n != 0 {
		t.Fatalf("%d credentials left after removing the only one", n)
	}
	wantNotAllowed(t, login(t, b, ""), "sign in after the passkey was removed")

	// Put it back, as from a backup: the same key signs again.
	a.AddCredential(kept)
	if r := login(t, b, ""); !r.OK || r.User != "user-1" {
		t.Fatalf("sign in with the credential added back: %v", r)
	}

	a.ClearCredentials()
	wantNotAllowed(t, login(t, b, ""), "sign in after clearing the authenticator")
}

func TestUserVerificationFails(t *testing.T) {
	b := chrome.New(t)
	b.Open(site(t)+"/", "#email")
	a := b.AddAuthenticator(nil)
	register(t, b)

	a.SetUserVerified(false)
	wantNotAllowed(t, login(t, b, `"required"`), "UV required, verification failing")
	wantNotAllowed(t, login(t, b, `"preferred"`), "UV preferred, verification failing")
	if r := login(t, b, `"discouraged"`); !r.OK || r.UV {
		t.Errorf("UV discouraged, verification failing: %v, want success without UV", r)
	}
	a.SetUserVerified(true)
	if r := login(t, b, `"required"`); !r.OK || !r.UV {
		t.Errorf("UV required after verification works again: %v", r)
	}
}

func TestCancelledPrompt(t *testing.T) {
	b := chrome.New(t)
	base := site(t)
	b.Open(base+"/", "#email")
	a := b.AddAuthenticator(nil)
	register(t, b)

	b.LimitWebAuthnTimeout(500 * time.Millisecond)
	// The limit holds for pages loaded later too.
	b.Open(base+"/", "#email")
	a.SetPresence(false)
	start := time.Now()
	r := login(t, b, `"required", 30000`) // the page asks for 30 s
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("unanswered prompt took %v to end, want about 0.5 s", took)
	}
	wantNotAllowed(t, r, "prompt nobody answers")

	a.SetPresence(true)
	if r := login(t, b, ""); !r.OK {
		t.Errorf("sign in once the prompt is answered again: %v", r)
	}
}

func TestSignCountRegression(t *testing.T) {
	b := chrome.New(t)
	b.Open(site(t)+"/", "#email")
	a := b.AddAuthenticator(nil)
	register(t, b)
	login(t, b, "")
	before := login(t, b, "")
	if !before.OK || before.SignCount < 2 {
		t.Fatalf("sign in: %v, want a sign count of at least 2", before)
	}

	id := a.Credentials()[0].CredentialID
	a.SetSignCount(id, 0)
	after := login(t, b, "")
	if !after.OK || after.SignCount != 1 {
		t.Errorf("sign in with the counter set to 0: %v, want sign count 1 (below %d)", after, before.SignCount)
	}
}

func TestForms(t *testing.T) {
	b := chrome.New(t)
	base := site(t)

	// By label, by name, and a mouse click.
	b.Open(base+"/", "#email")
	b.Type("Email", "grace@example.com")
	b.Type("password", "hunter2")
	if got := b.Value("email"); got != "grace@example.com" {
		t.Errorf("email field holds %q after typing by label", got)
	}
	b.Type("Email", "ada@example.com") // replaces, not appends
	b.Click("#go")
	u := b.WaitURL(base + "/submitted")
	if !strings.Contains(u, "email=ada%40example.com") {
		t.Errorf("form submitted to %s", u)
	}
	if got := b.Text("#who"); got != "ada@example.com" {
		t.Errorf("submitted email %q", got)
	}
	if got := b.Title(); got != "Submitted" {
		t.Errorf("title %q", got)
	}
	if got := b.Text("#lang"); !strings.HasPrefix(got, "en-US") {
		t.Errorf("Accept-Language %q, want the default en-US first", got)
	}

	// The keyboard alone: Tab through the fields, Enter submits.
	b.Open(base+"/", "#email")
	for _, step := range []struct{ key, focus string }{
		{chrome.Tab, "#email"}, {"keys@example.com", "#email"},
		{chrome.Tab, "#pw"}, {"secret", "#pw"},
		{chrome.Tab, "#go"},
	} {
		b.Press(step.key)
		if got := b.Focused(); got != step.focus {
			t.Fatalf("after pressing %q the focus is on %s, want %s", step.key, got, step.focus)
		}
	}
	b.Press(chrome.Tab, chromedp.KeyModifiers(chromedp.ModifierShift))
	if got := b.Focused(); got != "#pw" {
		t.Fatalf("Shift+Tab from the button went to %s, want #pw", got)
	}
	b.Press(chrome.Enter)
	b.WaitURL(base + "/submitted")
	if got := b.Text("#who"); got != "keys@example.com" {
		t.Errorf("keyboard-only submission sent %q", got)
	}

	// A redirect to a callback nobody serves still tells where it went.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := chrome.Localhost("http://" + l.Addr().String())
	l.Close()
	chrome.Eval[bool](b, `location.href = `+fmt.Sprintf("%q", closed+"/cb?code=abc")+`; true`)
	if got := b.WaitURL(closed + "/cb"); got != closed+"/cb?code=abc" {
		t.Errorf("WaitURL on an unreachable callback: %s", got)
	}
}

func TestConsoleErrors(t *testing.T) {
	b := chrome.New(t)
	b.Open(site(t)+"/console", "#ready")
	var errs []chrome.ConsoleMessage
	// The exception comes from a timer, after the load.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if errs = b.ConsoleErrors(); len(errs) >= 2 {
			break
		}
	}
	if len(errs) != 2 {
		t.Fatalf("console errors: %v, want console.error and the exception", errs)
	}
	if errs[0].Level != "error" || errs[0].Text != "something broke: 42" {
		t.Errorf("first error %v, want the console.error call", errs[0])
	}
	if errs[1].Level != "exception" || !strings.Contains(errs[1].Text, "kaboom") {
		t.Errorf("second error %v, want the uncaught exception", errs[1])
	}
	var logged bool
	for _, m := range b.Console() {
		logged = logged || (m.Level == "log" && m.Text == "just saying")
	}
	if !logged {
		t.Errorf("console.log missing from %v", b.Console())
	}
}

func TestScreenshot(t *testing.T) {
	dir := t.TempDir()
	base := site(t)
	b := chrome.New(t, chrome.WithLanguage("ja"))
	b.Open(base+"/submitted?email=x", "#who")
	if got, nav := b.Text("#lang"), chrome.Eval[string](b, "navigator.language"); !strings.HasPrefix(got, "ja") || nav != "ja" {
		t.Errorf("WithLanguage(ja): Accept-Language %q, navigator.language %q", got, nav)
	}

	b.Open(base+"/tall", "#bottom")
	p := b.Screenshot(dir, "Test/sub name")
	if want := filepath.Join(dir, "Test_sub_name.png"); p != want {
		t.Errorf("screenshot saved as %s, want %s", p, want)
	}
	size := pngSize(t, p)
	if size.X != 1280 || size.Y < 2000 {
		t.Errorf("screenshot is %v, want the whole 1280-wide page, over 2000 high", size)
	}
}

// TestFailureReport runs a test that times out waiting for the page (as far
// as the harness can tell) and checks what the cleanup leaves behind. The
// timeout covers the whole browser, page load included, so it is generous
// enough for a cold Chromium on a loaded machine.
func TestFailureReport(t *testing.T) {
	chrome.Require(t) // the outcome below would not stop at a skip
	dir := t.TempDir()
	base := site(t)
	var o *outcome
	var name string
	var waited time.Duration
	t.Run("failing", func(t *testing.T) {
		o = &outcome{TB: t, reportFailed: true}
		name = t.Name()
		b := chrome.New(o, chrome.WithArtifactsDir(dir), chrome.WithTimeout(10*time.Second))
		b.Open(base+"/", "#email")
		start := time.Now()
		b.WaitVisible("#never") // the outcome records the failure and carries on
		waited = time.Since(start)
	})
	if !strings.Contains(o.fatal, "#never") || !strings.Contains(o.fatal, "deadline exceeded") || waited > 20*time.Second {
		t.Errorf("waiting for a missing element with a 10 s timeout: %q after %v", o.fatal, waited)
	}
	shot := filepath.Join(dir, strings.ReplaceAll(name, "/", "_")+".png")
	pngSize(t, shot)
	logs := strings.Join(o.logs, "\n")
	for _, want := range []string{base + "/", `"Harness page"`, "screenshot saved to " + shot, "chromium output"} {
		if !strings.Contains(logs, want) {
			t.Errorf("failure report lacks %q:\n%s", want, logs)
		}
	}
}

type pt struct{ X, Y int }

func pngSize(t *testing.T, path string) pt {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read screenshot: %v", err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("screenshot %s is not a PNG: %v", path, err)
	}
	return pt{cfg.Width, cfg.Height}
}
