package idp_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	zrp "github.com/zitadel/oidc/v3/pkg/client/rp"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/idp/idptest"
	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/mfa"
)

// TestStepUpACRValues: acr_values=mfa for a user with an authenticator
// app asks for the password, then the app's code; the id_token, the JWT
// access token and introspection all say acr mfa, amr pwd otp mfa, and
// auth_time is the password's time (the oldest proof behind the level),
// not the code's.
func TestStepUpACRValues(t *testing.T) { onBackends(t, testStepUpACRValues) }

func testStepUpACRValues(t *testing.T, opts ...idptest.Option) {
	f := newMFAFixture(t, opts...)
	auth := f.enrolTOTP(t)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect, oidc.ScopeOpenID, "email")
	b := f.env.NewBrowser()

	a := newAuthRequest()
	page := b.Open(r.url(a, oauth2.SetAuthURLParam("acr_values", acrMFA)))
	if page.Path() != "/login" {
		t.Fatalf("acr_values=mfa without a session: %s, want the login page", page.URL)
	}
	before := f.env.Clock.Now().Unix()
	page = b.SubmitLogin(page, userEmail, userPassword)
	after := f.env.Clock.Now().Unix()
	expectFactor(t, page, mfa.TOTP)
	for _, want := range []string{`autocomplete="one-time-code"`, `inputmode="numeric"`, "Enter the code from your authenticator app"} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("second-factor page lacks %s", want)
		}
	}
	// The code comes a time step after the password.
	tok := r.exchange(a, clientRedirect(t, enterCode(t, b, page, auth.code(t))))

	authTime := num(tok.claims["auth_time"])
	if authTime < before || authTime > after {
		t.Errorf("auth_time = %d, want the password's time in [%d, %d], not the code's (%d)", authTime, before, after, f.env.Clock.Now().Unix())
	}
	checkAssurance(t, "id_token", tok.claims, acrMFA, wantMFAAMR, authTime)
	at := accessTokenClaims(t, r, tok.oauth.AccessToken)
	checkAssurance(t, "access token", at, acrMFA, wantMFAAMR, authTime)
	if at["sub"] != f.user.ID || at["client_id"] != webClientID {
		t.Errorf("access token sub, client_id = %v %v", at["sub"], at["client_id"])
	}
	in := f.introspect(t, tok.oauth.AccessToken)
	if in["active"] != true {
		t.Fatalf("introspection = %v", in)
	}
	checkAssurance(t, "introspection", in, acrMFA, wantMFAAMR, authTime)
}

// TestStepUpFromPasswordSession: a browser signed in with a password that
// then asks for mfa gets only the second-factor page, and the new tokens
// keep the password's auth_time.
func TestStepUpFromPasswordSession(t *testing.T) { onBackends(t, testStepUpFromPasswordSession) }

func testStepUpFromPasswordSession(t *testing.T, opts ...idptest.Option) {
	f := newMFAFixture(t, opts...)
	auth := f.enrolTOTP(t)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b := f.env.NewBrowser()

	a := newAuthRequest()
	first := r.exchange(a, b.Login(r.url(a), userEmail, userPassword))
	checkAssurance(t, "password sign-in", first.claims, acrPwd, []string{"pwd"}, num(first.claims["auth_time"]))

	f.env.Clock.Advance(10 * time.Second)
	a = newAuthRequest()
	page := b.Open(r.url(a, oauth2.SetAuthURLParam("acr_values", acrMFA)))
	if page.Path() == "/login" {
		t.Fatal("step-up from a fresh password session asked for the password again")
	}
	expectFactor(t, page, mfa.TOTP)
	second := r.exchange(a, clientRedirect(t, enterCode(t, b, page, auth.code(t))))
	checkAssurance(t, "stepped-up id_token", second.claims, acrMFA, wantMFAAMR, num(first.claims["auth_time"]))
	if second.claims["sub"] != first.claims["sub"] {
		t.Errorf("sub changed on step-up: %v -> %v", first.claims["sub"], second.claims["sub"])
	}
	at := accessTokenClaims(t, r, second.oauth.AccessToken)
	checkAssurance(t, "stepped-up access token", at, acrMFA, wantMFAAMR, num(first.claims["auth_time"]))

	// The session is at mfa now: the next plain request is answered at
	// once and still says what the session holds.
	a = newAuthRequest()
	third := r.exchange(a, b.Authorize(r.url(a, oauth2.SetAuthURLParam("acr_values", acrMFA))))
	checkAssurance(t, "repeat", third.claims, acrMFA, wantMFAAMR, num(first.claims["auth_time"]))
}

