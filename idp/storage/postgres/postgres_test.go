package postgres

import (
	"errors"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/idp/storage/postgres/pgtest"
	"github.com/latchkey/latchkey/idp/storage/storagetest"
	"github.com/latchkey/latchkey/migrations"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func newStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.Context(), pgtest.DSN(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return newStore(t) })
}

func TestMigrate(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.DSN(t)
	known, err := migrations.List(migrations.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	// Several nodes starting at once against one empty database.
	const nodes = 5
	var stores []*Store
	for range nodes {
		s, err := Open(ctx, dsn, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores = append(stores, s)
	}
	st, err := stores[0].MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != len(known) || st[0].Applied() {
		t.Fatalf("fresh database: status %+v, want %d pending", st, len(known))
	}
	// Open does not migrate.
	if _, err := stores[0].GetClient(ctx, "x"); err == nil || errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetClient before Migrate: %v, want a missing-table error", err)
	}

	before := time.Now().Add(-time.Second)
	var wg sync.WaitGroup
	errs := make([]error, nodes)
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Migrate(ctx)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("node %d: Migrate: %v", i, err)
		}
	}
	if err := stores[0].Migrate(ctx); err != nil { // idempotent
		t.Fatal(err)
	}
	st, err = stores[1].MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range st {
		if m.Version != known[i].Version || m.Name != known[i].Name || m.AppliedAt.Before(before) {
			t.Errorf("status[%d] = %+v, want version %d applied now", i, m, known[i].Version)
		}
	}
	var rows int
	if err := stores[0].pool.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != len(known) {
		t.Errorf("schema_migrations has %d rows, want %d", rows, len(known))
	}
	// The lock was released: nothing holds it any more.
	var held int
	err = stores[0].pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks
		WHERE locktype = 'advisory' AND granted`).Scan(&held)
	if err != nil {
		t.Fatal(err)
	}
	if held != 0 {
		t.Errorf("%d advisory locks still held after Migrate", held)
	}
}

func TestOpenHidesDSN(t *testing.T) {
	_, err := Open(t.Context(), "postgres://latchkey:s3cret-pw@[::1/db", nil)
	if err == nil {
		t.Fatal("Open accepted a malformed DSN")
	}
	if strings.Contains(err.Error(), "s3cret-pw") {
		t.Fatalf("error shows the password: %v", err)
	}
}

// Whatever the session's time zone and the process's time.Local, times
// come back in UTC as the same instant.
func TestTimesComeBackUTC(t *testing.T) {
	dsn := pgtest.DSN(t)
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		q := u.Query()
		q.Set("timezone", "Asia/Tokyo")
		u.RawQuery = q.Encode()
		dsn = u.String()
	} else {
		dsn += " timezone=Asia/Tokyo"
	}
	s, err := Open(t.Context(), dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 3, 14, 23, 59, 59, 999999000, time.UTC)
	if err := s.CreateClient(t.Context(), storage.Client{ID: "c", CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	var tz string
	if err := s.pool.QueryRow(t.Context(), "SHOW TimeZone").Scan(&tz); err != nil {
		t.Fatal(err)
	}
	if tz != "Asia/Tokyo" {
		t.Fatalf("session TimeZone = %s; the test needs a non-UTC session", tz)
	}
	c, err := s.GetClient(t.Context(), "c")
	if err != nil {
		t.Fatal(err)
	}
	if c.CreatedAt != at {
		t.Fatalf("CreatedAt = %v (%s), want %v in UTC", c.CreatedAt, c.CreatedAt.Location(), at)
	}
}

// An error that maps to no sentinel is flattened: no pgx or pgconn type is
// in the chain.
func TestDriverErrorsDoNotEscape(t *testing.T) {
	s := newStore(t)
	if _, err := s.pool.Exec(t.Context(), "DROP TABLE consents; DROP TABLE clients"); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetClient(t.Context(), "x")
	if err == nil {
		t.Fatal("GetClient on a dropped table succeeded")
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		t.Fatalf("driver error escaped: %#v", err)
	}
	if !strings.HasPrefix(err.Error(), "get client: ") || !strings.Contains(err.Error(), "42P01") {
		t.Errorf("error = %q, want the operation and the cause", err)
	}
}

// A database made by an older Latchkey keeps its sessions through later
// migrations: 0002 adds factors, empty for the rows already there.
func TestMigrateKeepsSessions(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, pgtest.DSN(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	known, err := migrations.List(migrations.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	// The database as version 1 left it, with a user and a session.
	for _, q := range []string{createMigrationsTable, known[0].SQL,
		`INSERT INTO schema_migrations (version, name, applied_at) VALUES (1, 'init', now())`,
		`INSERT INTO users (id, email, email_verified, display_name, password_hash, disabled,
			created_at, updated_at) VALUES ('u1', 'a@x', true, 'A', 'h', false, now(), now())`,
		`INSERT INTO sessions (id, user_id, auth_time, amr, acr, created_at, last_seen_at, expires_at)
			VALUES ('s1', 'u1', '2025-01-02T03:04:05Z', '["pwd"]', 'urn:latchkey:acr:pwd',
			'2025-01-02T03:04:05Z', '2025-01-02T03:04:05Z', '2100-01-01T00:00:00Z')`,
	} {
		if _, err := s.pool.Exec(ctx, q); err != nil {
			t.Fatalf("%.40s: %v", q, err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetSession(ctx, "s1", time.Date(2025, 1, 3, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	want := storage.Session{ID: "s1", UserID: "u1", AuthTime: at, AMR: []string{"pwd"},
		ACR: "urn:latchkey:acr:pwd", CreatedAt: at, LastSeenAt: at,
		ExpiresAt: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("session after migration:\n got %+v\nwant %+v", got, want)
	}
}
