package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"

	"golang.org/x/text/language"
)

// DefaultLang is the language of last resort and the reference locale: every other
// locale must translate exactly its keys.
const DefaultLang = "en"

// LangCookieName remembers the language picked with the switcher.
const LangCookieName = "latchkey_lang"

// LangParam is the query parameter the language switcher links set.
const LangParam = "lang"

// langNameKey holds each language's own name, shown in the switcher.
const langNameKey = "language.name"

// Bounds on untrusted language input; real browsers send far less.
const (
	maxUILocales      = 8
	maxTagLen         = 35
	maxAcceptLanguage = 1024
)

// Catalog holds the translated messages of every supported language.
type Catalog struct {
	langs    []string // DefaultLang first
	messages map[string]map[string]string
	matcher  language.Matcher
}

// LoadCatalog reads locales/<lang>.json from fsys: flat objects of key to message, with
// fmt verbs for arguments. It fails if en is missing, if another locale does not have
// exactly en's keys, or if a translation takes a different number of arguments.
func LoadCatalog(fsys fs.FS) (*Catalog, error) {
	files, err := fs.Glob(fsys, "locales/*.json")
	if err != nil {
		return nil, fmt.Errorf("load catalog: %w", err)
	}
	c := &Catalog{messages: make(map[string]map[string]string)}
	for _, f := range files {
		lang := strings.TrimSuffix(path.Base(f), ".json")
		tag, err := language.Parse(lang)
		if err != nil || tag.String() != lang {
			return nil, fmt.Errorf("load catalog: %s: file name is not a canonical language tag", f)
		}
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, fmt.Errorf("load catalog: %w", err)
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("load catalog: %s: %w", f, err)
		}
		c.messages[lang] = m
		c.langs = append(c.langs, lang)
	}
	if _, ok := c.messages[DefaultLang]; !ok {
		return nil, fmt.Errorf("load catalog: locales/%s.json is missing", DefaultLang)
	}
	slices.SortFunc(c.langs, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == DefaultLang:
			return -1
		case b == DefaultLang:
			return 1
		}
		return strings.Compare(a, b)
	})
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("load catalog: %w", err)
	}
	tags := make([]language.Tag, len(c.langs))
	for i, l := range c.langs {
		tags[i] = language.Make(l)
	}
	c.matcher = language.NewMatcher(tags)
	return c, nil
}

// check reports every inconsistency at once, so a translator fixes them in one pass.
func (c *Catalog) check() error {
	en := c.messages[DefaultLang]
	var errs []error
	for _, lang := range c.langs {
		m := c.messages[lang]
		if _, ok := m[langNameKey]; !ok {
			errs = append(errs, fmt.Errorf("%s: key %q is missing", lang, langNameKey))
		}
		if lang == DefaultLang {
			continue
		}
		for _, k := range sortedKeys(en) {
			msg, ok := m[k]
			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("%s: key %q is missing", lang, k))
			case argCount(msg) != argCount(en[k]):
				errs = append(errs, fmt.Errorf("%s: key %q takes %d arguments, %s takes %d",
					lang, k, argCount(msg), DefaultLang, argCount(en[k])))
			}
		}
		for _, k := range sortedKeys(m) {
			if _, ok := en[k]; !ok {
				errs = append(errs, fmt.Errorf("%s: key %q is not in %s", lang, k, DefaultLang))
			}
		}
	}
	return errors.Join(errs...)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// argCount returns how many arguments a fmt format consumes, honouring explicit
// indexes such as %[2]s, which translations use to reorder arguments.
func argCount(format string) int {
	n, next := 0, 1
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		i++
		if i < len(format) && format[i] == '%' {
			continue
		}
		// Skip flags, width and precision up to the verb, noting an explicit index.
		for ; i < len(format); i++ {
			ch := format[i]
			if ch == '[' {
				j := strings.IndexByte(format[i:], ']')
				if j < 0 {
					break
				}
				var idx int
				if _, err := fmt.Sscanf(format[i+1:i+j], "%d", &idx); err == nil {
					next = idx
				}
				i += j
				continue
			}
			if strings.IndexByte("+-# 0123456789.*", ch) < 0 {
				break
			}
		}
		n = max(n, next)
		next++
	}
	return n
}

// Languages returns the supported language codes, DefaultLang first.
func (c *Catalog) Languages() []string { return slices.Clone(c.langs) }

