package idp_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/idp"
	"github.com/latchkey/latchkey/idp/idptest"
	"github.com/latchkey/latchkey/idp/password"
	"github.com/latchkey/latchkey/idp/storage"
)

const (
	msgInvalid   = "Incorrect email or password."
	msgThrottled = "Too many attempts. Try again in "
	msgCSRF      = "This form has expired or was sent from another site."
	msgExpired   = "Your sign-in took too long and has expired."
)

// alert returns the text of the page's error alert ("" if none).
func alert(r *idptest.Response) string {
	i := strings.Index(r.Body, `role="alert"`)
	if i < 0 {
		return ""
	}
	rest := r.Body[i:]
	if j := strings.Index(rest, "</div>"); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// loginPage opens a fresh authorization request for the web client in b.
func (f *fixture) loginPage(t *testing.T, b *idptest.Browser) *idptest.Response {
	t.Helper()
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	page := b.Open(r.url(newAuthRequest()))
	if page.Path() != "/login" {
		t.Fatalf("expected the login page, got %s %d", page.URL, page.Status)
	}
	return page
}

// TestFailedSignInIsUniform: a wrong password and an unknown address get
// the same status and the same message.
func TestFailedSignInIsUniform(t *testing.T) { onBackends(t, testFailedSignInIsUniform) }

func testFailedSignInIsUniform(t *testing.T, opts ...idptest.Option) {
	f := newFixture(t, opts...)
	b := f.env.NewBrowser()
	wrong := b.SubmitLogin(f.loginPage(t, b), userEmail, "not the password")
	unknown := b.SubmitLogin(f.loginPage(t, b), "nobody@example.test", "not the password")
	if wrong.Status != http.StatusUnauthorized || unknown.Status != wrong.Status {
		t.Fatalf("status: wrong password %d, unknown email %d; want 401 both", wrong.Status, unknown.Status)
	}
	if !strings.Contains(alert(wrong), msgInvalid) || alert(wrong) != alert(unknown) {
		t.Errorf("messages differ or are not the uniform one:\n%q\n%q", alert(wrong), alert(unknown))
	}
	// The address is normalised: case and spaces do not matter for the right password.
	r := b.SubmitLogin(f.loginPage(t, b), "  ADA@Example.TEST ", userPassword)
	if !r.IsRedirect() || r.Location().Query().Get("code") == "" {
		t.Errorf("sign-in with a differently cased address: %d %s", r.Status, r.Header.Get("Location"))
	}
	// Missing fields re-render the form with 400.
	b = f.env.NewBrowser()
	if r := b.SubmitLogin(f.loginPage(t, b), userEmail, ""); r.Status != http.StatusBadRequest || r.Form() == nil {
		t.Errorf("empty password: %d, want 400 with the form", r.Status)
	}
}

func TestDisabledUserCannotSignIn(t *testing.T) {
	f := newFixture(t)
	h, _ := f.env.Passwords.Hash("a disabled user's password")
	u := storage.User{ID: "u-disabled", Email: "off@example.test", PasswordHash: h, Disabled: true,
		CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := f.env.Store.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	b := f.env.NewBrowser()
	r := b.SubmitLogin(f.loginPage(t, b), "off@example.test", "a disabled user's password")
	if r.Status != http.StatusUnauthorized || !strings.Contains(alert(r), msgInvalid) {
		t.Errorf("disabled user: %d %q, want 401 and the uniform message", r.Status, alert(r))
	}
}

// TestThrottling: after the free failures an account is locked out with
// 429 and Retry-After, whether or not it exists, even for the right
// password, until the back-off has passed.
func TestThrottling(t *testing.T) { onBackends(t, testThrottling) }

func testThrottling(t *testing.T, opts ...idptest.Option) {
	slow := idptest.WithProviderOptions(func(o *idp.Options) {
		o.Throttle = idp.Throttle{AccountFreeAttempts: 3, IPFreeAttempts: 100, BaseDelay: 30 * time.Second,
			MaxDelay: 10 * time.Minute, ResetAfter: time.Hour}
	})
	f := newFixture(t, append(opts, laggingClock(), slow)...)
	b := f.env.NewBrowser()
	for _, email := range []string{userEmail, "ghost@example.test"} {
		for i := range 3 {
			if r := b.SubmitLogin(f.loginPage(t, b), email, "wrong"); r.Status != http.StatusUnauthorized {
				t.Fatalf("%s attempt %d: %d, want 401", email, i+1, r.Status)
			}
		}
		r := b.SubmitLogin(f.loginPage(t, b), email, "wrong")
		if r.Status != http.StatusTooManyRequests || !strings.Contains(alert(r), msgThrottled) {
			t.Fatalf("%s after 3 failures: %d %q, want 429", email, r.Status, alert(r))
		}
		ra, err := strconv.Atoi(r.Header.Get("Retry-After"))
		if err != nil || ra < 1 || ra > 30 {
			t.Errorf("%s Retry-After = %q, want 1..30 seconds", email, r.Header.Get("Retry-After"))
		}
	}
	// The right password is refused while locked out.
	if r := b.SubmitLogin(f.loginPage(t, b), userEmail, userPassword); r.Status != http.StatusTooManyRequests {
		t.Fatalf("right password while locked out: %d, want 429", r.Status)
	}
	// Another account is not affected by these failures.
	f.env.CreateUser("grace@example.test", "Grace", "grace's password")
	gb := f.env.NewBrowser()
	if r := gb.SubmitLogin(f.loginPage(t, gb), "grace@example.test", "grace's password"); !r.IsRedirect() {
		t.Fatalf("another account: %d, want a redirect", r.Status)
	}
	// After the back-off the right password works and clears the counter.
	f.env.Clock.Advance(31 * time.Second)
	if r := b.SubmitLogin(f.loginPage(t, b), userEmail, userPassword); !r.IsRedirect() {
		t.Fatalf("right password after the back-off: %d %q", r.Status, alert(r))
	}
	th, err := f.env.Store.GetThrottle(context.Background(), "login-account:"+hashHex(userEmail))
	if err != nil || th.Failures != 0 {
		t.Errorf("account counter after success: %+v %v, want reset", th, err)
	}
}

// TestThrottlingPerIP: failures spread over many addresses still lock the
// client's IP out.
func TestThrottlingPerIP(t *testing.T) {
	f := newFixture(t, idptest.WithProviderOptions(func(o *idp.Options) {
		o.Throttle = idp.Throttle{AccountFreeAttempts: 100, IPFreeAttempts: 4, BaseDelay: time.Minute,
			MaxDelay: time.Hour, ResetAfter: time.Hour}
	}))
	b := f.env.NewBrowser()
	for i := range 4 {
		if r := b.SubmitLogin(f.loginPage(t, b), "guess"+strconv.Itoa(i)+"@example.test", "x"); r.Status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, r.Status)
		}
	}
	r := b.SubmitLogin(f.loginPage(t, b), userEmail, userPassword)
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Errorf("after 4 failures from one IP: %d Retry-After %q, want 429", r.Status, r.Header.Get("Retry-After"))
	}
}

