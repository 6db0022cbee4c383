package idp_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestErrorPageFooter: error pages end with the footer line every other hosted page
// has, naming the issuer.
func TestErrorPageFooter(t *testing.T) {
	f := newFixture(t)
	page := f.env.NewBrowser().Get(f.env.URL("/no-such-page"))
	_, footer, _ := strings.Cut(page.Body, `<footer class="site-footer">`)
	if page.Status != http.StatusNotFound || !strings.Contains(footer, f.env.Issuer) {
		t.Errorf("error page: %d, footer %q, want 404 and the issuer %s in the footer", page.Status, footer, f.env.Issuer)
	}
}

// TestAccountTOTPNameInPageLanguage: an authenticator app set up on an English page is
// listed under its default name in the language of the page showing it, here Japanese.
func TestAccountTOTPNameInPageLanguage(t *testing.T) {
	f := newMFAFixture(t)
	auth := f.enrolTOTP(t) // in an English browser
	b := f.env.NewBrowser()
	withHeader(b, "Accept-Language", "ja")
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	a := newAuthRequest()
	r.exchange(a, signInMFA(t, b, r.url(a, oauth2.SetAuthURLParam("acr_values", acrMFA)), auth))
	page := b.Follow(b.Get(f.env.URL("/account")))
	form := regexp.MustCompile(`(?s)<span class="row-main">([^<]*)</span>\s*<span class="row-meta">[^<]*</span>\s*<form method="post" action="/account/totp/remove"`).
		FindStringSubmatch(page.Body)
	if form == nil {
		t.Fatalf("no authenticator app on the account page:\n%s", page.Body)
	}
	if form[1] != "認証アプリ" || !strings.Contains(page.Body, `aria-label="認証アプリ を削除"`) {
		t.Errorf("Japanese account page names the app %q, want 認証アプリ (and in its remove button's label)", form[1])
	}
}
