package web

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/latchkey/latchkey/static"
	"github.com/latchkey/latchkey/templates"
)

// The page data structs below mirror the ones package idp defines; the field names
// are the contract between the templates and the handlers.
type loginData struct {
	Page
	TxID, Email, ErrorKey, ErrorArg, ClientName, Action string
	// Passkey is nil: passkey sign-in off, so the page has no script.
	Passkey       *struct{ JSON, Ceremony string }
	PasskeyAction string
}

type consentData struct {
	Page
	TxID, ClientName string
	Scopes           []string
	Action           string
}

type hiddenField struct{ Name, Value string }

type logoutData struct {
	Page
	Action     string
	Hidden     []hiddenField
	Done       bool
	ClientName string
}

var shippedPages = []string{"login", "consent", "logout", "error", "mfa", "enrol_totp", "notice", "account", "passkey_register"}

func newTestRenderer(t *testing.T) (*Renderer, *Catalog) {
	t.Helper()
	cat := loadCatalog(t)
	r, err := NewRenderer(templates.FS, cat, shippedPages, "")
	if err != nil {
		t.Fatalf("NewRenderer: %v", err)
	}
	return r, cat
}

func TestTemplateKeysExistInEveryLocale(t *testing.T) {
	cat := loadCatalog(t)
	r, err := NewRenderer(templates.FS, cat, shippedPages, "")
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, p := range shippedPages {
		keys := templateKeys(r.sets[p])
		all = append(all, keys...)
		for _, lang := range cat.Languages() {
			l := cat.Localizer(lang)
			for _, k := range keys {
				if !l.Has(k) {
					t.Errorf("page %s uses key %q, missing in %s", p, k, lang)
				}
			}
		}
	}
	// Guard against the walker silently finding nothing: both call forms are seen.
	for _, k := range []string{"login.email", "a11y.skip_to_content", "consent.allow", "error.request_id"} {
		if !strings.Contains(strings.Join(all, " "), k) {
			t.Errorf("key walker missed %q", k)
		}
	}
}

func TestTemplateKeysForms(t *testing.T) {
	fsys := testTemplates(`{{define "content"}}{{t .L "a.one"}}{{.L.T "a.two" 1}}{{range .X}}{{$.L.T "a.three"}}{{end}}{{if true}}{{with .Y}}{{t $.L "a.four" (t $.L "a.five")}}{{end}}{{end}}{{printf "%s" "not.a.key"}}{{end}}`)
	cat := testCatalog(t, "a.one", "a.two", "a.three", "a.four", "a.five")
	r, err := NewRenderer(fsys, cat, []string{"p"}, "")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(templateKeys(r.sets["p"]), ",")
	if got != "a.five,a.four,a.one,a.three,a.two" {
		t.Errorf("keys = %s", got)
	}
}