// TestStepUpFreshness: a session at mfa that is fresh enough is not asked
// again; max_age shorter than its age asks for both factors again (both
// are stale), and so does prompt=login.
func TestStepUpFreshness(t *testing.T) {
	f := newMFAFixture(t)
	auth := f.enrolTOTP(t)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b := f.env.NewBrowser()
	mfaReq := oauth2.SetAuthURLParam("acr_values", acrMFA)

	a := newAuthRequest()
	first := r.exchange(a, signInMFA(t, b, r.url(a, mfaReq), auth))
	t1 := num(first.claims["auth_time"])

	f.env.Clock.Advance(time.Minute)
	a = newAuthRequest()
	again := r.exchange(a, b.Authorize(r.url(a, mfaReq, oauth2.SetAuthURLParam("max_age", "600"))))
	checkAssurance(t, "fresh mfa session", again.claims, acrMFA, wantMFAAMR, t1)

	// max_age=60 two minutes after both proofs: password, then code.
	f.env.Clock.Advance(time.Minute)
	a = newAuthRequest()
	u := r.url(a, mfaReq, oauth2.SetAuthURLParam("max_age", "60"))
	page := b.Open(u)
	if page.Path() != "/login" {
		t.Fatalf("max_age=60 on a session two minutes old: %s, want the login page", page.URL)
	}
	requested := f.env.Clock.Now().Unix()
	page = b.SubmitLogin(page, userEmail, userPassword)
	expectFactor(t, page, mfa.TOTP)
	fresh := r.exchange(a, clientRedirect(t, enterCode(t, b, page, auth.code(t))))
	if got := num(fresh.claims["auth_time"]); got < requested {
		t.Errorf("auth_time after max_age = %d, want the new password's time (>= %d)", got, requested)
	}
	checkAssurance(t, "after max_age", fresh.claims, acrMFA, wantMFAAMR, num(fresh.claims["auth_time"]))

	// max_age=0 without acr_values asks for the password only: the
	// request needs no second factor.
	f.env.Clock.Advance(2 * time.Second)
	a = newAuthRequest()
	pwdOnly := r.exchange(a, b.Login(r.url(a, oauth2.SetAuthURLParam("max_age", "0")), userEmail, userPassword))
	checkAssurance(t, "max_age=0", pwdOnly.claims, acrPwd, []string{"pwd"}, num(pwdOnly.claims["auth_time"]))

	// prompt=login with acr_values=mfa: both again.
	f.env.Clock.Advance(2 * time.Second)
	a = newAuthRequest()
	u = r.url(a, mfaReq, oauth2.SetAuthURLParam("prompt", "login"))
	page = b.Open(u)
	if page.Path() != "/login" {
		t.Fatalf("prompt=login: %s, want the login page", page.URL)
	}
	requested = f.env.Clock.Now().Unix()
	page = b.SubmitLogin(page, userEmail, userPassword)
	expectFactor(t, page, mfa.TOTP)
	relogin := r.exchange(a, clientRedirect(t, enterCode(t, b, page, auth.code(t))))
	if got := num(relogin.claims["auth_time"]); got < requested {
		t.Errorf("auth_time after prompt=login = %d, want >= %d", got, requested)
	}
	if relogin.claims["acr"] != acrMFA {
		t.Errorf("acr after prompt=login = %v", relogin.claims["acr"])
	}
}

