package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/latchkey/latchkey/cmd/latchkey/internal/config"
)

func cmdKeys(ctx context.Context, args []string, sio stdio, getenv func(string) string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(sio.out, "Usage: latchkey keys rotate|list [--config FILE]")
		if len(args) == 0 {
			return usageError{fmt.Errorf("keys: want a subcommand: rotate or list")}
		}
		return nil
	}
	fs, path := newFlagSet("keys " + args[0])
	if err := parseFlags(fs, args[1:], sio.out); err != nil {
		return helpOK(err)
	}
	cfg, err := loadConfig(*path, getenv, config.Tool)
	if err != nil {
		return err
	}
	return runKeys(ctx, cfg, newLogger(cfg, sio.err), args[0], sio.out)
}

// runKeys is `latchkey keys rotate|list`.
func runKeys(ctx context.Context, cfg config.Config, log *slog.Logger, sub string, out io.Writer) error {
	secret, err := cfg.SecretKey()
	if err != nil {
		return fmt.Errorf("keys need secrets.key (the key that seals them): %w", err)
	}
	st, migrate, err := openStore(ctx, cfg.Storage.DSN, log)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := migrate(ctx); err != nil {
		return err
	}
	km, err := newKeyManager(cfg, st, secret, log)
	if err != nil {
		return err
	}
	switch sub {
	case "rotate":
		// No EnsureKeys first: rotating is also how an operator replaces
		// keys sealed under a lost master key.
		ks, err := km.Rotate(ctx)
		if err != nil {
			return err
		}
		for _, k := range ks {
			fmt.Fprintf(out, "new %s key %s is now signing\n", k.Algorithm, k.ID)
		}
		fmt.Fprintln(out, "previous keys stay in the JWKS until the tokens they signed have expired")
		return nil
	case "list":
		ks, err := km.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KID\tALG\tSTATE\tCREATED\tREMOVE AFTER")
		for _, k := range ks {
			state, remove := "active", "-"
			if !k.Active() {
				state, remove = "retired", k.RemoveAfter.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Algorithm, state, k.CreatedAt.UTC().Format(time.RFC3339), remove)
		}
		return tw.Flush()
	default:
		return fmt.Errorf("keys: unknown subcommand %q (want rotate or list)", sub)
	}
}
