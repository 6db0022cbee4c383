package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/migrations"
)

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER NOT NULL PRIMARY KEY,
	name       TEXT    NOT NULL,
	applied_at INTEGER NOT NULL
) STRICT`

// Migrate applies the pending migrations in version order, each in its own
// transaction together with its schema_migrations row, so a failed
// migration leaves nothing half-applied. Each transaction begins IMMEDIATE
// and re-checks the version under the write lock, so two processes
// migrating one file at once apply every migration once.
func (s *Store) Migrate(ctx context.Context) error {
	all, err := migrations.List(migrations.SQLite)
	if err != nil {
		return fmt.Errorf("migrate sqlite: %w", err)
	}
	if _, err := s.w.ExecContext(ctx, createMigrationsTable); err != nil {
		return mapErr("migrate sqlite: create schema_migrations", err)
	}
	for _, m := range all {
		applied := false
		err := s.inTx(ctx, "migrate sqlite", func(tx *sql.Tx) error {
			var n int
			err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`,
				m.Version).Scan(&n)
			if err != nil || n > 0 {
				return mapErr("migrate sqlite", err)
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return mapErr(fmt.Sprintf("migrate sqlite: apply %04d_%s", m.Version, m.Name), err)
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at)
				VALUES (?, ?, ?)`, m.Version, m.Name, tm(time.Now()))
			applied = err == nil
			return mapErr("migrate sqlite", err)
		})
		if err != nil {
			return err
		}
		if applied {
			s.logger.InfoContext(ctx, "migration applied", "backend", "sqlite",
				"version", m.Version, "name", m.Name)
		}
	}
	applied, err := s.appliedMigrations(ctx)
	if err != nil {
		return fmt.Errorf("migrate sqlite: %w", err)
	}
	// A newer Latchkey migrated this database. Forward-only migrations keep
	// the old schema usable, so this is not fatal, but an operator should
	// know.
	for _, m := range migrations.Unknown(all, applied) {
		s.logger.WarnContext(ctx, "database has a migration this binary does not know",
			"backend", "sqlite", "version", m.Version, "name", m.Name)
	}
	return nil
}

// MigrationStatus lists every migration this binary knows and every one the
// database has applied, ordered by version; pending ones have a zero
// AppliedAt.
func (s *Store) MigrationStatus(ctx context.Context) ([]migrations.Status, error) {
	const op = "migration status"
	all, err := migrations.List(migrations.SQLite)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	applied, err := s.appliedMigrations(ctx)
	if err != nil {
		return nil, err
	}
	return migrations.Merge(all, applied), nil
}

// appliedMigrations reads schema_migrations; none if the table is missing.
func (s *Store) appliedMigrations(ctx context.Context) ([]migrations.Status, error) {
	const op = "read schema_migrations"
	var exists bool
	err := s.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM sqlite_schema
		WHERE type = 'table' AND name = 'schema_migrations')`).Scan(&exists)
	if err != nil {
		return nil, mapErr(op, err)
	}
	if !exists {
		return nil, nil
	}
	rows, err := s.r.QueryContext(ctx, `SELECT version, name, applied_at FROM schema_migrations`)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var applied []migrations.Status
	for rows.Next() {
		var (
			st migrations.Status
			at int64
		)
		if err := rows.Scan(&st.Version, &st.Name, &at); err != nil {
			return nil, mapErr(op, err)
		}
		st.AppliedAt = fromTm(at)
		applied = append(applied, st)
	}
	return applied, mapErr(op, rows.Err())
}
