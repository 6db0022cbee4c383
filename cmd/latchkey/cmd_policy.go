package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/latchkey/latchkey/cmd/latchkey/internal/config"
	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/mfa"
)

// cmdPolicy is `latchkey policy show|set`: the MFA policy stored in the
// database, which overrides the config file's [mfa] section field by field
// on every node (within seconds). Until the admin console exists, this is
// how an operator changes the policy of a running cluster.
func cmdPolicy(ctx context.Context, args []string, sio stdio, getenv func(string) string) error {
	if len(args) == 0 || (args[0] != "show" && args[0] != "set") {
		fmt.Fprintln(sio.out, "Usage: latchkey policy show | set --file FILE.json (- for standard input) [--config FILE]")
		if len(args) == 0 || !strings.HasPrefix(args[0], "-") {
			return usageError{errors.New("policy: want a subcommand: show or set")}
		}
		return nil
	}
	sub := args[0]
	fs, path := newFlagSet("policy " + sub)
	file := fs.String("file", "", "JSON document with the policy fields to store (set); {} stores none")
	if err := parseFlags(fs, args[1:], sio.out); err != nil {
		return helpOK(err)
	}
	if sub == "set" && *file == "" {
		return usageError{errors.New("policy set: --file is required")}
	}
	cfg, err := loadConfig(*path, getenv, config.Tool)
	if err != nil {
		return err
	}
	defaults, err := cfg.MFA.Policy()
	if err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	log := newLogger(cfg, sio.err)
	st, migrate, err := openStore(ctx, cfg.Storage.DSN, log)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := migrate(ctx); err != nil {
		return err
	}
	if sub == "show" {
		return showPolicy(ctx, st, defaults, sio.out)
	}
	var raw []byte
	if *file == "-" {
		raw, err = io.ReadAll(io.LimitReader(sio.in, 1<<20))
	} else {
		raw, err = os.ReadFile(*file)
	}
	if err != nil {
		return fmt.Errorf("policy set: %w", err)
	}
	// The document must name only real fields (a typo must not be ignored),
	// and the result over the config's values must be a valid policy.
	merged := defaults
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&merged); err != nil {
		return fmt.Errorf("policy set: %s: %w", *file, err)
	}
	if err := merged.Validate(); err != nil {
		return fmt.Errorf("policy set: %w", err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return fmt.Errorf("policy set: %w", err)
	}
	if err := st.SavePolicy(ctx, storage.Policy{Data: compact.Bytes(), UpdatedAt: time.Now().UTC()}); err != nil {
		return fmt.Errorf("policy set: %w", err)
	}
	if err := st.AppendAudit(ctx, storage.AuditEvent{Time: time.Now().UTC(), Type: "policy.updated",
		Details: map[string]string{"by": "cli", "document": compact.String()}}); err != nil {
		return fmt.Errorf("policy set: audit: %w", err)
	}
	fmt.Fprintln(sio.out, "policy stored; every node applies it within seconds")
	return nil
}

// showPolicy prints the effective policy and where it comes from.
func showPolicy(ctx context.Context, st storage.Store, defaults mfa.Policy, out io.Writer) error {
	eff := defaults
	doc, err := st.GetPolicy(ctx)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		fmt.Fprintln(out, "# source: the config file's [mfa] section (nothing stored)")
	case err != nil:
		return fmt.Errorf("policy show: %w", err)
	default:
		if err := json.Unmarshal(doc.Data, &eff); err != nil {
			return fmt.Errorf("policy show: stored document: %w", err)
		}
		fmt.Fprintf(out, "# source: stored %s over the config file; stored fields: %s\n",
			doc.UpdatedAt.UTC().Format(time.RFC3339), doc.Data)
		if err := eff.Validate(); err != nil {
			fmt.Fprintf(out, "# INVALID: sign-ins fail until it is fixed: %v\n", err)
		}
	}
	b, err := json.MarshalIndent(eff, "", "  ")
	if err != nil {
		return fmt.Errorf("policy show: %w", err)
	}
	fmt.Fprintf(out, "%s\n", b)
	return nil
}
