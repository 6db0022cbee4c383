package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/idp/password"
)

// testKey is a valid secrets.key (32 bytes of 0x01).
var testKey = base64.StdEncoding.EncodeToString([]byte(strings.Repeat("\x01", 32)))

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "latchkey.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDefaultIsValidExceptKey(t *testing.T) {
	d := Default()
	if err := d.Validate(Dev); err != nil {
		t.Fatalf("Default().Validate(Dev) = %v", err)
	}
	if err := d.Validate(Tool); err != nil {
		t.Fatalf("Default().Validate(Tool) = %v", err)
	}
	err := d.Validate(Serve)
	if err == nil || !strings.HasPrefix(err.Error(), "secrets.key: is required") {
		t.Fatalf("Default().Validate(Serve) = %v, want secrets.key required", err)
	}
	d.Secrets.Key = testKey
	if err := d.Validate(Serve); err != nil {
		t.Fatalf("Validate(Serve) with key = %v", err)
	}
	if d.Password.Params() != password.DefaultParams() {
		t.Errorf("default password params %+v differ from password.DefaultParams", d.Password.Params())
	}
}

func TestLoadWithoutFile(t *testing.T) {
	cfg, err := Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, Default()) {
		t.Fatalf("Load(\"\") = %+v, want Default()", cfg)
	}
}

// exampleFile locates config.example.toml at the repository root.
func exampleFile(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("runtime.Caller failed")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "config.example.toml")
}

