package chrome

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// DefaultTimeout bounds everything one test does in its browser.
const DefaultTimeout = 60 * time.Second

// DefaultChromium is where Debian's chromium package puts the browser.
const DefaultChromium = "/usr/bin/chromium"

// InstallHint says how to get a browser; it ends every skip or failure about
// a missing one.
const InstallHint = "install Chromium with `sudo apt-get install -y chromium fonts-noto-cjk` or `make deps`, " +
	"or set LATCHKEY_CHROMIUM to a Chromium or Chrome binary"

// ErrNoChromium is returned by ExecPath when no browser can be found.
var ErrNoChromium = errors.New("chromium not found")

// ExecPath returns the browser binary: $LATCHKEY_CHROMIUM when set (and
// nothing else then, so a typo is not papered over), else /usr/bin/chromium,
// else chromium or chromium-browser on $PATH.
func ExecPath() (string, error) {
	if p := os.Getenv("LATCHKEY_CHROMIUM"); p != "" {
		if err := executable(p); err != nil {
			return "", fmt.Errorf("find chromium: LATCHKEY_CHROMIUM=%s: %w: %w", p, ErrNoChromium, err)
		}
		return p, nil
	}
	if executable(DefaultChromium) == nil {
		return DefaultChromium, nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("find chromium: no %s and none on $PATH: %w", DefaultChromium, ErrNoChromium)
}

func executable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file: %w", p, fs.ErrPermission)
	}
	return nil
}

// Require returns the browser binary, or ends the test: t.Fatal under
// CI=true (CI must not silently lose its browser tests), t.Skip elsewhere.
// Both messages say how to install Chromium.
func Require(t testing.TB) string {
	t.Helper()
	p, err := ExecPath()
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("browser test needs Chromium under CI=true: %v; %s", err, InstallHint)
	} else {
		t.Skipf("skipping browser test: %v; %s", err, InstallHint)
	}
	return ""
}

// Localhost turns a loopback URL such as httptest's http://127.0.0.1:PORT/x
// into http://localhost:PORT/x, the form WebAuthn accepts (an IP address is
// never a valid RP ID). Other URLs come back unchanged.
func Localhost(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || !ip.IsLoopback() {
		return rawURL
	}
	if p := u.Port(); p != "" {
		u.Host = "localhost:" + p
	} else {
		u.Host = "localhost"
	}
	return u.String()
}

// Option changes how New starts the browser.
type Option func(*config)

type config struct {
	timeout       time.Duration
	width, height int
	lang          string
	artifacts     string
}

// WithTimeout replaces DefaultTimeout as the bound on the test's browser work.
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithWindowSize sets the viewport (default 1280x900).
func WithWindowSize(width, height int) Option {
	return func(c *config) { c.width, c.height = width, height }
}

// WithLanguage sets navigator.language and the Accept-Language header the
// browser sends, such as "ja" or "en-GB,en" (default "en-US", whatever the
// machine's locale).
func WithLanguage(lang string) Option { return func(c *config) { c.lang = lang } }

// WithArtifactsDir sets where a failing test's screenshot goes, overriding
// LATCHKEY_TEST_ARTIFACTS.
func WithArtifactsDir(dir string) Option { return func(c *config) { c.artifacts = dir } }

// ArtifactsDir is where failure screenshots go: $LATCHKEY_TEST_ARTIFACTS,
// else latchkey-test-artifacts in the system temporary directory (never in
// the repository).
func ArtifactsDir() string {
	if d := os.Getenv("LATCHKEY_TEST_ARTIFACTS"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "latchkey-test-artifacts")
}

// Browser is one Chromium process with one tab, owned by one test. Its
// methods end the test with t.Fatal when the browser fails; use Context with
// chromedp directly for anything else.
type Browser struct {
	t         testing.TB
	ctx       context.Context // the tab, bounded by the test's timeout
	tab       context.Context // the tab without the bound, for the failure report
	output    *syncBuffer
	console   *consoleLog
	artifacts string
	webauthn  sync.Once
}

