package idp_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	zrp "github.com/zitadel/oidc/v3/pkg/client/rp"
	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/latchkey/latchkey/idp"
	"github.com/latchkey/latchkey/idp/idptest"
	"github.com/latchkey/latchkey/idp/storage"
)

// zitadelApp is a relying-party web app built with zitadel/oidc's rp
// package as its documentation shows: /login redirects to the provider
// with state and PKCE kept in cookies, /callback exchanges the code,
// verifies the id_token and calls userinfo.
type zitadelApp struct {
	t        *testing.T
	rp       zrp.RelyingParty
	srv      *httptest.Server
	nonce    string
	redirect string

	mu   sync.Mutex
	last *zitadelResult
}

type zitadelResult struct {
	tokens *zoidc.Tokens[*zoidc.IDTokenClaims]
	info   *zoidc.UserInfo
	state  string
}

const zitadelClientID = "zitadel-app"

type nonceKey struct{}

// withNonce stands in for the app's session: the callback's verifier
// expects the nonce the app sent.
func withNonce(nonce string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), nonceKey{}, nonce)))
	})
}

// newZitadelApp registers a first-party client for the app and starts it.
func newZitadelApp(t *testing.T, env *idptest.Env, scopes ...string) *zitadelApp {
	t.Helper()
	app := &zitadelApp{t: t, nonce: randomString()}
	app.srv = httptest.NewUnstartedServer(nil)
	t.Cleanup(app.srv.Close)
	base := "http://" + app.srv.Listener.Addr().String()
	app.redirect = base + "/callback"
	secret := env.CreateClient(storage.Client{ID: zitadelClientID, Name: "Zitadel App", FirstParty: true,
		RedirectURIs: []string{app.redirect}, PostLogoutRedirectURIs: []string{base + "/bye"}})

	key := make([]byte, 32)
	_, _ = rand.Read(key)
	cookies := httphelper.NewCookieHandler(key, key, httphelper.WithUnsecure())
	var err error
	app.rp, err = zrp.NewRelyingPartyOIDC(context.Background(), env.Issuer, zitadelClientID, secret, app.redirect, scopes,
		zrp.WithPKCE(cookies),
		zrp.WithHTTPClient(&http.Client{}),
		// The nonce belongs to the sign-in request; a refresh has none.
		zrp.WithVerifierOpts(zrp.WithNonce(func(ctx context.Context) string {
			n, _ := ctx.Value(nonceKey{}).(string)
			return n
		})),
		zrp.WithSigningAlgsFromDiscovery(),
	)
	if err != nil {
		t.Fatalf("zrp.NewRelyingPartyOIDC: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/login", zrp.AuthURLHandler(randomString, app.rp, zrp.WithURLParam("nonce", app.nonce)))
	mux.Handle("/callback", withNonce(app.nonce, zrp.CodeExchangeHandler(zrp.UserinfoCallback(
		func(w http.ResponseWriter, r *http.Request, tokens *zoidc.Tokens[*zoidc.IDTokenClaims], state string, _ zrp.RelyingParty, info *zoidc.UserInfo) {
			app.mu.Lock()
			app.last = &zitadelResult{tokens: tokens, info: info, state: state}
			app.mu.Unlock()
			fmt.Fprint(w, "signed in")
		}), app.rp)))
	app.srv.Config.Handler = mux
	app.srv.Start()
	return app
}

// signIn goes through the app's /login with the browser, signs in at the
// provider and lets the app finish at /callback.
func (app *zitadelApp) signIn(b *idptest.Browser) *zitadelResult {
	app.t.Helper()
	start := b.Get(app.srv.URL + "/login")
	q := start.Location().Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") != app.nonce {
		app.t.Fatalf("the app's authorization request lacks PKCE or nonce: %v", q)
	}
	r := b.Follow(start)
	if r.Path() == "/login" {
		r = b.SubmitLogin(r, userEmail, userPassword)
	}
	back := r.Location()
	if back == nil || !strings.HasPrefix(back.String(), app.redirect+"?") {
		app.t.Fatalf("expected a redirect to the app's callback, got %d %v", r.Status, back)
	}
	if back.Query().Get("iss") == "" {
		app.t.Error("no iss in the authorization response")
	}
	done := b.Get(back.String())
	if done.Status != http.StatusOK || done.Body != "signed in" {
		app.t.Fatalf("the app's callback failed: %d %s", done.Status, done.Body)
	}
	app.mu.Lock()
	defer app.mu.Unlock()
	return app.last
}

func TestZitadelCodeFlow(t *testing.T) { onBackends(t, testZitadelCodeFlow) }

