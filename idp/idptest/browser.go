package idptest

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// Browser is an HTTP client with a cookie jar that does not follow
// redirects by itself, so a test sees every hop of a flow.
type Browser struct {
	T      testing.TB
	Client *http.Client
	env    *Env
}

// NewBrowser returns a browser with an empty cookie jar.
func (e *Env) NewBrowser() *Browser {
	jar, _ := cookiejar.New(nil) // never fails without options
	return &Browser{T: e.T, env: e, Client: &http.Client{
		Jar:     jar,
		Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// Response is one answered request with its body read.
type Response struct {
	Status int
	Header http.Header
	// URL is the URL that was requested.
	URL  *url.URL
	Body string
}

// IsRedirect reports a 3xx answer with a Location.
func (r *Response) IsRedirect() bool {
	return r.Status >= 300 && r.Status < 400 && r.Header.Get("Location") != ""
}

// Location returns the redirect target resolved against the request URL,
// or nil when there is none.
func (r *Response) Location() *url.URL {
	loc := r.Header.Get("Location")
	if loc == "" {
		return nil
	}
	u, err := r.URL.Parse(loc)
	if err != nil {
		return nil
	}
	return u
}

// Path is the path of the requested URL: "/login", "/consent" ...
func (r *Response) Path() string { return r.URL.Path }

// Do sends one request and reads the whole answer.
func (b *Browser) Do(req *http.Request) *Response {
	b.T.Helper()
	resp, err := b.Client.Do(req)
	if err != nil {
		b.T.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.T.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, URL: req.URL, Body: string(body)}
}

// Get fetches u without following a redirect.
func (b *Browser) Get(u string) *Response {
	b.T.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		b.T.Fatalf("GET %s: %v", u, err)
	}
	return b.Do(req)
}

// PostForm posts v to u without following a redirect.
func (b *Browser) PostForm(u string, v url.Values) *Response {
	b.T.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(v.Encode()))
	if err != nil {
		b.T.Fatalf("POST %s: %v", u, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.Do(req)
}

// Follow follows redirects that stay on the provider and returns the first
// answer that is not one: a page, or a redirect away from the provider
// (to a client's redirect_uri).
func (b *Browser) Follow(r *Response) *Response {
	b.T.Helper()
	for hops := 0; r.IsRedirect(); hops++ {
		if hops > 20 {
			b.T.Fatalf("more than 20 redirects, last to %s", r.Location())
		}
		next := r.Location()
		if !b.onProvider(next) {
			return r
		}
		r = b.Get(next.String())
	}
	return r
}

func (b *Browser) onProvider(u *url.URL) bool {
	base, _ := url.Parse(b.env.base)
	return u != nil && u.Scheme == base.Scheme && u.Host == base.Host && strings.HasPrefix(u.Path, base.Path)
}

// Open starts a flow at an authorization URL and follows it to the first
// page (login, consent, error) or to the redirect away from the provider.
func (b *Browser) Open(authorizeURL string) *Response {
	b.T.Helper()
	return b.Follow(b.Get(authorizeURL))
}

// Submit posts a form of page r: the fields of the form, changed by set
// (a field set to "" is removed), and follows the answer as Follow does.
func (b *Browser) Submit(r *Response, set map[string]string) *Response {
	b.T.Helper()
	f := r.Form()
	if f == nil {
		b.T.Fatalf("no form on %s (status %d):\n%s", r.URL, r.Status, r.Body)
	}
	v := f.Fields
	for k, val := range set {
		if val == "" {
			v.Del(k)
		} else {
			v.Set(k, val)
		}
	}
	return b.Follow(b.PostForm(f.Action, v))
}

// SubmitLogin fills the login page's form and follows the answer.
func (b *Browser) SubmitLogin(page *Response, email, password string) *Response {
	b.T.Helper()
	if page.Path() != b.path("/login") {
		b.T.Fatalf("expected the login page, got %s (status %d):\n%s", page.URL, page.Status, page.Body)
	}
	return b.Submit(page, map[string]string{"email": email, "password": password})
}

// SubmitConsent answers the consent page with decision "allow" or "deny"
// and follows the answer.
func (b *Browser) SubmitConsent(page *Response, decision string) *Response {
	b.T.Helper()
	if page.Path() != b.path("/consent") {
		b.T.Fatalf("expected the consent page, got %s (status %d):\n%s", page.URL, page.Status, page.Body)
	}
	return b.Submit(page, map[string]string{"decision": decision})
}

// Login runs a whole sign-in: it opens authorizeURL, signs in on the login
// page and returns the redirect to the client (code, state, iss or error).
// It fails the test if the flow asks for consent or ends on a page.
func (b *Browser) Login(authorizeURL, email, password string) *url.URL {
	b.T.Helper()
	r := b.Open(authorizeURL)
	if r.Path() == b.path("/login") {
		r = b.SubmitLogin(r, email, password)
	}
	return b.clientRedirect(r)
}

// LoginAndConsent is Login for a client that needs consent: it answers the
// consent page with decision.
func (b *Browser) LoginAndConsent(authorizeURL, email, password, decision string) *url.URL {
	b.T.Helper()
	r := b.Open(authorizeURL)
	if r.Path() == b.path("/login") {
		r = b.SubmitLogin(r, email, password)
	}
	return b.clientRedirect(b.SubmitConsent(r, decision))
}

// Authorize opens authorizeURL with whatever session the browser has and
// returns the redirect to the client; it fails the test if a page is shown.
func (b *Browser) Authorize(authorizeURL string) *url.URL {
	b.T.Helper()
	return b.clientRedirect(b.Open(authorizeURL))
}

func (b *Browser) clientRedirect(r *Response) *url.URL {
	b.T.Helper()
	if !r.IsRedirect() {
		b.T.Fatalf("expected a redirect to the client, got %s (status %d):\n%s", r.URL, r.Status, r.Body)
	}
	return r.Location()
}

func (b *Browser) path(p string) string {
	base, _ := url.Parse(b.env.base)
	return base.Path + p
}

// Cookie returns the value of the named cookie the browser holds for the
// provider, or "".
func (b *Browser) Cookie(name string) string {
	u, _ := url.Parse(b.env.base + "/")
	for _, c := range b.Client.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// Form is an HTML form of a page.
type Form struct {
	Action string // absolute
	Method string
	// Fields are the named inputs with their values (hidden ones, and
	// visible ones with a value attribute); buttons are not included.
	Fields url.Values
}

// Form returns the first form of the page, or nil.
func (r *Response) Form() *Form {
	fs := r.Forms()
	if len(fs) == 0 {
		return nil
	}
	return &fs[0]
}

// Forms parses every form of the page.
func (r *Response) Forms() []Form {
	var out []Form
	var cur *Form
	z := html.NewTokenizer(strings.NewReader(r.Body))
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return out
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			t := z.Token()
			switch {
			case t.Data == "form" && tt == html.EndTagToken:
				cur = nil
			case t.Data == "form":
				action := r.URL.String()
				if a := attr(t, "action"); a != "" {
					if u, err := r.URL.Parse(a); err == nil {
						action = u.String()
					}
				}
				out = append(out, Form{Action: action, Method: strings.ToUpper(attr(t, "method")), Fields: url.Values{}})
				cur = &out[len(out)-1]
			case t.Data == "input" && cur != nil:
				name := attr(t, "name")
				typ := attr(t, "type")
				if name == "" || typ == "submit" || typ == "button" {
					continue
				}
				cur.Fields.Add(name, attr(t, "value"))
			}
		}
	}
}

func attr(t html.Token, name string) string {
	for _, a := range t.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}
