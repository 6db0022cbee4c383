package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/latchkey/latchkey/templates"
)

func loadCatalog(t testing.TB) *Catalog {
	t.Helper()
	c, err := LoadCatalog(templates.FS)
	if err != nil {
		t.Fatalf("LoadCatalog: %v", err)
	}
	return c
}

func TestLoadCatalogShipped(t *testing.T) {
	c := loadCatalog(t)
	if got := c.Languages(); !slices.Equal(got, []string{"en", "ja"}) {
		t.Errorf("Languages = %v", got)
	}
	// The brief's required messages must exist (the rest is checked via templates).
	for _, k := range []string{MsgInternal, MsgNotFound, MsgBadRequest, MsgForbidden, MsgCSRF, MsgRequestTooLarge,
		"error.invalid_credentials", "error.throttled", "error.login_expired", "error.invalid_redirect_uri",
		"error.unknown_client", "scope.openid", "scope.profile", "scope.email", "scope.offline_access",
		"login.title", "consent.title", "logout.title", "logout.done_title", "error.title"} {
		for _, lang := range c.Languages() {
			if !c.Localizer(lang).Has(k) {
				t.Errorf("%s: key %q missing", lang, k)
			}
		}
	}
	en := c.Localizer("en")
	if got := en.T("error.invalid_credentials"); got != "Incorrect email or password." {
		t.Errorf("error.invalid_credentials = %q", got)
	}
	if got := en.T("error.throttled", "5 minutes"); got != "Too many attempts. Try again in 5 minutes." {
		t.Errorf("error.throttled = %q", got)
	}
}

func TestLoadCatalogRejects(t *testing.T) {
	en := `{"language.name":"English","a":"A","b":"Hello %s"}`
	tests := []struct {
		name string
		ja   string
		en   string
		want string
	}{
		{"missing key", `{"language.name":"日本語","a":"あ"}`, en, `ja: key "b" is missing`},
		{"extra key", `{"language.name":"日本語","a":"あ","b":"%s さん","c":"x"}`, en, `ja: key "c" is not in en`},
		{"argument count", `{"language.name":"日本語","a":"あ","b":"こんにちは"}`, en, `takes 0 arguments, en takes 1`},
		{"no language name", `{"a":"あ","b":"%s"}`, `{"a":"A","b":"%s"}`, `key "language.name" is missing`},
		{"bad json", `{"a":`, en, "ja.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{
				"locales/en.json": {Data: []byte(tt.en)},
				"locales/ja.json": {Data: []byte(tt.ja)},
			}
			_, err := LoadCatalog(fsys)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
	if _, err := LoadCatalog(fstest.MapFS{"locales/ja.json": {Data: []byte(`{}`)}}); err == nil {
		t.Error("a catalog without en loaded")
	}
	if _, err := LoadCatalog(fstest.MapFS{"locales/EN_us.json": {Data: []byte(`{}`)}}); err == nil {
		t.Error("a non-canonical file name loaded")
	}
}

func TestArgCount(t *testing.T) {
	tests := []struct {
		format string
		want   int
	}{
		{"plain", 0},
		{"100%% sure", 0},
		{"%s", 1},
		{"%s and %d", 2},
		{"%-5s|%05.2f", 2},
		{"%[2]s then %[1]s", 2},
		{"%[1]s again %[1]s", 1},
		{"%s %[1]s", 1},
	}
	for _, tt := range tests {
		if got := argCount(tt.format); got != tt.want {
			t.Errorf("argCount(%q) = %d, want %d", tt.format, got, tt.want)
		}
	}
}

func TestMatch(t *testing.T) {
	c := loadCatalog(t)
	tests := []struct {
		name               string
		ui, cookie, accept string
		want               string
	}{
		{"nothing", "", "", "", "en"},
		{"accept ja", "", "", "ja-JP,ja;q=0.9,en;q=0.8", "ja"},
		{"accept weights", "", "", "en;q=0.2, ja;q=0.9", "ja"},
		{"accept unsupported first", "", "", "fr-CH, fr;q=0.9, ja;q=0.5", "ja"},
		{"accept only unsupported", "", "", "de-DE, fr", "en"},
		{"accept wildcard", "", "", "*", "en"},
		{"cookie beats accept", "", "ja", "en-US", "ja"},
		{"ui_locales beats cookie", "en", "ja", "ja", "en"},
		{"ui_locales beats accept", "ja", "", "en", "ja"},
		{"ui_locales region", "ja-JP", "", "en", "ja"},
		{"first supported ui_locale", "fr de-CH ja en", "", "", "ja"},
		{"unsupported ui_locales fall to cookie", "fr de", "ja", "en", "ja"},
		{"bad ui_locales fall to cookie", "!!! ??? 123456789", "ja", "", "ja"},
		{"bad cookie falls to accept", "", "../../etc", "ja", "ja"},
		{"unsupported cookie falls to accept", "", "fr", "ja", "ja"},
		{"garbage accept", "", "", ";;;q=x,,=,", "en"},
		{"garbage accept with q", "", "", "ja;q=abc", "en"},
		{"huge accept", "", "", strings.Repeat("ja,", 2000), "en"},
		{"many ui_locales", strings.Repeat("fr ", 20) + "ja", "", "", "en"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.Match(tt.ui, tt.cookie, tt.accept); got != tt.want {
				t.Errorf("Match(%q, %q, %q) = %q, want %q", tt.ui, tt.cookie, tt.accept, got, tt.want)
			}
		})
	}
}

