package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/latchkey/latchkey/cmd/latchkey/internal/config"
	"github.com/latchkey/latchkey/cmd/latchkey/internal/demo"
	"github.com/latchkey/latchkey/idp"
	"github.com/latchkey/latchkey/idp/clientsecret"
	"github.com/latchkey/latchkey/idp/password"
	"github.com/latchkey/latchkey/idp/secretbox"
	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/mfa/push/webpush"
)

// Demo credentials printed by `latchkey dev`. They exist only in the dev
// database.
const (
	demoEmail    = "demo@example.com"
	demoPassword = "latchkey-demo"
	demoClientID = "demo"
	devDSN       = "sqlite:latchkey-dev.db"
	devKeyFile   = "latchkey-dev.key"
	// devVAPIDFile keeps the dev server's Web Push key when push is on
	// and none is configured.
	devVAPIDFile = "latchkey-dev-vapid.pem"
)

func cmdDev(ctx context.Context, args []string, sio stdio, getenv func(string) string) error {
	fs, path := newFlagSet("dev")
	if err := parseFlags(fs, args, sio.out); err != nil {
		return helpOK(err)
	}
	cfg, err := loadConfig(*path, getenv, config.Dev)
	if err != nil {
		return err
	}
	// Readable logs on a terminal unless the config asks otherwise.
	if getenv("LATCHKEY_LOG_FORMAT") == "" && *path == "" {
		cfg.Log.Format = "text"
	}
	return runDev(ctx, cfg, newLogger(cfg, sio.err), sio.out)
}

// runDev is `latchkey dev`: the embedded store, a generated master key, a
// demo user and a demo relying party at /demo, so a newcomer sees a whole
// sign-in work in one command.
func runDev(ctx context.Context, cfg config.Config, log *slog.Logger, out io.Writer) error {
	if cfg.Storage.DSN == config.Default().Storage.DSN {
		cfg.Storage.DSN = devDSN
	}
	secret, err := devSecret(cfg)
	if err != nil {
		return err
	}
	st, migrate, err := openStore(ctx, cfg.Storage.DSN, log)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := migrate(ctx); err != nil {
		return err
	}
	if err := ensureDemoUser(ctx, st, cfg); err != nil {
		return err
	}
	clientSecret, err := ensureDemoClient(ctx, st, cfg.Issuer)
	if err != nil {
		return err
	}
	metrics := idp.NewMetrics(nil)
	p, routes, err := newProvider(ctx, cfg, st, secret, log, true, metrics)
	if err != nil {
		return err
	}
	demoKey, err := secretbox.DeriveKey(secret, "demo-cookie")
	if err != nil {
		return err
	}
	app := demo.New(cfg.Issuer, demoClientID, clientSecret, cfg.Issuer+"/demo", demoKey, log)
	for pattern, h := range app.Routes() {
		routes = append(routes, idp.Route{Pattern: pattern, Handler: h})
	}
	go janitor(ctx, st, log, 10*time.Minute)
	return serveHTTP(ctx, cfg, rootHandler(p, cfg, metrics, routes...), log, func(addr string) {
		fmt.Fprintf(out, "\nLatchkey dev server (listening on %s)\n", addr)
		fmt.Fprintf(out, "  issuer:    %s\n", cfg.Issuer)
		fmt.Fprintf(out, "  demo app:  %s/demo\n", cfg.Issuer)
		fmt.Fprintf(out, "  sign in as %s / password: %s\n", demoEmail, demoPassword)
		fmt.Fprintf(out, "  data:      %s (delete it and %s to start afresh)\n\n", strings.TrimPrefix(cfg.Storage.DSN, "sqlite:"), devKeyFile)
	})
}

// devSecret uses the configured key, or one generated once and kept in a
// file beside the dev database, so sessions and sealed keys survive
// restarts.
func devSecret(cfg config.Config) ([]byte, error) {
	if k, err := cfg.SecretKey(); err == nil {
		return k, nil
	} else if !errors.Is(err, config.ErrNoSecretKey) {
		return nil, err
	}
	if b, err := os.ReadFile(devKeyFile); err == nil {
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(k) != secretbox.KeySize {
			return nil, fmt.Errorf("%s is not a base64 32-byte key; delete it to generate another", devKeyFile)
		}
		return k, nil
	}
	k := make([]byte, secretbox.KeySize)
	_, _ = rand.Read(k) // never fails (Go 1.24+)
	if err := os.WriteFile(devKeyFile, []byte(base64.StdEncoding.EncodeToString(k)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", devKeyFile, err)
	}
	return k, nil
}

// devVAPIDKey returns the dev server's Web Push (VAPID) private key,
// generated once and kept beside the dev database. Not one per run: a
// browser's subscription is bound to the key, so a new key at every start
// would leave each enrolled companion app unreachable after a restart.
func devVAPIDKey(log *slog.Logger) (string, error) {
	if b, err := os.ReadFile(devVAPIDFile); err == nil {
		if _, err := webpush.ParseVAPIDKey(string(b)); err != nil {
			return "", fmt.Errorf("%s is not a VAPID private key; delete it to generate another", devVAPIDFile)
		}
		return string(b), nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read %s: %w", devVAPIDFile, err)
	}
	key, _, err := webpush.GenerateVAPIDKey()
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(devVAPIDFile, []byte(key), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", devVAPIDFile, err)
	}
	log.Info("generated a Web Push (VAPID) key for the dev server", "file", devVAPIDFile)
	return key, nil
}

// ensureDemoUser creates the demo user, or resets its password to the
// printed one.
func ensureDemoUser(ctx context.Context, st storage.Store, cfg config.Config) error {
	h, err := password.NewHasher(cfg.Password.Params())
	if err != nil {
		return err
	}
	hash, err := h.Hash(demoPassword)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	u, err := st.GetUserByEmail(ctx, demoEmail)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return st.CreateUser(ctx, storage.User{
			ID: rand.Text(), Email: demoEmail, EmailVerified: true, DisplayName: "Demo User",
			PasswordHash: hash, CreatedAt: now, UpdatedAt: now,
		})
	case err != nil:
		return fmt.Errorf("load demo user: %w", err)
	default:
		return st.SetPasswordHash(ctx, u.ID, hash, now)
	}
}

// ensureDemoClient (re)registers the demo relying party with a fresh secret
// on every start: the secret is only ever held in this process.
func ensureDemoClient(ctx context.Context, st storage.Store, issuer string) (string, error) {
	secret, err := clientsecret.Generate()
	if err != nil {
		return "", err
	}
	hash, err := clientsecret.Hash(secret)
	if err != nil {
		return "", err
	}
	if err := st.DeleteClient(ctx, demoClientID); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return "", fmt.Errorf("replace demo client: %w", err)
	}
	err = st.CreateClient(ctx, storage.Client{
		ID: demoClientID, Name: "Latchkey demo app", SecretHash: hash, FirstParty: true,
		RedirectURIs:            []string{issuer + "/demo/callback"},
		PostLogoutRedirectURIs:  []string{issuer + "/demo"},
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		ResponseTypes:           []string{"code"},
		Scopes:                  []string{"openid", "profile", "email", "offline_access"},
		TokenEndpointAuthMethod: "client_secret_basic",
		IDTokenSigningAlg:       "ES256",
		CreatedAt:               time.Now().UTC(),
	})
	if err != nil {
		return "", fmt.Errorf("create demo client: %w", err)
	}
	return secret, nil
}
