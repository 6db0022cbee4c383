package chrome

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// Keys for Press.
const (
	Tab       = kb.Tab
	Enter     = kb.Enter
	Escape    = kb.Escape
	Space     = " "
	ArrowDown = kb.ArrowDown
	ArrowUp   = kb.ArrowUp
)

// Run runs chromedp actions in order on the tab, failing the test on the
// first error.
func (b *Browser) Run(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// Navigate loads url and waits for its load event.
func (b *Browser) Navigate(url string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Navigate(url)); err != nil {
		b.t.Fatalf("browser: navigate to %s: %v", url, err)
	}
}

// Open loads url and waits until the CSS selector sel is visible.
func (b *Browser) Open(url, sel string) {
	b.t.Helper()
	b.Navigate(url)
	b.WaitVisible(sel)
}

// WaitVisible waits until an element matching the CSS selector is visible.
func (b *Browser) WaitVisible(sel string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		b.t.Fatalf("browser: wait for %s to be visible on %s: %v", sel, b.location(), err)
	}
}

// WaitGone waits until no element matches the CSS selector.
func (b *Browser) WaitGone(sel string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.WaitNotPresent(chromedp.CSS(sel))); err != nil {
		b.t.Fatalf("browser: wait for %s to go on %s: %v", sel, b.location(), err)
	}
}

// Has reports, without waiting, whether an element matches the CSS selector.
func (b *Browser) Has(sel string) bool {
	b.t.Helper()
	return Eval[bool](b, "document.querySelector("+jsString(sel)+") !== null")
}

// Click clicks the first visible element matching the CSS selector, as a
// mouse would.
func (b *Browser) Click(sel string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		b.t.Fatalf("browser: click %s on %s: %v", sel, b.location(), err)
	}
}

// fieldJS finds a form control by id, then by name, then by the text of its
// <label> or its aria-label (whitespace-trimmed, exact).
const fieldJS = `((f) => {
	const byID = document.getElementById(f);
	if (byID) return byID;
	const byName = document.getElementsByName(f);
	if (byName.length) return byName[0];
	for (const l of document.querySelectorAll("label")) {
		if (l.textContent.trim() === f && l.control) return l.control;
	}
	return document.querySelector("[aria-label=" + JSON.stringify(f) + "]");
})(%s)`

// Field is a chromedp selector for the form control Type finds by field.
func Field(field string) chromedp.JSPath {
	return chromedp.JSPath(fmt.Sprintf(fieldJS, jsString(field)))
}

// Type replaces the value of a form control with text, typing it key by
// key. field is the control's id, its name, or the text of its label.
func (b *Browser) Type(field, text string) {
	b.t.Helper()
	sel := Field(field)
	// chromedp's Clear empties the value attribute, not what was typed.
	clear := fmt.Sprintf(`((e) => { e.value = ""; e.dispatchEvent(new Event("input", {bubbles: true})); })(%s)`, sel)
	err := chromedp.Do(b.ctx,
		chromedp.WaitVisible(sel),
		chromedp.Evaluate[chromedp.Void](clear),
		chromedp.SendKeys(sel, text),
	)
	if err != nil {
		b.t.Fatalf("browser: type into %q on %s: %v", field, b.location(), err)
	}
}

// Value returns the current value of the form control named as for Type.
func (b *Browser) Value(field string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Value(Field(field)))
	if err != nil {
		b.t.Fatalf("browser: read %q on %s: %v", field, b.location(), err)
	}
	return v
}

// Press sends keys to whatever has the focus, as the keyboard would: one of
// the key constants (Tab, Enter, ...) or text. KeyModifiers makes Shift+Tab:
//
//	b.Press(chrome.Tab, chromedp.KeyModifiers(chromedp.ModifierShift))
func (b *Browser) Press(keys string, opts ...chromedp.KeyOption) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.KeyEvent(keys, opts...)); err != nil {
		b.t.Fatalf("browser: press %q on %s: %v", keys, b.location(), err)
	}
}

// Focused describes the element that has the focus: "#id" when it has an id,
// else "tag[name=...]" or the bare tag name ("body" when nothing has it).
func (b *Browser) Focused() string {
	b.t.Helper()
	return Eval[string](b, `(() => {
		const e = document.activeElement;
		if (!e) return "";
		if (e.id) return "#" + e.id;
		const tag = e.tagName.toLowerCase();
		const name = e.getAttribute("name");
		return name ? tag + "[name=" + name + "]" : tag;
	})()`)
}

// Text returns the rendered text of the first element matching the CSS
// selector, waiting for it to exist.
func (b *Browser) Text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("browser: read text of %s on %s: %v", sel, b.location(), err)
	}
	return s
}

