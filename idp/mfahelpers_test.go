package idp_test

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	xhtml "golang.org/x/net/html"

	"github.com/latchkey/latchkey/idp/idptest"
	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/mfa"
	"github.com/latchkey/latchkey/mfa/totp"
)

// The assurance levels as a relying party sends them.
const (
	acrPwd = string(mfa.LevelPwd)
	acrMFA = string(mfa.LevelMFA)
	acrPHR = string(mfa.LevelPHR)
)

// wantMFAAMR is the amr of a password followed by a code (an authenticator
// app's or a recovery code, which publishes "otp" too): RFC 8176 pwd and
// otp, and mfa because two factors took part.
var wantMFAAMR = []string{"pwd", "otp", "mfa"}

// newMFAFixture is newFixture on a clock an hour behind real time: every
// TOTP code moves the clock on by a time step, and fosite refuses an
// auth_time ahead of its own (real) clock.
func newMFAFixture(t testing.TB, opts ...idptest.Option) *fixture {
	t.Helper()
	return newFixture(t, append([]idptest.Option{laggingClock()}, opts...)...)
}

// authenticator stands in for the user's authenticator app: the secret
// read off the enrolment page, and the recovery codes shown with it.
type authenticator struct {
	env    *idptest.Env
	secret string
	codes  []string
}

// code moves the provider's clock to the next time step and returns the
// code for it: a step once accepted is never accepted again.
func (a *authenticator) code(t testing.TB) string {
	t.Helper()
	a.env.Clock.Advance(30 * time.Second)
	return a.now(t)
}

// now is the code of the current time step, without moving the clock.
func (a *authenticator) now(t testing.TB) string {
	t.Helper()
	return totpCode(t, a.secret, a.env.Clock.Now())
}

// wrong returns a six-digit code that matches none of the steps the
// provider accepts now (the current one and one either side).
func (a *authenticator) wrong(t testing.TB) string {
	t.Helper()
	now := a.env.Clock.Now()
	valid := []string{totpCode(t, a.secret, now.Add(-30*time.Second)), totpCode(t, a.secret, now), totpCode(t, a.secret, now.Add(30*time.Second))}
	for _, c := range []string{"000000", "111111", "222222", "333333"} {
		if !slices.Contains(valid, c) {
			return c
		}
	}
	t.Fatal("no wrong code found")
	return ""
}

func totpCode(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.Code(totp.DefaultParams(), secret, at)
	if err != nil {
		t.Fatalf("totp code: %v", err)
	}
	return c
}

// enrolTOTP adds an authenticator app to the fixture's user the way the
// user would: sign in to the account page (in a browser of its own), add
// an app with the manual-entry key, confirm with its first code. It
// returns the app with the recovery codes the provider showed.
func (f *fixture) enrolTOTP(t testing.TB) *authenticator {
	t.Helper()
	b := f.env.NewBrowser()
	page := b.SubmitLogin(b.Open(f.env.URL("/account")), userEmail, userPassword)
	if page.Path() != "/account" || page.Status != http.StatusOK {
		t.Fatalf("account page after sign-in: %s %d\n%s", page.URL, page.Status, page.Body)
	}
	enrol := b.Follow(b.Get(f.env.URL("/account/totp")))
	if enrol.Path() != "/account/totp" || enrol.Status != http.StatusOK {
		t.Fatalf("authenticator enrolment: %s %d, want the enrolment page\n%s", enrol.URL, enrol.Status, enrol.Body)
	}
	auth := &authenticator{env: f.env, secret: manualKey(t, enrol)}
	done := submitForm(t, b, enrol, "/account/totp", nil, map[string]string{"code": auth.now(t)})
	auth.codes = recoveryCodes(t, done)
	return auth
}

// manualKey reads the manual-entry key off an enrolment page.
func manualKey(t testing.TB, page *idptest.Response) string {
	t.Helper()
	m := regexp.MustCompile(`<code class="secret"[^>]*>([^<]+)</code>`).FindStringSubmatch(page.Body)
	if m == nil {
		t.Fatalf("no manual-entry key on %s (status %d):\n%s", page.URL, page.Status, page.Body)
	}
	return strings.ReplaceAll(html.UnescapeString(m[1]), " ", "")
}