// Match picks the page language: the first supported entry of uiLocales (the OIDC
// ui_locales parameter, space-separated BCP 47 tags), else the language cookie, else
// the best match for the Accept-Language header, else DefaultLang. Malformed input of
// any kind is skipped, never an error.
func (c *Catalog) Match(uiLocales, cookie, acceptLanguage string) string {
	fields := strings.Fields(uiLocales)
	if len(fields) > maxUILocales {
		fields = fields[:maxUILocales]
	}
	for _, f := range fields {
		if lang, ok := c.supported(f); ok {
			return lang
		}
	}
	if lang, ok := c.supported(cookie); ok {
		return lang
	}
	if acceptLanguage != "" && len(acceptLanguage) <= maxAcceptLanguage {
		if tags, _, err := language.ParseAcceptLanguage(acceptLanguage); err == nil && len(tags) > 0 {
			if _, i, conf := c.matcher.Match(tags...); conf != language.No && i >= 0 && i < len(c.langs) {
				return c.langs[i]
			}
		}
	}
	return DefaultLang
}

// supported maps one BCP 47 tag to a supported language, so "ja-JP" selects "ja".
func (c *Catalog) supported(s string) (string, bool) {
	if s == "" || len(s) > maxTagLen {
		return "", false
	}
	tag, err := language.Parse(s)
	if err != nil {
		return "", false
	}
	_, i, conf := c.matcher.Match(tag)
	if conf == language.No || i < 0 || i >= len(c.langs) {
		return "", false
	}
	return c.langs[i], true
}

// Negotiate picks the language of a hosted page: an explicit ?lang= (a click on the
// switcher) wins, then [Catalog.Match] of uiLocales (as stored with the authorization
// request), the language cookie and Accept-Language.
func (c *Catalog) Negotiate(r *http.Request, uiLocales string) string {
	if lang, ok := c.supported(r.URL.Query().Get(LangParam)); ok {
		return lang
	}
	var cookie string
	if ck, err := r.Cookie(LangCookieName); err == nil {
		cookie = ck.Value
	}
	return c.Match(uiLocales, cookie, r.Header.Get("Accept-Language"))
}

// RememberLang stores a language picked with the switcher (a supported ?lang= on a GET)
// in the language cookie, so later pages keep it.
func (c *Catalog) RememberLang(secure bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet {
				if lang, ok := c.supported(r.URL.Query().Get(LangParam)); ok {
					LangCookie(w, lang, secure)
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// LangCookie remembers lang for a year.
func LangCookie(w http.ResponseWriter, lang string, secure bool) {
	http.SetCookie(w, &http.Cookie{
		Name:     LangCookieName,
		Value:    lang,
		Path:     "/",
		MaxAge:   365 * 24 * 60 * 60,
		Secure:   secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
}

// Localizer translates into one language. The zero value translates every key to
// itself.
type Localizer struct {
	Lang     string
	messages map[string]string
}

// Localizer returns the translator for lang, or for DefaultLang if lang is not
// supported.
func (c *Catalog) Localizer(lang string) Localizer {
	m, ok := c.messages[lang]
	if !ok {
		lang, m = DefaultLang, c.messages[DefaultLang]
	}
	return Localizer{Lang: lang, messages: m}
}

// T returns the message for key formatted with args, or the key itself if there is no
// such message: a visible key is a bug to fix, a panic on a sign-in page is worse.
func (l Localizer) T(key string, args ...any) string {
	msg, ok := l.messages[key]
	if !ok {
		return key
	}
	if len(args) == 0 {
		return msg
	}
	return fmt.Sprintf(msg, args...)
}

// Has reports whether key has a message, for keys built at run time such as
// "scope.<name>".
func (l Localizer) Has(key string) bool {
	_, ok := l.messages[key]
	return ok
}

// LangLink is one entry of the language switcher.
type LangLink struct {
	Lang, Label, URL string
	Current          bool
}

// LangLinks builds the language switcher of a page answering r: links to r's own URL
// with lang=<code> set. Only a GET (or HEAD) has a URL that shows the page again, so
// for any other method it returns nil: a page answering a form POST (after a wrong
// password, say) had its fields, such as the sign-in transaction, in the body, and
// its path alone may be no page at all. Such a page links to the GET of the same step
// with [Catalog.LangLinksAt] instead.
func (c *Catalog) LangLinks(r *http.Request, current string) []LangLink {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return nil
	}
	return c.LangLinksAt(r.URL, current)
}

// LangLinksAt builds the language switcher of the page that a GET of u shows: for each
// language, u's path and query with lang=<code> set, labelled in that language's own
// name. Only the path and query of u are used, so the links stay on this site.
func (c *Catalog) LangLinksAt(u *url.URL, current string) []LangLink {
	q := u.Query()
	p := u.Path
	// A path starting with "//" or "/\" would read as a protocol-relative URL.
	if strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		p = "/"
	}
	if p == "" {
		p = "/"
	}
	links := make([]LangLink, 0, len(c.langs))
	for _, lang := range c.langs {
		q.Set(LangParam, lang)
		link := url.URL{Path: p, RawQuery: q.Encode()}
		links = append(links, LangLink{
			Lang:    lang,
			Label:   c.messages[lang][langNameKey],
			URL:     link.String(),
			Current: lang == current,
		})
	}
	return links
}
