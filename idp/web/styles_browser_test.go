package web

import (
	"html/template"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/idp/idptest/chrome"
	"github.com/latchkey/latchkey/static"
)

// styleSite serves shipped pages with the shipped stylesheet, for checks of what the
// CSS does in a real browser (the cascade, pseudo-elements, wrapping) that no string
// match of the stylesheet can make.
func styleSite(t *testing.T) string {
	t.Helper()
	r, cat := newTestRenderer(t)
	render := func(page string, data func(Page) any) http.HandlerFunc {
		return func(w http.ResponseWriter, req *http.Request) {
			p := cat.NewPage(req, cat.Negotiate(req, ""), page+".title")
			p.Issuer = "https://idp.example"
			if err := r.Render(w, req, http.StatusOK, page, data(p)); err != nil {
				t.Errorf("render %s: %v", page, err)
			}
		}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /static/", http.StripPrefix("/static", Static(static.FS)))
	mux.Handle("GET /login", render("login", func(p Page) any {
		// Options the page's script accepts, so it runs as on the real page.
		return passkeyLoginData{Page: p, TxID: "tx-1", Action: "/login", PasskeyAction: "/login/passkey",
			Passkey: &passkeyOptions{JSON: `{"challenge":"AAAAAAAAAAAAAAAAAAAAAA","rpId":"localhost"}`, Ceremony: "c-1"}}
	}))
	mux.Handle("GET /notice", render("notice", func(p Page) any {
		return noticeData{Page: p, HeadingKey: "recovery.title", BodyKey: "recovery.intro", Continue: "/elsewhere",
			Codes: []string{"abcde-fghjk"}}
	}))
	// A generated request id is 32 characters, the longest the error page shows in
	// practice.
	mux.Handle("GET /error", RequestID(Handle(slog.New(slog.DiscardHandler), NewErrorPages(r, cat, "https://idp.example"),
		func(http.ResponseWriter, *http.Request) error { return NewError(http.StatusNotFound, MsgNotFound, nil) })))
	mux.HandleFunc("GET /favicon.ico", http.NotFound)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return chrome.Localhost(srv.URL)
}

// passkeyLoginData is loginData with passkey sign-in on, as package idp fills it.
type passkeyLoginData struct {
	Page
	TxID, Email, ErrorKey, ErrorArg, ClientName, Action string
	Passkey                                             *passkeyOptions
	PasskeyAction                                       string
}

type passkeyOptions struct {
	JSON     template.JS
	Ceremony string
}

type noticeData struct {
	Page
	HeadingKey, BodyKey, BodyArg, Continue string
	Codes                                  []string
}

// contrastJS defines contrast(fg, bg), the WCAG contrast ratio of two computed
// rgb()/rgba() colours (opaque ones: the pages use no translucent text).
const contrastJS = `
const lum = c => {
  const [r, g, b] = c.match(/[\d.]+/g).slice(0, 3).map(v => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
const contrast = (fg, bg) => {
  const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
};
`

// TestDividerStyle: the "or" between the password form and the passkey button is a
// centred word between two lines, the lines drawn by CSS, the word readable (WCAG AA).
func TestDividerStyle(t *testing.T) {
	base := styleSite(t)
	b := chrome.New(t)
	for _, lang := range []string{"en", "ja"} {
		b.Open(base+"/login?lang="+lang, ".divider")
		type divider struct {
			Text                      string
			Before, After             string // content of the pseudo-elements
			BeforeLine, AfterLine     float64
			BeforeWidth, AfterWidth   float64
			TextCentre, DividerCentre float64
			Contrast                  float64
		}
		d := chrome.Eval[divider](b, `(() => {`+contrastJS+`
  const el = document.querySelector(".divider");
  const span = el.querySelector("span");
  const card = el.closest(".card");
  const before = getComputedStyle(el, "::before"), after = getComputedStyle(el, "::after");
  const r = el.getBoundingClientRect(), s = span.getBoundingClientRect();
  return {
    text: el.textContent.trim(),
    before: before.content, after: after.content,
    beforeLine: parseFloat(before.borderTopWidth), afterLine: parseFloat(after.borderTopWidth),
    beforeWidth: parseFloat(before.width) || 0, afterWidth: parseFloat(after.width) || 0,
    textCentre: s.left + s.width / 2, dividerCentre: r.left + r.width / 2,
    contrast: contrast(getComputedStyle(span).color, getComputedStyle(card).backgroundColor),
  };
})()`)
		if want := loadCatalog(t).Localizer(lang).T("login.or"); d.Text != want {
			t.Errorf("%s: divider text %q, want %q (the word stays in the page)", lang, d.Text, want)
		}
		if d.Before == "none" || d.After == "none" || d.BeforeLine < 1 || d.AfterLine < 1 {
			t.Errorf("%s: divider lines: ::before %q %vpx, ::after %q %vpx; want a line either side",
				lang, d.Before, d.BeforeLine, d.After, d.AfterLine)
		}
		if d.BeforeWidth < 40 || d.AfterWidth < 40 || d.BeforeWidth-d.AfterWidth > 1 || d.AfterWidth-d.BeforeWidth > 1 {
			t.Errorf("%s: divider line widths %v and %v, want two equal lines", lang, d.BeforeWidth, d.AfterWidth)
		}
		if diff := d.TextCentre - d.DividerCentre; diff > 1 || diff < -1 {
			t.Errorf("%s: divider word centred at %v, the divider at %v", lang, d.TextCentre, d.DividerCentre)
		}
		if d.Contrast < 4.5 {
			t.Errorf("%s: divider text contrast %.2f:1, want at least 4.5:1 (WCAG AA)", lang, d.Contrast)
		}
	}
}

// TestLinkButtonStyle: a link styled as a button (a.btn, the notice page's Continue) is
// not underlined by the global a rule, keeps readable text when hovered (a:hover
// outranks .btn-primary), and still shows a focus outline for keyboard users.
func TestLinkButtonStyle(t *testing.T) {
	base := styleSite(t)
	b := chrome.New(t)
	b.Open(base+"/notice", "a.btn-primary")
	type look struct {
		Decoration string
		Contrast   float64
		X, Y       float64
	}
	const lookJS = `(() => {` + contrastJS + `
  const a = document.querySelector("a.btn-primary");
  const st = getComputedStyle(a), r = a.getBoundingClientRect();
  return {decoration: st.textDecorationLine, contrast: contrast(st.color, st.backgroundColor),
    x: r.left + r.width / 2, y: r.top + r.height / 2};
})()`
	l := chrome.Eval[look](b, lookJS)
	if l.Decoration != "none" {
		t.Errorf("a.btn text-decoration-line = %q, want none", l.Decoration)
	}
	if l.Contrast < 4.5 {
		t.Errorf("a.btn text contrast %.2f:1, want at least 4.5:1", l.Contrast)
	}
	b.Run(chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, l.X, l.Y))
	if !chrome.Eval[bool](b, `document.querySelector("a.btn-primary").matches(":hover")`) {
		t.Fatal("the pointer is not over the button")
	}
	if h := chrome.Eval[look](b, lookJS); h.Decoration != "none" || h.Contrast < 4.5 {
		t.Errorf("hovered a.btn: text-decoration-line %q, contrast %.2f:1; want none and at least 4.5:1", h.Decoration, h.Contrast)
	}
	b.Run(chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, 1, 1))

	// Tab from the top of the page to the button, as a keyboard user would.
	b.Run(chromedp.Evaluate[chromedp.Void](`document.activeElement.blur()`))
	for range 10 {
		if chrome.Eval[bool](b, `document.activeElement.matches("a.btn-primary")`) {
			break
		}
		b.Press(chrome.Tab)
	}
	type focus struct {
		Focused, Visible bool
		Style            string
		Width            float64
	}
	f := chrome.Eval[focus](b, `(() => {
  const a = document.querySelector("a.btn-primary"), st = getComputedStyle(a);
  return {focused: document.activeElement === a, visible: a.matches(":focus-visible"),
    style: st.outlineStyle, width: parseFloat(st.outlineWidth)};
})()`)
	if !f.Focused || !f.Visible || f.Style == "none" || f.Width < 2 {
		t.Errorf("keyboard focus on a.btn: %+v, want a visible outline of at least 2px", f)
	}
}

