package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/latchkey/latchkey/cmd/latchkey/internal/config"
	"github.com/latchkey/latchkey/idp/storage"
)

// cmdConsents is `latchkey consents list|revoke`: what users allowed
// third-party clients. Revoking a consent also revokes every token the
// client holds for the user, so the app must ask again.
func cmdConsents(ctx context.Context, args []string, sio stdio, getenv func(string) string) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "revoke") {
		fmt.Fprintln(sio.out, "Usage: latchkey consents list --email E | revoke --email E --client ID [--config FILE]")
		if len(args) == 0 || !strings.HasPrefix(args[0], "-") {
			return usageError{errors.New("consents: want a subcommand: list or revoke")}
		}
		return nil
	}
	sub := args[0]
	fs, path := newFlagSet("consents " + sub)
	email := fs.String("email", "", "the user's email address")
	clientID := fs.String("client", "", "the client id (revoke)")
	if err := parseFlags(fs, args[1:], sio.out); err != nil {
		return helpOK(err)
	}
	if *email == "" || (sub == "revoke" && *clientID == "") {
		return usageError{fmt.Errorf("consents %s: --email is required (and --client for revoke)", sub)}
	}
	cfg, err := loadConfig(*path, getenv, config.Tool)
	if err != nil {
		return err
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
	u, err := st.GetUserByEmail(ctx, strings.ToLower(strings.TrimSpace(*email)))
	if err != nil {
		return fmt.Errorf("consents: user %s: %w", *email, err)
	}
	if sub == "list" {
		cs, err := st.ListConsents(ctx, u.ID)
		if err != nil {
			return fmt.Errorf("consents: %w", err)
		}
		tw := tabwriter.NewWriter(sio.out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CLIENT\tSCOPES\tGRANTED")
		for _, c := range cs {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", c.ClientID, strings.Join(c.Scopes, " "), c.GrantedAt.UTC().Format(time.RFC3339))
		}
		return tw.Flush()
	}
	if err := st.DeleteConsent(ctx, u.ID, *clientID); err != nil {
		return fmt.Errorf("consents: revoke %s: %w", *clientID, err)
	}
	n, err := st.DeactivateTokensByGrant(ctx, u.ID, *clientID)
	if err != nil {
		return fmt.Errorf("consents: revoke tokens: %w", err)
	}
	if err := st.AppendAudit(ctx, storage.AuditEvent{
		Time: time.Now().UTC(), Type: "consent.revoked", UserID: u.ID, ClientID: *clientID,
		Details: map[string]string{"by": "cli", "tokens_revoked": fmt.Sprint(n)},
	}); err != nil {
		return fmt.Errorf("consents: audit: %w", err)
	}
	fmt.Fprintf(sio.out, "consent of %s for %s revoked; %d tokens revoked\n", u.Email, *clientID, n)
	return nil
}
