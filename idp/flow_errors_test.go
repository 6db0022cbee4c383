package idp_test

import (
	"bytes"
	"encoding/base64"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/idp/idptest"
	"github.com/latchkey/latchkey/idp/storage"
)

const (
	msgBadRedirect   = "The app asked to send you to an address it has not registered"
	msgUnknownClient = "The app that sent you here is not registered with this sign-in service."
)

// authorizeQuery is a valid authorization request for the web client.
func authorizeQuery() url.Values {
	return url.Values{"client_id": {webClientID}, "response_type": {"code"}, "scope": {"openid"},
		"redirect_uri": {webRedirect}, "state": {"state-123456"}, "nonce": {"nonce-123456"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
}

// TestUnregisteredRedirectURI: a redirect_uri that is not registered
// exactly is answered with an error page, never a redirect, signed in or
// not.
func TestUnregisteredRedirectURI(t *testing.T) {
	f := newFixture(t)
	signedIn, _, _ := f.signedIn(t)
	for _, target := range []string{
		"https://evil.example/callback", webRedirect + "/x", webRedirect + "?next=1", webRedirect + "#f",
		"http://rp.example.test/callback", "https://rp.example.test.evil.example/callback", "https://RP.example.test/callback",
		"//evil.example/cb", "javascript:alert(1)", "not a url", webRedirect + "%00",
	} {
		for name, b := range map[string]*idptest.Browser{"anonymous": f.env.NewBrowser(), "signed in": signedIn} {
			q := authorizeQuery()
			q.Set("redirect_uri", target)
			r := b.Get(f.env.URL("/authorize?" + q.Encode()))
			if r.Status != http.StatusBadRequest || r.Header.Get("Location") != "" {
				t.Errorf("%s, redirect_uri %q: %d Location %q, want a 400 page", name, target, r.Status, r.Header.Get("Location"))
			}
		}
	}
	q := authorizeQuery()
	q.Set("redirect_uri", "https://evil.example/callback")
	if r := f.env.NewBrowser().Get(f.env.URL("/authorize?" + q.Encode())); !strings.Contains(r.Body, msgBadRedirect) {
		t.Errorf("the error page does not explain the unregistered address:\n%s", r.Body)
	}
	for _, id := range []string{"unknown", "", strings.Repeat("x", 10000), "web\x00"} {
		q := authorizeQuery()
		q.Set("client_id", id)
		r := f.env.NewBrowser().Get(f.env.URL("/authorize?" + q.Encode()))
		if r.Status != http.StatusBadRequest || r.Header.Get("Location") != "" {
			t.Errorf("client_id %.20q: %d Location %q, want a 400 page", id, r.Status, r.Header.Get("Location"))
		}
		if id == "unknown" && !strings.Contains(r.Body, msgUnknownClient) {
			t.Errorf("unknown client page:\n%s", r.Body)
		}
	}
}

// TestAuthorizeErrorsRedirect: with a registered redirect_uri, protocol
// errors go back to the client with the RFC 6749 code, state and iss.
func TestAuthorizeErrorsRedirect(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		name, key, value, want string
	}{
		{"implicit", "response_type", "token", "unsupported_response_type"},
		{"hybrid", "response_type", "code id_token", "unsupported_response_type"},
		{"no response_type", "response_type", "", "unsupported_response_type"},
		{"fragment mode", "response_mode", "fragment", "unsupported_response_mode"},
		{"form_post mode", "response_mode", "form_post", "unsupported_response_mode"},
		{"plain PKCE", "code_challenge_method", "plain", "invalid_request"},
		{"unknown prompt", "prompt", "select_account", "invalid_request"},
		{"prompt none with login", "prompt", "none login", "invalid_request"},
		{"short state", "state", "abc", "invalid_state"},
		{"unknown scope", "scope", "openid admin", "invalid_scope"},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := authorizeQuery()
			if c.value == "" {
				q.Del(c.key)
			} else {
				q.Set(c.key, c.value)
			}
			r := f.env.NewBrowser().Get(f.env.URL("/authorize?" + q.Encode()))
			loc := r.Location()
			if loc == nil || !strings.HasPrefix(loc.String(), webRedirect+"?") {
				t.Fatalf("%d Location %v, want a redirect to the client", r.Status, loc)
			}
			got := loc.Query()
			if got.Get("error") != c.want || got.Get("iss") != f.env.Issuer || got.Get("code") != "" {
				t.Errorf("redirect %v, want error=%s with iss", got, c.want)
			}
			if c.name != "short state" && got.Get("state") != "state-123456" {
				t.Errorf("state = %q", got.Get("state"))
			}
		})
	}
}

