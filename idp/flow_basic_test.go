package idp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/latchkey/latchkey/idp"
	"github.com/latchkey/latchkey/idp/idptest"
	"github.com/latchkey/latchkey/idp/storage"
)

// TestCodeFlowIDToken is the OpenID Basic OP happy path through go-oidc:
// state and iss on the redirect, nonce in the id_token, every claim with
// its exact value.
func TestCodeFlowIDToken(t *testing.T) { onBackends(t, testCodeFlowIDToken) }

func testCodeFlowIDToken(t *testing.T, opts ...idptest.Option) {
	f := newFixture(t, opts...)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	a := newAuthRequest()
	before := f.env.Clock.Now().Truncate(time.Second)
	redirect := f.env.NewBrowser().Login(r.url(a), userEmail, userPassword)

	if got := redirect.Scheme + "://" + redirect.Host + redirect.Path; got != webRedirect {
		t.Fatalf("redirected to %s, want %s", got, webRedirect)
	}
	if redirect.Query().Get("code") == "" {
		t.Fatalf("no code in %s", redirect)
	}
	tok := r.exchange(a, redirect) // checks state, iss, signature, aud, exp, nonce, at_hash
	c := tok.claims

	if c["iss"] != f.env.Issuer || c["sub"] != f.user.ID || c["nonce"] != a.nonce {
		t.Errorf("iss, sub, nonce = %v, %v, %v; want %s, %s, %s", c["iss"], c["sub"], c["nonce"], f.env.Issuer, f.user.ID, a.nonce)
	}
	if !reflect.DeepEqual(c["aud"], []any{webClientID}) {
		t.Errorf("aud = %v, want [%s]", c["aud"], webClientID)
	}
	iat, exp, authTime := num(c["iat"]), num(c["exp"]), num(c["auth_time"])
	if exp-iat != int64((10 * time.Minute).Seconds()) {
		t.Errorf("exp - iat = %d, want the id_token lifetime 600", exp-iat)
	}
	if now := time.Now().Unix(); iat < now-10 || iat > now+1 {
		t.Errorf("iat = %d, now %d", iat, now)
	}
	if after := f.env.Clock.Now().Unix(); authTime < before.Unix() || authTime > after {
		t.Errorf("auth_time = %d, want the sign-in time in [%d, %d]", authTime, before.Unix(), after)
	}
	if c["acr"] != idp.ACRPassword || !reflect.DeepEqual(c["amr"], []any{"pwd"}) {
		t.Errorf("acr, amr = %v, %v; want %s, [pwd]", c["acr"], c["amr"], idp.ACRPassword)
	}
	if c["at_hash"] == nil || c["at_hash"] == "" {
		t.Error("at_hash missing")
	}
	// sid names the browser session the sign-in created.
	sid, _ := c["sid"].(string)
	sess, err := f.env.Store.GetSession(context.Background(), sid, f.env.Clock.Now())
	if err != nil {
		t.Fatalf("sid %q names no session: %v", sid, err)
	}
	if sess.UserID != f.user.ID || sess.AuthTime.Unix() != authTime {
		t.Errorf("session of sid: user %s auth_time %d; want %s %d", sess.UserID, sess.AuthTime.Unix(), f.user.ID, authTime)
	}
	if c["name"] != userName || c["email"] != userEmail || c["email_verified"] != true {
		t.Errorf("profile/email claims = %v %v %v", c["name"], c["email"], c["email_verified"])
	}
	h, _ := jwtParts(t, tok.raw)
	if h["alg"] != "ES256" || h["kid"] == nil {
		t.Errorf("id_token header = %v, want ES256 with a kid", h)
	}
	if tok.oauth.TokenType != "bearer" && tok.oauth.TokenType != "Bearer" {
		t.Errorf("token_type = %q", tok.oauth.TokenType)
	}
	if tok.oauth.RefreshToken != "" {
		t.Errorf("refresh token issued without offline_access")
	}
}

