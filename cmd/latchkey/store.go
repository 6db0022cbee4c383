package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/idp/storage/postgres"
	"github.com/latchkey/latchkey/idp/storage/sqlite"
)

// openStore opens the backend the DSN names ("sqlite:PATH",
// "postgres://..." or "postgresql://...") and returns it with its Migrate
// method; the caller decides when to migrate and closes the store.
func openStore(ctx context.Context, dsn string, logger *slog.Logger) (store storage.Store, migrate func(context.Context) error, err error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		st, err := sqlite.Open(ctx, strings.TrimPrefix(dsn, "sqlite:"), logger)
		if err != nil {
			return nil, nil, fmt.Errorf("open store: %w", err)
		}
		return st, st.Migrate, nil
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		st, err := postgres.Open(ctx, dsn, logger)
		if err != nil {
			return nil, nil, fmt.Errorf("open store: %w", err)
		}
		return st, st.Migrate, nil
	default:
		// Only the scheme is echoed: the rest may hold a password.
		scheme, _, _ := strings.Cut(dsn, ":")
		return nil, nil, fmt.Errorf(`open store: unsupported DSN scheme %q: want "sqlite:PATH", "postgres://..." or "postgresql://..."`, scheme)
	}
}
