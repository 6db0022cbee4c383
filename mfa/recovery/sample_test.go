package recovery

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// With 3 symbols, 255 of the 256 byte values map 85 to each symbol and
// byte 255 is rejected: fed every byte value once, the sampler must draw
// each symbol exactly 85 times, and skip 255.
func TestRandomStringRejectsBiasedBytes(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	// Move 255 to the front so the rejection happens mid-read.
	all[0], all[255] = all[255], all[0]
	s, err := randomString(bytes.NewReader(append(all, all...)), "abc", 255)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range "abc" {
		if n := strings.Count(s, string(c)); n != 85 {
			t.Errorf("symbol %c drawn %d times, want exactly 85", c, n)
		}
	}
	// 255 rejected, then 1, 2, 3 map to b, c, a.
	if !strings.HasPrefix(s, "bca") {
		t.Errorf("sampler output starts %q, want bca (byte 255 skipped)", s[:3])
	}
}

func TestRandomStringAllBytesUsable(t *testing.T) {
	// With 32 symbols every byte is usable and b maps to alphabet[b%32].
	in := []byte{0, 31, 32, 255, 100, 7, 64, 96, 128, 200}
	s, err := randomString(bytes.NewReader(in), alphabet, len(in))
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for _, b := range in {
		want.WriteByte(alphabet[b%32])
	}
	if s != want.String() {
		t.Errorf("randomString = %q, want %q", s, want.String())
	}
}

func TestRandomStringReadError(t *testing.T) {
	if _, err := randomString(bytes.NewReader([]byte{1, 2}), alphabet, 10); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short reader: error %v", err)
	}
	if _, err := randomString(bytes.NewReader(make([]byte, 10)), "", 10); err == nil {
		t.Error("empty alphabet: no error")
	}
}