// TestRequestObjectsRefused: fosite refuses request objects before it
// has checked the redirect_uri, so the answer is a page, and the page must
// not blame the (registered) redirect_uri.
func TestRequestObjectsRefused(t *testing.T) {
	f := newFixture(t)
	for k, v := range map[string]string{"request": "eyJhbGciOiJub25lIn0.e30.", "request_uri": "https://evil.example/r"} {
		q := authorizeQuery()
		q.Set(k, v)
		r := f.env.NewBrowser().Get(f.env.URL("/authorize?" + q.Encode()))
		if r.Status != http.StatusBadRequest || r.Header.Get("Location") != "" {
			t.Errorf("%s: %d Location %q, want a 400 page", k, r.Status, r.Header.Get("Location"))
		}
		if strings.Contains(r.Body, msgBadRedirect) || !strings.Contains(r.Body, "The request was not valid.") {
			t.Errorf("%s: the page blames the redirect_uri or lacks the generic message", k)
		}
	}
}

// TestTokenEndpointErrors: bad grants get RFC 6749 5.2 errors, never 500.
func TestTokenEndpointErrors(t *testing.T) {
	f := newFixture(t)
	f.env.CreateClient(storage.Client{ID: publicClientID, Public: true, FirstParty: true, RedirectURIs: []string{spaRedirect}})
	for _, c := range []struct {
		name       string
		form       url.Values
		user, pass string
		status     int
		want       string
	}{
		{"password grant", url.Values{"grant_type": {"password"}, "username": {userEmail}, "password": {userPassword}},
			webClientID, f.webSecret, 400, "unsupported_grant_type"},
		{"implicit grant", url.Values{"grant_type": {"implicit"}}, webClientID, f.webSecret, 400, "unsupported_grant_type"},
		{"device grant", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {"x"}},
			webClientID, f.webSecret, 400, "unsupported_grant_type"},
		{"no grant", url.Values{}, webClientID, f.webSecret, 400, "invalid_request"},
		{"garbage code", url.Values{"grant_type": {"authorization_code"}, "code": {"garbage"}, "redirect_uri": {webRedirect}},
			webClientID, f.webSecret, 400, "invalid_grant"},
		{"no code", url.Values{"grant_type": {"authorization_code"}, "redirect_uri": {webRedirect}},
			webClientID, f.webSecret, 400, "invalid_grant"},
		{"garbage refresh", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"ory_rt_garbage.x"}},
			webClientID, f.webSecret, 400, "invalid_grant"},
		{"unknown client", url.Values{"grant_type": {"client_credentials"}}, "nobody", "secret", 401, "invalid_client"},
		// fosite's answers, not RFC 6749's invalid_client (401) and
		// unauthorized_client: still refusals.
		{"no client", url.Values{"grant_type": {"client_credentials"}}, "", "", 400, "invalid_request"},
		{"public client, client_credentials", url.Values{"grant_type": {"client_credentials"}, "client_id": {publicClientID}},
			"", "", 400, "invalid_grant"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, _, body := postForm(t, f.env.URL("/token"), c.form, c.user, c.pass)
			if status != c.status || body["error"] != c.want {
				t.Errorf("got %d %v, want %d %s", status, body, c.status, c.want)
			}
		})
	}
}

