package idp_test

import (
	"context"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/idp/idptest"
	"github.com/latchkey/latchkey/idp/storage"
)

func (f *fixture) partner(t testing.TB, scopes ...string) *rp {
	t.Helper()
	if _, err := f.env.Store.GetClient(context.Background(), thirdPartyID); err != nil {
		secret := f.env.CreateClient(storage.Client{ID: thirdPartyID, Name: "Partner Analytics",
			RedirectURIs: []string{partnerRedir}})
		f.partnerSecret = secret
	}
	return newRP(t, f.env, thirdPartyID, f.partnerSecret, partnerRedir, scopes...)
}

// TestConsent: a third-party client asks once per scope set; the answer is
// remembered; prompt=consent asks again; more scopes ask again.
func TestConsent(t *testing.T) { onBackends(t, testConsent) }

func testConsent(t *testing.T, opts ...idptest.Option) {
	f := newFixture(t, opts...)
	r := f.partner(t, oidc.ScopeOpenID, "profile")
	b := f.env.NewBrowser()

	a := newAuthRequest()
	page := b.SubmitLogin(b.Open(r.url(a)), userEmail, userPassword)
	if page.Path() != "/consent" || page.Status != http.StatusOK {
		t.Fatalf("third-party client after sign-in: %s %d, want the consent page", page.URL, page.Status)
	}
	for _, want := range []string{"Partner Analytics wants to access your account", "Sign you in with your account",
		"See your basic profile information"} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("consent page lacks %q", want)
		}
	}
	if strings.Contains(page.Body, "See your email address") {
		t.Error("consent page lists a scope that was not requested")
	}
	tok := r.exchange(a, b.SubmitConsent(page, "allow").Location())
	if tok.claims["name"] != userName {
		t.Errorf("name = %v after consenting to profile", tok.claims["name"])
	}
	c, err := f.env.Store.GetConsent(context.Background(), f.user.ID, thirdPartyID)
	if err != nil || !reflect.DeepEqual(c.Scopes, []string{"openid", "profile"}) {
		t.Errorf("stored consent = %+v %v", c, err)
	}

	// Remembered: no page, even under prompt=none.
	a = newAuthRequest()
	r.exchange(a, b.Authorize(r.url(a, oauth2.SetAuthURLParam("prompt", "none"))))

	// prompt=consent asks again.
	a = newAuthRequest()
	if page := b.Open(r.url(a, oauth2.SetAuthURLParam("prompt", "consent"))); page.Path() != "/consent" {
		t.Errorf("prompt=consent: %s, want the consent page", page.URL)
	}

	// A new scope asks again, and prompt=none then answers consent_required.
	wider := f.partner(t, oidc.ScopeOpenID, "profile", "email")
	a = newAuthRequest()
	q := b.Authorize(wider.url(a, oauth2.SetAuthURLParam("prompt", "none"))).Query()
	if q.Get("error") != "consent_required" || q.Get("state") != a.state {
		t.Errorf("new scope under prompt=none: %v, want consent_required", q)
	}
	a = newAuthRequest()
	page = b.Open(wider.url(a))
	if page.Path() != "/consent" || !strings.Contains(page.Body, "See your email address") {
		t.Fatalf("new scope: %s, want the consent page listing email", page.URL)
	}
	wider.exchange(a, b.SubmitConsent(page, "allow").Location())
	c, _ = f.env.Store.GetConsent(context.Background(), f.user.ID, thirdPartyID)
	if !reflect.DeepEqual(c.Scopes, []string{"openid", "profile", "email"}) {
		t.Errorf("stored consent after widening = %v", c.Scopes)
	}
	// The narrower request is still covered.
	a = newAuthRequest()
	r.exchange(a, b.Authorize(r.url(a)))
}

func TestConsentDenied(t *testing.T) {
	f := newFixture(t)
	r := f.partner(t)
	b := f.env.NewBrowser()
	a := newAuthRequest()
	q := b.LoginAndConsent(r.url(a), userEmail, userPassword, "deny").Query()
	if q.Get("error") != "access_denied" || q.Get("state") != a.state || q.Get("iss") != f.env.Issuer || q.Get("code") != "" {
		t.Errorf("denied consent: %v, want error=access_denied with state and iss", q)
	}
	if _, err := f.env.Store.GetConsent(context.Background(), f.user.ID, thirdPartyID); err == nil {
		t.Error("a denial was stored as consent")
	}
	// The next request asks again.
	if page := b.Open(r.url(newAuthRequest())); page.Path() != "/consent" {
		t.Errorf("after a denial: %s, want the consent page", page.URL)
	}
}