// The example documents every key at its default value: it must load
// strictly (no stale key) and equal Default (no drift), and it must name
// every key there is.
func TestExampleFile(t *testing.T) {
	path := exampleFile(t)
	cfg, err := Load(path, env(nil))
	if err != nil {
		t.Fatalf("Load(example): %v", err)
	}
	if !reflect.DeepEqual(cfg, Default()) {
		t.Errorf("example config differs from Default():\n got %+v\nwant %+v", cfg, Default())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings(&cfg) {
		key := s.path[strings.LastIndex(s.path, ".")+1:]
		if s.field.Kind() == reflect.Map {
			// A table of names is empty by default: the example shows its
			// header and, in comments, what goes in it.
			if !strings.Contains(string(data), "\n["+s.path+"]\n") {
				t.Errorf("example file has no [%s] table", s.path)
			}
			continue
		}
		if !strings.Contains(string(data), "\n"+key+" = ") {
			t.Errorf("example file does not set %s", s.path)
		}
	}
	cfg.Secrets.Key = testKey
	if err := cfg.Validate(Serve); err != nil {
		t.Errorf("example with a key: Validate(Serve) = %v", err)
	}
}

func TestLoadFile(t *testing.T) {
	path := writeFile(t, `
issuer = "https://id.example.com/"
trusted_proxies = ["10.0.0.0/8"]
[storage]
dsn = "postgres://latchkey:pw@db.internal/latchkey"
[tokens]
access_token_lifetime = "5m"
[password]
memory_kib = 65536
[log]
format = "TEXT"
`)
	cfg, err := Load(path, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Issuer = "https://id.example.com" // trailing slash normalised
	want.TrustedProxies = []string{"10.0.0.0/8"}
	want.Storage.DSN = "postgres://latchkey:pw@db.internal/latchkey"
	want.Tokens.AccessTokenLifetime = D(5 * time.Minute)
	want.Password.MemoryKiB = 65536
	want.Log.Format = "text"
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("Load =\n%+v\nwant\n%+v", cfg, want)
	}
}

func TestEnvOverrides(t *testing.T) {
	path := writeFile(t, `
issuer = "https://file.example.com"
[tokens]
access_token_lifetime = "5m"
`)
	cfg, err := Load(path, env(map[string]string{
		"LATCHKEY_ISSUER":                       "https://env.example.com",
		"LATCHKEY_LISTEN":                       ":9090",
		"LATCHKEY_TRUSTED_PROXIES":              "10.0.0.0/8, 192.168.0.0/16,",
		"LATCHKEY_STORAGE_DSN":                  "sqlite:/var/lib/latchkey/db",
		"LATCHKEY_SECRETS_KEY":                  testKey,
		"LATCHKEY_TOKENS_ACCESS_TOKEN_LIFETIME": "15m",
		"LATCHKEY_LOGIN_ACCOUNT_FREE_ATTEMPTS":  "7",
		"LATCHKEY_PASSWORD_PARALLELISM":         "2",
		"LATCHKEY_HTTP_MAX_BODY_BYTES":          "131072",
		"LATCHKEY_METRICS_ENABLED":              "false",
		"LATCHKEY_KEYS_ALGORITHM":               "rs256",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Issuer = "https://env.example.com"
	want.Listen = ":9090"
	want.TrustedProxies = []string{"10.0.0.0/8", "192.168.0.0/16"}
	want.Storage.DSN = "sqlite:/var/lib/latchkey/db"
	want.Secrets.Key = testKey
	want.Tokens.AccessTokenLifetime = D(15 * time.Minute)
	want.Login.AccountFreeAttempts = 7
	want.Password.Parallelism = 2
	want.HTTP.MaxBodyBytes = 131072
	want.Metrics.Enabled = false
	want.Keys.Algorithm = "RS256"
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("Load =\n%+v\nwant\n%+v", cfg, want)
	}
}

// Every key is reachable from the environment: setting each variable to
// a fresh valid value changes exactly its field.
func TestEveryKeyHasAnEnvironmentVariable(t *testing.T) {
	var cfg Config
	seen := map[string]bool{}
	for _, s := range settings(&cfg) {
		if seen[s.env] {
			t.Errorf("two keys share %s", s.env)
		}
		seen[s.env] = true
		var raw string
		switch s.field.Interface().(type) {
		case string:
			raw = "x"
		case bool:
			raw = "true"
		case int, int64:
			raw = "3"
		case float64:
			raw = "2.5"
		case Duration:
			raw = "3m"
		case []string:
			raw = "a,b"
		case map[string]string:
			raw = "a=b"
		default:
			t.Errorf("%s: field type %s has no environment parser test", s.path, s.field.Type())
			continue
		}
		before := fmt.Sprint(s.field.Interface())
		if errs := applyEnv(&cfg, env(map[string]string{s.env: raw})); len(errs) != 0 {
			t.Errorf("%s=%s: %v", s.env, raw, errs)
		}
		if after := fmt.Sprint(s.field.Interface()); after == before {
			t.Errorf("%s=%s did not change %s", s.env, raw, s.path)
		}
	}
	if len(seen) < 30 {
		t.Errorf("only %d settings found; the walk misses sections", len(seen))
	}
	for _, name := range []string{"LATCHKEY_ISSUER", "LATCHKEY_STORAGE_DSN", "LATCHKEY_SECRETS_KEY", "LATCHKEY_HTTP_SHUTDOWN_TIMEOUT"} {
		if !seen[name] {
			t.Errorf("no setting for %s", name)
		}
	}
}

func TestBadEnvironmentIsReported(t *testing.T) {
	_, err := Load("", env(map[string]string{
		"LATCHKEY_METRICS_ENABLED":          "maybe",
		"LATCHKEY_PASSWORD_ITERATIONS":      "two",
		"LATCHKEY_TOKENS_ID_TOKEN_LIFETIME": "60",
		"LATCHKEY_LOG_LEVEL":                "loud",
	}))
	if err == nil {
		t.Fatal("Load accepted bad environment")
	}
	for _, want := range []string{
		"metrics.enabled (from LATCHKEY_METRICS_ENABLED): want true or false",
		"password.iterations (from LATCHKEY_PASSWORD_ITERATIONS): want an integer",
		"tokens.id_token_lifetime (from LATCHKEY_TOKENS_ID_TOKEN_LIFETIME): parse duration",
		`log.level: must be one of debug, info, warn, error, got "loud"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestUnknownKeys(t *testing.T) {
	path := writeFile(t, `
isuer = "https://id.example.com"
[tokens]
acess_token_lifetime = "5m"
[nonsense]
x = 1
[log]
level = "chatty"
`)
	_, err := Load(path, env(nil))
	if err == nil {
		t.Fatal("Load accepted unknown keys")
	}
	for _, want := range []string{"isuer: unknown key", "tokens.acess_token_lifetime: unknown key", "nonsense", `log.level: must be one of`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestSyntaxAndTypeErrors(t *testing.T) {
	for _, body := range []string{
		"issuer = ",
		"issuer = 5",
		"[tokens]\naccess_token_lifetime = \"ten minutes\"",
		"[password]\nmemory_kib = \"lots\"",
		"trusted_proxies = \"10.0.0.0/8\"",
	} {
		if _, err := Load(writeFile(t, body), env(nil)); err == nil {
			t.Errorf("Load(%q) succeeded", body)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.toml"), env(nil)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want ErrNotExist", err)
	}
}

func TestValidateBadConfigs(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		mode   Mode
		want   string
	}{
		{"no issuer", func(c *Config) { c.Issuer = "" }, Dev, "issuer: is required"},
		{"http issuer", func(c *Config) { c.Issuer = "http://id.example.com" }, Dev, "issuer: \"http://id.example.com\" must use https"},
		{"ftp issuer", func(c *Config) { c.Issuer = "ftp://id.example.com" }, Dev, "must be an https URL"},
		{"issuer query", func(c *Config) { c.Issuer = "https://id.example.com?a=b" }, Dev, "must not have a query"},
		{"issuer fragment", func(c *Config) { c.Issuer = "https://id.example.com#x" }, Dev, "must not have a fragment"},
		{"issuer no host", func(c *Config) { c.Issuer = "https:///path" }, Dev, "has no host"},
		{"issuer slash", func(c *Config) { c.Issuer = "https://id.example.com/" }, Dev, "must not end with a slash"},
		{"listen", func(c *Config) { c.Listen = "8080" }, Dev, "listen: \"8080\" is not host:port"},
		{"listen port", func(c *Config) { c.Listen = ":http" }, Dev, "listen: \":http\": port must be a number"},
		{"proxy", func(c *Config) { c.TrustedProxies = []string{"10.0.0.0/8", "10.0.0.1"} }, Dev, "trusted_proxies[1]: \"10.0.0.1\" is not a CIDR"},
		{"dsn empty", func(c *Config) { c.Storage.DSN = "" }, Dev, "storage.dsn: is required"},
		{"dsn scheme", func(c *Config) { c.Storage.DSN = "mysql://x" }, Dev, `storage.dsn: unsupported scheme "mysql"`},
		{"dsn sqlite", func(c *Config) { c.Storage.DSN = "sqlite:" }, Dev, "storage.dsn: \"sqlite:\" needs a file path"},
		{"dsn pg host", func(c *Config) { c.Storage.DSN = "postgres:///db" }, Dev, "storage.dsn: PostgreSQL URL has no host"},
		{"key missing", func(c *Config) { c.Secrets.Key = "" }, Serve, "secrets.key: is required"},
		{"key short", func(c *Config) { c.Secrets.Key = "c2hvcnQ=" }, Dev, "secrets.key: decodes to 5 bytes, want 32"},
		{"key not base64", func(c *Config) { c.Secrets.Key = "not base64!" }, Tool, "secrets.key: not base64"},
		{"session", func(c *Config) { c.Session.Lifetime = D(time.Minute) }, Dev, "session.lifetime: must be between 5m and 2160h, got 1m"},
		{"idle > lifetime", func(c *Config) { c.Session.IdleTimeout = D(25 * time.Hour) }, Dev, "session.idle_timeout: must not exceed session.lifetime (24h)"},
		{"access", func(c *Config) { c.Tokens.AccessTokenLifetime = D(48 * time.Hour) }, Dev, "tokens.access_token_lifetime: must be between 1m and 24h, got 48h"},
		{"id token", func(c *Config) { c.Tokens.IDTokenLifetime = D(0) }, Dev, "tokens.id_token_lifetime: must be between 1m and 24h, got 0s"},
		{"refresh", func(c *Config) { c.Tokens.RefreshTokenLifetime = D(-time.Hour) }, Dev, "tokens.refresh_token_lifetime: must be between 1h and 8760h"},
		{"code", func(c *Config) { c.Tokens.AuthorizationCodeLifetime = D(time.Hour) }, Dev, "tokens.authorization_code_lifetime: must be between 10s and 10m, got 1h"},
		{"login timeout", func(c *Config) { c.Tokens.LoginTimeout = D(time.Second) }, Dev, "tokens.login_timeout: must be between 1m and 24h"},
		{"refresh < access", func(c *Config) {
			c.Tokens.AccessTokenLifetime = D(24 * time.Hour)
			c.Tokens.RefreshTokenLifetime = D(2 * time.Hour)
		}, Dev, "tokens.refresh_token_lifetime: must not be shorter than tokens.access_token_lifetime (24h)"},
		{"attempts", func(c *Config) { c.Login.AccountFreeAttempts = 0 }, Dev, "login.account_free_attempts: must be between 1 and 100, got 0"},
		{"ip attempts", func(c *Config) { c.Login.IPFreeAttempts = -1 }, Dev, "login.ip_free_attempts: must be between 1 and 100000, got -1"},
		{"delays", func(c *Config) { c.Login.BaseDelay = D(30 * time.Second); c.Login.MaxDelay = D(10 * time.Second) }, Dev, "login.max_delay: must not be shorter than login.base_delay (30s)"},
		{"reset", func(c *Config) { c.Login.ResetAfter = D(0) }, Dev, "login.reset_after: must be between 1m and 720h"},
		{"memory", func(c *Config) { c.Password.MemoryKiB = 1024 }, Dev, "password.memory_kib: must be between 7168 and 1048576, got 1024"},
		{"iterations", func(c *Config) { c.Password.Iterations = 0 }, Dev, "password.iterations: must be between 1 and 64"},
		{"parallelism", func(c *Config) { c.Password.Parallelism = 300 }, Dev, "password.parallelism: must be between 1 and 16, got 300"},
		{"algorithm", func(c *Config) { c.Keys.Algorithm = "HS256" }, Dev, `keys.algorithm: must be one of ES256, RS256, got "HS256"`},
		{"read header", func(c *Config) { c.HTTP.ReadHeaderTimeout = D(0) }, Dev, "http.read_header_timeout: must be between 1s and 1m"},
		{"body", func(c *Config) { c.HTTP.MaxBodyBytes = 10 }, Dev, "http.max_body_bytes: must be between 1024 and 67108864, got 10"},
		{"shutdown", func(c *Config) { c.HTTP.ShutdownTimeout = D(time.Hour) }, Dev, "http.shutdown_timeout: must be between 1s and 10m"},
		{"log format", func(c *Config) { c.Log.Format = "xml" }, Dev, `log.format: must be one of json, text, got "xml"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.Secrets.Key = testKey
			tt.mutate(&c)
			err := c.Validate(tt.mode)
			if err == nil {
				t.Fatalf("Validate accepted the config; want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %q\nwant it to contain %q", err, tt.want)
			}
			// Each line names its path: nothing starts without one.
			for line := range strings.SplitSeq(err.Error(), "\n") {
				if !strings.Contains(line, ": ") {
					t.Errorf("line %q names no path", line)
				}
			}
		})
	}
}

func TestValidateGoodVariants(t *testing.T) {
	for _, issuer := range []string{"https://id.example.com", "https://id.example.com/tenant", "http://127.0.0.1:8080", "http://[::1]:8080", "http://localhost"} {
		c := Default()
		c.Issuer = issuer
		c.Storage.DSN = "postgresql://u@db/latchkey?sslmode=disable"
		c.TrustedProxies = []string{"10.0.0.0/8", "2001:db8::/32"}
		if err := c.Validate(Dev); err != nil {
			t.Errorf("issuer %q: %v", issuer, err)
		}
	}
}

func TestAllProblemsAtOnce(t *testing.T) {
	path := writeFile(t, `
issuer = "http://id.example.com"
[tokens]
access_token_lifetime = "48h"
[password]
iterations = 0
[keys]
algorithm = "none"
`)
	_, err := Load(path, env(map[string]string{"LATCHKEY_HTTP_MAX_BODY_BYTES": "big"}))
	if err == nil {
		t.Fatal("Load accepted a bad config")
	}
	for _, want := range []string{"issuer:", "tokens.access_token_lifetime:", "password.iterations:", "keys.algorithm:", "http.max_body_bytes (from LATCHKEY_HTTP_MAX_BODY_BYTES):"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error does not name the file %s:\n%v", path, err)
	}
}

func TestSecretKey(t *testing.T) {
	raw := []byte("0123456789abcdef0123456789abcde\xff")
	for _, enc := range []string{
		base64.StdEncoding.EncodeToString(raw),
		base64.RawStdEncoding.EncodeToString(raw),
		base64.URLEncoding.EncodeToString(raw),
		base64.RawURLEncoding.EncodeToString(raw),
		" " + base64.StdEncoding.EncodeToString(raw) + "\n",
	} {
		c := Config{Secrets: Secrets{Key: enc}}
		got, err := c.SecretKey()
		if err != nil || string(got) != string(raw) {
			t.Errorf("SecretKey(%q) = %x, %v", enc, got, err)
		}
	}
	if _, err := (Config{}).SecretKey(); !errors.Is(err, ErrNoSecretKey) {
		t.Errorf("SecretKey(empty) = %v, want ErrNoSecretKey", err)
	}
	// The error never echoes the key.
	bad := base64.StdEncoding.EncodeToString([]byte("sixteen byte key"))
	if _, err := (Config{Secrets: Secrets{Key: bad}}).SecretKey(); err == nil || strings.Contains(err.Error(), bad) {
		t.Errorf("SecretKey(short) = %v", err)
	}
}

func TestSecretsAreRedacted(t *testing.T) {
	c := Default()
	c.Secrets.Key = testKey
	c.Storage.DSN = "postgres://latchkey:hunter2@db/latchkey?password=hunter3"
	c.Twilio.AuthToken = "twiliotokenhunter4"
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "cfg", c, "secrets", c.Secrets, "storage", c.Storage, "twilio", c.Twilio)
	for _, s := range []string{fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), logged.String()} {
		for _, secret := range []string{testKey, "hunter2", "hunter3", "twiliotokenhunter4"} {
			if strings.Contains(s, secret) {
				t.Errorf("%q leaks in %s", secret, s)
			}
		}
	}
	if !strings.Contains(logged.String(), "latchkey:xxxxx@db") {
		t.Errorf("redacted DSN not logged usefully: %s", logged.String())
	}
}