// TestHostileRequests: malformed and oversized input anywhere gets a 4xx,
// never a 500 or a redirect off the provider to an unregistered place.
func TestHostileRequests(t *testing.T) {
	f := newFixture(t)
	signedIn, _, tok := f.signedIn(t)
	huge := strings.Repeat("A", 200<<10)
	noneJWT := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"x"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"`+f.env.Issuer+`","sub":"someone","aud":"web"}`)) + "."
	authz := func(k, v string) string {
		q := authorizeQuery()
		q.Set(k, v)
		return "/authorize?" + q.Encode()
	}
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	_ = mw.WriteField("grant_type", "client_credentials")
	_ = mw.Close()

	reqs := []struct {
		method, path, ctype, body string
	}{
		{"GET", "/authorize", "", ""},
		{"GET", "/authorize?%zz=%", "", ""},
		{"GET", "/authorize?client_id=web&client_id=spa&response_type=code", "", ""},
		{"GET", authz("scope", huge), "", ""},
		{"GET", authz("state", huge), "", ""},
		{"GET", authz("nonce", huge), "", ""},
		{"GET", authz("login_hint", huge), "", ""},
		{"GET", authz("max_age", "-1"), "", ""},
		{"GET", authz("max_age", "abc"), "", ""},
		{"GET", authz("max_age", "99999999999999999999999"), "", ""},
		{"GET", authz("id_token_hint", "garbage"), "", ""},
		{"GET", authz("id_token_hint", noneJWT), "", ""},
		{"GET", authz("id_token_hint", tok.raw[:len(tok.raw)-5]+"AAAAA"), "", ""},
		{"GET", authz("claims", "{not json"), "", ""},
		{"GET", authz("ui_locales", "xx-\x00"), "", ""},
		{"GET", authz("acr_values", huge), "", ""},
		{"GET", authz("code_challenge", "short"), "", ""},
		{"GET", authz("redirect_uri", "https://evil.example/"+huge), "", ""},
		{"POST", "/authorize", "application/x-www-form-urlencoded", "%%%&&&==="},
		{"POST", "/authorize", "multipart/form-data; boundary=zz", "--zz\r\ngarbage"},
		{"GET", "/authorize/resume?tx=<script>", "", ""},
		{"GET", "/login?tx=" + huge[:1000], "", ""},
		{"POST", "/login", "application/x-www-form-urlencoded", "tx=x&email=a&password=b"},
		{"GET", "/consent?tx=%00", "", ""},
		{"POST", "/token", "", ""},
		{"POST", "/token", "application/json", `{"grant_type":"client_credentials"}`},
		{"POST", "/token", "application/x-www-form-urlencoded", "grant_type=authorization_code&code=" + huge},
		{"POST", "/token", "application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=%ff%fe"},
		{"POST", "/token", "application/x-www-form-urlencoded", "grant_type=client_credentials&client_id=web&client_secret=" + huge},
		{"POST", "/token", "application/x-www-form-urlencoded", strings.Repeat("a=b&", 300<<10)},
		{"POST", "/token", mw.FormDataContentType(), mp.String()},
		{"POST", "/introspect", "application/x-www-form-urlencoded", "token=" + huge},
		{"POST", "/revoke", "application/x-www-form-urlencoded", "token=x&token_type_hint=" + huge},
		{"GET", "/userinfo?access_token=" + noneJWT, "", ""},
		{"POST", "/userinfo", "application/x-www-form-urlencoded", "access_token=" + huge},
		{"GET", "/logout?id_token_hint=" + noneJWT, "", ""},
		{"GET", "/logout?post_logout_redirect_uri=" + url.QueryEscape("https://evil.example/"), "", ""},
		{"POST", "/logout/confirm", "application/x-www-form-urlencoded", "id_token_hint=x"},
		{"GET", "/static/../../etc/passwd", "", ""},
		{"GET", "/%2e%2e/%2e%2e/etc/passwd", "", ""},
		{"PUT", "/token", "", ""},
		{"DELETE", "/authorize", "", ""},
	}
	for _, b := range []*idptest.Browser{f.env.NewBrowser(), signedIn} {
		for _, c := range reqs {
			req, err := http.NewRequest(c.method, f.env.URL(c.path), strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if c.ctype != "" {
				req.Header.Set("Content-Type", c.ctype)
			}
			if c.path == "/userinfo" && c.method == "GET" {
				req.Header.Set("Authorization", "Bearer "+noneJWT)
			}
			r := b.Do(req)
			name := c.method + " " + c.path
			if len(name) > 80 {
				name = name[:80] + "..."
			}
			if r.Status >= 500 {
				t.Errorf("%s: %d\n%.500s", name, r.Status, r.Body)
			}
			if loc := r.Location(); loc != nil && loc.Host != req.URL.Host && !strings.HasPrefix(loc.String(), webRedirect+"?") {
				t.Errorf("%s: redirected off the provider to %.100s", name, loc)
			}
		}
	}
}

// TestCORS: browser-based clients may call the protocol endpoints from any
// origin, without credentials; the hosted pages are not shared.
func TestCORS(t *testing.T) {
	f := newFixture(t)
	req, _ := http.NewRequest(http.MethodOptions, f.env.URL("/token"), nil)
	req.Header.Set("Origin", "https://spa.example.test")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
		resp.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	for _, path := range []string{"POST /token", "GET /userinfo", "GET /jwks.json", "GET /.well-known/openid-configuration"} {
		method, path, _ := strings.Cut(path, " ")
		req, _ := http.NewRequest(method, f.env.URL(path), nil)
		req.Header.Set("Origin", "https://spa.example.test")
		resp, err := noRedirects.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s: no CORS header", path)
		}
	}
	req, _ = http.NewRequest(http.MethodGet, f.env.URL("/login?tx=x"), nil)
	req.Header.Set("Origin", "https://spa.example.test")
	resp, err = noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("the login page is shared cross-origin")
	}
}
