package idp_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/idp/idptest"
)

// laggingClock starts an hour behind real time, so a test can move it
// forward without putting auth_time in fosite's future.
func laggingClock() idptest.Option { return idptest.WithClock(idptest.NewClock(-time.Hour)) }

func TestPromptNone(t *testing.T) { onBackends(t, testPromptNone) }

func testPromptNone(t *testing.T, opts ...idptest.Option) {
	f := newFixture(t, opts...)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b := f.env.NewBrowser()

	// No session: login_required to the client, never a page.
	a := newAuthRequest()
	q := b.Authorize(r.url(a, oauth2.SetAuthURLParam("prompt", "none"))).Query()
	if q.Get("error") != "login_required" || q.Get("state") != a.state || q.Get("iss") != f.env.Issuer || q.Get("code") != "" {
		t.Fatalf("prompt=none without a session: %v, want error=login_required with state and iss", q)
	}

	// With a session: a code at once, with the session's auth_time.
	a = newAuthRequest()
	first := r.exchange(a, b.Login(r.url(a), userEmail, userPassword))
	a = newAuthRequest()
	second := r.exchange(a, b.Authorize(r.url(a, oauth2.SetAuthURLParam("prompt", "none"))))
	if num(second.claims["auth_time"]) != num(first.claims["auth_time"]) || second.claims["sid"] != first.claims["sid"] {
		t.Errorf("prompt=none with a session: auth_time %v sid %v, want %v %v",
			second.claims["auth_time"], second.claims["sid"], first.claims["auth_time"], first.claims["sid"])
	}

	// prompt=none mixed with another value is invalid.
	a = newAuthRequest()
	if q := b.Authorize(r.url(a, oauth2.SetAuthURLParam("prompt", "none login"))).Query(); q.Get("error") != "invalid_request" {
		t.Errorf("prompt=none login: %v, want invalid_request", q)
	}
}

// TestPromptLogin: prompt=login shows the login page although the browser
// has a session, and the new id_token has a later auth_time.
func TestPromptLogin(t *testing.T) { onBackends(t, testPromptLogin) }

func testPromptLogin(t *testing.T, opts ...idptest.Option) {
	f := newFixture(t, append(opts, laggingClock())...)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b := f.env.NewBrowser()
	a := newAuthRequest()
	first := r.exchange(a, b.Login(r.url(a), userEmail, userPassword))

	f.env.Clock.Advance(5 * time.Second)
	a = newAuthRequest()
	page := b.Open(r.url(a, oauth2.SetAuthURLParam("prompt", "login")))
	if page.Path() != "/login" || page.Status != http.StatusOK {
		t.Fatalf("prompt=login with a session: %s %d, want the login page", page.URL, page.Status)
	}
	second := r.exchange(a, b.Login(r.url(a, oauth2.SetAuthURLParam("prompt", "login")), userEmail, userPassword))
	if got, was := num(second.claims["auth_time"]), num(first.claims["auth_time"]); got < was+5 {
		t.Errorf("auth_time after prompt=login = %d, want at least %d", got, was+5)
	}
	if second.claims["sid"] == first.claims["sid"] {
		t.Error("a new sign-in kept the session id")
	}
}

// TestMaxAge: a sign-in older than max_age forces a fresh one; a recent one
// is reused.
func TestMaxAge(t *testing.T) { onBackends(t, testMaxAge) }

