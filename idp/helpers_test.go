package idp_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/idp/idptest"
	"github.com/latchkey/latchkey/idp/storage"
)

// The fixture every flow test starts from: one user, one first-party
// confidential client.
const (
	userEmail    = "ada@example.test"
	userName     = "Ada Lovelace"
	userPassword = "correct horse battery staple"

	webClientID    = "web"
	webRedirect    = "https://rp.example.test/callback"
	webPostLogout  = "https://rp.example.test/signed-out"
	thirdPartyID   = "partner"
	partnerRedir   = "https://partner.example.test/cb"
	publicClientID = "spa"
	spaRedirect    = "http://localhost:5173/cb"
)

type fixture struct {
	env       *idptest.Env
	user      storage.User
	webSecret string
	// partnerSecret is set once f.partner registered the third-party client.
	partnerSecret string
}

func newFixture(t testing.TB, opts ...idptest.Option) *fixture {
	t.Helper()
	env := idptest.New(t, opts...)
	u := env.CreateUser(userEmail, userName, userPassword)
	secret := env.CreateClient(storage.Client{
		ID: webClientID, Name: "Web App", FirstParty: true,
		RedirectURIs: []string{webRedirect}, PostLogoutRedirectURIs: []string{webPostLogout},
	})
	return &fixture{env: env, user: u, webSecret: secret}
}

// rp is a relying party built with coreos/go-oidc and x/oauth2, as an app
// would use them.
type rp struct {
	t        testing.TB
	issuer   string
	provider *oidc.Provider
	config   oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func newRP(t testing.TB, env *idptest.Env, clientID, secret, redirect string, scopes ...string) *rp {
	t.Helper()
	p, err := oidc.NewProvider(context.Background(), env.Issuer)
	if err != nil {
		t.Fatalf("oidc.NewProvider: %v", err)
	}
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID, "profile", "email"}
	}
	// Say how the client authenticates: x/oauth2's auto-detection retries a
	// failed request in the other style, which would hide the first answer.
	ep := p.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader
	if secret == "" {
		ep.AuthStyle = oauth2.AuthStyleInParams
	}
	return &rp{
		t: t, issuer: env.Issuer, provider: p,
		config: oauth2.Config{ClientID: clientID, ClientSecret: secret, Endpoint: ep,
			RedirectURL: redirect, Scopes: scopes},
		verifier: p.Verifier(&oidc.Config{ClientID: clientID, SupportedSigningAlgs: []string{"ES256", "RS256"}}),
	}
}

// authRequest is one authorization request's secrets on the RP side.
type authRequest struct {
	state, nonce, verifier string
}

func newAuthRequest() authRequest {
	return authRequest{state: randomString(), nonce: randomString(), verifier: oauth2.GenerateVerifier()}
}

// url returns the authorization URL with state, nonce and PKCE S256.
func (r *rp) url(a authRequest, extra ...oauth2.AuthCodeOption) string {
	opts := append([]oauth2.AuthCodeOption{oidc.Nonce(a.nonce), oauth2.S256ChallengeOption(a.verifier)}, extra...)
	return r.config.AuthCodeURL(a.state, opts...)
}

// tokens is a verified token response.
type tokens struct {
	oauth   *oauth2.Token
	raw     string // the id_token
	idToken *oidc.IDToken
	claims  map[string]any
}

// exchange redeems the code of a successful redirect after checking state
// and iss, and verifies the id_token (signature, iss, aud, exp, nonce,
// at_hash) as go-oidc does.
func (r *rp) exchange(a authRequest, redirect *url.URL) *tokens {
	r.t.Helper()
	q := redirect.Query()
	if e := q.Get("error"); e != "" {
		r.t.Fatalf("authorization failed: %s: %s", e, q.Get("error_description"))
	}
	if got := q.Get("state"); got != a.state {
		r.t.Fatalf("state = %q, want %q", got, a.state)
	}
	if got := q.Get("iss"); got != r.issuer {
		r.t.Fatalf("iss = %q, want %q (RFC 9207)", got, r.issuer)
	}
	tok, err := r.config.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(a.verifier))
	if err != nil {
		r.t.Fatalf("exchange: %v", err)
	}
	return r.verify(tok, a.nonce)
}

func (r *rp) verify(tok *oauth2.Token, nonce string) *tokens {
	r.t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		r.t.Fatalf("token response without id_token")
	}
	idt, err := r.verifier.Verify(context.Background(), raw)
	if err != nil {
		r.t.Fatalf("verify id_token: %v", err)
	}
	if idt.Nonce != nonce {
		r.t.Fatalf("nonce = %q, want %q", idt.Nonce, nonce)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		r.t.Fatalf("at_hash: %v", err)
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		r.t.Fatalf("claims: %v", err)
	}
	return &tokens{oauth: tok, raw: raw, idToken: idt, claims: claims}
}

func randomString() string { return strings.ToLower(rand.Text()) }

// postForm posts a form, with basic auth when user is set, and decodes a
// JSON answer into a map.
func postForm(t testing.TB, u string, v url.Values, user, pass string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(v.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	return doJSON(t, req)
}

func doJSON(t testing.TB, req *http.Request) (int, http.Header, map[string]any) {
	t.Helper()
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	if len(body) > 0 && strings.Contains(resp.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", req.Method, req.URL, body, err)
		}
	}
	return resp.StatusCode, resp.Header, out
}

// jwtParts decodes the header and payload of a JWT without verifying it
// (the tests verify signatures with the RP libraries).
func jwtParts(t testing.TB, tok string) (header, payload map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", tok)
	}
	dec := func(s string) map[string]any {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("decode JWT part: %v", err)
		}
		m := map[string]any{}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("decode JWT part: %v", err)
		}
		return m
	}
	return dec(parts[0]), dec(parts[1])
}

func oauthTokenSource(t *tokens) oauth2.TokenSource { return oauth2.StaticTokenSource(t.oauth) }

// signIn runs the whole code flow for the web client with scopes and
// returns its RP and verified tokens.
func (f *fixture) signIn(t testing.TB, scopes ...string) (*rp, *tokens) {
	t.Helper()
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect, scopes...)
	a := newAuthRequest()
	return r, r.exchange(a, f.env.NewBrowser().Login(r.url(a), userEmail, userPassword))
}

// token posts to the token endpoint with client_secret_basic.
func (f *fixture) token(t testing.TB, v url.Values) (int, map[string]any) {
	t.Helper()
	status, _, body := postForm(t, f.env.URL("/token"), v, webClientID, f.webSecret)
	return status, body
}

// introspect asks the introspection endpoint about tok as the web client.
func (f *fixture) introspect(t testing.TB, tok string) map[string]any {
	t.Helper()
	status, _, body := postForm(t, f.env.URL("/introspect"), url.Values{"token": {tok}}, webClientID, f.webSecret)
	if status != http.StatusOK {
		t.Fatalf("introspect: status %d %v", status, body)
	}
	return body
}

// refresh redeems a refresh token as the web client.
func (f *fixture) refresh(t testing.TB, rt string) (int, map[string]any) {
	t.Helper()
	return f.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
}

// hashHex is how the provider names a throttle counter (first 16 bytes of
// SHA-256, hex).
func hashHex(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:16])
}

// noRedirects is a plain client that shows redirects instead of following them.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
