package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
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