func TestDurationText(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", time.Second: "1s", 90 * time.Second: "1m30s", 10 * time.Minute: "10m",
		24 * time.Hour: "24h", 90 * time.Minute: "1h30m", 1500 * time.Millisecond: "1.5s",
	} {
		b, err := D(d).MarshalText()
		if err != nil || string(b) != want {
			t.Errorf("MarshalText(%v) = %q, %v; want %q", d, b, err, want)
		}
		var back Duration
		if err := back.UnmarshalText(b); err != nil || back.Duration != d {
			t.Errorf("UnmarshalText(%q) = %v, %v", b, back, err)
		}
	}
	var d Duration
	if err := d.UnmarshalText([]byte("10")); err == nil {
		t.Error("UnmarshalText(10) accepted a number without a unit")
	}
}

func FuzzLoad(f *testing.F) {
	if data, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "config.example.toml")); err == nil {
		f.Add(string(data))
	}
	f.Add("issuer = \"https://x\"\n[tokens]\naccess_token_lifetime = \"5m\"\n")
	f.Add("[password]\nparallelism = 99999999999999\n")
	f.Add("trusted_proxies = [1, \"a\"]\n[[log]]\n")
	f.Add("[http]\nmax_body_bytes = 1e3\n[log]\nlevel = 1979-05-27T07:32:00Z")
	f.Add("[mfa]\norder = [\"totp\", \"TOTP\"]\ndefault_level = \"urn:latchkey:acr:phr\"\n[mfa.aliases]\n\"2\" = \"mfa\"\n[mfa.limits]\nlock_max = \"1s\"\n")
	f.Fuzz(func(t *testing.T, data string) {
		cfg := Default()
		problems, err := decode([]byte(data), &cfg)
		if err != nil {
			return
		}
		cfg.normalize()
		verr := cfg.Validate(Dev)
		if len(problems) == 0 && verr == nil {
			// What validates must be usable without further checks.
			if _, err := cfg.SecretKey(); err != nil && !errors.Is(err, ErrNoSecretKey) {
				t.Fatalf("valid config has a bad key: %v", err)
			}
			if _, err := password.NewHasher(cfg.Password.Params()); err != nil {
				t.Fatalf("valid config has bad password params: %v", err)
			}
			if p, err := cfg.MFA.Policy(); err != nil {
				t.Fatalf("valid config has an unconvertible mfa policy: %v", err)
			} else if err := p.Validate(); err != nil {
				t.Fatalf("valid config has an invalid mfa policy: %v", err)
			}
		}
	})
}

