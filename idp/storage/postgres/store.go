// Package postgres implements storage.Store on PostgreSQL with pgx/v5: the
// production backend, which several Latchkey nodes can share.
//
// Every single-use rule is one statement whose WHERE clause carries the
// rule (UPDATE ... WHERE active, INSERT ... ON CONFLICT DO UPDATE), so
// PostgreSQL's row locking, not the application, decides the one winner
// among nodes. Transactions run at the default READ COMMITTED level, under
// which a blocked UPDATE re-checks its WHERE clause against the row the
// winner committed.
//
// pgx is imported here and nowhere else. Its errors never leave the
// package: unique violations become storage.ErrConflict, missing rows and
// foreign-key violations storage.ErrNotFound, and anything else is
// flattened into the message.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/latchkey/latchkey/idp/storage"
)

// PostgreSQL error codes (Appendix A of the PostgreSQL manual).
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
)

// Store is a storage.Store on a PostgreSQL connection pool.
type Store struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
}

var _ storage.Store = (*Store)(nil)

// Open connects to the database named by dsn (a postgres:// URL or
// keyword/value string; pool_max_conns and the other pgxpool settings are
// honoured) and checks that it answers. It does not apply migrations: call
// Migrate. A nil logger discards.
func Open(ctx context.Context, dsn string, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The parser's message can quote the DSN, and the DSN can hold a
		// password.
		return nil, errors.New("open postgres: invalid DSN (details withheld: it may contain a password)")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %v", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, mapErr("open postgres", err)
	}
	return &Store{pool: pool, logger: logger}, nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return mapErr("ping postgres", s.pool.Ping(ctx))
}

// Close closes the pool, waiting for connections in use to be returned.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// mapErr turns a driver error into a storage sentinel where one applies and
// otherwise flattens it (%v), so no pgx or pgconn type escapes the package.
func mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: %w", op, context.Canceled)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w", op, context.DeadlineExceeded)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case codeUniqueViolation:
			return fmt.Errorf("%s: %w", op, storage.ErrConflict)
		case codeForeignKeyViolation:
			// The row refers to a user or client that does not exist.
			return fmt.Errorf("%s: referenced record: %w", op, storage.ErrNotFound)
		}
	}
	return fmt.Errorf("%s: %v", op, err)
}

// beginner is a *pgxpool.Pool or a *pgxpool.Conn.
type beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// inTx runs fn in one transaction on db, committed if fn returns nil. fn
// returns errors already mapped.
func inTx(ctx context.Context, db beginner, op string, fn func(pgx.Tx) error) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return mapErr(op, err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	return mapErr(op, tx.Commit(ctx))
}

// execOne runs a statement that must change exactly one row; none means
// ErrNotFound.
func (s *Store) execOne(ctx context.Context, op, query string, args ...any) error {
	n, err := s.execCount(ctx, op, query, args...)
	if err == nil && n == 0 {
		return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
	return err
}

// execCount runs a statement and returns how many rows it changed.
func (s *Store) execCount(ctx context.Context, op, query string, args ...any) (int64, error) {
	tag, err := s.pool.Exec(ctx, query, args...)
	if err != nil {
		return 0, mapErr(op, err)
	}
	return tag.RowsAffected(), nil
}
