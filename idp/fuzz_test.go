package idp_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/idp/storage"
)

// fuzzRedirectOK: a redirect may go to the provider itself or to a
// registered redirect_uri with a query, nowhere else.
func fuzzRedirectOK(issuer, loc string) bool {
	if loc == "" || strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//") {
		return true
	}
	for _, allowed := range []string{issuer + "/", webRedirect + "?", spaRedirect + "?", partnerRedir + "?"} {
		if strings.HasPrefix(loc, allowed) {
			return true
		}
	}
	return false
}

// FuzzAuthorize sends arbitrary query strings to /authorize, with and
// without a browser session: never a 5xx or a panic, and never a redirect
// to an address that is not registered.
func FuzzAuthorize(f *testing.F) {
	fx := newFixture(f)
	fx.env.CreateClient(storage.Client{ID: publicClientID, Public: true, FirstParty: true, RedirectURIs: []string{spaRedirect}})
	fx.partner(f)
	b, r, tok := fx.signedIn(f)
	cookies := b.Client.Jar.Cookies(mustURL(f, fx.env.URL("/")))
	handler := fx.env.Server.Config.Handler

	seed := func(u string) { f.Add(mustURL(f, u).RawQuery, true); f.Add(mustURL(f, u).RawQuery, false) }
	a := newAuthRequest()
	seed(r.url(a))
	seed(r.url(a, oauth2.SetAuthURLParam("prompt", "none")))
	seed(r.url(a, oauth2.SetAuthURLParam("prompt", "login"), oauth2.SetAuthURLParam("max_age", "0")))
	seed(r.url(a, oauth2.SetAuthURLParam("id_token_hint", tok.raw), oauth2.SetAuthURLParam("login_hint", userEmail)))
	seed(r.url(a, oauth2.SetAuthURLParam("redirect_uri", "https://evil.example/")))
	seed(r.url(a, oauth2.SetAuthURLParam("response_type", "code id_token token")))
	seed(fx.partner(f).url(a, oauth2.SetAuthURLParam("prompt", "consent")))
	spa := newRP(f, fx.env, publicClientID, "", spaRedirect)
	seed(spa.config.AuthCodeURL("state-12345678"))
	f.Add("client_id=web&response_type=code&redirect_uri=https%3A%2F%2Frp.example.test%2Fcallback&scope=openid&state=&code_challenge_method=S256&code_challenge=x", true)
	f.Add("%", false)
	f.Add("client_id=%00&redirect_uri=%ff", false)
	f.Add(strings.Repeat("scope=openid&", 50), true)

	f.Fuzz(func(t *testing.T, query string, withSession bool) {
		req := httptest.NewRequest(http.MethodGet, "/authorize", nil)
		req.URL.RawQuery = query
		req.Host = mustURL(t, fx.env.Issuer).Host
		if withSession {
			for _, c := range cookies {
				req.AddCookie(c)
			}
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("GET /authorize?%s: %d\n%s", query, rec.Code, rec.Body)
		}
		if loc := rec.Header().Get("Location"); !fuzzRedirectOK(fx.env.Issuer, loc) {
			t.Fatalf("GET /authorize?%s redirected to %s", query, loc)
		}
	})
}

// FuzzToken posts arbitrary form bodies to /token, with and without client
// authentication: never a 5xx or a panic.
func FuzzToken(f *testing.F) {
	fx := newFixture(f)
	batch := fx.env.CreateClient(storage.Client{ID: "batch", GrantTypes: []string{"client_credentials"}, Scopes: []string{"reports:read"}})
	r := newRP(f, fx.env, webClientID, fx.webSecret, webRedirect, "openid", "offline_access")
	a := newAuthRequest()
	redirect := fx.env.NewBrowser().Login(r.url(a), userEmail, userPassword)
	code := redirect.Query().Get("code")
	// A second grant gives a live refresh token for the seeds.
	a2 := newAuthRequest()
	live := r.exchange(a2, fx.env.NewBrowser().Login(r.url(a2), userEmail, userPassword))
	handler := fx.env.Server.Config.Handler

	f.Add(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect},
		"code_verifier": {a.verifier}}.Encode(), 1)
	f.Add(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect},
		"code_verifier": {"wrong"}}.Encode(), 1)
	f.Add(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {live.oauth.RefreshToken}}.Encode(), 1)
	f.Add(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {live.oauth.RefreshToken}, "scope": {"openid admin"}}.Encode(), 1)
	f.Add(url.Values{"grant_type": {"client_credentials"}, "scope": {"reports:read"}}.Encode(), 2)
	f.Add(url.Values{"grant_type": {"client_credentials"}, "client_id": {"batch"}, "client_secret": {batch}}.Encode(), 0)
	f.Add(url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion": {live.raw}, "client_id": {"batch"}}.Encode(), 0)
	f.Add("grant_type=password&username=ada&password=x", 1)
	f.Add("grant_type=authorization_code&code=%ff%fe&redirect_uri=", 1)
	f.Add("%", 0)
	f.Add("grant_type=refresh_token&refresh_token=ory_rt_.&grant_type=client_credentials", 1)

	f.Fuzz(func(t *testing.T, body string, auth int) {
		req := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		switch auth % 3 {
		case 1:
			req.SetBasicAuth(webClientID, fx.webSecret)
		case 2:
			req.SetBasicAuth("batch", batch)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("POST /token %q: %d\n%s", body, rec.Code, rec.Body)
		}
	})
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
