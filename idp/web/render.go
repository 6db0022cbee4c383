package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"os"
	"slices"
	"strconv"
)

// Page is the data every hosted page needs; each page's data struct embeds it.
type Page struct {
	L         Localizer
	Lang      string
	Title     string // i18n key
	CSRFToken string
	Langs     []LangLink
	Issuer    string
}

// NewPage fills the language fields of a Page for r; the caller adds CSRFToken and
// Issuer.
func (c *Catalog) NewPage(r *http.Request, lang, titleKey string) Page {
	l := c.Localizer(lang)
	return Page{L: l, Lang: l.Lang, Title: titleKey, Langs: c.LangLinks(r, l.Lang)}
}

// ErrorPageData is the data of the "error" page.
type ErrorPageData struct {
	Page
	Status    int
	Message   string // i18n key
	RequestID string
}

// Renderer renders hosted pages. Each page is its own template set of base.html, the
// shared partials/*.html and pages/<name>.html, so pages can define the same blocks
// ("content") without clashing.
type Renderer struct {
	cat    *Catalog
	pages  []string
	devDir string
	sets   map[string]*template.Template
}

// NewRenderer parses every page from fsys, failing if a page is missing, does not
// parse, or uses an i18n key that cat lacks. With devDir set, templates are read from
// that directory instead and re-parsed on every render, so edits show on reload.
func NewRenderer(fsys fs.FS, cat *Catalog, pages []string, devDir string) (*Renderer, error) {
	r := &Renderer{cat: cat, pages: slices.Clone(pages), devDir: devDir}
	if devDir != "" {
		fsys = os.DirFS(devDir)
	}
	r.sets = make(map[string]*template.Template, len(pages))
	for _, p := range pages {
		t, err := r.parse(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("new renderer: %w", err)
		}
		r.sets[p] = t
	}
	return r, nil
}

const baseTemplate = "base.html"

func (r *Renderer) parse(fsys fs.FS, page string) (*template.Template, error) {
	t, err := template.New(baseTemplate).Funcs(templateFuncs).
		ParseFS(fsys, baseTemplate, "partials/*.html", "pages/"+page+".html")
	if err != nil {
		return nil, fmt.Errorf("parse page %s: %w", page, err)
	}
	if t.Lookup("content") == nil {
		return nil, fmt.Errorf("parse page %s: pages/%s.html defines no \"content\" template", page, page)
	}
	if err := checkKeys(page, t, r.cat); err != nil {
		return nil, fmt.Errorf("parse page %s: %w", page, err)
	}
	return t, nil
}

var templateFuncs = template.FuncMap{
	// t translates: {{t .L "login.title"}}, {{t $.L "consent.heading" .ClientName}}.
	"t": func(l Localizer, key string, args ...any) string { return l.T(key, args...) },
}

// Render writes page with data and status. The page is rendered to a buffer first,
// so a template error returns an error with nothing written and the caller can still
// send an error page.
func (r *Renderer) Render(w http.ResponseWriter, req *http.Request, status int, page string, data any) error {
	t, ok := r.sets[page]
	if !ok {
		return fmt.Errorf("render %s: unknown page", page)
	}
	if r.devDir != "" {
		var err error
		if t, err = r.parse(os.DirFS(r.devDir), page); err != nil {
			return fmt.Errorf("render %s: %w", page, err)
		}
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, baseTemplate, data); err != nil {
		return fmt.Errorf("render %s: %w", page, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	if req.Method == http.MethodHead {
		return nil
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("render %s: write: %w", page, err)
	}
	return nil
}

// errorPages renders errors as the localized "error" page.
type errorPages struct {
	r      *Renderer
	cat    *Catalog
	issuer string
}

var _ ErrorRenderer = errorPages{}

// NewErrorPages returns an ErrorRenderer that renders the "error" page (which r must
// have been built with) in the language negotiated for the request. issuer goes in
// the page's footer, as on every other hosted page.
func NewErrorPages(r *Renderer, cat *Catalog, issuer string) ErrorRenderer {
	return errorPages{r: r, cat: cat, issuer: issuer}
}

func (e errorPages) RenderError(w http.ResponseWriter, req *http.Request, status int, messageKey string) {
	lang := e.cat.Negotiate(req, req.URL.Query().Get("ui_locales"))
	data := ErrorPageData{
		Page:      e.cat.NewPage(req, lang, "error.title"),
		Status:    status,
		Message:   messageKey,
		RequestID: RequestIDFrom(req.Context()),
	}
	data.Issuer = e.issuer
	w.Header().Set("Cache-Control", "no-store")
	if err := e.r.Render(w, req, status, "error", data); err != nil {
		// Nothing was written; the status and the message still reach the user.
		http.Error(w, data.L.T(messageKey), status)
	}
}