func testZitadelCodeFlow(t *testing.T, opts ...idptest.Option) {
	f := newFixture(t, opts...)
	app := newZitadelApp(t, f.env, zoidc.ScopeOpenID, zoidc.ScopeProfile, zoidc.ScopeEmail, zoidc.ScopeOfflineAccess)
	res := app.signIn(f.env.NewBrowser())

	c := res.tokens.IDTokenClaims
	if c.Subject != f.user.ID || c.Issuer != f.env.Issuer || c.Nonce != app.nonce {
		t.Errorf("sub, iss, nonce = %s %s %s", c.Subject, c.Issuer, c.Nonce)
	}
	if !slices.Equal(c.Audience, []string{zitadelClientID}) {
		t.Errorf("aud = %v", c.Audience)
	}
	if c.AuthenticationContextClassReference != idp.ACRPassword || !slices.Equal(c.AuthenticationMethodsReferences, []string{"pwd"}) {
		t.Errorf("acr, amr = %s %v", c.AuthenticationContextClassReference, c.AuthenticationMethodsReferences)
	}
	if c.AuthTime.AsTime().IsZero() || c.SessionID == "" || c.AccessTokenHash == "" {
		t.Errorf("auth_time %v sid %q at_hash %q", c.AuthTime, c.SessionID, c.AccessTokenHash)
	}
	if c.Email != userEmail || !bool(c.EmailVerified) || c.Name != userName {
		t.Errorf("email/profile claims: %q %v %q", c.Email, c.EmailVerified, c.Name)
	}
	if res.info.Subject != f.user.ID || res.info.Email != userEmail || res.info.Name != userName {
		t.Errorf("userinfo = %+v", res.info)
	}
	if res.tokens.RefreshToken == "" {
		t.Fatal("no refresh token with offline_access")
	}

	ctx := context.Background()
	// Refresh through the library: the new id_token verifies and keeps sub.
	refreshed, err := zrp.RefreshTokens[*zoidc.IDTokenClaims](ctx, app.rp, res.tokens.RefreshToken, "", "")
	if err != nil {
		t.Fatalf("RefreshTokens: %v", err)
	}
	if refreshed.IDTokenClaims == nil || refreshed.IDTokenClaims.Subject != f.user.ID || refreshed.RefreshToken == res.tokens.RefreshToken {
		t.Fatalf("refresh result: %+v", refreshed)
	}
	if _, err := zrp.RefreshTokens[*zoidc.IDTokenClaims](ctx, app.rp, res.tokens.RefreshToken, "", ""); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("rotated refresh token: %v, want invalid_grant", err)
	}

	// Userinfo through the library with the refreshed access token is
	// refused: reuse of the rotated token revoked the family.
	if _, err := zrp.Userinfo[*zoidc.UserInfo](ctx, refreshed.AccessToken, "Bearer", f.user.ID, app.rp); err == nil {
		t.Error("userinfo with an access token of a revoked family succeeded")
	}
}

func TestZitadelRevokeAndEndSession(t *testing.T) {
	f := newFixture(t)
	app := newZitadelApp(t, f.env, zoidc.ScopeOpenID, zoidc.ScopeOfflineAccess)
	b := f.env.NewBrowser()
	res := app.signIn(b)
	ctx := context.Background()

	info, err := zrp.Userinfo[*zoidc.UserInfo](ctx, res.tokens.AccessToken, "Bearer", f.user.ID, app.rp)
	if err != nil || info.Subject != f.user.ID {
		t.Fatalf("Userinfo: %v %v", info, err)
	}
	if err := zrp.RevokeToken(ctx, app.rp, res.tokens.RefreshToken, "refresh_token"); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	if _, err := zrp.RefreshTokens[*zoidc.IDTokenClaims](ctx, app.rp, res.tokens.RefreshToken, "", ""); err == nil {
		t.Error("refresh after revocation succeeded")
	}
	if _, err := zrp.Userinfo[*zoidc.UserInfo](ctx, res.tokens.AccessToken, "Bearer", f.user.ID, app.rp); err == nil {
		t.Error("userinfo after revoking the grant succeeded")
	}

	// A second sign-in reuses the session (no login page) ...
	res = app.signIn(b)
	// ... until the app ends it through the end_session_endpoint.
	loc, err := zrp.EndSession(ctx, app.rp, res.tokens.IDToken, app.srv.URL+"/bye", "st-9", "", nil)
	if err != nil {
		t.Fatalf("EndSession: %v", err)
	}
	if loc == nil || loc.String() != app.srv.URL+"/bye?state=st-9" {
		t.Fatalf("EndSession location = %v", loc)
	}
	u := zrp.AuthURL(randomString(), app.rp, zrp.WithPrompt(zoidc.PromptNone), zrp.WithCodeChallenge(zoidc.NewSHACodeChallenge(randomString()+randomString())))
	if q := b.Authorize(u).Query(); q.Get("error") != "login_required" {
		t.Errorf("prompt=none after EndSession: %v, want login_required", q)
	}
}

func TestZitadelClientCredentials(t *testing.T) {
	f := newFixture(t)
	secret := f.env.CreateClient(storage.Client{ID: "batch", GrantTypes: []string{"client_credentials"}, Scopes: []string{"reports:read"}})
	app, err := zrp.NewRelyingPartyOIDC(context.Background(), f.env.Issuer, "batch", secret, "", []string{"reports:read"},
		zrp.WithHTTPClient(&http.Client{}))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := zrp.ClientCredentials(context.Background(), app, nil)
	if err != nil {
		t.Fatalf("ClientCredentials: %v", err)
	}
	if tok.AccessToken == "" || tok.RefreshToken != "" || tok.Expiry.IsZero() {
		t.Errorf("token = %+v", tok)
	}
	h, c := jwtParts(t, tok.AccessToken)
	if h["typ"] != "at+jwt" || c["sub"] != "batch" || c["client_id"] != "batch" {
		t.Errorf("header %v claims %v", h, c)
	}
}