// TestErrorPageStyle: on a phone-sized screen, the error page's request id stays whole
// on one line inside the card instead of wrapping mid-id beside its label, and the
// page has the footer every other page has.
func TestErrorPageStyle(t *testing.T) {
	base := styleSite(t)
	b := chrome.New(t, chrome.WithWindowSize(360, 740))
	for _, lang := range []string{"en", "ja"} {
		b.Open(base+"/error?lang="+lang, ".request-id")
		type errorPage struct {
			ID              string
			Lines           int
			IDLeft, IDRight float64
			CardL, CardR    float64
			Footer          string
		}
		e := chrome.Eval[errorPage](b, `(() => {
  const code = document.querySelector(".request-id"), card = code.closest(".card");
  const range = document.createRange();
  range.selectNodeContents(code);
  const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
  const c = code.getBoundingClientRect(), k = card.getBoundingClientRect();
  return {id: code.textContent, lines: tops.size, idLeft: c.left, idRight: c.right,
    cardL: k.left, cardR: k.right, footer: document.querySelector(".site-footer").textContent.trim()};
})()`)
		if len(e.ID) != 32 {
			t.Fatalf("%s: request id %q, want the 32 characters RequestID generates", lang, e.ID)
		}
		if e.Lines != 1 {
			t.Errorf("%s: the request id takes %d lines on a 360px screen, want 1", lang, e.Lines)
		}
		if e.IDLeft < e.CardL || e.IDRight > e.CardR {
			t.Errorf("%s: the request id spans %v-%v, outside the card %v-%v", lang, e.IDLeft, e.IDRight, e.CardL, e.CardR)
		}
		if !strings.Contains(e.Footer, "https://idp.example") {
			t.Errorf("%s: footer %q, want the issuer as on every other page", lang, e.Footer)
		}
	}
}
