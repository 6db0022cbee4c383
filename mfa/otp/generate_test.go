package otp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"testing/iotest"
)

func draws(vs ...uint32) *bytes.Reader {
	var b []byte
	for _, v := range vs {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return bytes.NewReader(b)
}

// The accepted range holds every code the same number of times, and is as
// large as it can be.
func TestAcceptBelow(t *testing.T) {
	if acceptBelow%codeSpace != 0 || acceptBelow > 1<<32 || 1<<32-acceptBelow >= codeSpace {
		t.Fatalf("acceptBelow = %d", acceptBelow)
	}
	if codeSpace != 1_000_000 || Digits != 6 {
		t.Fatalf("codeSpace %d, Digits %d", codeSpace, Digits)
	}
}

func TestGenerateRejectionSampling(t *testing.T) {
	tests := []struct {
		name  string
		draws []uint32
		want  string
	}{
		{"zero keeps its zeros", []uint32{0}, "000000"},
		{"leading zeros", []uint32{4217}, "004217"},
		{"reduced modulo 10^6", []uint32{3_000_042}, "000042"},
		{"last accepted draw", []uint32{acceptBelow - 1}, "999999"},
		// Draws in the top partial block would favour codes 000000-967295.
		{"first rejected draw is redrawn", []uint32{acceptBelow, 123456}, "123456"},
		{"largest draw is redrawn", []uint32{1<<32 - 1, 1<<32 - 1, 7}, "000007"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := draws(tt.draws...)
			got, err := generate(r)
			if err != nil || got != tt.want {
				t.Fatalf("generate = %q, %v; want %q", got, err, tt.want)
			}
			if r.Len() != 0 {
				t.Errorf("%d bytes left unread", r.Len())
			}
		})
	}
}

func TestGenerateReaderError(t *testing.T) {
	boom := errors.New("boom")
	if got, err := generate(iotest.ErrReader(boom)); !errors.Is(err, boom) || got != "" {
		t.Errorf("generate = %q, %v; want the reader's error", got, err)
	}
	// Only rejected draws, then the end of the randomness.
	if got, err := generate(draws(1<<32 - 1)); err == nil {
		t.Errorf("generate = %q on exhausted randomness", got)
	}
}