// TestConsentForm: the consent form is CSRF-protected, needs a decision,
// belongs to a signed-in browser and is single-use.
func TestConsentForm(t *testing.T) {
	f := newFixture(t)
	r := f.partner(t)
	b := f.env.NewBrowser()
	page := b.SubmitLogin(b.Open(r.url(newAuthRequest())), userEmail, userPassword)
	form := page.Form()

	noCSRF := url.Values{"tx": {form.Fields.Get("tx")}, "decision": {"allow"}}
	if resp := b.PostForm(form.Action, noCSRF); resp.Status != http.StatusForbidden {
		t.Errorf("consent without csrf_token: %d, want 403", resp.Status)
	}
	if resp := b.Submit(page, map[string]string{"decision": "maybe"}); resp.Status != http.StatusBadRequest {
		t.Errorf("consent with a bogus decision: %d, want 400", resp.Status)
	}
	// Another browser (no session) cannot answer this transaction.
	other := f.env.NewBrowser()
	otherPage := other.Get(page.URL.String())
	if otherPage.Status != http.StatusBadRequest {
		t.Errorf("consent page in a browser without the session: %d, want 400", otherPage.Status)
	}
	if resp := b.SubmitConsent(page, "allow"); resp.Location().Query().Get("code") == "" {
		t.Fatalf("allow: %d %s", resp.Status, resp.Header.Get("Location"))
	}
	if resp := b.SubmitConsent(page, "allow"); resp.Status != http.StatusBadRequest {
		t.Errorf("replayed consent: %d, want 400", resp.Status)
	}
}

// TestFirstPartySkipsConsent: first-party clients never show the page,
// even under prompt=consent, and store no consent.
func TestFirstPartySkipsConsent(t *testing.T) {
	f := newFixture(t)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b := f.env.NewBrowser()
	a := newAuthRequest()
	r.exchange(a, b.Login(r.url(a), userEmail, userPassword)) // Login fails on a consent page
	a = newAuthRequest()
	r.exchange(a, b.Authorize(r.url(a, oauth2.SetAuthURLParam("prompt", "consent"))))
	if cs, err := f.env.Store.ListConsents(context.Background(), f.user.ID); err != nil || len(cs) != 0 {
		t.Errorf("consents of a first-party-only user: %v %v", cs, err)
	}
}

// TestConsentBelongsToItsSession: when another user signs in in the same
// browser while a consent page is open, that page can no longer be answered:
// the second user must not grant (or receive) the first user's authorization.
func TestConsentBelongsToItsSession(t *testing.T) {
	f := newFixture(t)
	f.env.CreateUser("mallory@example.com", "Mallory", "mallory-password-1")
	r := f.partner(t)
	b := f.env.NewBrowser()
	first := b.SubmitLogin(b.Open(r.url(newAuthRequest())), userEmail, userPassword)
	if first.Path() != "/consent" {
		t.Fatalf("after sign-in: %s, want the consent page", first.URL)
	}
	f.env.Clock.Advance(2 * time.Second) // prompt=login compares whole seconds
	second := b.SubmitLogin(b.Open(r.url(newAuthRequest(), oauth2.SetAuthURLParam("prompt", "login"))),
		"mallory@example.com", "mallory-password-1")
	if second.Path() != "/consent" {
		t.Fatalf("second sign-in: %s, want the consent page", second.URL)
	}
	if resp := b.SubmitConsent(first, "allow"); resp.Status != http.StatusBadRequest {
		t.Errorf("consent for the first user's transaction from the second user's session: %d %s, want 400",
			resp.Status, resp.Header.Get("Location"))
	}
	if _, err := f.env.Store.GetConsent(context.Background(), f.user.ID, thirdPartyID); err == nil {
		t.Error("a consent was stored for the first user by the second user's session")
	}
	if resp := b.SubmitConsent(second, "allow"); resp.Location().Query().Get("code") == "" {
		t.Errorf("the second user's own consent: %d %s", resp.Status, resp.Header.Get("Location"))
	}
}
