package secretbox

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealOpen(t *testing.T) {
	key := bytes.Repeat([]byte{7}, KeySize)
	b, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := b.Seal([]byte("seed"), []byte("row-1"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("seed")) {
		t.Fatal("plaintext visible in ciphertext")
	}
	got, err := b.Open(sealed, []byte("row-1"))
	if err != nil || string(got) != "seed" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	// Bound to its row: the same ciphertext under other associated data fails.
	if _, err := b.Open(sealed, []byte("row-2")); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("Open with other aad: err = %v, want ErrDecrypt", err)
	}
	other, _ := New(bytes.Repeat([]byte{8}, KeySize))
	if _, err := other.Open(sealed, []byte("row-1")); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("Open with other key: err = %v", err)
	}
	for _, bad := range [][]byte{nil, {1}, sealed[:10], append([]byte{9}, sealed[1:]...)} {
		if _, err := b.Open(bad, []byte("row-1")); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("Open(%x): err = %v", bad, err)
		}
	}
	// Two seals of the same plaintext differ (fresh nonce).
	again, _ := b.Seal([]byte("seed"), []byte("row-1"))
	if bytes.Equal(sealed, again) {
		t.Fatal("nonce reused")
	}
}

func TestNewRejectsShortKey(t *testing.T) {
	if _, err := New(make([]byte, 16)); err == nil {
		t.Fatal("accepted a 16-byte key")
	}
}

func TestDeriveKeyIndependentPerPurpose(t *testing.T) {
	master := bytes.Repeat([]byte{1}, KeySize)
	a, err := DeriveKey(master, "cookie")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := DeriveKey(master, "csrf")
	a2, _ := DeriveKey(master, "cookie")
	if bytes.Equal(a, b) || !bytes.Equal(a, a2) || len(a) != KeySize {
		t.Fatalf("derive: a=%x b=%x a2=%x", a, b, a2)
	}
	if _, err := DeriveKey(master[:8], "x"); err == nil {
		t.Fatal("accepted a short master key")
	}
}

func FuzzOpen(f *testing.F) {
	b, _ := New(bytes.Repeat([]byte{7}, KeySize))
	s, _ := b.Seal([]byte("x"), nil)
	f.Add(s)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		_, _ = b.Open(in, nil)
	})
}
