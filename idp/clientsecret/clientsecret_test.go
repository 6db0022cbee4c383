package clientsecret

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/idp/password"
)

func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s, err := Generate()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(raw) != 32 {
			t.Fatalf("secret %q is not 32 bytes of unpadded base64url (err %v)", s, err)
		}
		if seen[s] {
			t.Fatalf("secret %q generated twice", s)
		}
		seen[s] = true
	}
}

func TestHashAndVerify(t *testing.T) {
	secret, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	enc, err := Hash(secret)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^hmac-sha256\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`).MatchString(enc) {
		t.Fatalf("hash %q does not have the expected shape", enc)
	}
	if strings.Contains(enc, secret) {
		t.Fatal("hash contains the secret")
	}
	if !Verify(enc, secret) {
		t.Fatal("Verify rejected the right secret")
	}
	if Verify(enc, secret[:len(secret)-1]) || Verify(enc, secret+"A") || Verify(enc, "") {
		t.Fatal("Verify accepted a wrong secret")
	}
	enc2, _ := Hash(secret)
	if enc == enc2 {
		t.Fatal("two hashes of one secret are equal: salt is not random")
	}
}

// TestFormat checks the stored form against an independent computation,
// so that a change of format cannot slip through unnoticed.
func TestFormat(t *testing.T) {
	salt := []byte("0123456789abcdef")
	secret := strings.Repeat("s", MinLength)
	m := hmac.New(sha256.New, salt)
	m.Write([]byte(secret))
	enc := "hmac-sha256$" + base64.RawStdEncoding.EncodeToString(salt) + "$" + base64.RawStdEncoding.EncodeToString(m.Sum(nil))
	if !Verify(enc, secret) {
		t.Fatalf("Verify(%q) = false for a hand-made hash", enc)
	}
}

func TestHashRejectsShortSecret(t *testing.T) {
	if _, err := Hash(strings.Repeat("a", MinLength-1)); !errors.Is(err, ErrTooShort) {
		t.Fatalf("Hash(short) err = %v, want ErrTooShort", err)
	}
}

func TestVerifyMalformed(t *testing.T) {
	secret, _ := Generate()
	enc, _ := Hash(secret)
	_, rest, _ := strings.Cut(enc, "$")
	salt, sum, _ := strings.Cut(rest, "$")
	for _, bad := range []string{
		"",
		"hmac-sha256",
		"hmac-sha256$",
		"hmac-sha256$$",
		"hmac-sha1$" + rest,
		"HMAC-SHA256$" + rest,
		"hmac-sha256$" + salt,
		"hmac-sha256$" + salt + "$" + sum + "$",
		"hmac-sha256$" + salt + "==$" + sum,
		"hmac-sha256$" + salt[:20] + "$" + sum,
		"hmac-sha256$" + salt + "$" + sum[:40],
		"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$QKHrg5tayLGcN+Y0HVPNaBqykOVLUxlMkZycXE1uWRM",
	} {
		if Verify(bad, secret) {
			t.Errorf("Verify(%q) = true", bad)
		}
	}
}

func TestHasherAdapter(t *testing.T) {
	ctx := context.Background()
	var h Hasher
	secret, _ := Generate()
	enc, err := h.Hash(ctx, []byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Compare(ctx, enc, []byte(secret)); err != nil {
		t.Fatalf("Compare(right) = %v", err)
	}
	if err := h.Compare(ctx, enc, []byte("wrong")); !errors.Is(err, ErrMismatch) {
		t.Fatalf("Compare(wrong) = %v, want ErrMismatch", err)
	}
	if err := h.Compare(ctx, nil, []byte(secret)); !errors.Is(err, ErrMismatch) {
		t.Fatalf("Compare(empty hash) = %v, want ErrMismatch", err)
	}
	if _, err := h.Hash(ctx, []byte("short")); !errors.Is(err, ErrTooShort) {
		t.Fatalf("Hash(short) = %v, want ErrTooShort", err)
	}
}

func FuzzVerify(f *testing.F) {
	f.Add("hmac-sha256$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "secret")
	f.Add("hmac-sha256$$", "")
	f.Fuzz(func(t *testing.T, encoded, secret string) {
		// Never panics; a random string never verifies against a
		// secret it was not made from (a forgery would need an HMAC
		// collision).
		if Verify(encoded, secret) {
			salt := strings.Split(encoded, "$")[1]
			raw, _ := base64.RawStdEncoding.DecodeString(salt)
			m := hmac.New(sha256.New, raw)
			m.Write([]byte(secret))
			if "hmac-sha256$"+salt+"$"+base64.RawStdEncoding.EncodeToString(m.Sum(nil)) != encoded {
				t.Fatalf("Verify(%q, %q) = true", encoded, secret)
			}
		}
	})
}

// BenchmarkVerify compares a client-secret check with an Argon2id password
// check at the default parameters: the cost a token request would pay if
// client secrets were stored like passwords.
func BenchmarkVerify(b *testing.B) {
	secret, err := Generate()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("hmac-sha256", func(b *testing.B) {
		enc, err := Hash(secret)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if !Verify(enc, secret) {
				b.Fatal("mismatch")
			}
		}
	})
	b.Run("argon2id", func(b *testing.B) {
		h, err := password.NewHasher(password.DefaultParams())
		if err != nil {
			b.Fatal(err)
		}
		enc, err := h.Hash(secret)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if ok, _, err := h.Verify(enc, secret); !ok || err != nil {
				b.Fatal("mismatch", err)
			}
		}
	})
}
