package apns

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/mfa/push/apns/apnstest"
)

func TestValidate(t *testing.T) {
	fake := apnstest.New(t)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384DER, _ := x509.MarshalPKCS8PrivateKey(p384)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsaDER, _ := x509.MarshalPKCS8PrivateKey(rk)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sec1DER, _ := x509.MarshalECPrivateKey(p256)
	pemOf := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }

	tests := []struct {
		name string
		edit func(*Config)
		want string // "" for valid
	}{
		{"good", nil, ""},
		{"default host", func(c *Config) { c.Host = "" }, ""},
		{"sandbox host", func(c *Config) { c.Host = SandboxHost }, ""},
		{"custom client", func(c *Config) { c.HTTPClient = &http.Client{} }, ""},
		{"no team id", func(c *Config) { c.TeamID = "" }, "team id is required"},
		{"short team id", func(c *Config) { c.TeamID = "ABC123" }, "team id must be"},
		{"no key id", func(c *Config) { c.KeyID = "" }, "key id is required"},
		{"lower-case key id", func(c *Config) { c.KeyID = "abcdefghij" }, "key id must be"},
		{"no key", func(c *Config) { c.PrivateKeyPEM = nil }, "private key (.p8) is required"},
		{"not PEM", func(c *Config) { c.PrivateKeyPEM = []byte("MIGTAgEAMBMGByqGSM49") }, "no PEM block"},
		{"SEC1 key", func(c *Config) { c.PrivateKeyPEM = pemOf("EC PRIVATE KEY", sec1DER) }, "PKCS#8"},
		{"P-384 key", func(c *Config) { c.PrivateKeyPEM = pemOf("PRIVATE KEY", p384DER) }, "P-256"},
		{"RSA key", func(c *Config) { c.PrivateKeyPEM = pemOf("PRIVATE KEY", rsaDER) }, "P-256"},
		{"no topic", func(c *Config) { c.Topic = "" }, "topic (the app's bundle id) is required"},
		{"topic not a bundle id", func(c *Config) { c.Topic = "my app" }, "is not a bundle id"},
		{"plain http host", func(c *Config) { c.Host = "http://api.push.apple.com" }, "must be an https URL"},
		{"host with path", func(c *Config) { c.Host = "https://api.push.apple.com/3/device" }, "must be an https URL"},
		{"client and TLS config", func(c *Config) { c.HTTPClient, c.TLSConfig = &http.Client{}, &tls.Config{} }, "not both"},
		{"negative timeout", func(c *Config) { c.Timeout = -1 }, "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{TeamID: fake.TeamID, KeyID: fake.KeyID, PrivateKeyPEM: fake.PrivateKeyPEM(), Topic: fake.Topic, Host: fake.URL()}
			if tt.edit != nil {
				tt.edit(&cfg)
			}
			err := cfg.Validate()
			_, nerr := New(cfg)
			if tt.want == "" {
				if err != nil || nerr != nil {
					t.Fatalf("Validate = %v, New = %v; want valid", err, nerr)
				}
				return
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want ErrConfig with %q", err, tt.want)
			}
			if !errors.Is(nerr, ErrConfig) {
				t.Errorf("New = %v, want ErrConfig", nerr)
			}
		})
	}

	t.Run("all problems at once", func(t *testing.T) {
		err := Config{Host: "http://x"}.Validate()
		for _, want := range []string{"team id", "key id", "private key", "topic", "host"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Validate = %v, want it to mention %q", err, want)
			}
		}
	})
}

func TestConfigRedactsKey(t *testing.T) {
	fake := apnstest.New(t)
	cfg := Config{TeamID: fake.TeamID, KeyID: fake.KeyID, PrivateKeyPEM: fake.PrivateKeyPEM(), Topic: fake.Topic}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "apns", cfg)
	out := fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg) + buf.String()
	if strings.Contains(out, "PRIVATE KEY") {
		t.Fatalf("printed config carries the key: %s", out)
	}
	if !strings.Contains(out, "[redacted]") || !strings.Contains(out, fake.KeyID) {
		t.Errorf("printed config: %s", out)
	}
}