// TestClaimsFollowScopes: without profile and email only sub is released,
// in the id_token and at userinfo.
func TestClaimsFollowScopes(t *testing.T) {
	f := newFixture(t)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect, oidc.ScopeOpenID)
	a := newAuthRequest()
	tok := r.exchange(a, f.env.NewBrowser().Login(r.url(a), userEmail, userPassword))
	for _, k := range []string{"name", "email", "email_verified"} {
		if _, ok := tok.claims[k]; ok {
			t.Errorf("id_token has %s without its scope", k)
		}
	}
	status, _, info := getUserinfo(t, f.env.URL("/userinfo"), tok.oauth.AccessToken)
	if status != http.StatusOK || !reflect.DeepEqual(info, map[string]any{"sub": f.user.ID}) {
		t.Errorf("userinfo = %d %v, want 200 {sub}", status, info)
	}

	// email alone releases email but not name.
	r = newRP(t, f.env, webClientID, f.webSecret, webRedirect, oidc.ScopeOpenID, "email")
	a = newAuthRequest()
	tok = r.exchange(a, f.env.NewBrowser().Login(r.url(a), userEmail, userPassword))
	if tok.claims["email"] != userEmail || tok.claims["name"] != nil {
		t.Errorf("scope email: email %v name %v", tok.claims["email"], tok.claims["name"])
	}
}

func TestUserinfo(t *testing.T) { onBackends(t, testUserinfo) }

func testUserinfo(t *testing.T, opts ...idptest.Option) {
	f := newFixture(t, opts...)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	a := newAuthRequest()
	tok := r.exchange(a, f.env.NewBrowser().Login(r.url(a), userEmail, userPassword))
	want := map[string]any{"sub": f.user.ID, "name": userName, "email": userEmail, "email_verified": true}
	u := f.env.URL("/userinfo")
	at := tok.oauth.AccessToken

	// go-oidc's own userinfo call (GET with the bearer header).
	info, err := r.provider.UserInfo(context.Background(), oauthTokenSource(tok))
	if err != nil {
		t.Fatalf("go-oidc UserInfo: %v", err)
	}
	if info.Subject != f.user.ID || info.Email != userEmail || !info.EmailVerified {
		t.Errorf("go-oidc userinfo = %+v", info)
	}

	cases := []struct {
		name string
		req  func() *http.Request
	}{
		{"GET header", func() *http.Request {
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			req.Header.Set("Authorization", "Bearer "+at)
			return req
		}},
		{"POST header", func() *http.Request {
			req, _ := http.NewRequest(http.MethodPost, u, nil)
			req.Header.Set("Authorization", "Bearer "+at)
			return req
		}},
		{"POST form", func() *http.Request {
			req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(url.Values{"access_token": {at}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return req
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, h, body := doJSON(t, c.req())
			if status != http.StatusOK || !reflect.DeepEqual(body, want) {
				t.Errorf("got %d %v, want 200 %v", status, body, want)
			}
			if h.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q", h.Get("Cache-Control"))
			}
		})
	}

	t.Run("no token", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		status, h, _ := doJSON(t, req)
		if status != http.StatusUnauthorized || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("got %d, WWW-Authenticate %q; want 401 Bearer", status, h.Get("WWW-Authenticate"))
		}
	})
	t.Run("forged token", func(t *testing.T) {
		status, h, body := getUserinfo(t, u, at[:len(at)-4]+"AAAA")
		if status != http.StatusUnauthorized || body["error"] != "invalid_token" ||
			!strings.Contains(h.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("got %d %v %q, want 401 invalid_token", status, body, h.Get("WWW-Authenticate"))
		}
	})
	t.Run("id_token is not an access token", func(t *testing.T) {
		if status, _, _ := getUserinfo(t, u, tok.raw); status != http.StatusUnauthorized {
			t.Errorf("got %d, want 401", status)
		}
	})
}

func getUserinfo(t *testing.T, u, token string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	return doJSON(t, req)
}

