package idp_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/idp"
	"github.com/latchkey/latchkey/idp/idptest"
	"github.com/latchkey/latchkey/idp/storage"
)

// TestCodeReuse: a code is redeemed once; a second redemption is
// invalid_grant and revokes what the first one issued (RFC 6749 4.1.2).
func TestCodeReuse(t *testing.T) { onBackends(t, testCodeReuse) }

func testCodeReuse(t *testing.T, opts ...idptest.Option) {
	f := newFixture(t, opts...)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect, oidc.ScopeOpenID, oidc.ScopeOfflineAccess)
	a := newAuthRequest()
	redirect := f.env.NewBrowser().Login(r.url(a), userEmail, userPassword)
	tok := r.exchange(a, redirect)
	if tok.oauth.RefreshToken == "" {
		t.Fatal("no refresh token with offline_access")
	}
	if got := f.introspect(t, tok.oauth.AccessToken)["active"]; got != true {
		t.Fatalf("fresh access token active = %v", got)
	}

	status, body := f.token(t, url.Values{"grant_type": {"authorization_code"}, "code": {redirect.Query().Get("code")},
		"redirect_uri": {webRedirect}, "code_verifier": {a.verifier}})
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("second redemption: %d %v, want 400 invalid_grant", status, body)
	}
	if got := f.introspect(t, tok.oauth.AccessToken)["active"]; got != false {
		t.Errorf("access token from a reused code: active = %v, want false", got)
	}
	if status, body := f.refresh(t, tok.oauth.RefreshToken); status != http.StatusBadRequest {
		t.Errorf("refresh token from a reused code: %d %v, want 400", status, body)
	}
	if status, _, _ := getUserinfo(t, f.env.URL("/userinfo"), tok.oauth.AccessToken); status != http.StatusUnauthorized {
		t.Errorf("userinfo with a revoked token: %d, want 401", status)
	}
	assertAudited(t, f, "token.code_reuse")
}

// assertAudited checks that events of typ were logged, all for the web
// client and its user.
func assertAudited(t *testing.T, f *fixture, typ string) {
	t.Helper()
	evs, err := f.env.Store.ListAudit(context.Background(), storage.AuditFilter{Type: typ})
	if err != nil || len(evs) == 0 {
		t.Fatalf("no audit event %s: %v", typ, err)
	}
	for _, e := range evs {
		if e.ClientID != webClientID || (e.UserID != "" && e.UserID != f.user.ID) {
			t.Errorf("audit event %s: %+v, want client %s", typ, e, webClientID)
		}
	}
}

// TestRefreshRotation: each refresh returns a new refresh token, the old
// one stops working, and reusing a rotated one revokes the whole family.
func TestRefreshRotation(t *testing.T) { onBackends(t, testRefreshRotation) }

func testRefreshRotation(t *testing.T, opts ...idptest.Option) {
	f := newFixture(t, opts...)
	_, tok := f.signIn(t, oidc.ScopeOpenID, "email", oidc.ScopeOfflineAccess)
	rt0 := tok.oauth.RefreshToken

	status, r1 := f.refresh(t, rt0)
	if status != http.StatusOK {
		t.Fatalf("first refresh: %d %v", status, r1)
	}
	rt1, at1 := r1["refresh_token"].(string), r1["access_token"].(string)
	if rt1 == "" || rt1 == rt0 || at1 == "" || at1 == tok.oauth.AccessToken {
		t.Fatalf("refresh did not rotate: %v", r1)
	}
	// The refreshed id_token keeps the subject and the sign-in's auth_time.
	_, idc := jwtParts(t, r1["id_token"].(string))
	if idc["sub"] != f.user.ID || num(idc["auth_time"]) != num(tok.claims["auth_time"]) {
		t.Errorf("refreshed id_token sub %v auth_time %v; want %s %v", idc["sub"], idc["auth_time"], f.user.ID, tok.claims["auth_time"])
	}
	// Rotation retires the access token of the previous round.
	if got := f.introspect(t, tok.oauth.AccessToken)["active"]; got != false {
		t.Errorf("access token of the rotated round: active = %v", got)
	}

	status, r2 := f.refresh(t, rt1)
	if status != http.StatusOK {
		t.Fatalf("second refresh: %d %v", status, r2)
	}
	rt2, at2 := r2["refresh_token"].(string), r2["access_token"].(string)

	// Reuse of rt0, rotated twice already: refused...
	if status, body := f.refresh(t, rt0); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("reused refresh token: %d %v, want 400 invalid_grant", status, body)
	}
	// ... and the family is gone: the newest refresh and access tokens too.
	if status, body := f.refresh(t, rt2); status != http.StatusBadRequest {
		t.Errorf("newest refresh token after reuse: %d %v, want 400", status, body)
	}
	if got := f.introspect(t, at2)["active"]; got != false {
		t.Errorf("newest access token after reuse: active = %v", got)
	}
	if got := f.introspect(t, at1)["active"]; got != false {
		t.Errorf("earlier access token after reuse: active = %v", got)
	}
	assertAudited(t, f, "token.refresh_reuse")
}

