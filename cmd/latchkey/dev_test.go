package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is an io.Writer the server goroutine and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startServer runs a long-running subcommand in-process until the test ends
// and returns its base URL once it prints that it listens.
func startServer(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	port := freePort(t)
	base := fmt.Sprintf("http://localhost:%d", port)
	env["LATCHKEY_LISTEN"] = fmt.Sprintf("127.0.0.1:%d", port)
	env["LATCHKEY_ISSUER"] = base
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, args, stdio{in: strings.NewReader(""), out: &out, err: &errOut}, func(k string) string { return env[k] })
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s did not shut down cleanly: %v\n%s", args[0], err, errOut.String())
			}
		case <-time.After(20 * time.Second):
			t.Errorf("%s did not shut down", args[0])
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("%s exited early: %v\nstdout:\n%s\nstderr:\n%s", args[0], err, out.String(), errOut.String())
		default:
		}
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never became healthy\n%s", args[0], errOut.String())
	return ""
}

var (
	csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	txRE   = regexp.MustCompile(`name="tx" value="([^"]+)"`)
)

// TestDevSignInThroughDemoApp is the newcomer's first experience: `latchkey
// dev`, open /demo, sign in as the printed demo user, see the claims.
func TestDevSignInThroughDemoApp(t *testing.T) {
	t.Chdir(t.TempDir()) // dev writes latchkey-dev.db and latchkey-dev.key here
	env := testEnv(t)
	delete(env, "LATCHKEY_STORAGE_DSN") // dev's own default file
	base := startServer(t, env, "dev")

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := c.Get(base + "/demo/login")
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Request.URL.Path, "/login") {
		t.Fatalf("demo login landed on %s (%d)", resp.Request.URL, resp.StatusCode)
	}
	csrf, tx := match(t, csrfRE, body), match(t, txRE, body)
	form := url.Values{"csrf_token": {csrf}, "tx": {tx}, "email": {demoEmail}, "password": {demoPassword}}
	resp, err = c.PostForm(base+"/login", form)
	if err != nil {
		t.Fatal(err)
	}
	body = readAll(t, resp)
	if resp.Request.URL.Path != "/demo" || resp.StatusCode != http.StatusOK {
		t.Fatalf("after sign-in: %s (%d)\n%s", resp.Request.URL, resp.StatusCode, body)
	}
	for _, want := range []string{"&#34;email&#34;: &#34;demo@example.com&#34;", "&#34;amr&#34;", "&#34;pwd&#34;", "urn:latchkey:acr:pwd"} {
		if !strings.Contains(body, want) {
			t.Errorf("demo page lacks %s:\n%s", want, body)
		}
	}

	// The demo's step-up link asks for two factors; the demo user has none
	// yet, so Latchkey offers to create a passkey (the policy's first
	// choice), with an authenticator app as the other way.
	resp, err = c.Get(base + "/demo/login?acr=mfa")
	if err != nil {
		t.Fatal(err)
	}
	body = readAll(t, resp)
	if resp.Request.URL.Path != "/mfa/enrol" || !strings.Contains(body, `data-webauthn="register"`) {
		t.Fatalf("step-up from the demo: %s (%d), want the passkey set-up page\n%s", resp.Request.URL, resp.StatusCode, body)
	}
	resp, err = c.Get(resp.Request.URL.String() + "&factor=totp")
	if err != nil {
		t.Fatal(err)
	}
	if body = readAll(t, resp); !strings.Contains(body, `class="secret"`) {
		t.Fatalf("the authenticator-app alternative: %s (%d)", resp.Request.URL, resp.StatusCode)
	}

	// The demo's sign-out goes through RP-initiated logout and back.
	resp, err = c.Get(base + "/demo/logout")
	if err != nil {
		t.Fatal(err)
	}
	body = readAll(t, resp)
	if resp.Request.URL.Path != "/demo" || strings.Contains(body, "demo@example.com") {
		t.Fatalf("after sign-out: %s\n%s", resp.Request.URL, body)
	}
	// The Latchkey session is gone too: signing in again asks for the password.
	resp, err = c.Get(base + "/demo/login")
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if resp.Request.URL.Path != "/login" {
		t.Fatalf("after logout, sign-in went to %s, want the login page", resp.Request.URL)
	}
}

// TestServeRefusesMissingSecretKey: serve mode never runs with a key it
// would have to invent.
func TestServeRefusesMissingSecretKey(t *testing.T) {
	env := testEnv(t)
	_, _, err := runCmd(t, env, "", "serve")
	if err == nil || !strings.Contains(err.Error(), "secrets.key") {
		t.Fatalf("serve without secrets.key: err = %v", err)
	}
}

// TestServeRefusesForeignMasterKey: a node whose master key cannot open the
// stored signing keys refuses to start (rather than answer every token
// request with an error); `keys rotate` under the new key is the way out.
func TestServeRefusesForeignMasterKey(t *testing.T) {
	env := testEnv(t)
	env["LATCHKEY_SECRETS_KEY"] = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	if out, _, err := runCmd(t, env, "", "keys", "rotate"); err != nil {
		t.Fatalf("keys rotate: %v\n%s", err, out)
	}
	env["LATCHKEY_SECRETS_KEY"] = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))
	_, _, err := runCmd(t, env, "", "serve")
	if err == nil || !strings.Contains(err.Error(), "master key") {
		t.Fatalf("serve under another master key: err = %v, want a master key error", err)
	}
	if out, _, err := runCmd(t, env, "", "keys", "rotate"); err != nil || strings.Count(out, "is now signing") != 2 {
		t.Fatalf("keys rotate under the new master key: %v\n%s", err, out)
	}
	startServer(t, env, "serve")
}

// TestServeAndKeys runs serve on SQLite, rotates keys with the CLI and
// checks that the running node publishes both generations.
func TestServeAndKeys(t *testing.T) {
	env := testEnv(t)
	env["LATCHKEY_SECRETS_KEY"] = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{42}, 32))
	base := startServer(t, env, "serve")

	before := jwksKids(t, base)
	if len(before) != 2 {
		t.Fatalf("jwks before rotation: %v, want an ES256 and an RS256 key", before)
	}
	out, _, err := runCmd(t, env, "", "keys", "rotate")
	if err != nil || strings.Count(out, "is now signing") != 2 {
		t.Fatalf("keys rotate: %v\n%s", err, out)
	}
	out, _, err = runCmd(t, env, "", "keys", "list")
	if err != nil || strings.Count(out, "retired") != 2 || strings.Count(out, "active") != 2 {
		t.Fatalf("keys list: %v\n%s", err, out)
	}
	for _, kid := range before {
		if !strings.Contains(out, kid) {
			t.Errorf("keys list lacks retired %s", kid)
		}
	}
	// The node re-reads keys every 30 s; /readyz and /metrics answer meanwhile.
	for _, path := range []string{"/readyz", "/metrics"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b := readAll(t, resp)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d %s", path, resp.StatusCode, b)
		}
		if path == "/metrics" && !strings.Contains(b, "latchkey_http_requests_total") {
			t.Errorf("/metrics lacks request counters")
		}
	}
}

func jwksKids(t *testing.T, base string) []string {
	t.Helper()
	resp, err := http.Get(base + "/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, m := range regexp.MustCompile(`"kid":"([0-9a-f]+)"`).FindAllStringSubmatch(readAll(t, resp), -1) {
		kids = append(kids, m[1])
	}
	return kids
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func match(t *testing.T, re *regexp.Regexp, s string) string {
	t.Helper()
	m := re.FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no %s in:\n%s", re, s)
	}
	return m[1]
}