// TestRehashOnSignIn: a hash made with weaker parameters is replaced by one
// with the provider's (OWASP default) parameters at the next good sign-in,
// and not on a failed one.
func TestRehashOnSignIn(t *testing.T) {
	f := newFixture(t, idptest.WithPasswordParams(password.DefaultParams()))
	cheap, err := password.NewHasher(idptest.CheapParams())
	if err != nil {
		t.Fatal(err)
	}
	old, _ := cheap.Hash("an old password hash")
	u := f.env.CreateUserWithHash("old@example.test", "Old", old)
	stored := func() string {
		got, err := f.env.Store.GetUser(context.Background(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.PasswordHash
	}
	b := f.env.NewBrowser()
	b.SubmitLogin(f.loginPage(t, b), "old@example.test", "wrong")
	if stored() != old {
		t.Fatal("a failed sign-in changed the hash")
	}
	if r := b.SubmitLogin(f.loginPage(t, b), "old@example.test", "an old password hash"); !r.IsRedirect() {
		t.Fatalf("sign-in: %d", r.Status)
	}
	h := stored()
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash after sign-in = %q, want the default parameters", h)
	}
	if ok, rehash, err := f.env.Passwords.Verify(h, "an old password hash"); !ok || rehash || err != nil {
		t.Errorf("new hash: ok %v rehash %v err %v", ok, rehash, err)
	}
	// The upgraded hash signs in, with no further change.
	if r := f.env.NewBrowser().Login(f.loginURL(t), "old@example.test", "an old password hash"); r.Query().Get("code") == "" {
		t.Errorf("sign-in with the upgraded hash: %s", r)
	}
	if stored() != h {
		t.Error("a current hash was rehashed again")
	}
}

func (f *fixture) loginURL(t *testing.T) string {
	return newRP(t, f.env, webClientID, f.webSecret, webRedirect).url(newAuthRequest())
}

// TestLoginCSRF: the login form needs the CSRF token of the same browser.
func TestLoginCSRF(t *testing.T) {
	f := newFixture(t)
	b := f.env.NewBrowser()
	page := f.loginPage(t, b)
	form := page.Form()
	post := func(b *idptest.Browser, v url.Values, header map[string]string) *idptest.Response {
		req, _ := http.NewRequest(http.MethodPost, form.Action, strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, val := range header {
			req.Header.Set(k, val)
		}
		return b.Do(req)
	}
	creds := url.Values{"tx": {form.Fields.Get("tx")}, "email": {userEmail}, "password": {userPassword}}

	if r := post(b, creds, nil); r.Status != http.StatusForbidden || !strings.Contains(r.Body, msgCSRF) {
		t.Errorf("POST /login without csrf_token: %d, want 403 with the CSRF message", r.Status)
	}
	// A token minted for another browser does not fit this browser's cookie.
	otherToken := f.loginPage(t, f.env.NewBrowser()).Form().Fields.Get("csrf_token")
	withOther := url.Values{"csrf_token": {otherToken}}
	for k, v := range creds {
		withOther[k] = v
	}
	if r := post(b, withOther, nil); r.Status != http.StatusForbidden {
		t.Errorf("POST /login with another browser's token: %d, want 403", r.Status)
	}
	// A cross-site submission is refused even with the right token.
	good := form.Fields
	good.Set("email", userEmail)
	good.Set("password", userPassword)
	if r := post(b, good, map[string]string{"Sec-Fetch-Site": "cross-site"}); r.Status != http.StatusForbidden {
		t.Errorf("cross-site POST /login: %d, want 403", r.Status)
	}
	// None of these signed the browser in.
	r := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	if q := b.Authorize(r.url(newAuthRequest(), oauth2.SetAuthURLParam("prompt", "none"))).Query(); q.Get("error") != "login_required" {
		t.Errorf("after refused posts: %v, want login_required", q)
	}
	// The genuine form still works.
	if r := post(b, good, nil); !r.IsRedirect() {
		t.Errorf("genuine POST: %d", r.Status)
	}
}

// TestLoginTransactionIsSingleUse: a finished transaction cannot be
// replayed, and unknown ones are refused with a page.
func TestLoginTransactionIsSingleUse(t *testing.T) {
	f := newFixture(t)
	b := f.env.NewBrowser()
	page := f.loginPage(t, b)
	if r := b.SubmitLogin(page, userEmail, userPassword); !r.IsRedirect() || r.Location().Query().Get("code") == "" {
		t.Fatalf("sign-in: %d", r.Status)
	}
	again := b.SubmitLogin(page, userEmail, userPassword)
	if again.Status != http.StatusBadRequest || !strings.Contains(again.Body, msgExpired) || again.Header.Get("Location") != "" {
		t.Errorf("replayed login form: %d %q, want 400 login_expired", again.Status, again.Header.Get("Location"))
	}
	for _, u := range []string{"/login", "/login?tx=nonexistent", "/login?tx=" + strings.Repeat("A", 100),
		"/consent?tx=nonexistent", "/authorize/resume?tx=nonexistent"} {
		if r := b.Get(f.env.URL(u)); r.Status != http.StatusBadRequest || !strings.Contains(r.Body, msgExpired) {
			t.Errorf("GET %s: %d, want 400 login_expired", u, r.Status)
		}
	}
}

// TestSessionCookie: the cookie carries only an opaque id, is HttpOnly and
// SameSite=Lax, and is renewed at each sign-in (the old session ends).
func TestSessionCookie(t *testing.T) { onBackends(t, testSessionCookie) }

func testSessionCookie(t *testing.T, opts ...idptest.Option) {
	f := newFixture(t, append(opts, laggingClock())...)
	b := f.env.NewBrowser()
	form := f.loginPage(t, b).Form()
	form.Fields.Set("email", userEmail)
	form.Fields.Set("password", userPassword)
	r := b.PostForm(form.Action, form.Fields)
	var ck *http.Cookie
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "latchkey_session" {
			ck = c
		}
	}
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" {
		t.Fatalf("session cookie = %+v, want HttpOnly, SameSite=Lax, Path=/", ck)
	}
	if strings.Contains(ck.Value, f.user.ID) || strings.Contains(ck.Value, userEmail) {
		t.Error("the session cookie names the user")
	}
	first := b.Cookie("latchkey_session")
	rp := newRP(t, f.env, webClientID, f.webSecret, webRedirect)
	a := newAuthRequest()
	tok1 := rp.exchange(a, b.Authorize(rp.url(a)))

	f.env.Clock.Advance(2 * time.Second)
	a = newAuthRequest()
	tok2 := rp.exchange(a, b.Login(rp.url(a, oauth2.SetAuthURLParam("prompt", "login")), userEmail, userPassword))
	if b.Cookie("latchkey_session") == first {
		t.Error("the session cookie was not renewed at sign-in")
	}
	if _, err := f.env.Store.GetSession(context.Background(), tok1.claims["sid"].(string), f.env.Clock.Now()); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the replaced session still exists: %v", err)
	}
	if _, err := f.env.Store.GetSession(context.Background(), tok2.claims["sid"].(string), f.env.Clock.Now()); err != nil {
		t.Errorf("the new session: %v", err)
	}
}

