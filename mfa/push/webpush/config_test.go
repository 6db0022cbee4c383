package webpush_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/mfa/push/webpush"
)

func validConfig(t *testing.T) webpush.Config {
	t.Helper()
	priv, _, err := webpush.GenerateVAPIDKey()
	if err != nil {
		t.Fatal(err)
	}
	return webpush.Config{VAPIDPrivateKey: priv, Subject: "mailto:ops@example.com"}
}

func TestConfigValidate(t *testing.T) {
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	cases := []struct {
		name   string
		change func(*webpush.Config)
		says   []string
	}{
		{"no key", func(c *webpush.Config) { c.VAPIDPrivateKey = "" }, []string{"VAPID private key is required"}},
		{"two keys", func(c *webpush.Config) { c.VAPIDKey = p384 }, []string{"not both"}},
		{"P-384", func(c *webpush.Config) { c.VAPIDPrivateKey, c.VAPIDKey = "", p384 }, []string{"P-256"}},
		{"garbage key", func(c *webpush.Config) { c.VAPIDPrivateKey = "hunter2" }, []string{"neither PEM nor"}},
		{"no subject", func(c *webpush.Config) { c.Subject = "" }, []string{"subject is required"}},
		{"bare address", func(c *webpush.Config) { c.Subject = "ops@example.com" }, []string{`"mailto:" or "https://"`}},
		{"http subject", func(c *webpush.Config) { c.Subject = "http://example.com" }, []string{`"mailto:" or "https://"`}},
		{"mailto with a name", func(c *webpush.Config) { c.Subject = "mailto:Ops <ops@example.com>" }, []string{"one email address"}},
		{"https without host", func(c *webpush.Config) { c.Subject = "https://" }, []string{"https URL with a host"}},
		{"long topic", func(c *webpush.Config) { c.Topic = strings.Repeat("t", 33) }, []string{"topic"}},
		{"topic with a dot", func(c *webpush.Config) { c.Topic = "sign.in" }, []string{"topic"}},
		{"bad allowed host", func(c *webpush.Config) { c.AllowedHosts = []string{"https://fcm.googleapis.com/"} }, []string{"allowed host"}},
		{"negative timeout", func(c *webpush.Config) { c.Timeout = -1 }, []string{"timeout"}},
		{"all at once", func(c *webpush.Config) { c.VAPIDPrivateKey, c.Subject = "", "" }, []string{"VAPID private key is required", "subject is required"}},
	}
	for _, c := range cases {
		cfg := validConfig(t)
		c.change(&cfg)
		err := cfg.Validate()
		if !errors.Is(err, webpush.ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", c.name, err)
			continue
		}
		for _, s := range c.says {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: %q does not say %q", c.name, err, s)
			}
		}
		if _, err := webpush.New(cfg); !errors.Is(err, webpush.ErrConfig) {
			t.Errorf("%s: New accepted it", c.name)
		}
	}
	for _, sub := range []string{"mailto:ops@example.com", "https://idp.example.com/contact"} {
		cfg := validConfig(t)
		cfg.Subject = sub
		if err := cfg.Validate(); err != nil {
			t.Errorf("subject %s: %v", sub, err)
		}
	}
}

// The same key in every accepted form gives the same public key, and the
// public key GenerateVAPIDKey reports is the sender's.
func TestVAPIDKeyForms(t *testing.T) {
	privPEM, pub, err := webpush.GenerateVAPIDKey()
	if err != nil {
		t.Fatal(err)
	}
	if raw, err := base64.RawURLEncoding.DecodeString(pub); err != nil || len(raw) != 65 || raw[0] != 4 {
		t.Fatalf("public key %q is not a base64url uncompressed point", pub)
	}
	key, err := webpush.ParseVAPIDKey(privPEM)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	scalar, err := key.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	forms := map[string]webpush.Config{
		"PKCS #8 PEM": {VAPIDPrivateKey: privPEM},
		"SEC 1 PEM":   {VAPIDPrivateKey: string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}))},
		"raw scalar":  {VAPIDPrivateKey: base64.RawURLEncoding.EncodeToString(scalar)},
		"parsed":      {VAPIDKey: key},
	}
	for name, cfg := range forms {
		cfg.Subject = "mailto:ops@example.com"
		s, err := webpush.New(cfg)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if s.PublicKey() != pub {
			t.Errorf("%s: public key %s, want %s", name, s.PublicKey(), pub)
		}
	}

	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsaDER, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384DER, _ := x509.MarshalPKCS8PrivateKey(p384)
	for name, s := range map[string]string{
		"RSA":          string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: rsaDER})),
		"P-384":        string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p384DER})),
		"public key":   string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1}})),
		"two blocks":   privPEM + privPEM,
		"short scalar": base64.RawURLEncoding.EncodeToString(scalar[:31]),
		"zero scalar":  base64.RawURLEncoding.EncodeToString(make([]byte, 32)),
	} {
		if _, err := webpush.ParseVAPIDKey(s); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestConfigRedactsKey(t *testing.T) {
	cfg := validConfig(t)
	key, _ := webpush.ParseVAPIDKey(cfg.VAPIDPrivateKey)
	scalar, _ := key.Bytes()
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "webpush", cfg)
	for name, out := range map[string]string{
		"%v":   fmt.Sprintf("%v", cfg),
		"%+v":  fmt.Sprintf("%+v", cfg),
		"%#v":  fmt.Sprintf("%#v", cfg),
		"slog": logged.String(),
	} {
		body := strings.Split(cfg.VAPIDPrivateKey, "\n")[1]
		if strings.Contains(out, body[:20]) || strings.Contains(out, base64.RawURLEncoding.EncodeToString(scalar)) {
			t.Errorf("%s prints the private key: %s", name, out)
		}
		if !strings.Contains(out, "[redacted]") || !strings.Contains(out, "mailto:ops@example.com") {
			t.Errorf("%s: %s", name, out)
		}
	}
}
