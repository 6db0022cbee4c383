package main

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/idp/clientsecret"
	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/idp/storage/sqlite"
)

// openTestStore opens the test's database directly, to check what the
// commands stored.
func openTestStore(t *testing.T, env map[string]string) storage.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), strings.TrimPrefix(env["LATCHKEY_STORAGE_DSN"], "sqlite:"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// field returns the value of "key: value" in a command's output.
func field(out, key string) string {
	for line := range strings.SplitSeq(out, "\n") {
		if v, ok := strings.CutPrefix(line, key+": "); ok {
			return v
		}
	}
	return ""
}

func TestClientsCreateConfidential(t *testing.T) {
	env := testEnv(t)
	out, stderr, err := runCmd(t, env, "", "clients", "create", "--id", "webapp", "--name", "Web App",
		"--redirect-uri", "https://app.example.com/callback", "--redirect-uri", "http://127.0.0.1:3000/cb",
		"--post-logout-redirect-uri", "https://app.example.com/", "--first-party")
	if err != nil {
		t.Fatalf("clients create: %v\n%s", err, stderr)
	}
	secret := field(out, "client_secret")
	if secret == "" || field(out, "client_id") != "webapp" {
		t.Fatalf("output lacks the id or the secret:\n%s", out)
	}
	if strings.Count(out+stderr, secret) != 1 {
		t.Errorf("secret printed more than once:\n%s\n%s", out, stderr)
	}
	if !strings.Contains(stderr, "WARNING") || !strings.Contains(stderr, "only this once") {
		t.Errorf("no warning about the one-time secret: %q", stderr)
	}

	c, err := openTestStore(t, env).GetClient(context.Background(), "webapp")
	if err != nil {
		t.Fatal(err)
	}
	if !clientsecret.Verify(c.SecretHash, secret) {
		t.Errorf("printed secret does not verify against the stored hash %q", c.SecretHash)
	}
	if strings.Contains(c.SecretHash, secret) || strings.Contains(out, c.SecretHash) {
		t.Error("secret stored in clear, or hash printed")
	}
	want := storage.Client{
		ID: "webapp", Name: "Web App", SecretHash: c.SecretHash, FirstParty: true,
		RedirectURIs:            []string{"https://app.example.com/callback", "http://127.0.0.1:3000/cb"},
		PostLogoutRedirectURIs:  []string{"https://app.example.com/"},
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		ResponseTypes:           []string{"code"},
		Scopes:                  []string{"openid", "profile", "email", "offline_access"},
		TokenEndpointAuthMethod: "client_secret_basic",
		IDTokenSigningAlg:       "ES256",
		CreatedAt:               c.CreatedAt,
	}
	if !clientsEqual(c, want) {
		t.Errorf("stored client\n%+v\nwant\n%+v", c, want)
	}

	list, _, err := runCmd(t, env, "", "clients", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"ID", "REDIRECT URIS", "webapp", "Web App", "confidential", "yes", "https://app.example.com/callback"} {
		if !strings.Contains(list, s) {
			t.Errorf("list lacks %q:\n%s", s, list)
		}
	}
	if strings.Contains(list, secret) || strings.Contains(list, "hmac-sha256") {
		t.Errorf("list shows a secret or its hash:\n%s", list)
	}

	_, _, err = runCmd(t, env, "", "clients", "create", "--id", "webapp", "--name", "Again", "--redirect-uri", "https://a.example.com/cb")
	if err == nil || !strings.Contains(err.Error(), `a client with id "webapp" already exists`) {
		t.Errorf("duplicate id: %v", err)
	}
}

func clientsEqual(a, b storage.Client) bool {
	return a.ID == b.ID && a.Name == b.Name && a.SecretHash == b.SecretHash && a.Public == b.Public &&
		a.FirstParty == b.FirstParty && slices.Equal(a.RedirectURIs, b.RedirectURIs) &&
		slices.Equal(a.PostLogoutRedirectURIs, b.PostLogoutRedirectURIs) && slices.Equal(a.GrantTypes, b.GrantTypes) &&
		slices.Equal(a.ResponseTypes, b.ResponseTypes) && slices.Equal(a.Scopes, b.Scopes) &&
		a.TokenEndpointAuthMethod == b.TokenEndpointAuthMethod && a.IDTokenSigningAlg == b.IDTokenSigningAlg
}

func TestClientsCreatePublic(t *testing.T) {
	env := testEnv(t)
	env["LATCHKEY_KEYS_ALGORITHM"] = "RS256"
	out, stderr, err := runCmd(t, env, "", "clients", "create", "--name", "Mobile", "--public",
		"--redirect-uri", "com.example.app:/oauth2redirect", "--scope", "openid", "--scope", "email", "--scope", "openid")
	if err != nil {
		t.Fatalf("clients create --public: %v", err)
	}
	if field(out, "client_secret") != "" || strings.Contains(stderr, "WARNING") {
		t.Errorf("public client got a secret:\n%s\n%s", out, stderr)
	}
	id := field(out, "client_id")
	if len(id) != 32 {
		t.Fatalf("random client id %q is not 32 hex characters", id)
	}
	c, err := openTestStore(t, env).GetClient(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Public || c.SecretHash != "" || c.TokenEndpointAuthMethod != "none" {
		t.Errorf("public client stored as %+v", c)
	}
	if c.IDTokenSigningAlg != "RS256" {
		t.Errorf("id_token alg %q, want the configured default RS256", c.IDTokenSigningAlg)
	}
	if !slices.Equal(c.Scopes, []string{"openid", "email"}) {
		t.Errorf("scopes %v, want [openid email]", c.Scopes)
	}
}

func TestClientsCreateClientCredentials(t *testing.T) {
	env := testEnv(t)
	out, _, err := runCmd(t, env, "", "clients", "create", "--id", "svc", "--name", "Service",
		"--grant-type", "client_credentials", "--scope", "api:read", "--id-token-alg", "rs256")
	if err != nil {
		t.Fatal(err)
	}
	c, err := openTestStore(t, env).GetClient(context.Background(), "svc")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.GrantTypes, []string{"client_credentials"}) || len(c.ResponseTypes) != 0 || len(c.RedirectURIs) != 0 {
		t.Errorf("client_credentials client stored as %+v", c)
	}
	if c.IDTokenSigningAlg != "RS256" {
		t.Errorf("--id-token-alg rs256 stored as %q", c.IDTokenSigningAlg)
	}
	if !clientsecret.Verify(c.SecretHash, field(out, "client_secret")) {
		t.Error("secret does not verify")
	}
}

func TestClientsCreateRejects(t *testing.T) {
	env := testEnv(t)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"no name", []string{"--redirect-uri", "https://a.example.com/cb"}, []string{"--name: is required"}},
		{"no redirect", []string{"--name", "x"}, []string{"--redirect-uri: at least one is required for authorization_code"}},
		{"http remote", []string{"--name", "x", "--redirect-uri", "http://app.example.com/cb"}, []string{"http is allowed only for loopback hosts"}},
		{"fragment", []string{"--name", "x", "--redirect-uri", "https://a.example.com/cb#frag"}, []string{"must not contain a fragment"}},
		{"relative", []string{"--name", "x", "--redirect-uri", "/callback"}, []string{"must be absolute"}},
		{"custom scheme", []string{"--name", "x", "--redirect-uri", "myapp://cb"}, []string{`scheme "myapp" not allowed`}},
		{"javascript", []string{"--name", "x", "--redirect-uri", "javascript:alert(1)"}, []string{`scheme "javascript" not allowed`}},
		{"user info", []string{"--name", "x", "--redirect-uri", "https://u:p@a.example.com/cb"}, []string{"must not contain user info"}},
		{"post logout", []string{"--name", "x", "--redirect-uri", "https://a.example.com/cb", "--post-logout-redirect-uri", "http://evil.example.com/"}, []string{"--post-logout-redirect-uri"}},
		{"public client_credentials", []string{"--name", "x", "--public", "--grant-type", "client_credentials"}, []string{"client_credentials: needs a confidential client"}},
		{"unknown grant", []string{"--name", "x", "--grant-type", "implicit"}, []string{`--grant-type "implicit": want`}},
		{"refresh alone", []string{"--name", "x", "--grant-type", "refresh_token"}, []string{"refresh_token: needs authorization_code"}},
		{"alg", []string{"--name", "x", "--redirect-uri", "https://a.example.com/cb", "--id-token-alg", "HS256"}, []string{`--id-token-alg "HS256": want ES256 or RS256`}},
		{"scope", []string{"--name", "x", "--redirect-uri", "https://a.example.com/cb", "--scope", "two words"}, []string{`--scope "two words"`}},
		{"id", []string{"--id", "a:b", "--name", "x", "--redirect-uri", "https://a.example.com/cb"}, []string{"--id: must be"}},
		// Several problems are reported together.
		{"all at once", []string{"--redirect-uri", "ftp://x", "--id-token-alg", "none"}, []string{"--name: is required", `scheme "ftp"`, "--id-token-alg"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := runCmd(t, env, "", append([]string{"clients", "create"}, tt.args...)...)
			if err == nil {
				t.Fatalf("accepted; output:\n%s", out)
			}
			if !errors.As(err, new(usageError)) {
				t.Errorf("%v is not a usage error", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	list, _, err := runCmd(t, env, "", "clients", "list")
	if err != nil || strings.TrimSpace(list) != "no clients" {
		t.Errorf("rejected clients were stored: %v\n%s", err, list)
	}
}

func TestCheckRedirectURI(t *testing.T) {
	for _, ok := range []string{
		"https://app.example.com/cb", "https://app.example.com:8443/cb?x=1", "http://localhost:3000/cb",
		"http://127.0.0.1/cb", "http://[::1]:8080/cb", "com.example.app:/oauth2redirect", "com.example.app://cb",
	} {
		if err := checkRedirectURI(ok); err != nil {
			t.Errorf("checkRedirectURI(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "https://", "http://localhost.evil.com/cb", "http://127.0.0.2/cb", "data:text/html,x", "file:///etc/passwd", "https://a.example.com/#"} {
		if err := checkRedirectURI(bad); err == nil {
			t.Errorf("checkRedirectURI(%q) accepted", bad)
		}
	}
}

func TestClientsDelete(t *testing.T) {
	env := testEnv(t)
	if _, _, err := runCmd(t, env, "", "clients", "create", "--id", "gone", "--name", "Gone", "--redirect-uri", "https://a.example.com/cb"); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCmd(t, env, "", "clients", "delete", "--id", "gone")
	if err != nil || !strings.Contains(out, "deleted client gone") {
		t.Fatalf("delete: %v\n%s", err, out)
	}
	if _, err := openTestStore(t, env).GetClient(context.Background(), "gone"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("client still there: %v", err)
	}
	_, _, err = runCmd(t, env, "", "clients", "delete", "--id", "gone")
	if err == nil || !strings.Contains(err.Error(), `no client with id "gone"`) {
		t.Errorf("second delete: %v", err)
	}
}
