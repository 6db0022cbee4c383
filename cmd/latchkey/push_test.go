package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/cmd/latchkey/internal/config"
	"github.com/latchkey/latchkey/mfa/push"
	"github.com/latchkey/latchkey/mfa/push/apns"
	"github.com/latchkey/latchkey/mfa/push/apns/apnstest"
	"github.com/latchkey/latchkey/mfa/push/fcm"
	"github.com/latchkey/latchkey/mfa/push/fcm/fcmtest"
	"github.com/latchkey/latchkey/mfa/push/webpush"
)

// pushConfig is a configuration with push on and every channel set up,
// its key files in a temporary directory.
func pushConfig(t *testing.T) (config.Config, string) {
	t.Helper()
	dir := t.TempDir()
	vapid, pub, err := webpush.GenerateVAPIDKey()
	if err != nil {
		t.Fatal(err)
	}
	fcmFile, p8File := filepath.Join(dir, "fcm.json"), filepath.Join(dir, "AuthKey_ABCDE12345.p8")
	if err := os.WriteFile(fcmFile, fcmtest.New(t).ServiceAccountJSON(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p8File, apnstest.New(t).PrivateKeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Push.Enabled = true
	cfg.Push.WebPush.VAPIDPrivateKey = vapid
	cfg.Push.WebPush.Subject = "mailto:admin@example.com"
	cfg.Push.FCM.ServiceAccountFile = fcmFile
	cfg.Push.APNs = config.PushAPNs{KeyFile: p8File, KeyID: "ABCDE12345", TeamID: "TEAM123456",
		Topic: "com.example.authenticator", Host: apns.SandboxHost}
	if err := cfg.Validate(config.Dev); err != nil {
		t.Fatal(err)
	}
	return cfg, pub
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestPushOptions(t *testing.T) {
	cfg, vapidPublic := pushConfig(t)
	cfg.Push.PerWindow, cfg.Push.Window = 3, config.D(time.Hour)
	opts, err := pushOptions(cfg, quietLog(), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := opts.Senders[push.ChannelWebPush].(*webpush.Sender); !ok {
		t.Errorf("web push sender: %T", opts.Senders[push.ChannelWebPush])
	}
	if _, ok := opts.Senders[push.ChannelFCM].(*fcm.Sender); !ok {
		t.Errorf("fcm sender: %T", opts.Senders[push.ChannelFCM])
	}
	if _, ok := opts.Senders[push.ChannelAPNs].(*apns.Sender); !ok {
		t.Errorf("apns sender: %T", opts.Senders[push.ChannelAPNs])
	}
	if opts.VAPIDPublicKey != vapidPublic {
		t.Errorf("VAPIDPublicKey = %q, want the configured key's %q", opts.VAPIDPublicKey, vapidPublic)
	}
	if opts.AckTimeout != 15*time.Second || opts.ChallengeTTL != 2*time.Minute || opts.MaxSilence != 720*time.Hour ||
		opts.PerWindow != 3 || opts.Window != time.Hour || opts.NotMeLock != time.Hour || opts.SendTimeout != 5*time.Second {
		t.Errorf("options not taken from the config: %+v", opts)
	}

	// max_silence = 0 means no limit, which PushOptions spells negative
	// (its zero is the 30-day default).
	cfg.Push.MaxSilence = config.D(0)
	if opts, err = pushOptions(cfg, quietLog(), false); err != nil || opts.MaxSilence >= 0 {
		t.Errorf("max_silence 0: MaxSilence = %v, %v; want negative", opts.MaxSilence, err)
	}

	// Only the configured channels get a sender.
	cfg.Push.FCM, cfg.Push.APNs = config.Default().Push.FCM, config.Default().Push.APNs
	if opts, err = pushOptions(cfg, quietLog(), false); err != nil || len(opts.Senders) != 1 || opts.Senders[push.ChannelWebPush] == nil {
		t.Errorf("web push only: senders %v, %v", opts.Senders, err)
	}

	cfg.Push.Enabled = false
	if opts, err = pushOptions(cfg, quietLog(), false); err != nil || len(opts.Senders) != 0 {
		t.Errorf("push off: senders %v, %v; want none", opts.Senders, err)
	}
}

// TestPushOptionsRefuseBadKeyFiles: start-up stops with the key's path
// when a key file cannot be read or is not a key, rather than failing the
// first sign-in.
func TestPushOptionsRefuseBadKeyFiles(t *testing.T) {
	cfg, _ := pushConfig(t)
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage")
	if err := os.WriteFile(garbage, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	cases := []struct {
		name string
		edit func(*config.Config)
		want []string
	}{
		{"fcm file missing", func(c *config.Config) { c.Push.FCM.ServiceAccountFile = missing },
			[]string{"push.fcm.service_account_file:", missing, "no such file"}},
		{"fcm file not a key", func(c *config.Config) { c.Push.FCM.ServiceAccountFile = garbage },
			[]string{"push.fcm (" + garbage + "):", "not a JSON object"}},
		{"apns file missing", func(c *config.Config) { c.Push.APNs.KeyFile = missing },
			[]string{"push.apns.key_file:", missing, "no such file"}},
		{"apns file not a key", func(c *config.Config) { c.Push.APNs.KeyFile = garbage },
			[]string{"push.apns (" + garbage + "):", "no PEM block"}},
		{"apns file is the fcm key", func(c *config.Config) { c.Push.APNs.KeyFile = c.Push.FCM.ServiceAccountFile },
			[]string{"push.apns ("}},
		{"vapid key on the wrong curve", func(c *config.Config) {
			c.Push.WebPush.VAPIDPrivateKey = p384PEM(t)
		}, []string{"push.webpush:", "P-256"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			tc.edit(&c)
			_, err := pushOptions(c, quietLog(), false)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// p384PEM is a PKCS #8 key on P-384: valid PEM, refused by VAPID.
func p384PEM(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// TestDevVAPIDKey: `latchkey dev` with Web Push and no key makes one and
// keeps it, so browsers subscribed before a restart are still reachable.
func TestDevVAPIDKey(t *testing.T) {
	t.Chdir(t.TempDir())
	cfg, _ := pushConfig(t)
	cfg.Push.WebPush.VAPIDPrivateKey = ""
	first, err := pushOptions(cfg, quietLog(), true)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(devVAPIDFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s mode %v, want 0600", devVAPIDFile, fi.Mode().Perm())
	}
	again, err := pushOptions(cfg, quietLog(), true)
	if err != nil || first.VAPIDPublicKey == "" || again.VAPIDPublicKey != first.VAPIDPublicKey {
		t.Errorf("VAPID public key across restarts: %q then %q (%v)", first.VAPIDPublicKey, again.VAPIDPublicKey, err)
	}
	// Serve mode never invents a key (config validation refuses it; the
	// sender refuses it here too).
	if _, err := pushOptions(cfg, quietLog(), false); err == nil || !strings.Contains(err.Error(), "push.webpush:") {
		t.Errorf("serve without a VAPID key: %v", err)
	}
	if err := os.WriteFile(devVAPIDFile, []byte("damaged"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := pushOptions(cfg, quietLog(), true); err == nil || !strings.Contains(err.Error(), "delete it to generate another") {
		t.Errorf("damaged %s: %v", devVAPIDFile, err)
	}
}

// TestDevServesPushDevices runs `latchkey dev` with push on through the
// environment: the device API answers as push approval (an unknown
// enrolment token), for the configured channel only.
func TestDevServesPushDevices(t *testing.T) {
	t.Chdir(t.TempDir())
	env := testEnv(t)
	delete(env, "LATCHKEY_STORAGE_DSN")
	env["LATCHKEY_PUSH_ENABLED"] = "true"
	env["LATCHKEY_PUSH_WEBPUSH_SUBJECT"] = "mailto:admin@example.com"
	base := startServer(t, env, "dev")
	if _, err := os.Stat(devVAPIDFile); err != nil {
		t.Errorf("dev kept no VAPID key: %v", err)
	}
	key, err := push.NewDeviceKey()
	if err != nil {
		t.Fatal(err)
	}
	enrol := func(channel string) (int, string) {
		c := key.NewClaims(push.KindEnrol, base, time.Now())
		c.Token = base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
		c.Channel, c.Permission, c.Name, c.Platform = channel, push.PermissionGranted, "test", "web"
		jws, err := key.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Post(base+"/push/enrol", "application/jose", strings.NewReader(jws))
		if err != nil {
			t.Fatal(err)
		}
		var body push.ErrorBody
		if err := json.Unmarshal([]byte(readAll(t, resp)), &body); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, body.Error
	}
	if status, code := enrol(push.ChannelWebPush); status != http.StatusBadRequest || code != "invalid_enrolment_token" {
		t.Errorf("web push enrolment with an unknown token: %d %s, want 400 invalid_enrolment_token", status, code)
	}
	if status, code := enrol(push.ChannelFCM); status != http.StatusBadRequest || code != "invalid_request" {
		t.Errorf("fcm enrolment when only Web Push is configured: %d %s, want 400 invalid_request", status, code)
	}
}

// TestServeRefusesUnreadablePushKey: the error names the key and its path.
func TestServeRefusesUnreadablePushKey(t *testing.T) {
	env := testEnv(t)
	env["LATCHKEY_SECRETS_KEY"] = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{42}, 32))
	env["LATCHKEY_PUSH_ENABLED"] = "true"
	missing := filepath.Join(t.TempDir(), "AuthKey_ABCDE12345.p8")
	env["LATCHKEY_PUSH_APNS_KEY_FILE"] = missing
	env["LATCHKEY_PUSH_APNS_KEY_ID"] = "ABCDE12345"
	env["LATCHKEY_PUSH_APNS_TEAM_ID"] = "TEAM123456"
	env["LATCHKEY_PUSH_APNS_TOPIC"] = "com.example.authenticator"
	_, _, err := runCmd(t, env, "", "serve")
	if err == nil || !strings.Contains(err.Error(), "push.apns.key_file") || !strings.Contains(err.Error(), missing) {
		t.Fatalf("serve with a missing .p8: err = %v", err)
	}
}
