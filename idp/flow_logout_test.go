package idp_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/idp"
	"github.com/latchkey/latchkey/idp/idptest"
	"github.com/latchkey/latchkey/idp/storage"
)

const msgSignedOut = "You have been signed out."

// signedIn returns a browser signed in to the web client and its tokens.
func (f *fixture) signedIn(t testing.TB) (*idptest.Browser, *rp, *tokens) {
	t.Helper()
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b := f.env.NewBrowser()
	a := newAuthRequest()
	return b, r, r.exchange(a, b.Login(r.url(a), userEmail, userPassword))
}

// hasSession reports whether the browser is signed in, by a prompt=none
// request: a code if so, login_required if not.
func hasSession(t *testing.T, b *idptest.Browser, r *rp) bool {
	t.Helper()
	q := b.Authorize(r.url(newAuthRequest(), oauth2.SetAuthURLParam("prompt", "none"))).Query()
	switch {
	case q.Get("code") != "":
		return true
	case q.Get("error") == "login_required":
		return false
	}
	t.Fatalf("prompt=none answered %v", q)
	return false
}

func logoutURL(env *idptest.Env, v url.Values) string { return env.URL("/logout") + "?" + v.Encode() }

// TestLogoutWithHint: RP-initiated logout with id_token_hint and a
// registered post_logout_redirect_uri ends the session at once and returns
// to the client with its state.
func TestLogoutWithHint(t *testing.T) { onBackends(t, testLogoutWithHint) }

func testLogoutWithHint(t *testing.T, opts ...idptest.Option) {
	f := newFixture(t, opts...)
	b, r, tok := f.signedIn(t)
	resp := b.Get(logoutURL(f.env, url.Values{"id_token_hint": {tok.raw}, "post_logout_redirect_uri": {webPostLogout},
		"state": {"bye-123"}}))
	if resp.Status != http.StatusSeeOther || resp.Header.Get("Location") != webPostLogout+"?state=bye-123" {
		t.Fatalf("logout: %d Location %q, want 303 to %s?state=bye-123", resp.Status, resp.Header.Get("Location"), webPostLogout)
	}
	if b.Cookie("latchkey_session") != "" {
		t.Error("the session cookie survived logout")
	}
	if _, err := f.env.Store.GetSession(context.Background(), tok.claims["sid"].(string), f.env.Clock.Now()); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("session after logout: %v, want not found", err)
	}
	if hasSession(t, b, r) {
		t.Error("prompt=none after logout gave a code")
	}
	// Tokens issued before stay valid until they expire (no back-channel
	// revocation is promised); the browser session is what ended.
}

// TestLogoutRedirectMustBeRegistered: an unregistered target is an error
// page, never a redirect, and the session stays.
func TestLogoutRedirectMustBeRegistered(t *testing.T) {
	f := newFixture(t)
	b, r, tok := f.signedIn(t)
	for name, v := range map[string]url.Values{
		"unregistered": {"id_token_hint": {tok.raw}, "post_logout_redirect_uri": {"https://evil.example/"}},
		"prefix only":  {"id_token_hint": {tok.raw}, "post_logout_redirect_uri": {webPostLogout + "/x"}},
		"no client":    {"post_logout_redirect_uri": {webPostLogout}},
		"other client": {"id_token_hint": {tok.raw}, "client_id": {"someone-else"}, "post_logout_redirect_uri": {webPostLogout}},
		"forged hint":  {"id_token_hint": {tok.raw[:len(tok.raw)-6] + "AAAAAA"}, "post_logout_redirect_uri": {webPostLogout}},
		"not a jwt":    {"id_token_hint": {"garbage"}},
	} {
		resp := b.Get(logoutURL(f.env, v))
		if resp.Status != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("%s: %d Location %q, want a 400 page", name, resp.Status, resp.Header.Get("Location"))
		}
	}
	if !hasSession(t, b, r) {
		t.Error("a refused logout ended the session")
	}
}