func TestPasskeysSection(t *testing.T) {
	cases := []struct {
		name    string
		issuer  string
		env     map[string]string
		wantErr string
	}{
		{name: "defaults", issuer: "https://example.com"},
		{name: "subdomain origin", issuer: "https://example.com",
			env: map[string]string{"LATCHKEY_PASSKEYS_ORIGINS": "https://login.example.com,https://example.com:8443"}},
		{name: "foreign origin", issuer: "https://example.com",
			env:     map[string]string{"LATCHKEY_PASSKEYS_ORIGINS": "https://evil.example.net"},
			wantErr: "passkeys.origins: origin \"https://evil.example.net\": host evil.example.net is neither the RPID example.com nor a subdomain of it"},
		{name: "origin with a path", issuer: "https://example.com",
			env:     map[string]string{"LATCHKEY_PASSKEYS_ORIGINS": "https://login.example.com/signin"},
			wantErr: "passkeys.origins: origin \"https://login.example.com/signin\": an origin is only scheme://host[:port]"},
		{name: "plain http off localhost", issuer: "https://example.com",
			env:     map[string]string{"LATCHKEY_PASSKEYS_ORIGINS": "http://login.example.com"},
			wantErr: "passkeys.origins: origin \"http://login.example.com\""},
		{name: "ip issuer with origins", issuer: "http://127.0.0.1:8080",
			env:     map[string]string{"LATCHKEY_PASSKEYS_ORIGINS": "http://localhost:8080"},
			wantErr: "passkeys.origins: passkeys are off for an IP-address issuer"},
		{name: "uv required", issuer: "https://example.com",
			env: map[string]string{"LATCHKEY_PASSKEYS_USER_VERIFICATION": "required"}},
		{name: "uv discouraged", issuer: "https://example.com",
			env:     map[string]string{"LATCHKEY_PASSKEYS_USER_VERIFICATION": "discouraged"},
			wantErr: `passkeys.user_verification: must be one of preferred, required, got "discouraged"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"LATCHKEY_ISSUER": tc.issuer}
			maps.Copy(env, tc.env)
			cfg, err := Load("", func(k string) string { return env[k] })
			if err == nil {
				err = cfg.Validate(Dev)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}
