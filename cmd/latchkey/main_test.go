package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/cmd/latchkey/internal/config"
	"github.com/latchkey/latchkey/idp/storage/postgres/pgtest"
)

// TestMain stops the throwaway PostgreSQL cluster that the PostgreSQL
// tests start on first use.
func TestMain(m *testing.M) { pgtest.Main(m) }

// testEnv is the environment of one test: a fresh SQLite file and cheap
// password hashing (the bounds' minimum, still a real Argon2id).
func testEnv(t *testing.T) map[string]string {
	t.Helper()
	return map[string]string{
		"LATCHKEY_STORAGE_DSN":         "sqlite:" + filepath.Join(t.TempDir(), "latchkey.db"),
		"LATCHKEY_PASSWORD_MEMORY_KIB": "7168",
		"LATCHKEY_PASSWORD_ITERATIONS": "1",
		"LATCHKEY_LOG_LEVEL":           "warn",
	}
}

// runCmd runs the binary's run in-process.
func runCmd(t *testing.T, env map[string]string, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, stdio{in: strings.NewReader(stdin), out: &out, err: &errOut},
		func(k string) string { return env[k] })
	return out.String(), errOut.String(), err
}

func TestUsage(t *testing.T) {
	out, _, err := runCmd(t, nil, "", "help")
	if err != nil {
		t.Fatalf("help: %v", err)
	}
	for _, name := range []string{"migrate", "clients", "users", "version", "--config"} {
		if !strings.Contains(out, name) {
			t.Errorf("usage lacks %q:\n%s", name, out)
		}
	}

	_, stderr, err := runCmd(t, nil, "")
	if !errors.As(err, new(usageError)) || !strings.Contains(stderr, "Usage: latchkey") {
		t.Errorf("no command: err %v, stderr %q", err, stderr)
	}
	_, stderr, err = runCmd(t, nil, "", "frobnicate")
	if !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), `unknown command "frobnicate"`) || !strings.Contains(stderr, "Commands:") {
		t.Errorf("unknown command: err %v, stderr %q", err, stderr)
	}
}

func TestCommandHelp(t *testing.T) {
	out, _, err := runCmd(t, nil, "", "help", "migrate")
	if err != nil || !strings.Contains(out, "-config") {
		t.Errorf("help migrate: %v\n%s", err, out)
	}
	out, _, err = runCmd(t, nil, "", "clients", "create", "-h")
	if err != nil {
		t.Fatalf("clients create -h: %v", err)
	}
	for _, flag := range []string{"-redirect-uri", "-post-logout-redirect-uri", "-public", "-first-party", "-scope", "-grant-type", "-id-token-alg", "-config"} {
		if !strings.Contains(out, flag) {
			t.Errorf("clients create -h lacks %s:\n%s", flag, out)
		}
	}
	out, _, err = runCmd(t, nil, "", "users", "-h")
	if err != nil || !strings.Contains(out, "create|delete|list") {
		t.Errorf("users -h: %v\n%s", err, out)
	}
}

func TestBadFlags(t *testing.T) {
	env := testEnv(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"clients"}, "clients: missing subcommand (want create|delete|list)"},
		{[]string{"clients", "rename"}, `clients: unknown subcommand "rename"`},
		{[]string{"clients", "list", "--verbose"}, "clients list: flag provided but not defined: -verbose"},
		{[]string{"clients", "list", "extra"}, `clients list: unexpected argument "extra"`},
		{[]string{"clients", "delete"}, "clients delete: --id is required"},
		{[]string{"users", "delete"}, "give exactly one of --email or --id"},
		{[]string{"users", "delete", "--id", "a", "--email", "b@example.com"}, "give exactly one of --email or --id"},
		{[]string{"migrate", "--config"}, "flag needs an argument: -config"},
	}
	for _, tt := range tests {
		_, _, err := runCmd(t, env, "", tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err %v, want %q", tt.args, err, tt.want)
		}
		if !errors.As(err, new(usageError)) {
			t.Errorf("%v: %v is not a usage error", tt.args, err)
		}
	}
}

func TestConfigFlag(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "custom.toml")
	db := filepath.Join(dir, "from-file.db")
	if err := os.WriteFile(path, []byte("[storage]\ndsn = \"sqlite:"+db+"\"\n[log]\nlevel = \"warn\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCmd(t, nil, "", "migrate", "--config", path)
	if err != nil {
		t.Fatalf("migrate --config: %v", err)
	}
	if !strings.Contains(out, "schema at version") {
		t.Errorf("migrate output: %q", out)
	}
	if _, err := os.Stat(db); err != nil {
		t.Errorf("the DSN of the config file was not used: %v", err)
	}

	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("[tokens]\naccess_token_lifetim = \"5m\"\n[log]\nlevel = \"loud\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = runCmd(t, nil, "", "clients", "list", "--config", bad)
	if err == nil || !strings.Contains(err.Error(), "tokens.access_token_lifetim: unknown key") || !strings.Contains(err.Error(), "log.level: must be one of") {
		t.Errorf("bad config: %v", err)
	}
	_, _, err = runCmd(t, nil, "", "users", "list", "--config", filepath.Join(dir, "missing.toml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing config file: %v", err)
	}
}

func TestLoadConfigModes(t *testing.T) {
	getenv := func(string) string { return "" }
	if _, err := loadConfig("", getenv, config.Tool); err != nil {
		t.Errorf("Tool mode without a key: %v", err)
	}
	_, err := loadConfig("", getenv, config.Serve)
	if err == nil || !strings.Contains(err.Error(), "secrets.key: is required") {
		t.Errorf("Serve mode without a key: %v", err)
	}
}

func TestNewLogger(t *testing.T) {
	cfg := config.Default()
	var buf bytes.Buffer
	cfg.Log.Level, cfg.Log.Format = "warn", "json"
	log := newLogger(cfg, &buf)
	log.Info("hidden")
	log.Warn("shown")
	if strings.Contains(buf.String(), "hidden") || !strings.Contains(buf.String(), `"msg":"shown"`) {
		t.Errorf("json logger at warn wrote %q", buf.String())
	}
	buf.Reset()
	cfg.Log.Level, cfg.Log.Format = "debug", "text"
	newLogger(cfg, &buf).Debug("dbg")
	if !strings.Contains(buf.String(), "msg=dbg") {
		t.Errorf("text logger at debug wrote %q", buf.String())
	}
}
