// Package migrations holds Latchkey's database schema as plain, numbered,
// forward-only SQL files, one directory per dialect, embedded in the binary.
//
// Each dialect's SQL is written by hand for that dialect; nothing is
// translated. A file is named NNNN_description.sql. A shipped file is never
// edited: a change to the schema is a new file that says why it exists.
// Both dialects always carry the same version numbers (a test checks it), so
// "version 3" means the same schema on SQLite and PostgreSQL.
//
// Each file runs in one transaction with the row that records it, so a file
// must not hold statements that refuse a transaction (PostgreSQL's CREATE
// INDEX CONCURRENTLY, VACUUM), and a SQLite table rebuild cannot switch
// foreign_keys off (the pragma is a no-op inside a transaction): use
// PRAGMA defer_foreign_keys instead.
package migrations

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed postgres/*.sql
var postgresFiles embed.FS

//go:embed sqlite/*.sql
var sqliteFiles embed.FS

// The migration files of each dialect, at the root of the FS.
var (
	Postgres fs.FS = mustSub(postgresFiles, "postgres")
	SQLite   fs.FS = mustSub(sqliteFiles, "sqlite")
)

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		// Only a wrong literal above can get here; the embed directive
		// already guarantees the directory exists.
		panic(fmt.Sprintf("migrations: sub %s: %v", dir, err))
	}
	return sub
}

// Migration is one numbered SQL file.
type Migration struct {
	Version int
	Name    string // the description part of the file name
	SQL     string
}

// Status is a migration as a database sees it.
type Status struct {
	Version int
	Name    string
	// AppliedAt is zero while the migration is pending.
	AppliedAt time.Time
}

// Applied reports whether the database has run the migration.
func (s Status) Applied() bool { return !s.AppliedAt.IsZero() }

// List reads every *.sql file at the root of fsys, ordered by version. It
// fails on a malformed name or a version used twice, so a bad file stops the
// binary at start-up rather than half-way through a migration.
func List(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		v, name, err := parseName(e.Name())
		if err != nil {
			return nil, fmt.Errorf("list migrations: %w", err)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("list migrations: version %d used by %s and %s", v, prev, e.Name())
		}
		seen[v] = e.Name()
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("list migrations: %w", err)
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// parseName splits "0001_init.sql" into 1 and "init".
func parseName(file string) (int, string, error) {
	base := strings.TrimSuffix(file, ".sql")
	num, name, ok := strings.Cut(base, "_")
	if !ok || len(num) != 4 || name == "" {
		return 0, "", fmt.Errorf("migration file %q: want NNNN_description.sql", file)
	}
	v, err := strconv.Atoi(num)
	if err != nil || v <= 0 {
		return 0, "", fmt.Errorf("migration file %q: want a positive four-digit version", file)
	}
	return v, name, nil
}