// TestACRRequests: how acr_values, aliases, the claims parameter, a
// client's minimum level and prompt=none are honoured.
func TestACRRequests(t *testing.T) {
	pol := mfa.DefaultPolicy()
	pol.Aliases = map[string]mfa.Level{"aal2": mfa.LevelMFA}
	pol.ClientLevels = map[string]mfa.Level{"strict": mfa.LevelMFA}
	f := newMFAFixture(t, idptest.WithPolicy(pol))
	auth := f.enrolTOTP(t)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	b := f.env.NewBrowser()
	a := newAuthRequest()
	pwdSession := r.exchange(a, b.Login(r.url(a), userEmail, userPassword))
	pwdTime := num(pwdSession.claims["auth_time"])

	// stepUp opens a request on the password session and expects the
	// second-factor page.
	stepUp := func(t *testing.T, b *idptest.Browser, u string) *idptest.Response {
		t.Helper()
		page := b.Open(u)
		expectFactor(t, page, mfa.TOTP)
		return page
	}
	// passwordBrowser is a new browser signed in with the password only.
	passwordBrowser := func(t *testing.T) *idptest.Browser {
		t.Helper()
		b := f.env.NewBrowser()
		a := newAuthRequest()
		r.exchange(a, b.Login(r.url(a), userEmail, userPassword))
		return b
	}

	t.Run("unknown acr only", func(t *testing.T) {
		a := newAuthRequest()
		loc := b.Authorize(r.url(a, oauth2.SetAuthURLParam("acr_values", "urn:example:unknown")))
		expectAuthzError(t, loc, a, f.env.Issuer, "unmet_authentication_requirements")
	})

	t.Run("unknown then mfa", func(t *testing.T) {
		b := passwordBrowser(t)
		a := newAuthRequest()
		page := stepUp(t, b, r.url(a, oauth2.SetAuthURLParam("acr_values", "urn:example:unknown "+acrMFA)))
		tok := r.exchange(a, clientRedirect(t, enterCode(t, b, page, auth.code(t))))
		if tok.claims["acr"] != acrMFA {
			t.Errorf("acr = %v, want %s", tok.claims["acr"], acrMFA)
		}
	})

	t.Run("alias", func(t *testing.T) {
		var meta struct {
			ACRs []string `json:"acr_values_supported"`
		}
		if err := r.provider.Claims(&meta); err != nil || !slices.Contains(meta.ACRs, "aal2") || !slices.Contains(meta.ACRs, acrMFA) {
			t.Errorf("acr_values_supported = %v %v, want the levels and the alias aal2", meta.ACRs, err)
		}
		b := passwordBrowser(t)
		a := newAuthRequest()
		page := stepUp(t, b, r.url(a, oauth2.SetAuthURLParam("acr_values", "aal2")))
		tok := r.exchange(a, clientRedirect(t, enterCode(t, b, page, auth.code(t))))
		if tok.claims["acr"] != "aal2" {
			t.Errorf("acr = %v, want the alias the client asked for, aal2", tok.claims["acr"])
		}
		if got := strs(tok.claims["amr"]); !slices.Equal(got, wantMFAAMR) {
			t.Errorf("amr = %v, want %v", got, wantMFAAMR)
		}
	})

	t.Run("claims essential", func(t *testing.T) {
		b := passwordBrowser(t)
		a := newAuthRequest()
		claims := `{"id_token":{"acr":{"essential":true,"values":["` + acrMFA + `"]}}}`
		page := stepUp(t, b, r.url(a, oauth2.SetAuthURLParam("claims", claims)))
		tok := r.exchange(a, clientRedirect(t, enterCode(t, b, page, auth.code(t))))
		if tok.claims["acr"] != acrMFA {
			t.Errorf("acr = %v, want %s", tok.claims["acr"], acrMFA)
		}
	})

	t.Run("claims essential unreachable", func(t *testing.T) {
		a := newAuthRequest()
		claims := `{"id_token":{"acr":{"essential":true,"values":["` + acrPHR + `"]}}}`
		loc := b.Authorize(r.url(a, oauth2.SetAuthURLParam("claims", claims)))
		expectAuthzError(t, loc, a, f.env.Issuer, "unmet_authentication_requirements")
	})

	t.Run("claims voluntary unreachable", func(t *testing.T) {
		// The user has no passkey: phr cannot be reached. A wish that
		// cannot be granted is not an error.
		a := newAuthRequest()
		claims := `{"id_token":{"acr":{"values":["` + acrPHR + `"]}}}`
		tok := r.exchange(a, b.Authorize(r.url(a, oauth2.SetAuthURLParam("claims", claims))))
		checkAssurance(t, "unreachable voluntary phr", tok.claims, acrPwd, []string{"pwd"}, pwdTime)
	})

	t.Run("malformed claims", func(t *testing.T) {
		a := newAuthRequest()
		loc := b.Authorize(r.url(a, oauth2.SetAuthURLParam("claims", `{"id_token":`)))
		expectAuthzError(t, loc, a, f.env.Issuer, "invalid_request")
	})

	t.Run("client minimum", func(t *testing.T) {
		const redirect = "https://strict.example.test/cb"
		secret := f.env.CreateClient(storage.Client{ID: "strict", Name: "Payments", FirstParty: true, RedirectURIs: []string{redirect}})
		sr := newRP(t, f.env, "strict", secret, redirect)
		b := passwordBrowser(t)
		a := newAuthRequest()
		page := stepUp(t, b, sr.url(a))
		tok := sr.exchange(a, clientRedirect(t, enterCode(t, b, page, auth.code(t))))
		if tok.claims["acr"] != acrMFA {
			t.Errorf("acr for a client whose minimum is mfa = %v", tok.claims["acr"])
		}
		// The other client is still happy with the password.
		a = newAuthRequest()
		other := r.exchange(a, f.env.NewBrowser().Login(r.url(a), userEmail, userPassword))
		if other.claims["acr"] != acrPwd {
			t.Errorf("acr for the default client = %v, want %s", other.claims["acr"], acrPwd)
		}
	})

	t.Run("prompt none", func(t *testing.T) {
		a := newAuthRequest()
		loc := b.Authorize(r.url(a, oauth2.SetAuthURLParam("acr_values", acrMFA), oauth2.SetAuthURLParam("prompt", "none")))
		expectAuthzError(t, loc, a, f.env.Issuer, "interaction_required")
		// Without a session it is login_required, as before.
		a = newAuthRequest()
		loc = f.env.NewBrowser().Authorize(r.url(a, oauth2.SetAuthURLParam("acr_values", acrMFA), oauth2.SetAuthURLParam("prompt", "none")))
		expectAuthzError(t, loc, a, f.env.Issuer, "login_required")
	})

	// None of the above raised the first browser's session.
	a = newAuthRequest()
	tok := r.exchange(a, b.Authorize(r.url(a)))
	checkAssurance(t, "password session", tok.claims, acrPwd, []string{"pwd"}, pwdTime)
}