func testMaxAge(t *testing.T, opts ...idptest.Option) {
	f := newFixture(t, append(opts, laggingClock())...)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b := f.env.NewBrowser()
	a := newAuthRequest()
	first := r.exchange(a, b.Login(r.url(a), userEmail, userPassword))
	t1 := num(first.claims["auth_time"])

	f.env.Clock.Advance(30 * time.Second)
	a = newAuthRequest()
	recent := r.exchange(a, b.Authorize(r.url(a, oauth2.SetAuthURLParam("max_age", "60"))))
	if num(recent.claims["auth_time"]) != t1 {
		t.Errorf("max_age=60 after 30s: auth_time %v, want the old %d", recent.claims["auth_time"], t1)
	}

	a = newAuthRequest()
	maxAge10 := r.url(a, oauth2.SetAuthURLParam("max_age", "10"))
	if page := b.Open(maxAge10); page.Path() != "/login" {
		t.Fatalf("max_age=10 after 30s: %s, want the login page", page.URL)
	}
	fresh := r.exchange(a, b.Login(maxAge10, userEmail, userPassword))
	t2 := num(fresh.claims["auth_time"])
	if t2 < t1+30 {
		t.Errorf("auth_time after max_age forced a sign-in = %d, want at least %d", t2, t1+30)
	}

	// max_age=0 always asks again (OIDC Core 3.1.2.1: like prompt=login).
	f.env.Clock.Advance(2 * time.Second)
	a = newAuthRequest()
	if page := b.Open(r.url(a, oauth2.SetAuthURLParam("max_age", "0"))); page.Path() != "/login" {
		t.Errorf("max_age=0: %s, want the login page", page.URL)
	}
	// ... and with prompt=none that is login_required.
	a = newAuthRequest()
	q := b.Authorize(r.url(a, oauth2.SetAuthURLParam("max_age", "1"), oauth2.SetAuthURLParam("prompt", "none"))).Query()
	if q.Get("error") != "login_required" {
		t.Errorf("max_age=1 prompt=none after 2s: %v, want login_required", q)
	}
}

// TestIDTokenHint: a hint naming another user than the session's asks for
// a sign-in (login_required under prompt=none).
func TestIDTokenHint(t *testing.T) {
	f := newFixture(t)
	f.env.CreateUser("grace@example.test", "Grace Hopper", "another long password")
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	a := newAuthRequest()
	grace := r.exchange(a, f.env.NewBrowser().Login(r.url(a), "grace@example.test", "another long password"))

	b := f.env.NewBrowser()
	a = newAuthRequest()
	ada := r.exchange(a, b.Login(r.url(a), userEmail, userPassword))

	a = newAuthRequest()
	q := b.Authorize(r.url(a, oauth2.SetAuthURLParam("prompt", "none"), oauth2.SetAuthURLParam("id_token_hint", grace.raw))).Query()
	if q.Get("error") != "login_required" {
		t.Errorf("prompt=none with another user's hint: %v, want login_required", q)
	}
	a = newAuthRequest()
	if page := b.Open(r.url(a, oauth2.SetAuthURLParam("id_token_hint", grace.raw))); page.Path() != "/login" {
		t.Errorf("another user's hint: %s, want the login page", page.URL)
	}
	// The session's own hint passes silently.
	a = newAuthRequest()
	same := r.exchange(a, b.Authorize(r.url(a, oauth2.SetAuthURLParam("prompt", "none"), oauth2.SetAuthURLParam("id_token_hint", ada.raw))))
	if same.claims["sub"] != f.user.ID {
		t.Errorf("own hint: sub %v", same.claims["sub"])
	}
}

// TestLoginHintAndLocales: login_hint fills the email field and ui_locales
// picks the page language.
func TestLoginHintAndLocales(t *testing.T) {
	f := newFixture(t)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	a := newAuthRequest()
	page := f.env.NewBrowser().Open(r.url(a, oauth2.SetAuthURLParam("login_hint", userEmail), oauth2.SetAuthURLParam("ui_locales", "ja")))
	if got := page.Form().Fields.Get("email"); got != userEmail {
		t.Errorf("email field = %q, want the login_hint %q", got, userEmail)
	}
	if !strings.Contains(page.Body, `lang="ja"`) {
		t.Errorf("ui_locales=ja did not give a Japanese page")
	}
	// A hint longer than an address is ignored, not echoed.
	a = newAuthRequest()
	long := strings.Repeat("x", 300) + "@example.test"
	page = f.env.NewBrowser().Open(r.url(a, oauth2.SetAuthURLParam("login_hint", long)))
	if page.Form().Fields.Get("email") != "" {
		t.Error("an overlong login_hint was echoed")
	}
}

// TestScopeRequests: scopes the client may not have are refused
// (invalid_scope), never silently granted.
func TestScopeRequests(t *testing.T) {
	f := newFixture(t)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect, oidc.ScopeOpenID, "admin")
	a := newAuthRequest()
	q := f.env.NewBrowser().Authorize(r.url(a)).Query()
	if q.Get("error") != "invalid_scope" || q.Get("state") != a.state {
		t.Errorf("unregistered scope: %v, want invalid_scope", q)
	}
}