// TestLogoutConfirmation: without id_token_hint the user confirms on a
// CSRF-protected page; the registered redirect still applies after it.
func TestLogoutConfirmation(t *testing.T) {
	f := newFixture(t)
	b, r, _ := f.signedIn(t)
	page := b.Get(logoutURL(f.env, url.Values{"client_id": {webClientID}, "post_logout_redirect_uri": {webPostLogout},
		"state": {"s1"}}))
	form := page.Form()
	if page.Status != http.StatusOK || form == nil || form.Action != f.env.URL("/logout/confirm") {
		t.Fatalf("logout without hint: %d, want the confirmation form:\n%s", page.Status, page.Body)
	}
	if !strings.Contains(page.Body, "Web App asks to sign you out") {
		t.Error("confirmation page does not name the client")
	}
	if !hasSession(t, b, r) {
		t.Fatal("showing the confirmation page ended the session")
	}
	noCSRF := url.Values{}
	for k, v := range form.Fields {
		if k != "csrf_token" {
			noCSRF[k] = v
		}
	}
	if resp := b.PostForm(form.Action, noCSRF); resp.Status != http.StatusForbidden {
		t.Errorf("confirmation without csrf_token: %d, want 403", resp.Status)
	}
	if !hasSession(t, b, r) {
		t.Fatal("a forged confirmation ended the session")
	}
	resp := b.Submit(page, nil)
	if resp.Header.Get("Location") != webPostLogout+"?state=s1" {
		t.Errorf("after confirming: %d Location %q", resp.Status, resp.Header.Get("Location"))
	}
	if hasSession(t, b, r) {
		t.Error("the session survived a confirmed logout")
	}

	// Without any client the end is a page.
	b, r, _ = f.signedIn(t)
	done := b.Submit(b.Get(f.env.URL("/logout")), nil)
	if done.Status != http.StatusOK || !strings.Contains(done.Body, msgSignedOut) {
		t.Errorf("plain logout: %d, want the signed-out page", done.Status)
	}
	if hasSession(t, b, r) {
		t.Error("the session survived a plain logout")
	}
}

// TestLogoutHintForAnotherUser: a hint naming someone else than the
// browser's user does not sign it out silently.
func TestLogoutHintForAnotherUser(t *testing.T) {
	f := newFixture(t)
	f.env.CreateUser("grace@example.test", "Grace", "grace's password")
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	a := newAuthRequest()
	grace := r.exchange(a, f.env.NewBrowser().Login(r.url(a), "grace@example.test", "grace's password"))

	b, r, _ := f.signedIn(t)
	page := b.Get(logoutURL(f.env, url.Values{"id_token_hint": {grace.raw}}))
	if page.Status != http.StatusOK || page.Form() == nil {
		t.Fatalf("another user's hint: %d, want the confirmation page", page.Status)
	}
	if !hasSession(t, b, r) {
		t.Error("another user's hint signed the browser out")
	}
}

// TestLogoutWithoutCookie: a relying party's cross-site POST carries no
// session cookie; the id_token's sid still ends the session.
func TestLogoutWithoutCookie(t *testing.T) {
	f := newFixture(t)
	b, r, tok := f.signedIn(t)
	status, h, _ := postForm(t, f.env.URL("/logout"), url.Values{"id_token_hint": {tok.raw},
		"post_logout_redirect_uri": {webPostLogout}, "state": {"x"}}, "", "")
	if status != http.StatusSeeOther || h.Get("Location") != webPostLogout+"?state=x" {
		t.Fatalf("cookieless logout: %d %q, want 303 to the registered URI", status, h.Get("Location"))
	}
	if hasSession(t, b, r) {
		t.Error("the session survived a logout by its id_token's sid")
	}
}

// TestLogoutEndsSessionOnEveryNode: two providers on one store with one
// master key and one issuer act as two nodes behind a load balancer; a
// session from one is valid on the other until logout on either.
func TestLogoutEndsSessionOnEveryNode(t *testing.T) { onBackends(t, testLogoutEndsSessionOnEveryNode) }

func testLogoutEndsSessionOnEveryNode(t *testing.T, opts ...idptest.Option) {
	f := newFixture(t, opts...)
	node2 := idptest.New(t, idptest.WithStore(f.env.Store), idptest.WithSecretKey(f.env.Options.SecretKey),
		idptest.WithProviderOptions(func(o *idp.Options) { o.Issuer = f.env.Issuer }))
	b, r, tok := f.signedIn(t) // on node 1
	onNode2 := func(u string) string { return strings.Replace(u, f.env.URL(""), node2.URL(""), 1) }
	// Cookies are per host, not per port: the browser presents node 1's
	// session cookie to node 2 as it would to any node behind one name.
	q := b.Get(onNode2(r.url(newAuthRequest(), oauth2.SetAuthURLParam("prompt", "none")))).Location().Query()
	if q.Get("code") == "" || q.Get("iss") != f.env.Issuer {
		t.Fatalf("node 2 with node 1's session: %v, want a code", q)
	}
	resp := b.Get(onNode2(logoutURL(f.env, url.Values{"id_token_hint": {tok.raw}, "post_logout_redirect_uri": {webPostLogout}})))
	if resp.Status != http.StatusSeeOther {
		t.Fatalf("logout on node 2 with node 1's id_token: %d", resp.Status)
	}
	if hasSession(t, b, r) {
		t.Error("node 1 still has the session ended on node 2")
	}
}
