package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/latchkey/latchkey/cmd/latchkey/internal/config"
	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/migrations"
)

// migrationStatuser is what a backend offers to report its schema; both
// backends have it, but it is not part of storage.Store because only this
// command needs it.
type migrationStatuser interface {
	MigrationStatus(ctx context.Context) ([]migrations.Status, error)
}

// cmdMigrate is `latchkey migrate`: apply every pending migration and
// print what was applied and the resulting version.
func cmdMigrate(ctx context.Context, args []string, sio stdio, getenv func(string) string) error {
	fs, configPath := newFlagSet("migrate")
	if err := parseFlags(fs, args, sio.out); err != nil {
		return helpOK(err)
	}
	cfg, err := loadConfig(*configPath, getenv, config.Tool)
	if err != nil {
		return err
	}
	log := newLogger(cfg, sio.err)
	st, migrate, err := openStore(ctx, cfg.Storage.DSN, log)
	if err != nil {
		return err
	}
	defer st.Close()

	statuser, ok := st.(migrationStatuser)
	var before []migrations.Status
	if ok {
		if before, err = statuser.MigrationStatus(ctx); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	if err := migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if !ok {
		fmt.Fprintln(sio.out, "migrations applied")
		return nil
	}
	after, err := statuser.MigrationStatus(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	printMigrations(sio.out, before, after)
	return nil
}

// printMigrations lists the migrations this run applied and the schema
// version, and points out migrations only a newer binary knows.
func printMigrations(w io.Writer, before, after []migrations.Status) {
	was := map[int]bool{}
	for _, s := range before {
		was[s.Version] = s.Applied()
	}
	applied, current := 0, 0
	for _, s := range after {
		if !s.Applied() {
			fmt.Fprintf(w, "pending %04d_%s\n", s.Version, s.Name)
			continue
		}
		current = max(current, s.Version)
		if !was[s.Version] {
			applied++
			fmt.Fprintf(w, "applied %04d_%s\n", s.Version, s.Name)
		}
	}
	if applied == 0 {
		fmt.Fprintf(w, "schema up to date at version %d\n", current)
	} else {
		fmt.Fprintf(w, "schema at version %d (%d applied now)\n", current, applied)
	}
}

// openMigratedStore opens the configured store and applies pending
// migrations, so that the admin commands work on a fresh database.
func openMigratedStore(ctx context.Context, cfg config.Config, log *slog.Logger) (storage.Store, error) {
	st, migrate, err := openStore(ctx, cfg.Storage.DSN, log)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return st, nil
}