// New starts a fresh headless Chromium with an empty profile for t, and
// stops it when t ends. It skips or fails t as Require does when there is
// no browser.
func New(t testing.TB, opts ...Option) *Browser {
	t.Helper()
	path := Require(t)
	if path == "" {
		return nil // unreachable with a real *testing.T, which Require stopped
	}
	cfg := config{timeout: DefaultTimeout, width: 1280, height: 900, lang: "en-US"}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.artifacts == "" {
		cfg.artifacts = ArtifactsDir()
	}
	// Created before the cleanup below is registered, so it is removed after
	// the browser has exited (cleanups run last-in first-out).
	profile := t.TempDir()
	out := &syncBuffer{}
	flags := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // tests run as root in CI, where the sandbox refuses to start
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		// This machine's network is closed: without these, Chromium keeps
		// trying to reach Google's services at every start.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(cfg.width, cfg.height),
		chromedp.CombinedOutput(out),
	)
	if cfg.lang != "" {
		// --lang sets navigator.language; --accept-lang the header.
		ui, _, _ := strings.Cut(cfg.lang, ",")
		flags = append(flags, chromedp.Flag("lang", ui), chromedp.Flag("accept-lang", cfg.lang))
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), flags...)
	b := &Browser{t: t, output: out, console: &consoleLog{}, artifacts: cfg.artifacts}
	tab, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithListener(b.console.listen))
	b.tab = tab

	// The first action starts the browser and ties its life to the context
	// it runs on, so it runs on the unbounded tab and is timed here instead.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(tab) }()
	select {
	case err := <-started:
		if err != nil {
			cancelTab()
			cancelAlloc()
			t.Fatalf("start chromium %s: %v\nchromium output:\n%s", path, err, out)
		}
	case <-time.After(cfg.timeout):
		cancelTab()
		cancelAlloc()
		t.Fatalf("start chromium %s: no answer after %v\nchromium output:\n%s", path, cfg.timeout, out)
	}
	ctx, cancelTimeout := context.WithTimeout(tab, cfg.timeout)
	b.ctx = ctx
	t.Cleanup(func() {
		if t.Failed() {
			b.report()
		}
		cancelTimeout()
		// Close the browser gracefully, then wait for the process to exit,
		// so the profile directory can be removed.
		closeCtx, cancelClose := context.WithTimeout(tab, 10*time.Second)
		defer cancelClose()
		_ = chromedp.Cancel(closeCtx) // a browser that will not close is killed below
		cancelTab()
		cancelAlloc()
	})
	return b
}

// Context is the tab's context, bounded by the test's timeout, for calling
// chromedp or cdproto directly.
func (b *Browser) Context() context.Context { return b.ctx }

// Output is what Chromium has written to stdout and stderr so far.
func (b *Browser) Output() string { return b.output.String() }

// report prints what a failing test needs to see: where the page was, what
// it looked like, its console, and Chromium's output. It uses the unbounded
// tab with a short timeout of its own, because the test may have failed by
// running out of its time.
func (b *Browser) report() {
	t := b.t
	ctx, cancel := context.WithTimeout(b.tab, 10*time.Second)
	defer cancel()
	loc, err := currentURL(ctx)
	if err != nil {
		loc = "(unknown: " + err.Error() + ")"
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		title = "(unknown: " + err.Error() + ")"
	}
	t.Logf("browser: page %s, title %q", loc, title)
	if path, err := b.screenshotTo(ctx, b.artifacts, t.Name()); err != nil {
		t.Logf("browser: no screenshot: %v", err)
	} else {
		t.Logf("browser: screenshot saved to %s", path)
	}
	if msgs := b.console.all(); len(msgs) > 0 {
		t.Logf("browser: console:\n  %s", strings.Join(msgs, "\n  "))
	}
	t.Logf("browser: chromium output:\n%s", b.output)
}

// syncBuffer is a bytes.Buffer that Chromium's output goroutine and the test
// can use at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}
