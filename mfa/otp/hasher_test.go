package otp_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/mfa/otp"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, otp.MinKeyLen) }

func newHasher(t *testing.T, key []byte) *otp.Hasher {
	t.Helper()
	h, err := otp.NewHasher(key)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestNewHasherKeyLength(t *testing.T) {
	for _, n := range []int{0, 16, otp.MinKeyLen - 1} {
		if _, err := otp.NewHasher(make([]byte, n)); err == nil {
			t.Errorf("NewHasher accepted a %d-byte key", n)
		}
	}
	for _, n := range []int{otp.MinKeyLen, 64} {
		if _, err := otp.NewHasher(make([]byte, n)); err != nil {
			t.Errorf("NewHasher(%d bytes): %v", n, err)
		}
	}
}

// The stored format: hex HMAC-SHA256 over the domain, the binding's length
// and the binding, then the code. Changing it would orphan every code in
// flight at an upgrade, so it is pinned.
func TestHashFormat(t *testing.T) {
	key := testKey(7)
	h := newHasher(t, key)
	m := hmac.New(sha256.New, key)
	m.Write([]byte("latchkey one-time code v1\x00"))
	m.Write([]byte{0, 0, 0, 0, 0, 0, 0, 5})
	m.Write([]byte("tx-42"))
	m.Write([]byte("004217"))
	want := hex.EncodeToString(m.Sum(nil))
	if got := h.Hash("004217", "tx-42"); got != want {
		t.Errorf("Hash = %s, want %s", got, want)
	}
}

func TestHashEqual(t *testing.T) {
	h := newHasher(t, testKey(1))
	hash := h.Hash("123456", "code-1")
	if len(hash) != 64 {
		t.Fatalf("hash %q is not 64 hex digits", hash)
	}
	tests := []struct {
		name, code, bindTo, hash string
		want                     bool
	}{
		{"same code and binding", "123456", "code-1", hash, true},
		{"typed with spaces", "123 456", "code-1", hash, true},
		{"typed in full-width", "１２３４５６", "code-1", hash, true},
		{"upper-case hex", "123456", "code-1", strings.ToUpper(hash), true},
		{"wrong code", "123457", "code-1", hash, false},
		{"other binding", "123456", "code-2", hash, false},
		{"binding prefix", "123456", "code-", hash, false},
		{"empty binding", "123456", "", hash, false},
		{"truncated hash", "123456", "code-1", hash[:62], false},
		{"not hex", "123456", "code-1", strings.Repeat("z", 64), false},
		{"empty hash", "123456", "code-1", "", false},
		{"not a code", "12345", "code-1", hash, false},
	}
	for _, tt := range tests {
		if got := h.Equal(tt.code, tt.bindTo, tt.hash); got != tt.want {
			t.Errorf("%s: Equal(%q, %q, …) = %v, want %v", tt.name, tt.code, tt.bindTo, got, tt.want)
		}
	}
	// Another key gives another hash, and does not match this one.
	other := newHasher(t, testKey(2))
	if other.Hash("123456", "code-1") == hash || other.Equal("123456", "code-1", hash) {
		t.Error("a hash from one key matches under another")
	}
	// The binding and the code cannot trade characters.
	if h.Hash("123456", "ab") == h.Hash("123456", "a") {
		t.Error("bindings a and ab hash alike")
	}
}

// Input that is not a code gets a hash of its own, which no code's hash
// equals and which Equal never accepts.
func TestHashInvalidCode(t *testing.T) {
	h := newHasher(t, testKey(3))
	bad := h.Hash("12345", "id")
	if len(bad) != 64 || bad == h.Hash("012345", "id") {
		t.Fatalf("Hash(12345) = %q", bad)
	}
	if h.Equal("12345", "id", bad) {
		t.Error("Equal accepted a malformed code against its own hash")
	}
	if h.Hash("12345", "id") != bad {
		t.Error("Hash is not deterministic")
	}
}

func TestHasherRedacts(t *testing.T) {
	key := []byte(strings.Repeat("secret-key-", 3))
	h := newHasher(t, key)
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "hasher", h)
	out := fmt.Sprintf("%v %+v %#v %s", h, h, h, h) + logs.String()
	if strings.Contains(out, "secret-key") || strings.Contains(out, hex.EncodeToString(key)) {
		t.Errorf("key printed: %s", out)
	}
}