// TestRefreshIsBoundToClient: another client cannot redeem the web
// client's refresh token.
func TestRefreshIsBoundToClient(t *testing.T) {
	f := newFixture(t)
	_, tok := f.signIn(t, oidc.ScopeOpenID, oidc.ScopeOfflineAccess)
	other := f.env.CreateClient(storage.Client{ID: "other", FirstParty: true, RedirectURIs: []string{webRedirect}})
	status, _, body := postForm(t, f.env.URL("/token"), url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {tok.oauth.RefreshToken}}, "other", other)
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("refresh by another client: %d %v, want 400 invalid_grant", status, body)
	}
	if status, _ := f.refresh(t, tok.oauth.RefreshToken); status != http.StatusOK {
		t.Errorf("the owner's refresh after a foreign attempt: %d", status)
	}
}

func TestPKCE(t *testing.T) {
	f := newFixture(t)
	f.env.CreateClient(storage.Client{ID: publicClientID, Public: true, FirstParty: true, RedirectURIs: []string{spaRedirect}})
	spa := newRP(t, f.env, publicClientID, "", spaRedirect)

	t.Run("public client without PKCE", func(t *testing.T) {
		a := newAuthRequest()
		u := spa.config.AuthCodeURL(a.state, oidc.Nonce(a.nonce))
		redirect := f.env.NewBrowser().Authorize(u)
		q := redirect.Query()
		if q.Get("error") != "invalid_request" || q.Get("state") != a.state || q.Get("iss") != f.env.Issuer || q.Get("code") != "" {
			t.Errorf("redirect = %s, want error=invalid_request with state and iss", redirect)
		}
	})
	t.Run("plain method", func(t *testing.T) {
		a := newAuthRequest()
		u := spa.config.AuthCodeURL(a.state, oauth2.SetAuthURLParam("code_challenge", a.verifier),
			oauth2.SetAuthURLParam("code_challenge_method", "plain"))
		if q := f.env.NewBrowser().Authorize(u).Query(); q.Get("error") != "invalid_request" {
			t.Errorf("plain PKCE: %v, want invalid_request", q)
		}
	})
	t.Run("public client with PKCE", func(t *testing.T) {
		spa := newRP(t, f.env, publicClientID, "", spaRedirect, oidc.ScopeOpenID, oidc.ScopeOfflineAccess)
		a := newAuthRequest()
		tok := spa.exchange(a, f.env.NewBrowser().Login(spa.url(a), userEmail, userPassword))
		if tok.claims["sub"] != f.user.ID {
			t.Errorf("sub = %v", tok.claims["sub"])
		}
		// It refreshes without a secret, and rotation applies to it too.
		refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.oauth.RefreshToken}, "client_id": {publicClientID}}
		if status, _, body := postForm(t, f.env.URL("/token"), refresh, "", ""); status != http.StatusOK || body["refresh_token"] == tok.oauth.RefreshToken {
			t.Errorf("public refresh: %d %v", status, body)
		}
		if status, _, _ := postForm(t, f.env.URL("/token"), refresh, "", ""); status != http.StatusBadRequest {
			t.Errorf("public refresh with the rotated token: %d, want 400", status)
		}
	})
	t.Run("wrong verifier", func(t *testing.T) {
		a := newAuthRequest()
		redirect := f.env.NewBrowser().Login(spa.url(a), userEmail, userPassword)
		_, err := spa.config.Exchange(context.Background(), redirect.Query().Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier()))
		assertOAuthError(t, err, "invalid_grant", "did not match the code verifier")
	})
	t.Run("missing verifier", func(t *testing.T) {
		a := newAuthRequest()
		redirect := f.env.NewBrowser().Login(spa.url(a), userEmail, userPassword)
		_, err := spa.config.Exchange(context.Background(), redirect.Query().Get("code"))
		assertOAuthError(t, err, "invalid_grant", "at least 43 characters")
	})
	t.Run("confidential client with PKCE and wrong verifier", func(t *testing.T) {
		r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
		a := newAuthRequest()
		redirect := f.env.NewBrowser().Login(r.url(a), userEmail, userPassword)
		_, err := r.config.Exchange(context.Background(), redirect.Query().Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier()))
		assertOAuthError(t, err, "invalid_grant", "did not match the code verifier")
	})
}

