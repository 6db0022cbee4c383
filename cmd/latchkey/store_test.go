package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/idp/storage/postgres/pgtest"
)

func TestOpenStoreSQLite(t *testing.T) {
	ctx := context.Background()
	st, migrate, err := openStore(ctx, "sqlite:"+filepath.Join(t.TempDir(), "x.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ListClients(ctx); err != nil {
		t.Fatalf("store not usable after migrate: %v", err)
	}
}

func TestOpenStoreUnknownScheme(t *testing.T) {
	for _, dsn := range []string{"mysql://root:hunter2@db/latchkey", "latchkey.db", ""} {
		_, _, err := openStore(context.Background(), dsn, nil)
		if err == nil {
			t.Fatalf("openStore(%q) succeeded", dsn)
		}
		msg := err.Error()
		if !strings.Contains(msg, `"sqlite:PATH", "postgres://..." or "postgresql://..."`) {
			t.Errorf("openStore(%q) = %q: does not name the accepted forms", dsn, msg)
		}
		if strings.Contains(msg, "hunter2") {
			t.Errorf("openStore error leaks the password: %q", msg)
		}
	}
}

// The admin commands work the same on PostgreSQL, selected by the DSN.
func TestCommandsOnPostgres(t *testing.T) {
	env := testEnv(t)
	env["LATCHKEY_STORAGE_DSN"] = pgtest.DSN(t)
	out, _, err := runCmd(t, env, "", "migrate")
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if !strings.Contains(out, "applied 0001_init") {
		t.Errorf("migrate output:\n%s", out)
	}
	out, _, err = runCmd(t, env, "", "migrate")
	if err != nil || !strings.Contains(out, "schema up to date") {
		t.Errorf("second migrate: %v\n%s", err, out)
	}
	if _, _, err := runCmd(t, env, "", "clients", "create", "--id", "pg", "--name", "PG app", "--redirect-uri", "https://a.example.com/cb"); err != nil {
		t.Fatalf("clients create: %v", err)
	}
	if _, _, err := runCmd(t, env, "password123\n", "users", "create", "--email", "pg@example.com", "--password-stdin"); err != nil {
		t.Fatalf("users create: %v", err)
	}
	clients, _, err := runCmd(t, env, "", "clients", "list")
	if err != nil || !strings.Contains(clients, "PG app") {
		t.Errorf("clients list: %v\n%s", err, clients)
	}
	out, _, err = runCmd(t, env, "", "users", "delete", "--email", "pg@example.com")
	if err != nil || !strings.Contains(out, "deleted user") {
		t.Errorf("users delete: %v\n%s", err, out)
	}
}