// URL returns the address of the current page. For a page that failed to
// load (a refused connection), it is the address that was tried.
func (b *Browser) URL() string {
	b.t.Helper()
	u, err := currentURL(b.ctx)
	if err != nil {
		b.t.Fatalf("browser: read URL: %v", err)
	}
	return u
}

// Title returns the current page's title.
func (b *Browser) Title() string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Title())
	if err != nil {
		b.t.Fatalf("browser: read title: %v", err)
	}
	return s
}

// location is the current URL for an error message; it never fails the test.
func (b *Browser) location() string {
	ctx, cancel := context.WithTimeout(b.tab, 2*time.Second)
	defer cancel()
	u, err := currentURL(ctx)
	if err != nil {
		return "(unknown page)"
	}
	return u
}

// currentURL reads the navigation history rather than document.location, so
// that it names the page the browser tried to load even when it got only
// an error page, as when an OIDC redirect goes to an RP that is not
// listening.
func currentURL(ctx context.Context) (string, error) {
	h, err := chromedp.Run(ctx, chromedp.NavigationEntries())
	if err != nil {
		return "", err
	}
	if h.CurrentIndex < 0 || int(h.CurrentIndex) >= len(h.Entries) {
		return "", errors.New("read URL: no current history entry")
	}
	return h.Entries[h.CurrentIndex].URL, nil
}

// WaitURL waits until the current page's address starts with prefix (the
// OIDC redirect reaching the RP's callback, say) and returns it.
func (b *Browser) WaitURL(prefix string) string {
	b.t.Helper()
	var last string
	for {
		// A navigation in progress can make a read fail; only the deadline
		// ends the wait.
		if u, err := currentURL(b.ctx); err == nil {
			if strings.HasPrefix(u, prefix) {
				return u
			}
			last = u
		}
		select {
		case <-b.ctx.Done():
			b.t.Fatalf("browser: wait for a page at %s: still at %s: %v", prefix, last, b.ctx.Err())
			return ""
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Eval evaluates a JavaScript expression in the page, awaits it if it is a
// promise, and decodes its JSON value into T. A thrown exception or a
// rejection fails the test; use TryEval to expect one.
func Eval[T any](b *Browser, expr string) T {
	b.t.Helper()
	v, err := TryEval[T](b, expr)
	if err != nil {
		b.t.Fatalf("browser: %v", err)
	}
	return v
}

// TryEval is Eval returning the error. A JavaScript exception or rejection
// comes back as a *chromedp.ExceptionError, whose text names the error
// ("NotAllowedError: ...").
func TryEval[T any](b *Browser, expr string) (T, error) {
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		return v, fmt.Errorf("evaluate %s: %w", shorten(expr), err)
	}
	return v, nil
}

func shorten(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

func jsString(s string) string {
	j, _ := json.Marshal(s) // a string always marshals
	return string(j)
}

// Screenshot saves a PNG of the whole page (not only the viewport) as
// dir/name.png, creating dir, and returns the file's path.
func (b *Browser) Screenshot(dir, name string) string {
	b.t.Helper()
	p, err := b.screenshotTo(b.ctx, dir, name)
	if err != nil {
		b.t.Fatalf("browser: %v", err)
	}
	return p
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func (b *Browser) screenshotTo(ctx context.Context, dir, name string) (string, error) {
	png, err := chromedp.Run(ctx, fullPage)
	if err != nil {
		return "", fmt.Errorf("take screenshot: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("save screenshot: %w", err)
	}
	// Subtest names hold slashes; keep one flat file per test.
	p := filepath.Join(dir, unsafeName.ReplaceAllString(name, "_")+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		return "", fmt.Errorf("save screenshot: %w", err)
	}
	return p, nil
}

// fullPage captures the page's whole content size, below the fold too.
func fullPage(ctx context.Context, t *chromedp.Target) ([]byte, error) {
	m, err := cdp.Call(ctx, t, page.GetLayoutMetrics, cdp.Empty{})
	if err != nil {
		return nil, fmt.Errorf("measure page: %w", err)
	}
	params := page.CaptureScreenshotParams{Format: page.CaptureScreenshotFormatPng}
	if c := m.CSSContentSize; c != nil && c.Width > 0 && c.Height > 0 {
		beyond := true
		params.CaptureBeyondViewport = &beyond
		params.Clip = &page.Viewport{Width: math.Ceil(c.Width), Height: math.Ceil(c.Height), Scale: 1}
	}
	r, err := cdp.Call(ctx, t, page.CaptureScreenshot, params)
	if err != nil {
		return nil, err
	}
	return r.Data, nil
}
