package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/latchkey/latchkey/migrations"
)

// migrateLockID is the pg_advisory_lock key that serialises Migrate across
// nodes ("Latchkey" in ASCII, so it is recognisable in pg_locks).
const migrateLockID int64 = 0x4c617463686b6579

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer     NOT NULL PRIMARY KEY,
	name       text        NOT NULL,
	applied_at timestamptz NOT NULL
)`

// Migrate applies the pending migrations in version order, each in its own
// transaction together with its schema_migrations row, so a failed
// migration leaves nothing half-applied. Several nodes starting at once is
// safe: they take a session advisory lock in turn, and whoever comes second
// finds the work done.
func (s *Store) Migrate(ctx context.Context) (err error) {
	all, err := migrations.List(migrations.Postgres)
	if err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return mapErr("migrate postgres", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrateLockID); err != nil {
		return mapErr("migrate postgres: lock", err)
	}
	defer func() {
		_, uerr := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrateLockID)
		if uerr != nil {
			// Closing the session is what releases a lock we could not
			// release by hand; the pool then drops the connection.
			conn.Conn().Close(context.WithoutCancel(ctx))
			if err == nil {
				err = mapErr("migrate postgres: unlock", uerr)
			}
		}
	}()

	if _, err := conn.Exec(ctx, createMigrationsTable); err != nil {
		return mapErr("migrate postgres: create schema_migrations", err)
	}
	for _, m := range all {
		applied := false
		err := inTx(ctx, conn, "migrate postgres", func(tx pgx.Tx) error {
			var done bool
			err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`,
				m.Version).Scan(&done)
			if err != nil || done {
				return mapErr("migrate postgres", err)
			}
			// No arguments: pgx sends the file with the simple protocol,
			// which runs several statements in one go.
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return mapErr(fmt.Sprintf("migrate postgres: apply %04d_%s", m.Version, m.Name), err)
			}
			_, err = tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at)
				VALUES ($1, $2, $3)`, m.Version, m.Name, tm(time.Now()))
			applied = err == nil
			return mapErr("migrate postgres", err)
		})
		if err != nil {
			return err
		}
		if applied {
			s.logger.InfoContext(ctx, "migration applied", "backend", "postgres",
				"version", m.Version, "name", m.Name)
		}
	}
	applied, err := s.appliedMigrations(ctx)
	if err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	// A newer Latchkey migrated this database. Forward-only migrations keep
	// the old schema usable, so this is not fatal (a rolling upgrade looks
	// like this), but an operator should know.
	for _, m := range migrations.Unknown(all, applied) {
		s.logger.WarnContext(ctx, "database has a migration this binary does not know",
			"backend", "postgres", "version", m.Version, "name", m.Name)
	}
	return nil
}

// MigrationStatus lists every migration this binary knows and every one the
// database has applied, ordered by version; pending ones have a zero
// AppliedAt.
func (s *Store) MigrationStatus(ctx context.Context) ([]migrations.Status, error) {
	all, err := migrations.List(migrations.Postgres)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
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
	err := s.pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists)
	if err != nil {
		return nil, mapErr(op, err)
	}
	if !exists {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT version, name, applied_at FROM schema_migrations`)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var applied []migrations.Status
	for rows.Next() {
		var st migrations.Status
		if err := rows.Scan(&st.Version, &st.Name, &st.AppliedAt); err != nil {
			return nil, mapErr(op, err)
		}
		st.AppliedAt = fromTm(st.AppliedAt)
		applied = append(applied, st)
	}
	return applied, mapErr(op, rows.Err())
}