// recoveryCodes reads the recovery codes off a notice page.
func recoveryCodes(t testing.TB, page *idptest.Response) []string {
	t.Helper()
	list := regexp.MustCompile(`(?s)<ul class="codes"[^>]*>(.*?)</ul>`).FindStringSubmatch(page.Body)
	if list == nil {
		t.Fatalf("no recovery codes on %s (status %d):\n%s", page.URL, page.Status, page.Body)
	}
	var codes []string
	for _, m := range regexp.MustCompile(`<code>([^<]*)</code>`).FindAllStringSubmatch(list[1], -1) {
		codes = append(codes, html.UnescapeString(m[1]))
	}
	return codes
}

// submitForm posts the form of page whose action has the path action and
// whose fields include every pair of match, with the fields changed by set
// (a field set to "" is removed), and follows the answer.
func submitForm(t testing.TB, b *idptest.Browser, page *idptest.Response, action string, match, set map[string]string) *idptest.Response {
	t.Helper()
	for _, f := range page.Forms() {
		u, err := url.Parse(f.Action)
		if err != nil || u.Path != action {
			continue
		}
		ok := true
		for k, v := range match {
			ok = ok && f.Fields.Get(k) == v
		}
		if !ok {
			continue
		}
		v := f.Fields
		for k, val := range set {
			if val == "" {
				v.Del(k)
			} else {
				v.Set(k, val)
			}
		}
		return b.Follow(b.PostForm(f.Action, v))
	}
	t.Fatalf("no form to %s %v on %s (status %d):\n%s", action, match, page.URL, page.Status, page.Body)
	return nil
}

// mfaFactor is the factor the second-factor page asks for, "" when page
// is not that page.
func mfaFactor(page *idptest.Response) string {
	if page.Path() != "/mfa" {
		return ""
	}
	for _, f := range page.Forms() {
		if u, err := url.Parse(f.Action); err == nil && u.Path == "/mfa" {
			return f.Fields.Get("factor")
		}
	}
	return ""
}

// expectFactor fails the test unless page asks for factor.
func expectFactor(t testing.TB, page *idptest.Response, factor mfa.Factor) {
	t.Helper()
	if got := mfaFactor(page); got != string(factor) {
		t.Fatalf("got %s (status %d, factor %q), want the second-factor page for %s:\n%s", page.URL, page.Status, got, factor, page.Body)
	}
}

// enterCode answers the second-factor page with code; extra sets more
// fields ("remember": "on").
func enterCode(t testing.TB, b *idptest.Browser, page *idptest.Response, code string, extra ...string) *idptest.Response {
	t.Helper()
	set := map[string]string{"code": code}
	for i := 0; i+1 < len(extra); i += 2 {
		set[extra[i]] = extra[i+1]
	}
	return submitForm(t, b, page, "/mfa", nil, set)
}

// links returns the absolute targets of the page's <a href> links.
func links(page *idptest.Response) []string {
	var out []string
	z := xhtml.NewTokenizer(strings.NewReader(page.Body))
	for {
		tt := z.Next()
		if tt == xhtml.ErrorToken {
			return out
		}
		if tt != xhtml.StartTagToken {
			continue
		}
		tok := z.Token()
		if tok.Data != "a" {
			continue
		}
		for _, a := range tok.Attr {
			if a.Key == "href" {
				if u, err := page.URL.Parse(a.Val); err == nil {
					out = append(out, u.String())
				}
			}
		}
	}
}

// otherWay returns the "try another way" link of the second-factor page
// to factor, or "".
func otherWay(page *idptest.Response, factor mfa.Factor) string {
	for _, l := range links(page) {
		u, err := url.Parse(l)
		if err == nil && u.Path == "/mfa" && u.Query().Get("factor") == string(factor) {
			return l
		}
	}
	return ""
}

// clientRedirect returns where r sends the browser, failing the test if r
// is a page.
func clientRedirect(t testing.TB, r *idptest.Response) *url.URL {
	t.Helper()
	if !r.IsRedirect() {
		t.Fatalf("expected a redirect to the client, got %s (status %d):\n%s", r.URL, r.Status, r.Body)
	}
	return r.Location()
}

