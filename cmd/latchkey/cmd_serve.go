package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/latchkey/latchkey/cmd/latchkey/internal/config"
	"github.com/latchkey/latchkey/idp"
)

func cmdServe(ctx context.Context, args []string, sio stdio, getenv func(string) string) error {
	fs, path := newFlagSet("serve")
	if err := parseFlags(fs, args, sio.out); err != nil {
		return helpOK(err)
	}
	cfg, err := loadConfig(*path, getenv, config.Serve)
	if err != nil {
		return err
	}
	return runServe(ctx, cfg, newLogger(cfg, sio.err))
}

// runServe is `latchkey serve`: the production server.
func runServe(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	secret, err := cfg.SecretKey()
	if err != nil {
		return fmt.Errorf("secrets.key: %w", err)
	}
	st, migrate, err := openStore(ctx, cfg.Storage.DSN, log)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := migrate(ctx); err != nil {
		return err
	}
	metrics := idp.NewMetrics(nil)
	p, routes, err := newProvider(ctx, cfg, st, secret, log, false, metrics)
	if err != nil {
		return err
	}
	go janitor(ctx, st, log, 10*time.Minute)
	return serveHTTP(ctx, cfg, rootHandler(p, cfg, metrics, routes...), log, func(addr string) {
		log.Info("latchkey serving", "addr", addr, "issuer", cfg.Issuer)
	})
}
