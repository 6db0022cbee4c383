package chrome

import (
	"fmt"
	"net/url"
	"strings"
	"sync"

	jsonv2 "github.com/chromedp/cdproto/cdp/jsonv2"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
)

// ConsoleMessage is one line of the page's console.
type ConsoleMessage struct {
	// Level is the console API's call type ("log", "error", "assert", ...),
	// "exception" for an uncaught exception or unhandled rejection, or the
	// browser log's level ("error", "warning", ...) for its own messages,
	// such as a Content-Security-Policy violation.
	Level string
	// Source is "console", "exception", or the browser log's source
	// ("security", "network", "javascript", ...).
	Source string
	Text   string
	URL    string
}

// IsError reports whether a test should treat the message as a failure.
// A missing /favicon.ico is not one: Chromium asks for it on every page and
// logs the 404 as a network error.
func (m ConsoleMessage) IsError() bool {
	switch m.Level {
	case "error", "assert", "exception":
	default:
		return false
	}
	if m.Source == "network" {
		if u, err := url.Parse(m.URL); err == nil && u.Path == "/favicon.ico" {
			return false
		}
	}
	return true
}

func (m ConsoleMessage) String() string {
	s := m.Source + " " + m.Level + ": " + m.Text
	if m.URL != "" {
		s += " (" + m.URL + ")"
	}
	return s
}

// consoleLog collects the tab's console from the listener chromedp runs on
// the tab's read loop. Because that loop delivers events in order before the
// reply to any later command, a message the page wrote before a command
// returned is always here once that command has returned.
type consoleLog struct {
	mu   sync.Mutex
	msgs []ConsoleMessage
}

// listen must return fast and must not call the browser: it runs on the
// goroutine that reads the tab's messages.
func (c *consoleLog) listen(ev any) {
	var m ConsoleMessage
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		m = ConsoleMessage{Level: string(ev.Type), Source: "console", Text: argsText(ev.Args)}
		if st := ev.StackTrace; st != nil && len(st.CallFrames) > 0 {
			m.URL = st.CallFrames[0].URL
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil {
			desc, _, _ := strings.Cut(valueText(d.Exception), "\n    at ")
			text += " " + desc
		}
		m = ConsoleMessage{Level: "exception", Source: "exception", Text: text, URL: d.URL}
	case *log.EventEntryAdded:
		e := ev.Entry
		if e == nil {
			return
		}
		m = ConsoleMessage{Level: string(e.Level), Source: string(e.Source), Text: e.Text, URL: e.URL}
	default:
		return
	}
	c.mu.Lock()
	c.msgs = append(c.msgs, m)
	c.mu.Unlock()
}

func (c *consoleLog) messages() []ConsoleMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]ConsoleMessage(nil), c.msgs...)
}

func (c *consoleLog) all() []string {
	var out []string
	for _, m := range c.messages() {
		out = append(out, m.String())
	}
	return out
}

func argsText(args []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		parts = append(parts, valueText(a))
	}
	return strings.Join(parts, " ")
}

func valueText(o *runtime.RemoteObject) string {
	if o == nil {
		return "null"
	}
	if o.Type == runtime.RemoteObjectTypeString {
		var s string
		if err := jsonv2.Unmarshal(o.Value, &s); err == nil {
			return s
		}
	}
	switch {
	case o.UnserializableValue != "":
		return string(o.UnserializableValue)
	case o.Description != "":
		return o.Description
	case len(o.Value) > 0:
		return string(o.Value)
	}
	return string(o.Type)
}

// Console returns every console message of the tab so far, across
// navigations.
func (b *Browser) Console() []ConsoleMessage {
	b.t.Helper()
	b.sync()
	return b.console.messages()
}

// ConsoleErrors returns the console errors so far: console.error and failed
// console.assert calls, uncaught exceptions and rejections, and the browser's
// own errors (a CSP violation, a failed subresource).
func (b *Browser) ConsoleErrors() []ConsoleMessage {
	b.t.Helper()
	var errs []ConsoleMessage
	for _, m := range b.Console() {
		if m.IsError() {
			errs = append(errs, m)
		}
	}
	return errs
}

// NoConsoleErrors fails the test (without stopping it) for each console
// error so far.
func (b *Browser) NoConsoleErrors() {
	b.t.Helper()
	for _, m := range b.ConsoleErrors() {
		b.t.Errorf("browser console: %s", m)
	}
}

// sync makes one round trip to the tab, so every console event sent before
// it has reached the listener.
func (b *Browser) sync() {
	b.t.Helper()
	if _, err := TryEval[bool](b, "true"); err != nil {
		b.t.Fatalf("browser: %v", fmt.Errorf("read console: %w", err))
	}
}