// assertOAuthError checks the error code and that the description says why.
func assertOAuthError(t *testing.T, err error, code, why string) {
	t.Helper()
	re, ok := err.(*oauth2.RetrieveError)
	if !ok {
		t.Fatalf("err = %v (%T), want an OAuth error %s", err, err, code)
	}
	if re.ErrorCode != code || !strings.Contains(re.ErrorDescription, why) {
		t.Fatalf("error = %q %q, want %q saying %q", re.ErrorCode, re.ErrorDescription, code, why)
	}
}

// TestClientCredentials: an RFC 9068 JWT access token for the client
// itself, verifiable with the JWKS.
func TestClientCredentials(t *testing.T) { onBackends(t, testClientCredentials) }

func testClientCredentials(t *testing.T, opts ...idptest.Option) {
	f := newFixture(t, opts...)
	secret := f.env.CreateClient(storage.Client{ID: "batch", GrantTypes: []string{"client_credentials"},
		Scopes: []string{"reports:read", "reports:write"}})
	status, _, body := postForm(t, f.env.URL("/token"), url.Values{"grant_type": {"client_credentials"},
		"scope": {"reports:read"}}, "batch", secret)
	if status != http.StatusOK {
		t.Fatalf("client_credentials: %d %v", status, body)
	}
	if body["refresh_token"] != nil || body["id_token"] != nil || body["token_type"] != "bearer" {
		t.Errorf("response = %v, want a bearer access token only", body)
	}
	at := body["access_token"].(string)
	h, c := jwtParts(t, at)
	if h["typ"] != "at+jwt" || h["alg"] != "ES256" {
		t.Errorf("header = %v, want typ at+jwt, ES256", h)
	}
	if c["sub"] != "batch" || c["client_id"] != "batch" || c["iss"] != f.env.Issuer || c["scope"] != "reports:read" {
		t.Errorf("claims = %v", c)
	}
	if !reflect.DeepEqual(c["aud"], []any{"batch"}) {
		t.Errorf("aud = %v, want [batch]", c["aud"])
	}
	if exp, iat := num(c["exp"]), num(c["iat"]); exp-iat != 600 {
		t.Errorf("exp - iat = %d, want 600", exp-iat)
	}
	keySet := oidc.NewRemoteKeySet(context.Background(), f.env.URL("/jwks.json"))
	if _, err := keySet.VerifySignature(context.Background(), at); err != nil {
		t.Errorf("access token does not verify with the JWKS: %v", err)
	}
	status, _, intro := postForm(t, f.env.URL("/introspect"), url.Values{"token": {at}}, "batch", secret)
	if status != http.StatusOK || intro["active"] != true || intro["client_id"] != "batch" || num(intro["exp"]) != num(c["exp"]) {
		t.Errorf("introspection of the client's token: %d %v", status, intro)
	}

	// A token without openid is no key to userinfo.
	if status, _, body := getUserinfo(t, f.env.URL("/userinfo"), at); status != http.StatusForbidden || body["error"] != "insufficient_scope" {
		t.Errorf("userinfo with a client token: %d %v, want 403 insufficient_scope", status, body)
	}

	// A scope the client does not have, a wrong secret, a grant it may not use.
	status, _, body = postForm(t, f.env.URL("/token"), url.Values{"grant_type": {"client_credentials"}, "scope": {"openid"}}, "batch", secret)
	if status != http.StatusBadRequest || body["error"] != "invalid_scope" {
		t.Errorf("foreign scope: %d %v, want 400 invalid_scope", status, body)
	}
	status, _, body = postForm(t, f.env.URL("/token"), url.Values{"grant_type": {"client_credentials"}}, "batch", secret+"x")
	if status != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Errorf("wrong secret: %d %v, want 401 invalid_client", status, body)
	}
	status, body = f.token(t, url.Values{"grant_type": {"client_credentials"}})
	if status != http.StatusBadRequest || body["error"] != "unauthorized_client" {
		t.Errorf("client_credentials for a code-flow client: %d %v, want 400 unauthorized_client", status, body)
	}
	// client_secret_post works as well as basic.
	status, _, body = postForm(t, f.env.URL("/token"), url.Values{"grant_type": {"client_credentials"},
		"client_id": {"batch"}, "client_secret": {secret}}, "", "")
	if status != http.StatusOK {
		t.Errorf("client_secret_post: %d %v", status, body)
	}
}