// TestSessionLifetime: a session ends after SessionIdle without use and
// after Session in any case; use within the idle time keeps it.
func TestSessionLifetime(t *testing.T) { onBackends(t, testSessionLifetime) }

func testSessionLifetime(t *testing.T, opts ...idptest.Option) {
	f := newFixture(t, append(opts, laggingClock())...)
	life := idptest.DefaultLifetimes() // Session 12h, SessionIdle 1h
	b, r, _ := f.signedIn(t)
	// Used every 50 minutes it stays, past the idle time since sign-in ...
	for elapsed := time.Duration(0); elapsed+50*time.Minute < life.Session; elapsed += 50 * time.Minute {
		f.env.Clock.Advance(50 * time.Minute)
		if !hasSession(t, b, r) {
			t.Fatalf("session ended after %v of regular use", elapsed+50*time.Minute)
		}
	}
	// ... but not past its absolute lifetime.
	f.env.Clock.Advance(50 * time.Minute)
	if hasSession(t, b, r) {
		t.Error("session outlived its absolute lifetime")
	}

	// Unused for longer than the idle time it ends.
	f.env.Clock.Advance(-12 * time.Hour)
	b, r, _ = f.signedIn(t)
	f.env.Clock.Advance(life.SessionIdle + time.Minute)
	if hasSession(t, b, r) {
		t.Error("session survived the idle timeout")
	}
}

// TestLoginTransactionExpires: a login page left open longer than the
// login lifetime cannot be submitted.
func TestLoginTransactionExpires(t *testing.T) {
	f := newFixture(t, laggingClock())
	b := f.env.NewBrowser()
	page := f.loginPage(t, b)
	f.env.Clock.Advance(idptest.DefaultLifetimes().Login + time.Second)
	r := b.SubmitLogin(page, userEmail, userPassword)
	if r.Status != http.StatusBadRequest || !strings.Contains(r.Body, msgExpired) {
		t.Errorf("late submission: %d, want 400 login_expired", r.Status)
	}
	if b.Cookie("latchkey_session") != "" {
		t.Error("an expired transaction signed the browser in")
	}
}