// signInMFA runs an authorization request through the login page (when
// shown) and the authenticator-app page, and returns the redirect to the
// client.
func signInMFA(t testing.TB, b *idptest.Browser, authorizeURL string, auth *authenticator) *url.URL {
	t.Helper()
	page := b.Open(authorizeURL)
	if page.Path() == "/login" {
		page = b.SubmitLogin(page, userEmail, userPassword)
	}
	expectFactor(t, page, mfa.TOTP)
	return clientRedirect(t, enterCode(t, b, page, auth.code(t)))
}

// expectAuthzError checks an error redirect: the error code, the request's
// state and iss (RFC 9207), and no code.
func expectAuthzError(t testing.TB, loc *url.URL, a authRequest, issuer, code string) {
	t.Helper()
	q := loc.Query()
	if q.Get("error") != code || q.Get("state") != a.state || q.Get("iss") != issuer || q.Has("code") {
		t.Fatalf("authorization response %v, want error=%s with state and iss", q, code)
	}
}

// auditEvents lists the audit events of one type, newest first.
func auditEvents(t testing.TB, env *idptest.Env, typ string) []storage.AuditEvent {
	t.Helper()
	evs, err := env.Store.ListAudit(context.Background(), storage.AuditFilter{Type: typ, Limit: 1000})
	if err != nil {
		t.Fatalf("list audit %s: %v", typ, err)
	}
	return evs
}

// strs turns a decoded JSON array into strings.
func strs(v any) []string {
	arr, _ := v.([]any)
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// accessTokenClaims verifies a JWT access token against the provider's
// published keys (as a resource server would) and returns its claims.
func accessTokenClaims(t testing.TB, r *rp, raw string) map[string]any {
	t.Helper()
	h, _ := jwtParts(t, raw)
	if h["typ"] != "at+jwt" {
		t.Errorf("access token typ = %v, want at+jwt (RFC 9068)", h["typ"])
	}
	var meta struct {
		JWKS string `json:"jwks_uri"`
	}
	if err := r.provider.Claims(&meta); err != nil || meta.JWKS == "" {
		t.Fatalf("jwks_uri from discovery: %q %v", meta.JWKS, err)
	}
	payload, err := oidc.NewRemoteKeySet(context.Background(), meta.JWKS).VerifySignature(context.Background(), raw)
	if err != nil {
		t.Fatalf("verify access token: %v", err)
	}
	claims := map[string]any{}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatalf("decode access token: %v", err)
	}
	// NumericDates must read as integers: an API decoding auth_time into
	// an int64 (as docs/step-up.md shows) fails on 1.7e+09.
	var dates map[string]json.RawMessage
	_ = json.Unmarshal(payload, &dates)
	for _, k := range []string{"auth_time", "exp", "iat"} {
		if raw := string(dates[k]); strings.Trim(raw, "0123456789") != "" || raw == "" {
			t.Errorf("access token %s = %s, want an integer NumericDate", k, raw)
		}
	}
	return claims
}

// checkAssurance compares acr, amr and auth_time of a claim set (id_token,
// access token, introspection) with what is wanted.
func checkAssurance(t testing.TB, what string, claims map[string]any, acr string, amr []string, authTime int64) {
	t.Helper()
	if claims["acr"] != acr {
		t.Errorf("%s acr = %v, want %s", what, claims["acr"], acr)
	}
	if got := strs(claims["amr"]); !slices.Equal(got, amr) {
		t.Errorf("%s amr = %v, want %v", what, got, amr)
	}
	if got := num(claims["auth_time"]); got != authTime {
		t.Errorf("%s auth_time = %d, want %d", what, got, authTime)
	}
}

// withHeader makes every request of b carry header k: v (Accept-Language
// of a browser set to Japanese, say).
func withHeader(b *idptest.Browser, k, v string) {
	next := b.Client.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	b.Client.Transport = roundTripper(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set(k, v)
		return next.RoundTrip(r)
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
