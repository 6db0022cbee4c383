package chrome_test

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/latchkey/latchkey/idp/idptest/chrome"
)

// indexPage is a sign-in form with an inline script that runs WebAuthn
// ceremonies the way a relying party's page does. It has no CSP: it exists
// only in this test.
const indexPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Harness page</title></head>
<body>
<h1 id="heading">Sign in</h1>
<form id="form" action="/submitted" method="get">
  <label for="email">Email</label>
  <input id="email" name="email" type="email" autocomplete="username webauthn">
  <label for="pw">Password</label>
  <input id="pw" name="password" type="password">
  <button type="submit" id="go">Continue</button>
</form>
<p id="out"></p>
<script>
const rnd = n => crypto.getRandomValues(new Uint8Array(n));
const b64u = buf => btoa(String.fromCharCode(...new Uint8Array(buf)))
  .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const authInfo = d => ({
  signCount: new DataView(d).getUint32(33),
  uv: (new Uint8Array(d)[32] & 4) !== 0,
});
async function ceremony(f) {
  try {
    return Object.assign({ok: true}, await f());
  } catch (e) {
    return {ok: false, error: e.name, message: e.message};
  }
}
function register(uv, timeout) {
  return ceremony(async () => {
    const c = await navigator.credentials.create({publicKey: {
      rp: {id: location.hostname, name: "Harness"},
      user: {id: new TextEncoder().encode("user-1"), name: "ada@example.com", displayName: "Ada"},
      challenge: rnd(32),
      pubKeyCredParams: [{type: "public-key", alg: -7}],
      authenticatorSelection: {residentKey: "required", userVerification: uv || "required"},
      timeout: timeout || 30000,
    }});
    return Object.assign({id: c.id}, authInfo(c.response.getAuthenticatorData()));
  });
}
function login(uv, timeout) {
  return ceremony(async () => {
    // No allowCredentials: a discoverable credential (passkey) answers.
    const a = await navigator.credentials.get({publicKey: {
      challenge: rnd(32),
      rpId: location.hostname,
      userVerification: uv || "required",
      timeout: timeout || 30000,
    }});
    return Object.assign({
      id: a.id,
      user: new TextDecoder().decode(a.response.userHandle),
    }, authInfo(a.response.authenticatorData));
  });
}
</script>
</body></html>`

const consolePage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Noisy</title></head>
<body><p id="ready">ready</p>
<script>
console.log("just saying");
console.error("something broke:", 42);
setTimeout(() => { throw new Error("kaboom"); }, 0);
</script></body></html>`

const tallPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tall</title></head>
<body style="margin:0"><div id="top" style="height:2000px;background:#3a6">top</div>
<p id="bottom">bottom</p></body></html>`

// ceremonyResult is what the page's register and login resolve to.
type ceremonyResult struct {
	OK        bool   `json:"ok"`
	Error     string `json:"error"`
	Message   string `json:"message"`
	ID        string `json:"id"`
	User      string `json:"user"`
	SignCount uint32 `json:"signCount"`
	UV        bool   `json:"uv"`
}

func (r ceremonyResult) String() string {
	if r.OK {
		return fmt.Sprintf("ok id=%s user=%q signCount=%d uv=%v", r.ID, r.User, r.SignCount, r.UV)
	}
	return fmt.Sprintf("%s: %s", r.Error, r.Message)
}

// site serves the test pages and returns its base URL at localhost.
func site(t *testing.T) string {
	t.Helper()
	mux := http.NewServeMux()
	page := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, body)
		}
	}
	mux.HandleFunc("GET /{$}", page(indexPage))
	mux.HandleFunc("GET /console", page(consolePage))
	mux.HandleFunc("GET /tall", page(tallPage))
	mux.HandleFunc("GET /submitted", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>Submitted</title><p id="who">%s</p><p id="lang">%s</p>`,
			html.EscapeString(r.FormValue("email")), html.EscapeString(r.Header.Get("Accept-Language")))
	})
	mux.HandleFunc("GET /favicon.ico", http.NotFound)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return chrome.Localhost(srv.URL)
}