func TestIntrospection(t *testing.T) { onBackends(t, testIntrospection) }

func testIntrospection(t *testing.T, opts ...idptest.Option) {
	f := newFixture(t, opts...)
	_, tok := f.signIn(t, oidc.ScopeOpenID, "email", oidc.ScopeOfflineAccess)
	got := f.introspect(t, tok.oauth.AccessToken)
	want := map[string]any{
		"active": true, "sub": f.user.ID, "client_id": webClientID, "scope": "openid email offline_access",
		"iss": f.env.Issuer, "acr": idp.ACRPassword, "amr": []any{"pwd"}, "auth_time": tok.claims["auth_time"],
		"sid": tok.claims["sid"],
	}
	for k, v := range want {
		if !reflect.DeepEqual(got[k], v) {
			t.Errorf("introspection %s = %v, want %v", k, got[k], v)
		}
	}
	if exp := num(got["exp"]); exp < time.Now().Unix()+590 || exp > time.Now().Unix()+601 {
		t.Errorf("exp = %d (now %d), want about now + 600", exp, time.Now().Unix())
	}

	// The refresh token introspects too, as the client's.
	if rt := f.introspect(t, tok.oauth.RefreshToken); rt["active"] != true || rt["sub"] != f.user.ID {
		t.Errorf("refresh token introspection = %v", rt)
	}
	// Garbage is inactive, not an error.
	if g := f.introspect(t, "not-a-token"); !reflect.DeepEqual(g, map[string]any{"active": false}) {
		t.Errorf("garbage token = %v, want {active:false}", g)
	}
	// Callers must authenticate.
	for _, c := range []struct{ user, pass string }{{webClientID, f.webSecret + "x"}, {"nobody", "secret"}, {"", ""}} {
		status, _, body := postForm(t, f.env.URL("/introspect"), url.Values{"token": {tok.oauth.AccessToken}}, c.user, c.pass)
		if status != http.StatusUnauthorized || body["active"] == true {
			t.Errorf("introspection as %q: %d %v, want 401", c.user, status, body)
		}
	}
}

// TestRevocation: revoking a refresh token (RFC 7009) ends the grant: the
// refresh fails and its access token goes inactive.
func TestRevocation(t *testing.T) { onBackends(t, testRevocation) }