func TestNewRendererStartupErrors(t *testing.T) {
	cat := testCatalog(t, "known")
	tests := []struct {
		name  string
		fsys  fstest.MapFS
		pages []string
		want  string
	}{
		{"missing page", testTemplates(`{{define "content"}}{{end}}`), []string{"p", "absent"}, "absent"},
		{"unknown key", testTemplates(`{{define "content"}}{{t .L "unknown.key"}}{{end}}`), []string{"p"}, `"unknown.key"`},
		{"syntax error", testTemplates(`{{define "content"}}{{if}}{{end}}`), []string{"p"}, "parse page p"},
		{"no content block", testTemplates(`hello`), []string{"p"}, `no "content"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewRenderer(tt.fsys, cat, tt.pages, "")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %s", err, tt.want)
			}
		})
	}
}

func TestRenderPages(t *testing.T) {
	r, cat := newTestRenderer(t)
	type check struct {
		page   string
		data   func(Page) any
		want   []string // substrings in both languages
		wantJA []string
		reject []string
	}
	checks := []check{
		{
			page: "login",
			data: func(p Page) any {
				return loginData{Page: p, TxID: "tx-1", Action: "/login", ClientName: "Example & Co"}
			},
			want: []string{
				`<label for="email">`, `id="email" name="email" type="email" autocomplete="username"`,
				`<label for="password">`, `type="password" autocomplete="current-password"`,
				`name="csrf_token" value="tok-123"`, `name="tx" value="tx-1"`, `action="/login"`,
				`Example &amp; Co`, `class="skip-link" href="#main"`, `<main id="main"`, "autofocus",
				`href="/static/css/latchkey.css"`,
			},
			wantJA: []string{"メールアドレス", "パスワード"},
			reject: []string{`role="alert"`, "aria-invalid", "<script", "style="},
		},
		{
			page: "login",
			data: func(p Page) any {
				return loginData{Page: p, TxID: "tx-1", Action: "/login", Email: "hint@example.com", ErrorKey: "error.invalid_credentials"}
			},
			want: []string{
				`role="alert"`, `id="login-error"`, `aria-describedby="login-error"`, `aria-invalid="true"`,
				`value="hint@example.com"`,
			},
			wantJA: []string{"メールアドレスまたはパスワードが正しくありません。"},
		},
		{
			page: "consent",
			data: func(p Page) any {
				return consentData{Page: p, TxID: "tx-2", ClientName: "Photos", Action: "/consent",
					Scopes: []string{"openid", "email", "offline_access", "custom:thing"}}
			},
			want: []string{
				`name="decision" value="allow"`, `name="decision" value="deny"`, `name="csrf_token" value="tok-123"`,
				`name="tx" value="tx-2"`, "Photos", "<code>custom:thing</code>",
			},
			wantJA: []string{"メールアドレスを参照する", "許可する", "拒否する"},
			reject: []string{"scope.email", "scope.custom"},
		},
		{
			page: "logout",
			data: func(p Page) any {
				return logoutData{Page: p, Action: "/logout", ClientName: "Photos",
					Hidden: []hiddenField{{"id_token_hint", "eyJ.x.y"}, {"state", `a"b`}}}
			},
			want:   []string{`name="id_token_hint" value="eyJ.x.y"`, `name="state" value="a&#34;b"`, `name="csrf_token" value="tok-123"`, `action="/logout"`},
			wantJA: []string{"サインアウトしますか？"},
		},
		{
			page:   "logout",
			data:   func(p Page) any { return logoutData{Page: p, Done: true} },
			want:   []string{`role="status"`},
			wantJA: []string{"サインアウトが完了しました。"},
			reject: []string{"<form"},
		},
	}
	for _, c := range checks {
		for _, lang := range cat.Languages() {
			t.Run(c.page+"/"+lang, func(t *testing.T) {
				req := httptest.NewRequest(http.MethodGet, "/"+c.page+"?tx=1", nil)
				p := cat.NewPage(req, lang, c.page+".title")
				p.CSRFToken = "tok-123"
				p.Issuer = "https://idp.example"
				rec := httptest.NewRecorder()
				if err := r.Render(rec, req, http.StatusOK, c.page, c.data(p)); err != nil {
					t.Fatalf("Render: %v", err)
				}
				body := rec.Body.String()
				if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
					t.Errorf("Content-Type = %q", ct)
				}
				want := append([]string{`<html lang="` + lang + `">`, `aria-label="` + cat.Localizer(lang).T("nav.language") + `"`,
					`aria-current="true"`, "https://idp.example"}, c.want...)
				if lang == "ja" {
					want = append(want, c.wantJA...)
				}
				for _, s := range want {
					if !strings.Contains(body, s) {
						t.Errorf("missing %q", s)
					}
				}
				for _, s := range c.reject {
					if strings.Contains(body, s) {
						t.Errorf("unexpected %q", s)
					}
				}
				// An untranslated key in the output means a key or a field name is wrong.
				for _, prefix := range []string{"login.", "consent.", "logout.", "error.", "nav.", "a11y.", "footer."} {
					if strings.Contains(body, ">"+prefix) || strings.Contains(body, " "+prefix) {
						t.Errorf("untranslated key with prefix %q in:\n%s", prefix, body)
					}
				}
			})
		}
	}
}

func TestRenderFailureWritesNothing(t *testing.T) {
	cat := testCatalog(t)
	fsys := testTemplates(`{{define "content"}}<p>before</p>{{.NoSuchField}}<p>after</p>{{end}}`)
	r, err := NewRenderer(fsys, cat, []string{"p"}, "")
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	err = r.Render(rec, httptest.NewRequest(http.MethodGet, "/", nil), http.StatusOK, "p", struct{ Page }{})
	if err == nil {
		t.Fatal("Render succeeded with a missing field")
	}
	if rec.Body.Len() != 0 || rec.Header().Get("Content-Type") != "" {
		t.Errorf("partial output written: %q %v", rec.Body.String(), rec.Header())
	}
	if err := r.Render(rec, httptest.NewRequest(http.MethodGet, "/", nil), 200, "nope", nil); err == nil {
		t.Error("Render of an unknown page succeeded")
	}
}

func TestRenderHead(t *testing.T) {
	r, cat := newTestRenderer(t)
	req := httptest.NewRequest(http.MethodHead, "/logout", nil)
	rec := httptest.NewRecorder()
	if err := r.Render(rec, req, 200, "logout", logoutData{Page: cat.NewPage(req, "en", "logout.title"), Done: true}); err != nil {
		t.Fatal(err)
	}
	if rec.Body.Len() != 0 || rec.Header().Get("Content-Length") == "0" {
		t.Errorf("HEAD: body %d bytes, Content-Length %q", rec.Body.Len(), rec.Header().Get("Content-Length"))
	}
}

