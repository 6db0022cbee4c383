package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/idp/storage/storagetest"
	"github.com/latchkey/latchkey/migrations"
	"modernc.org/sqlite"
)

func newStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "latchkey.db"), nil)
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

func TestOpenRejectsNonFilePaths(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db", "file::memory:?cache=shared", "a?b.db", "a#b.db"} {
		if s, err := Open(t.Context(), p, nil); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

// Every connection of both pools must carry the settings, not just the
// first one: they come from the DSN.
func TestPragmasOnEveryConnection(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	for name, db := range map[string]*sql.DB{"writer": s.w, "reader": s.r} {
		// Hold several connections at once so the pool must open new ones.
		var conns []*sql.Conn
		for range 3 {
			c, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
			if name == "writer" {
				break // one connection only, by design
			}
		}
		for i, c := range conns {
			for pragma, want := range map[string]string{
				"journal_mode": "wal", "foreign_keys": "1", "synchronous": "1",
				"busy_timeout": strconv.Itoa(busyTimeoutMS),
			} {
				var got string
				if err := c.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("%s conn %d: %s = %s, want %s", name, i, pragma, got, want)
				}
			}
			var queryOnly string
			if err := c.QueryRowContext(ctx, "PRAGMA query_only").Scan(&queryOnly); err != nil {
				t.Fatal(err)
			}
			if wantRO := map[string]string{"writer": "0", "reader": "1"}[name]; queryOnly != wantRO {
				t.Errorf("%s conn %d: query_only = %s, want %s", name, i, queryOnly, wantRO)
			}
		}
		for _, c := range conns {
			c.Close()
		}
	}
	if n := s.w.Stats().MaxOpenConnections; n != 1 {
		t.Errorf("writer pool allows %d connections, want 1", n)
	}
}

func TestMigrate(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "m.db")
	s, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	known, err := migrations.List(migrations.SQLite)
	if err != nil {
		t.Fatal(err)
	}

	st, err := s.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != len(known) || st[0].Applied() {
		t.Fatalf("fresh file: status %+v, want %d pending", st, len(known))
	}
	// Open does not migrate.
	if _, err := s.GetClient(ctx, "x"); err == nil || errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetClient before Migrate: %v, want a missing-table error", err)
	}

	before := time.Now().Add(-time.Second)
	for range 2 { // idempotent
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	st, err = s.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range st {
		if m.Version != known[i].Version || m.Name != known[i].Name || m.AppliedAt.Before(before) {
			t.Errorf("status[%d] = %+v, want version %d applied now", i, m, known[i].Version)
		}
	}
	var rows int
	if err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != len(known) {
		t.Errorf("schema_migrations has %d rows, want %d", rows, len(known))
	}
}

// Two processes (here: two stores) migrating and writing one file at once:
// the busy timeout and BEGIN IMMEDIATE must absorb every lock wait.
func TestTwoStoresOneFile(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "shared.db")
	var stores []*Store
	for range 2 {
		s, err := Open(ctx, path, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores = append(stores, s)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for _, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.Migrate(ctx)
		}()
	}
	wg.Wait()
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stores[i%2]
			for j := range 10 {
				sig := fmt.Sprintf("%d-%d", i, j)
				errs <- s.CreateToken(ctx, storage.Token{Kind: storage.KindAccessToken, Signature: sig, Active: true})
				errs <- s.DeactivateToken(ctx, storage.KindAccessToken, sig)
				_, err := s.RecordFailure(ctx, "k", time.Now(), time.Hour)
				errs <- err
			}
		}()
	}
	go func() { wg.Wait(); close(errs) }()
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	th, err := stores[0].GetThrottle(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if th.Failures != 200 {
		t.Errorf("failures = %d, want 200", th.Failures)
	}
}

// An error that maps to no sentinel is flattened: the driver's type is not
// in the chain.
func TestDriverErrorsDoNotEscape(t *testing.T) {
	s := newStore(t)
	if _, err := s.w.ExecContext(t.Context(), "DROP TABLE consents; DROP TABLE clients"); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetClient(t.Context(), "x")
	if err == nil {
		t.Fatal("GetClient on a dropped table succeeded")
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		t.Fatalf("driver error escaped: %#v", err)
	}
	if !strings.HasPrefix(err.Error(), "get client: ") || !strings.Contains(err.Error(), "no such table") {
		t.Errorf("error = %q, want the operation and the cause", err)
	}
}

// A database made by an older Latchkey keeps its sessions through later
// migrations: 0002 adds factors, empty for the rows already there.
func TestMigrateKeepsSessions(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "old.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	known, err := migrations.List(migrations.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	// The database as version 1 left it, with a user and a session.
	for _, q := range []string{createMigrationsTable, known[0].SQL,
		`INSERT INTO schema_migrations (version, name, applied_at) VALUES (1, 'init', 0)`,
		`INSERT INTO users (id, email, email_verified, display_name, password_hash, disabled,
			created_at, updated_at) VALUES ('u1', 'a@x', 1, 'A', 'h', 0, 0, 0)`,
		`INSERT INTO sessions (id, user_id, auth_time, amr, acr, created_at, last_seen_at, expires_at)
			VALUES ('s1', 'u1', 1000000, '["pwd"]', 'urn:latchkey:acr:pwd', 0, 0, 9000000000000000)`,
	} {
		if _, err := s.w.ExecContext(ctx, q); err != nil {
			t.Fatalf("%.40s: %v", q, err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetSession(ctx, "s1", time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	want := storage.Session{ID: "s1", UserID: "u1", AuthTime: time.Unix(1, 0).UTC(), AMR: []string{"pwd"},
		ACR: "urn:latchkey:acr:pwd", CreatedAt: time.UnixMicro(0).UTC(), LastSeenAt: time.UnixMicro(0).UTC(),
		ExpiresAt: time.UnixMicro(9000000000000000).UTC()}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("session after migration:\n got %+v\nwant %+v", got, want)
	}
}

// TestMigrationClearsEnglishTOTPName: 0006 clears the English default name
// older versions stored for authenticator apps (the account page now shows
// the default in the reader's language) and keeps names users chose.
func TestMigrationClearsEnglishTOTPName(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "n.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := s.CreateUser(ctx, storage.User{ID: "u1", Email: "u1@example.com", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	for id, name := range map[string]string{"old": "Authenticator app", "mine": "Work phone"} {
		c := storage.TOTPCredential{ID: id, UserID: "u1", Name: name, Secret: []byte("sealed"), CreatedAt: now}
		if err := s.CreateTOTP(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	// Run 0006 again over these rows, as an upgrade from 0005 would.
	if _, err := s.w.ExecContext(ctx, "DELETE FROM schema_migrations WHERE version = 6"); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	cs, err := s.ListTOTP(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, c := range cs {
		names[c.ID] = c.Name
	}
	if names["old"] != "" || names["mine"] != "Work phone" {
		t.Errorf("names after 0006 = %v, want the English default cleared and a chosen name kept", names)
	}
}
