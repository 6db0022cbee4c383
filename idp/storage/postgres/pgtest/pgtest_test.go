package pgtest

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

func TestDSNGivesFreshEmptyDatabases(t *testing.T) {
	a, b := DSN(t), DSN(t)
	if a == b {
		t.Fatalf("two calls gave the same DSN %s", a)
	}
	names := map[string]bool{}
	for _, dsn := range []string{a, b} {
		conn, err := pgx.Connect(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(t.Context())
		var db string
		var tables int
		err = conn.QueryRow(t.Context(), `SELECT current_database(),
			(SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public')`).Scan(&db, &tables)
		if err != nil {
			t.Fatal(err)
		}
		if tables != 0 {
			t.Errorf("database %s has %d tables, want none", db, tables)
		}
		names[db] = true
		if _, err := conn.Exec(t.Context(), "CREATE TABLE mine (x int)"); err != nil {
			t.Fatal(err)
		}
	}
	if len(names) != 2 {
		t.Fatalf("DSNs point at %v, want two databases", names)
	}
}

func TestThrowawayClusterIsPrivate(t *testing.T) {
	if os.Getenv(EnvDSN) != "" {
		t.Skip("using an external server")
	}
	DSN(t)
	if srv.cluster == nil {
		t.Fatal("no cluster started")
	}
	if !strings.Contains(srv.cluster.dsn, "@127.0.0.1:") {
		t.Errorf("cluster DSN %s, want a loopback TCP address", srv.cluster.dsn)
	}
	// Another local user on TCP without the password is refused.
	cfg, err := pgx.ParseConfig(srv.cluster.dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Password = ""
	if conn, err := pgx.ConnectConfig(t.Context(), cfg); err == nil {
		conn.Close(t.Context())
		t.Error("connected over TCP without the password")
	}
	fi, err := os.Stat(srv.cluster.dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("cluster directory mode %v, want no group or other access", fi.Mode().Perm())
	}
}

func TestWithDatabase(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"postgres://u:p@h:5432/postgres?sslmode=disable", "postgres://u:p@h:5432/db1?sslmode=disable"},
		{"postgresql://h", "postgresql://h/db1"},
		{"host=h user=u dbname=postgres ", "host=h user=u dbname=postgres dbname=db1"},
		{"host=h", "host=h dbname=db1"},
	} {
		got, err := withDatabase(c.in, "db1")
		if err != nil {
			t.Fatalf("withDatabase(%q): %v", c.in, err)
		}
		if got != c.want {
			t.Errorf("withDatabase(%q) = %q, want %q", c.in, got, c.want)
		}
		// pgx must read the database we set, whatever came before.
		cfg, err := pgx.ParseConfig(got)
		if err != nil {
			t.Fatalf("ParseConfig(%q): %v", got, err)
		}
		if cfg.Database != "db1" {
			t.Errorf("ParseConfig(%q).Database = %q, want db1", got, cfg.Database)
		}
	}
}

func TestRemoveStaleDirs(t *testing.T) {
	dead, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		t.Fatal(err)
	}
	live, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(live)
	defer os.RemoveAll(dead)
	// No process can have pid 2^22+1: Linux caps pid_max at 2^22.
	os.WriteFile(dead+"/owner.pid", []byte("4194305"), 0o644)
	os.WriteFile(live+"/owner.pid", []byte(strconv.Itoa(os.Getpid())), 0o644)
	removeStaleDirs()
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("stale directory of a dead process kept (err %v)", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("directory of a live process removed: %v", err)
	}
}
