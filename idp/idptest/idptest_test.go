package idptest_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/latchkey/latchkey/idp/clientsecret"
	"github.com/latchkey/latchkey/idp/idptest"
	"github.com/latchkey/latchkey/idp/storage"
)

func TestHarness(t *testing.T) {
	env := idptest.New(t)
	u := env.CreateUser(" Ada@Example.TEST ", "Ada", "a long enough password")
	if u.Email != "ada@example.test" {
		t.Errorf("email not normalised: %q", u.Email)
	}
	if ok, _, err := env.Passwords.Verify(u.PasswordHash, "a long enough password"); !ok || err != nil {
		t.Errorf("stored hash does not verify: %v", err)
	}

	secret := env.CreateClient(storage.Client{ID: "app", FirstParty: true, RedirectURIs: []string{"https://app.example.test/cb"}})
	c, err := env.Store.GetClient(context.Background(), "app")
	if err != nil {
		t.Fatal(err)
	}
	if !clientsecret.Verify(c.SecretHash, secret) || c.TokenEndpointAuthMethod != "client_secret_basic" ||
		len(c.GrantTypes) != 2 || len(c.Scopes) != 4 {
		t.Errorf("client defaults: %+v", c)
	}
	if s := env.CreateClient(storage.Client{ID: "spa", Public: true, RedirectURIs: []string{"http://localhost/cb"}}); s != "" {
		t.Error("a public client got a secret")
	}

	q := url.Values{"client_id": {"app"}, "response_type": {"code"}, "scope": {"openid"}, "state": {"state-1234"},
		"redirect_uri": {"https://app.example.test/cb"}, "code_challenge_method": {"S256"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}}
	b := env.NewBrowser()
	page := b.Open(env.URL("/authorize?" + q.Encode()))
	f := page.Form()
	if page.Path() != "/login" || f == nil || f.Action != env.URL("/login") || f.Fields.Get("csrf_token") == "" || f.Fields.Get("tx") == "" {
		t.Fatalf("login page %s: form %+v", page.URL, f)
	}
	redirect := b.SubmitLogin(page, "ada@example.test", "a long enough password").Location()
	if redirect.Host != "app.example.test" || redirect.Query().Get("code") == "" || redirect.Query().Get("state") != "state-1234" {
		t.Errorf("final redirect = %s", redirect)
	}
	if b.Cookie("latchkey_session") == "" {
		t.Error("no session cookie after sign-in")
	}
	// Signed in, the browser gets straight back to the client.
	if again := b.Authorize(env.URL("/authorize?" + q.Encode())); again.Query().Get("code") == "" {
		t.Errorf("second authorization: %s", again)
	}
	if r := b.Get(env.URL("/healthz")); r.Status != http.StatusOK {
		t.Errorf("healthz: %d", r.Status)
	}
}

func TestClock(t *testing.T) {
	c := idptest.NewClock(-time.Hour)
	if d := time.Since(c.Now()); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("offset clock is %v behind", d)
	}
	c.Advance(30 * time.Minute)
	if d := time.Since(c.Now()); d < 29*time.Minute || d > 31*time.Minute {
		t.Errorf("after Advance the clock is %v behind", d)
	}
}

func TestForms(t *testing.T) {
	base, _ := url.Parse("http://idp.test/a/page")
	r := &idptest.Response{URL: base, Body: `<html><form method="post" action="/x?y=1">
		<input type="hidden" name="csrf_token" value="tok">
		<input name="email" type="email" value="a@b">
		<input name="password" type="password">
		<button type="submit" name="decision" value="allow">Allow</button>
		<input type="submit" name="go" value="Go">
	</form><form><input name="q" value="z"></form></html>`}
	fs := r.Forms()
	if len(fs) != 2 {
		t.Fatalf("%d forms", len(fs))
	}
	want := url.Values{"csrf_token": {"tok"}, "email": {"a@b"}, "password": {""}}
	if fs[0].Action != "http://idp.test/x?y=1" || fs[0].Method != "POST" || fs[0].Fields.Encode() != want.Encode() {
		t.Errorf("first form = %+v", fs[0])
	}
	if fs[1].Action != base.String() || fs[1].Fields.Get("q") != "z" {
		t.Errorf("second form = %+v", fs[1])
	}
}