func TestRendererDevMode(t *testing.T) {
	dir := t.TempDir()
	for name, f := range testTemplates(`{{define "content"}}v1{{end}}`) {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cat := testCatalog(t)
	// The embedded FS is ignored in dev mode; an empty one proves it.
	r, err := NewRenderer(fstest.MapFS{}, cat, []string{"p"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	render := func() string {
		rec := httptest.NewRecorder()
		if err := r.Render(rec, httptest.NewRequest(http.MethodGet, "/", nil), 200, "p", struct{ Page }{}); err != nil {
			t.Fatal(err)
		}
		return rec.Body.String()
	}
	if !strings.Contains(render(), "v1") {
		t.Fatal("first render lacks v1")
	}
	if err := os.WriteFile(filepath.Join(dir, "pages", "p.html"), []byte(`{{define "content"}}v2{{end}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(render(), "v2") {
		t.Error("dev mode did not re-read the edited template")
	}
}

func TestErrorPages(t *testing.T) {
	r, cat := newTestRenderer(t)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	h := Chain(Handle(logger, NewErrorPages(r, cat, "https://idp.example"), func(w http.ResponseWriter, r *http.Request) error {
		return NewError(http.StatusNotFound, MsgNotFound, nil)
	}), RequestID)

	req := httptest.NewRequest(http.MethodGet, "/nowhere?ui_locales=ja", nil)
	req.Header.Set(RequestIDHeader, "support-42")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body := rec.Body.String()
	if rec.Code != 404 {
		t.Errorf("status = %d", rec.Code)
	}
	for _, s := range []string{`<html lang="ja">`, "お探しのページは見つかりませんでした。", "support-42", "エラー 404", `role="alert"`, "/nowhere?lang=en",
		`class="request-id"`, `<footer class="site-footer">`, "https://idp.example"} {
		if !strings.Contains(body, s) {
			t.Errorf("error page lacks %q", s)
		}
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Error("error page is cacheable")
	}

	// On a POST the switcher would link to a GET that may not exist.
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/login", nil))
	if strings.Contains(rec.Body.String(), "lang=ja") || !strings.Contains(rec.Body.String(), `<html lang="en">`) {
		t.Errorf("POST error page:\n%s", rec.Body.String())
	}
}

func TestErrorPagesFallback(t *testing.T) {
	cat := testCatalog(t, "known")
	r, err := NewRenderer(testTemplates(`{{define "content"}}{{.Nope}}{{end}}`, "error"), cat, []string{"error"}, "")
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	NewErrorPages(r, cat, "").RenderError(rec, httptest.NewRequest(http.MethodGet, "/", nil), 503, "known")
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "Known") {
		t.Errorf("fallback = %d %q", rec.Code, rec.Body.String())
	}
}

// testTemplates returns a minimal template tree with one page (named p unless given).
func testTemplates(content string, name ...string) fstest.MapFS {
	page := "p"
	if len(name) > 0 {
		page = name[0]
	}
	return fstest.MapFS{
		"base.html":               {Data: []byte(`<html lang="{{.Lang}}">{{template "content" .}}</html>`)},
		"partials/x.html":         {Data: []byte(`{{define "x"}}{{end}}`)},
		"pages/" + page + ".html": {Data: []byte(content)},
	}
}

// testCatalog returns a catalog whose en and ja both have the given keys.
func testCatalog(t *testing.T, keys ...string) *Catalog {
	t.Helper()
	en := []string{`"language.name":"English"`}
	ja := []string{`"language.name":"日本語"`}
	for _, k := range keys {
		en = append(en, `"`+k+`":"`+strings.ToUpper(k[:1])+k[1:]+`"`)
		ja = append(ja, `"`+k+`":"ja-`+k+`"`)
	}
	cat, err := LoadCatalog(fstest.MapFS{
		"locales/en.json": {Data: []byte("{" + strings.Join(en, ",") + "}")},
		"locales/ja.json": {Data: []byte("{" + strings.Join(ja, ",") + "}")},
	})
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// TestShippedAssetsServed checks that every /static/ URL the pages link is served from
// the embedded static FS with the right type.
func TestShippedAssetsServed(t *testing.T) {
	r, cat := newTestRenderer(t)
	req := httptest.NewRequest(http.MethodGet, "/logout", nil)
	rec := httptest.NewRecorder()
	if err := r.Render(rec, req, 200, "logout", logoutData{Page: cat.NewPage(req, "en", "logout.title"), Done: true}); err != nil {
		t.Fatal(err)
	}
	links := regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`).FindAllStringSubmatch(rec.Body.String(), -1)
	if len(links) < 2 {
		t.Fatalf("found %d static links, want the stylesheet and the icon", len(links))
	}
	srv := http.StripPrefix("/static", Static(static.FS))
	wantType := map[string]string{".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
	for _, m := range links {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, m[1], nil))
		if rec.Code != 200 || rec.Header().Get("Content-Type") != wantType[filepath.Ext(m[1])] {
			t.Errorf("GET %s = %d %q", m[1], rec.Code, rec.Header().Get("Content-Type"))
		}
	}
}