// TestRFC9470StepUp is the round trip docs/step-up.md describes: an API
// answers a password-level token with an RFC 9470 challenge, the app sends
// the user back with the challenge's acr_values and max_age, the user
// enters only the code from their authenticator app, and the new access
// token satisfies the API.
func TestRFC9470StepUp(t *testing.T) { onBackends(t, testRFC9470StepUp) }

func testRFC9470StepUp(t *testing.T, opts ...idptest.Option) {
	f := newMFAFixture(t, opts...)
	auth := f.enrolTOTP(t)
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	api := newStepUpAPI(t, f.env, r)
	b := f.env.NewBrowser()

	a := newAuthRequest()
	tok := r.exchange(a, b.Login(r.url(a), userEmail, userPassword))
	status, challenge, _ := api.call(t, tok.oauth.AccessToken)
	if status != http.StatusUnauthorized {
		t.Fatalf("API with a password-level token: %d, want 401", status)
	}
	scheme, params, err := parseChallenge(challenge)
	if err != nil || !strings.EqualFold(scheme, "Bearer") {
		t.Fatalf("WWW-Authenticate %q: %s %v", challenge, scheme, err)
	}
	if params["error"] != "insufficient_user_authentication" || params["acr_values"] != acrMFA || params["max_age"] != "300" {
		t.Fatalf("challenge parameters = %v", params)
	}

	// The app re-authorizes with exactly what the API asked for.
	f.env.Clock.Advance(5 * time.Second)
	a = newAuthRequest()
	page := b.Open(r.url(a, oauth2.SetAuthURLParam("acr_values", params["acr_values"]),
		oauth2.SetAuthURLParam("max_age", params["max_age"])))
	if page.Path() == "/login" {
		t.Fatal("the step-up asked for the password again")
	}
	expectFactor(t, page, mfa.TOTP)
	stepped := r.exchange(a, clientRedirect(t, enterCode(t, b, page, auth.code(t))))
	if stepped.claims["acr"] != acrMFA {
		t.Errorf("stepped-up id_token acr = %v", stepped.claims["acr"])
	}
	status, challenge, body := api.call(t, stepped.oauth.AccessToken)
	if status != http.StatusOK {
		t.Fatalf("API with the stepped-up token: %d %q %s, want 200", status, challenge, body)
	}
	if body != "paid" {
		t.Errorf("API body = %q", body)
	}

	// Once the proofs are older than the API's max_age it challenges
	// again, although acr is still mfa.
	f.env.Clock.Advance(6 * time.Minute)
	a = newAuthRequest()
	same := r.exchange(a, b.Authorize(r.url(a, oauth2.SetAuthURLParam("acr_values", acrMFA))))
	if status, _, _ := api.call(t, same.oauth.AccessToken); status != http.StatusUnauthorized {
		t.Errorf("API with an mfa token whose auth_time is six minutes old: %d, want 401", status)
	}
}

