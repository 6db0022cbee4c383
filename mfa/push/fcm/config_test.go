package fcm

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/mfa/push/fcm/fcmtest"
)

// rewriteKeyFile returns keyFile with fields replaced ("" deletes).
func rewriteKeyFile(t *testing.T, keyFile []byte, fields map[string]string) []byte {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(keyFile, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range fields {
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pemKey(t *testing.T, typ string, der []byte) string {
	t.Helper()
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func TestValidate(t *testing.T) {
	fake := fcmtest.New(t)
	good := fake.ServiceAccountJSON()
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	smallDER, _ := x509.MarshalPKCS8PrivateKey(small)

	tests := []struct {
		name string
		edit func(*Config)
		want string // "" for valid
	}{
		{"good", nil, ""},
		{"project override", func(c *Config) { c.ProjectID = "other-project" }, ""},
		{"default endpoint", func(c *Config) { c.Endpoint = "" }, ""},
		{"no key", func(c *Config) { c.ServiceAccountJSON = nil }, "service account key is required"},
		{"not JSON", func(c *Config) { c.ServiceAccountJSON = []byte("-----BEGIN PRIVATE KEY-----") }, "not a JSON object"},
		{"user credentials", func(c *Config) {
			c.ServiceAccountJSON = rewriteKeyFile(t, good, map[string]string{"type": "authorized_user"})
		}, `type must be "service_account"`},
		{"no project id", func(c *Config) {
			c.ServiceAccountJSON = rewriteKeyFile(t, good, map[string]string{"project_id": ""})
		}, "project id is required"},
		{"project id with a slash", func(c *Config) { c.ProjectID = "a/b" }, "project id"},
		{"no client email", func(c *Config) {
			c.ServiceAccountJSON = rewriteKeyFile(t, good, map[string]string{"client_email": ""})
		}, "client_email is required"},
		{"no private key", func(c *Config) {
			c.ServiceAccountJSON = rewriteKeyFile(t, good, map[string]string{"private_key": ""})
		}, "private_key: no PEM block"},
		{"EC key", func(c *Config) {
			c.ServiceAccountJSON = rewriteKeyFile(t, good, map[string]string{"private_key": pemKey(t, "PRIVATE KEY", ecDER)})
		}, "not an RSA key"},
		{"1024-bit key", func(c *Config) {
			c.ServiceAccountJSON = rewriteKeyFile(t, good, map[string]string{"private_key": pemKey(t, "PRIVATE KEY", smallDER)})
		}, "1024-bit"},
		{"certificate instead of key", func(c *Config) {
			c.ServiceAccountJSON = rewriteKeyFile(t, good, map[string]string{"private_key": pemKey(t, "CERTIFICATE", []byte{1})})
		}, "is not a private key"},
		{"plain http token uri", func(c *Config) {
			c.ServiceAccountJSON = rewriteKeyFile(t, good, map[string]string{"token_uri": "http://oauth2.googleapis.com/token"})
		}, "token_uri"},
		{"plain http endpoint", func(c *Config) { c.Endpoint = "http://fcm.googleapis.com" }, "must be an https URL"},
		{"endpoint with a path", func(c *Config) { c.Endpoint = "https://fcm.googleapis.com/v1" }, "must have no path"},
		{"negative timeout", func(c *Config) { c.Timeout = -1 }, "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{ServiceAccountJSON: good, Endpoint: fake.URL()}
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
		err := Config{Endpoint: "http://x", Timeout: -1}.Validate()
		for _, want := range []string{"service account key is required", "project id is required", "endpoint", "timeout"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Validate = %v, want it to mention %q", err, want)
			}
		}
	})
}

func TestDefaultTokenURL(t *testing.T) {
	fake := fcmtest.New(t)
	s, err := Config{ServiceAccountJSON: rewriteKeyFile(t, fake.ServiceAccountJSON(), map[string]string{"token_uri": ""})}.settings()
	if err != nil || s.tokenURL != DefaultTokenURL || s.endpoint != DefaultEndpoint {
		t.Fatalf("settings = %+v, %v; want the Google defaults", s, err)
	}
}

func TestPKCS1KeyAccepted(t *testing.T) {
	e := newEnv(t, nil)
	var sa map[string]string
	_ = json.Unmarshal(e.fake.ServiceAccountJSON(), &sa)
	block, _ := pem.Decode([]byte(sa["private_key"]))
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.config()
	cfg.ServiceAccountJSON = rewriteKeyFile(t, cfg.ServiceAccountJSON, map[string]string{
		"private_key": pemKey(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k.(*rsa.PrivateKey))),
	})
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, target := device()
	if err := s.Send(t.Context(), target, testMessage); err != nil {
		t.Fatalf("Send with a PKCS#1 key: %v", err)
	}
}

func TestConfigRedactsKey(t *testing.T) {
	fake := fcmtest.New(t)
	cfg := Config{ServiceAccountJSON: fake.ServiceAccountJSON()}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "fcm", cfg)
	out := fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg) + buf.String()
	if strings.Contains(out, "PRIVATE KEY") || strings.Contains(out, fake.PrivateKeyID) {
		t.Fatalf("printed config carries the key: %s", out)
	}
	if !strings.Contains(out, "[redacted]") {
		t.Errorf("printed config does not say the key is redacted: %s", out)
	}
}