func testRevocation(t *testing.T, opts ...idptest.Option) {
	f := newFixture(t, opts...)
	_, tok := f.signIn(t, oidc.ScopeOpenID, oidc.ScopeOfflineAccess)
	status, _, body := postForm(t, f.env.URL("/revoke"), url.Values{"token": {tok.oauth.RefreshToken},
		"token_type_hint": {"refresh_token"}}, webClientID, f.webSecret)
	if status != http.StatusOK {
		t.Fatalf("revoke: %d %v", status, body)
	}
	if status, body := f.refresh(t, tok.oauth.RefreshToken); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("refresh after revocation: %d %v, want 400 invalid_grant", status, body)
	}
	if got := f.introspect(t, tok.oauth.AccessToken)["active"]; got != false {
		t.Errorf("access token after revoking its refresh token: active = %v", got)
	}
	// Unknown tokens answer 200 as RFC 7009 2.2 says; a wrong secret 401.
	if status, _, _ := postForm(t, f.env.URL("/revoke"), url.Values{"token": {"unknown"}}, webClientID, f.webSecret); status != http.StatusOK {
		t.Errorf("revoking an unknown token: %d, want 200", status)
	}
	if status, _, _ := postForm(t, f.env.URL("/revoke"), url.Values{"token": {tok.oauth.AccessToken}}, webClientID, "wrong"); status != http.StatusUnauthorized {
		t.Errorf("revoking with a wrong secret: %d, want 401", status)
	}
}

// TestRevokeOtherClientsToken: a client cannot revoke another's token.
func TestRevokeOtherClientsToken(t *testing.T) {
	f := newFixture(t)
	_, tok := f.signIn(t, oidc.ScopeOpenID, oidc.ScopeOfflineAccess)
	other := f.env.CreateClient(storage.Client{ID: "other", FirstParty: true, RedirectURIs: []string{webRedirect}})
	postForm(t, f.env.URL("/revoke"), url.Values{"token": {tok.oauth.RefreshToken}}, "other", other)
	if status, body := f.refresh(t, tok.oauth.RefreshToken); status != http.StatusOK {
		t.Errorf("refresh after another client's revocation attempt: %d %v, want 200", status, body)
	}
}

// TestConcurrentRedemption: of 20 simultaneous redemptions of one code, or
// of one refresh token, exactly one succeeds and none is a server error.
func TestConcurrentRedemption(t *testing.T) { onBackends(t, testConcurrentRedemption) }

func testConcurrentRedemption(t *testing.T, opts ...idptest.Option) {
	f := newFixture(t, opts...)
	race := func(form url.Values) (ok int, statuses map[int]int) {
		statuses = map[int]int{}
		results := make(chan int, 20)
		start := make(chan struct{})
		for range 20 {
			go func() {
				<-start
				status, _, body := postForm(t, f.env.URL("/token"), form, webClientID, f.webSecret)
				if status >= 500 {
					t.Errorf("concurrent redemption: %d %v", status, body)
				}
				results <- status
			}()
		}
		close(start)
		for range 20 {
			s := <-results
			statuses[s]++
		}
		return statuses[http.StatusOK], statuses
	}

	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect, oidc.ScopeOpenID, oidc.ScopeOfflineAccess)
	a := newAuthRequest()
	redirect := f.env.NewBrowser().Login(r.url(a), userEmail, userPassword)
	if ok, statuses := race(url.Values{"grant_type": {"authorization_code"}, "code": {redirect.Query().Get("code")},
		"redirect_uri": {webRedirect}, "code_verifier": {a.verifier}}); ok != 1 || statuses[http.StatusBadRequest] != 19 {
		t.Errorf("one code redeemed 20 times at once: %v, want one 200 and 19 400", statuses)
	}

	_, tok := f.signIn(t, oidc.ScopeOpenID, oidc.ScopeOfflineAccess)
	if ok, statuses := race(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.oauth.RefreshToken}}); ok != 1 || statuses[http.StatusBadRequest] != 19 {
		t.Errorf("one refresh token redeemed 20 times at once: %v, want one 200 and 19 400", statuses)
	}
}

// TestCodeNotStored: the store holds no record under the authorization
// code itself (only under signatures and hashes of it).
func TestCodeNotStored(t *testing.T) {
	f := newFixture(t)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	a := newAuthRequest()
	redirect := f.env.NewBrowser().Login(r.url(a), userEmail, userPassword)
	code := redirect.Query().Get("code")
	for _, kind := range []storage.TokenKind{storage.KindAuthorizeCode, storage.KindOIDC, storage.KindPKCE} {
		if _, err := f.env.Store.GetToken(context.Background(), kind, code); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("%s record keyed by the raw code: %v", kind, err)
		}
	}
	r.exchange(a, redirect) // and the code still works
}