func TestDiscoveryAndJWKS(t *testing.T) {
	f := newFixture(t)
	req, _ := http.NewRequest(http.MethodGet, f.env.URL("/.well-known/openid-configuration"), nil)
	status, _, d := doJSON(t, req)
	if status != http.StatusOK {
		t.Fatalf("discovery: %d", status)
	}
	iss := f.env.Issuer
	for k, want := range map[string]any{
		"issuer": iss, "authorization_endpoint": iss + "/authorize", "token_endpoint": iss + "/token",
		"userinfo_endpoint": iss + "/userinfo", "jwks_uri": iss + "/jwks.json", "end_session_endpoint": iss + "/logout",
		"revocation_endpoint": iss + "/revoke", "introspection_endpoint": iss + "/introspect",
		"code_challenge_methods_supported":               []any{"S256"},
		"authorization_response_iss_parameter_supported": true,
		"response_types_supported":                       []any{"code"},
		"acr_values_supported":                           []any{idp.ACRPassword, "urn:latchkey:acr:mfa", "urn:latchkey:acr:phr"},
		"id_token_signing_alg_values_supported":          []any{"ES256", "RS256"},
	} {
		if !reflect.DeepEqual(d[k], want) {
			t.Errorf("%s = %v, want %v", k, d[k], want)
		}
	}
	claims, _ := d["claims_supported"].([]any)
	for _, c := range []string{"sub", "auth_time", "acr", "amr", "sid", "email", "name"} {
		if !slices.Contains(claims, any(c)) {
			t.Errorf("claims_supported lacks %s", c)
		}
	}

	// The id_token's kid is in the JWKS, and the JWKS holds only public keys.
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	a := newAuthRequest()
	tok := r.exchange(a, f.env.NewBrowser().Login(r.url(a), userEmail, userPassword))
	h, _ := jwtParts(t, tok.raw)
	kids := jwksKids(t, f.env.URL("/jwks.json"))
	if kids[h["kid"].(string)] != "ES256" {
		t.Errorf("id_token kid %v not published as ES256: %v", h["kid"], kids)
	}
	if len(kids) != 2 {
		t.Errorf("JWKS has %d keys, want one ES256 and one RS256: %v", len(kids), kids)
	}
}

// jwksKids returns kid -> alg of the published keys and fails on private
// material.
func jwksKids(t *testing.T, u string) map[string]string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatalf("decode jwks: %v", err)
	}
	out := map[string]string{}
	for _, k := range set.Keys {
		if _, ok := k["d"]; ok {
			t.Fatalf("JWKS publishes a private key: %v", k["kid"])
		}
		kid, _ := k["kid"].(string)
		out[kid], _ = k["alg"].(string)
	}
	return out
}

// TestRS256Client: a client registered for RS256 gets RS256 id_tokens, which
// a go-oidc verifier restricted to RS256 (as for an old library) accepts.
func TestRS256Client(t *testing.T) {
	f := newFixture(t)
	secret := f.env.CreateClient(storage.Client{ID: "legacy", FirstParty: true, RedirectURIs: []string{webRedirect},
		IDTokenSigningAlg: "RS256"})
	r := newRP(t, f.env, "legacy", secret, webRedirect)
	rs256 := &oidc.Config{ClientID: "legacy", SupportedSigningAlgs: []string{oidc.RS256}}
	r.verifier = r.provider.Verifier(rs256)
	a := newAuthRequest()
	tok := r.exchange(a, f.env.NewBrowser().Login(r.url(a), userEmail, userPassword))
	h, _ := jwtParts(t, tok.raw)
	if h["alg"] != "RS256" {
		t.Fatalf("alg = %v, want RS256", h["alg"])
	}
	if kids := jwksKids(t, f.env.URL("/jwks.json")); kids[h["kid"].(string)] != "RS256" {
		t.Errorf("kid %v is not the published RS256 key: %v", h["kid"], kids)
	}
	// The default client still gets ES256, which the RS256-only verifier refuses.
	rw := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	a = newAuthRequest()
	tw := rw.exchange(a, f.env.NewBrowser().Login(rw.url(a), userEmail, userPassword))
	rs256.ClientID = webClientID
	if _, err := rw.provider.Verifier(rs256).Verify(context.Background(), tw.raw); err == nil {
		t.Error("an RS256-only verifier accepted the ES256 id_token")
	}
}

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}
