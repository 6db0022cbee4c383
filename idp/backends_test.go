package idp_test

import (
	"testing"

	"github.com/latchkey/latchkey/idp/idptest"
	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/idp/storage/postgres"
	"github.com/latchkey/latchkey/idp/storage/postgres/pgtest"
)

// TestMain stops the throwaway PostgreSQL cluster, if a test started one.
func TestMain(m *testing.M) { pgtest.Main(m) }

// onBackends runs a flow test on SQLite and on PostgreSQL (a fresh
// database from pgtest; skipped when there is none, failed under CI=true).
func onBackends(t *testing.T, test func(t *testing.T, opts ...idptest.Option)) {
	t.Run("sqlite", func(t *testing.T) { test(t) })
	t.Run("postgres", func(t *testing.T) { test(t, idptest.WithStore(postgresStore(t))) })
}

func postgresStore(t testing.TB) storage.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), pgtest.DSN(t), nil)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
