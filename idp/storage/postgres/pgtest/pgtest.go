// Package pgtest gives tests a fresh, empty PostgreSQL database per call,
// for the postgres backend's conformance run and for any other package's
// tests and benchmarks that want the real thing.
//
// Where the server comes from:
//
//   - If LATCHKEY_TEST_POSTGRES_DSN is set, that server is used: DSN creates
//     a uniquely named database on it for each call and drops it when the
//     test ends. The DSN must name a role allowed to CREATE DATABASE.
//   - Otherwise the first call starts one throwaway cluster for the whole
//     test process, from the server binaries under
//     /usr/lib/postgresql/*/bin (or on PATH): initdb into a temporary
//     directory, listening on 127.0.0.1 on a free port with a random
//     password, fsync off. It starts in about a second. When
//     running as root the server runs as the "postgres" user, since
//     PostgreSQL refuses root. Main (or Run) stops it and removes the
//     directory after the tests; the server also dies with the test
//     process, and a later run removes directories a killed run left.
//   - With neither, tests skip, and fail when CI=true: CI must not pass by
//     skipping the database.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestX(t *testing.T) {
//		dsn := pgtest.DSN(t)
//		...
//	}
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// EnvDSN names the environment variable that points the tests at an
// existing server instead of a throwaway cluster.
const EnvDSN = "LATCHKEY_TEST_POSTGRES_DSN"

// server is the one database server of this test process, set up on first
// use. It is process-wide state on purpose: a cluster per test would cost a
// second each.
type server struct {
	once    sync.Once
	inMain  atomic.Bool
	err     error  // set up failed: every test fails
	skip    string // no server available: tests skip (or fail on CI)
	base    string // DSN of the server, database part replaced per call
	admin   *pgxpool.Pool
	cluster *cluster // nil when using LATCHKEY_TEST_POSTGRES_DSN
	seq     atomic.Int64
	prefix  string
}

var srv server

// Main runs the tests, stops the throwaway cluster if one was started and
// exits with the tests' status. Call it from TestMain.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main for a TestMain that has more to do: it runs the tests, stops
// the cluster and returns the exit code.
func Run(m *testing.M) int {
	srv.inMain.Store(true)
	code := m.Run()
	srv.stop()
	return code
}

// DSN returns a connection string for a new, empty database that only the
// caller uses. The database is dropped when the test ends (on a throwaway
// cluster the whole cluster goes at the end instead).
func DSN(t testing.TB) string {
	t.Helper()
	srv.once.Do(func() { srv.setUp(t) })
	switch {
	case srv.err != nil:
		t.Fatalf("pgtest: %v", srv.err)
	case srv.skip != "":
		if os.Getenv("CI") == "true" {
			t.Fatalf("pgtest: CI=true and no PostgreSQL: %s", srv.skip)
		}
		t.Skipf("pgtest: %s", srv.skip)
	}
	name := fmt.Sprintf("%s_%d", srv.prefix, srv.seq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := srv.admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	if srv.cluster == nil {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if _, err := srv.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
				t.Errorf("pgtest: drop database %s: %v", name, err)
			}
		})
	}
	dsn, err := withDatabase(srv.base, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return dsn
}

func (s *server) setUp(t testing.TB) {
	var suffix [4]byte
	rand.Read(suffix[:])
	// Unique across processes sharing one server, and a valid bare
	// identifier (lower case, starts with a letter).
	s.prefix = fmt.Sprintf("latchkey_test_%d_%s", os.Getpid(), hex.EncodeToString(suffix[:]))

	if dsn := os.Getenv(EnvDSN); dsn != "" {
		s.base = dsn
	} else {
		if !s.inMain.Load() {
			s.err = fmt.Errorf("a throwaway cluster needs TestMain to stop it: add func TestMain(m *testing.M) { pgtest.Main(m) } (or set %s)", EnvDSN)
			return
		}
		bin, err := findBinaries()
		if err != nil {
			s.skip = err.Error() + "; install them with `apt-get install -y postgresql` or set " + EnvDSN
			return
		}
		start := time.Now()
		c, err := startCluster(bin)
		if err != nil {
			s.err = err
			return
		}
		s.cluster, s.base = c, c.dsn
		t.Logf("pgtest: started PostgreSQL from %s in %v", bin, time.Since(start).Round(time.Millisecond))
	}
	cfg, err := pgxpool.ParseConfig(s.base)
	if err != nil {
		// The parse error may quote the DSN, password included.
		s.err = fmt.Errorf("parse %s: invalid DSN", EnvDSN)
		return
	}
	cfg.MaxConns = 4
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s.admin, err = pgxpool.NewWithConfig(ctx, cfg)
	if err == nil {
		err = s.admin.Ping(ctx)
	}
	if err != nil {
		s.err = fmt.Errorf("connect to the test server: %v", err)
	}
}

func (s *server) stop() {
	if s.admin != nil {
		s.admin.Close()
	}
	if s.cluster != nil {
		if err := s.cluster.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		}
	}
}

// withDatabase returns dsn with its database replaced by name. It accepts
// both URL and keyword/value DSNs.
func withDatabase(dsn, name string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("parse %s: invalid URL", EnvDSN)
		}
		u.Path = "/" + name
		u.RawPath = ""
		return u.String(), nil
	}
	// In a keyword/value DSN the last occurrence of a keyword wins.
	return strings.TrimSpace(dsn) + " dbname=" + name, nil
}