// stepUpAPI is a resource server that checks Latchkey's JWT access tokens
// itself (signature against the JWKS, issuer, expiry, typ) and demands a
// fresh mfa for its one route, the way docs/step-up.md tells app
// developers to.
type stepUpAPI struct {
	srv *httptest.Server
}

const apiMaxAge = 300

func newStepUpAPI(t *testing.T, env *idptest.Env, r *rp) *stepUpAPI {
	t.Helper()
	var meta struct {
		JWKS string `json:"jwks_uri"`
	}
	if err := r.provider.Claims(&meta); err != nil {
		t.Fatal(err)
	}
	keys := oidc.NewRemoteKeySet(context.Background(), meta.JWKS)
	challenge := func(w http.ResponseWriter, params string) {
		w.Header().Set("WWW-Authenticate", "Bearer "+params)
		w.WriteHeader(http.StatusUnauthorized)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		raw, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
		if !ok {
			challenge(w, `realm="payments"`)
			return
		}
		claims, err := checkAccessToken(req.Context(), keys, raw, env.Issuer)
		if err != nil {
			challenge(w, `error="invalid_token", error_description="`+strings.ReplaceAll(err.Error(), `"`, "'")+`"`)
			return
		}
		// The provider's clock, which the test moves.
		fresh := env.Clock.Now().Unix()-claims.AuthTime <= apiMaxAge
		if (claims.ACR != acrMFA && claims.ACR != acrPHR) || !fresh {
			challenge(w, `error="insufficient_user_authentication", error_description="A second factor is required", `+
				`acr_values="`+acrMFA+`", max_age=`+strconv.Itoa(apiMaxAge))
			return
		}
		_, _ = io.WriteString(w, "paid")
	}))
	t.Cleanup(srv.Close)
	return &stepUpAPI{srv: srv}
}

type apiClaims struct {
	Issuer   string `json:"iss"`
	Expiry   int64  `json:"exp"`
	ACR      string `json:"acr"`
	AuthTime int64  `json:"auth_time"`
}

func checkAccessToken(ctx context.Context, keys *oidc.RemoteKeySet, raw, issuer string) (apiClaims, error) {
	var c apiClaims
	payload, err := keys.VerifySignature(ctx, raw)
	if err != nil {
		return c, fmt.Errorf("signature: %w", err)
	}
	header, err := jwtHeader(raw)
	if err != nil || header["typ"] != "at+jwt" {
		return c, errors.New("not an RFC 9068 access token")
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return c, fmt.Errorf("claims: %w", err)
	}
	if c.Issuer != issuer {
		return c, fmt.Errorf("issuer %q", c.Issuer)
	}
	if time.Now().Unix() >= c.Expiry {
		return c, errors.New("expired")
	}
	return c, nil
}

func jwtHeader(raw string) (map[string]any, error) {
	h, _, ok := strings.Cut(raw, ".")
	if !ok {
		return nil, errors.New("not a JWS")
	}
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	return m, json.Unmarshal(b, &m)
}

