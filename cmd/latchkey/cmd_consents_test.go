package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
)

func TestConsentsListAndRevoke(t *testing.T) {
	env := testEnv(t)
	if _, _, err := runCmd(t, env, "a long enough passphrase\n", "users", "create", "--email", "Ada@Example.com", "--name", "Ada", "--password-stdin"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, migrate, err := openStore(ctx, env["LATCHKEY_STORAGE_DSN"], slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx); err != nil {
		t.Fatal(err)
	}
	u, err := st.GetUserByEmail(ctx, "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for _, c := range []storage.Client{{ID: "third", Name: "Third", Public: true, CreatedAt: now}, {ID: "other", Name: "Other", Public: true, CreatedAt: now}} {
		if err := st.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
		if err := st.SaveConsent(ctx, storage.Consent{UserID: u.ID, ClientID: c.ID, Scopes: []string{"openid", "email"}, GrantedAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := st.CreateToken(ctx, storage.Token{Kind: storage.KindRefreshToken, Signature: "rt-" + c.ID, RequestID: "req-" + c.ID,
			ClientID: c.ID, Subject: u.ID, Active: true, RequestedAt: now, ExpiresAt: now.Add(time.Hour), Data: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	out, _, err := runCmd(t, env, "", "consents", "list", "--email", "ada@example.com")
	if err != nil || !strings.Contains(out, "third") || !strings.Contains(out, "openid email") {
		t.Fatalf("consents list: %v\n%s", err, out)
	}
	out, _, err = runCmd(t, env, "", "consents", "revoke", "--email", "ada@example.com", "--client", "third")
	if err != nil || !strings.Contains(out, "1 tokens revoked") {
		t.Fatalf("consents revoke: %v\n%s", err, out)
	}
	if _, _, err := runCmd(t, env, "", "consents", "revoke", "--email", "ada@example.com", "--client", "third"); err == nil {
		t.Fatal("revoking a revoked consent succeeded")
	}

	st, _, err = openStore(ctx, env["LATCHKEY_STORAGE_DSN"], slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if tok, err := st.GetToken(ctx, storage.KindRefreshToken, "rt-third"); err != nil || tok.Active {
		t.Fatalf("revoked client's token: active=%v err=%v", tok.Active, err)
	}
	if tok, err := st.GetToken(ctx, storage.KindRefreshToken, "rt-other"); err != nil || !tok.Active {
		t.Fatalf("other client's token: active=%v err=%v", tok.Active, err)
	}
	if _, err := st.GetConsent(ctx, u.ID, "other"); err != nil {
		t.Fatalf("other consent: %v", err)
	}
	ev, err := st.ListAudit(ctx, storage.AuditFilter{UserID: u.ID, Type: "consent.revoked"})
	if err != nil || len(ev) != 1 || ev[0].ClientID != "third" {
		t.Fatalf("audit: %v %+v", err, ev)
	}
}