func FuzzMatch(f *testing.F) {
	c := loadCatalog(f)
	f.Add("ja-JP en", "ja", "ja-JP,ja;q=0.9,en;q=0.8")
	f.Add("", "", "*;q=0.1, x-klingon")
	f.Add("zh-Hant-TW-u-ca-chinese", "en-US-x-foo", "en;q=1.5,,;")
	f.Add("\x00\xff", "%%", "ja;q=0.0000001")
	f.Fuzz(func(t *testing.T, ui, cookie, accept string) {
		got := c.Match(ui, cookie, accept)
		if !slices.Contains(c.Languages(), got) {
			t.Fatalf("Match returned unsupported %q", got)
		}
		if l := c.Localizer(got); l.Lang != got {
			t.Fatalf("Localizer(%q).Lang = %q", got, l.Lang)
		}
	})
}

func TestLocalizer(t *testing.T) {
	c := loadCatalog(t)
	ja := c.Localizer("ja")
	if ja.Lang != "ja" || ja.T("login.submit") != "サインイン" {
		t.Errorf("ja localizer: %q %q", ja.Lang, ja.T("login.submit"))
	}
	if got := ja.T("consent.heading", "Example App"); got != "Example App があなたのアカウントへのアクセスを求めています" {
		t.Errorf("formatted = %q", got)
	}
	if got := ja.T("no.such.key", 1, 2); got != "no.such.key" {
		t.Errorf("missing key = %q, want the key", got)
	}
	if fr := c.Localizer("fr"); fr.Lang != "en" || fr.T("login.submit") != "Sign in" {
		t.Errorf("unsupported language: %q %q", fr.Lang, fr.T("login.submit"))
	}
	var zero Localizer
	if zero.T("login.submit") != "login.submit" || zero.Has("login.submit") {
		t.Error("zero Localizer must translate keys to themselves")
	}
}

func TestLangLinks(t *testing.T) {
	c := loadCatalog(t)
	r := httptest.NewRequest(http.MethodGet, "/login?tx=abc&lang=en", nil)
	links := c.LangLinks(r, "ja")
	want := []LangLink{
		{Lang: "en", Label: "English", URL: "/login?lang=en&tx=abc"},
		{Lang: "ja", Label: "日本語", URL: "/login?lang=ja&tx=abc", Current: true},
	}
	if !slices.Equal(links, want) {
		t.Errorf("LangLinks = %+v\nwant %+v", links, want)
	}

	r = httptest.NewRequest(http.MethodGet, "/", nil)
	r.URL.Path = "//evil.example/x"
	for _, l := range c.LangLinks(r, "en") {
		if strings.HasPrefix(l.URL, "//") {
			t.Errorf("protocol-relative link %q", l.URL)
		}
	}

	// A page answering a POST: its URL is no page to switch to (the tx was in the body).
	r = httptest.NewRequest(http.MethodPost, "/login", strings.NewReader("tx=abc&password=x"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if links := c.LangLinks(r, "en"); links != nil {
		t.Errorf("LangLinks of a POST = %+v, want none", links)
	}
}

func TestLangLinksAt(t *testing.T) {
	c := loadCatalog(t)
	links := c.LangLinksAt(&url.URL{Scheme: "https", Host: "evil.example", Path: "/idp/mfa", RawQuery: "tx=abc&factor=totp&lang=en"}, "en")
	want := []LangLink{
		{Lang: "en", Label: "English", URL: "/idp/mfa?factor=totp&lang=en&tx=abc", Current: true},
		{Lang: "ja", Label: "日本語", URL: "/idp/mfa?factor=totp&lang=ja&tx=abc"},
	}
	if !slices.Equal(links, want) {
		t.Errorf("LangLinksAt = %+v\nwant %+v", links, want)
	}
	for _, p := range []string{"//evil.example/x", "/\\evil.example/x", ""} {
		for _, l := range c.LangLinksAt(&url.URL{Path: p}, "en") {
			if !strings.HasPrefix(l.URL, "/?") {
				t.Errorf("LangLinksAt(%q) link %q, want the root", p, l.URL)
			}
		}
	}
}

func TestNegotiateAndRememberLang(t *testing.T) {
	c := loadCatalog(t)
	r := httptest.NewRequest(http.MethodGet, "/login?lang=ja", nil)
	r.Header.Set("Accept-Language", "en")
	if got := c.Negotiate(r, "en"); got != "ja" {
		t.Errorf("explicit lang: %q, want ja", got)
	}
	r = httptest.NewRequest(http.MethodGet, "/login?lang=xx", nil)
	r.AddCookie(&http.Cookie{Name: LangCookieName, Value: "ja"})
	if got := c.Negotiate(r, ""); got != "ja" {
		t.Errorf("cookie: %q, want ja", got)
	}

	rec := httptest.NewRecorder()
	c.RememberLang(true)(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/login?lang=ja-JP", nil))
	cks := rec.Result().Cookies()
	if len(cks) != 1 || cks[0].Name != LangCookieName || cks[0].Value != "ja" || !cks[0].Secure ||
		cks[0].MaxAge != 365*24*60*60 || cks[0].SameSite != http.SameSiteLaxMode || cks[0].Path != "/" {
		t.Errorf("cookies = %+v", cks)
	}
	rec = httptest.NewRecorder()
	c.RememberLang(true)(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/login?lang=fr", nil))
	if len(rec.Result().Cookies()) != 0 {
		t.Error("an unsupported lang was remembered")
	}
}