func (api *stepUpAPI) call(t *testing.T, accessToken string) (status int, challenge, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, api.srv.URL+"/payments", nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("call API: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(b)
}

// TestParseChallenge pins the small WWW-Authenticate parser the RFC 9470
// test relies on.
func TestParseChallenge(t *testing.T) {
	scheme, p, err := parseChallenge(`Bearer error="insufficient_user_authentication", error_description="A \"second\" factor, please",` +
		"\t" + `acr_values="urn:latchkey:acr:mfa aal2", max_age=300`)
	if err != nil || scheme != "Bearer" || p["error"] != "insufficient_user_authentication" ||
		p["error_description"] != `A "second" factor, please` || p["acr_values"] != "urn:latchkey:acr:mfa aal2" || p["max_age"] != "300" {
		t.Errorf("parse = %q %v %v", scheme, p, err)
	}
	for _, bad := range []string{``, `Bearer error="unterminated`, `Bearer =x`, `Bearer error`, `Bearer a="1" b="2"`} {
		if _, _, err := parseChallenge(bad); err == nil {
			t.Errorf("parseChallenge(%q) succeeded", bad)
		}
	}
}

// parseChallenge reads one challenge of a WWW-Authenticate header (RFC
// 9110 section 11.6.1): a scheme, then comma-separated name=value pairs
// whose value is a token or a quoted string.
func parseChallenge(h string) (scheme string, params map[string]string, err error) {
	h = strings.TrimSpace(h)
	scheme, rest, _ := strings.Cut(h, " ")
	if scheme == "" {
		return "", nil, errors.New("no auth scheme")
	}
	params = map[string]string{}
	s := strings.TrimLeft(rest, " \t")
	for s != "" {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return "", nil, fmt.Errorf("parameter without a value at %q", s)
		}
		name := strings.ToLower(strings.TrimSpace(s[:eq]))
		if name == "" || strings.ContainsAny(name, " \t,\"") {
			return "", nil, fmt.Errorf("bad parameter name %q", name)
		}
		s = strings.TrimLeft(s[eq+1:], " \t")
		var val strings.Builder
		if strings.HasPrefix(s, `"`) {
			i, closed := 1, false
			for ; i < len(s); i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
					val.WriteByte(s[i])
					continue
				}
				if s[i] == '"' {
					closed = true
					break
				}
				val.WriteByte(s[i])
			}
			if !closed {
				return "", nil, fmt.Errorf("unterminated quoted value of %s", name)
			}
			s = s[i+1:]
		} else {
			end := strings.IndexAny(s, ", \t")
			if end < 0 {
				end = len(s)
			}
			val.WriteString(s[:end])
			s = s[end:]
		}
		params[name] = val.String()
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			break
		}
		if s[0] != ',' {
			return "", nil, fmt.Errorf("expected a comma after %s", name)
		}
		s = strings.TrimLeft(s[1:], " \t")
	}
	return scheme, params, nil
}

// TestZitadelStepUp: a relying party built with zitadel/oidc asks for mfa
// and sees acr and amr in the id_token it verified.
func TestZitadelStepUp(t *testing.T) {
	f := newMFAFixture(t)
	auth := f.enrolTOTP(t)
	app := newZitadelApp(t, f.env, zoidc.ScopeOpenID, zoidc.ScopeEmail)
	ctx := context.WithValue(context.Background(), nonceKey{}, app.nonce)

	state, verifier := randomString(), randomString()+randomString()
	u := zrp.AuthURL(state, app.rp,
		zrp.WithCodeChallenge(zoidc.NewSHACodeChallenge(verifier)),
		zrp.AuthURLOpt(zrp.WithURLParam("nonce", app.nonce)),
		zrp.AuthURLOpt(zrp.WithURLParam("acr_values", acrMFA)))
	back := signInMFA(t, f.env.NewBrowser(), u, auth)
	if q := back.Query(); q.Get("state") != state || q.Get("code") == "" || q.Get("iss") != f.env.Issuer {
		t.Fatalf("authorization response = %v", q)
	}
	tokens, err := zrp.CodeExchange[*zoidc.IDTokenClaims](ctx, back.Query().Get("code"), app.rp, zrp.WithCodeVerifier(verifier))
	if err != nil {
		t.Fatalf("CodeExchange: %v", err)
	}
	c := tokens.IDTokenClaims
	if c.AuthenticationContextClassReference != acrMFA || !slices.Equal(c.AuthenticationMethodsReferences, wantMFAAMR) {
		t.Errorf("acr, amr = %s %v, want %s %v", c.AuthenticationContextClassReference, c.AuthenticationMethodsReferences, acrMFA, wantMFAAMR)
	}
	if c.AuthTime.AsTime().IsZero() || c.Subject != f.user.ID {
		t.Errorf("auth_time %v sub %s", c.AuthTime, c.Subject)
	}
	// The library's own acr check accepts it.
	if err := zoidc.DefaultACRVerifier([]string{acrMFA})(c.AuthenticationContextClassReference); err != nil {
		t.Errorf("DefaultACRVerifier: %v", err)
	}
}
