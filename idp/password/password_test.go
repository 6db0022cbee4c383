package password

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// fastParams keep the tests quick; they are still within the bounds.
var fastParams = Params{MemoryKiB: MinMemoryKiB, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

func mustHasher(t testing.TB, p Params) *Hasher {
	t.Helper()
	h, err := NewHasher(p)
	if err != nil {
		t.Fatalf("NewHasher(%+v): %v", p, err)
	}
	return h
}

func TestHashFormatAndVerify(t *testing.T) {
	h := mustHasher(t, DefaultParams())
	enc, err := h.Hash("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !re.MatchString(enc) {
		t.Fatalf("hash %q does not have the PHC shape", enc)
	}
	ok, rehash, err := h.Verify(enc, "correct horse battery staple")
	if err != nil || !ok || rehash {
		t.Fatalf("Verify(right) = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	ok, rehash, err = h.Verify(enc, "correct horse battery stapl")
	if err != nil || ok || rehash {
		t.Fatalf("Verify(wrong) = %v, %v, %v; want false, false, nil", ok, rehash, err)
	}
}

func TestHashUsesFreshSalt(t *testing.T) {
	h := mustHasher(t, fastParams)
	a, _ := h.Hash("same")
	b, _ := h.Hash("same")
	if a == b {
		t.Fatal("two hashes of one password are equal: salt is not random")
	}
}

// The vectors were made with the reference implementation's CLI
// (Debian package argon2), e.g.
//
//	echo -n "correct horse battery staple" | argon2 saltsaltsaltsalt -id -t 2 -k 19456 -p 1 -l 32 -e
func TestReferenceVectors(t *testing.T) {
	h := mustHasher(t, DefaultParams())
	tests := []struct {
		encoded, password string
		rehash            bool
	}{
		{"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$QKHrg5tayLGcN+Y0HVPNaBqykOVLUxlMkZycXE1uWRM", "correct horse battery staple", false},
		// Foreign parameters (2 lanes, 16-byte key, weak memory) still
		// verify, and ask for a rehash.
		{"$argon2id$v=19$m=8192,t=1,p=2$c29tZXNhbHRzb21lc2FsdA$b2DETkCDkjbfQroTxiOKuQ", "password", true},
	}
	for _, tt := range tests {
		ok, rehash, err := h.Verify(tt.encoded, tt.password)
		if err != nil || !ok || rehash != tt.rehash {
			t.Errorf("Verify(%q) = %v, %v, %v; want true, %v, nil", tt.encoded, ok, rehash, err, tt.rehash)
		}
		if ok, _, _ := h.Verify(tt.encoded, tt.password+"x"); ok {
			t.Errorf("Verify(%q) accepted a wrong password", tt.encoded)
		}
	}
}

func TestNeedsRehashWhenParamsChange(t *testing.T) {
	old := mustHasher(t, fastParams)
	enc, err := old.Hash("hunter22")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []Params{
		{MemoryKiB: MinMemoryKiB + 1024, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32},
		{MemoryKiB: MinMemoryKiB, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32},
		{MemoryKiB: MinMemoryKiB, Iterations: 1, Parallelism: 2, SaltLen: 16, KeyLen: 32},
		{MemoryKiB: MinMemoryKiB, Iterations: 1, Parallelism: 1, SaltLen: 32, KeyLen: 32},
		{MemoryKiB: MinMemoryKiB, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 64},
	} {
		ok, rehash, err := mustHasher(t, p).Verify(enc, "hunter22")
		if err != nil || !ok || !rehash {
			t.Errorf("hasher %+v: Verify = %v, %v, %v; want true, true, nil", p, ok, rehash, err)
		}
	}
	// A wrong password never asks for a rehash: that would leak nothing,
	// but callers must not store a hash of a wrong password.
	if ok, rehash, _ := mustHasher(t, DefaultParams()).Verify(enc, "nope"); ok || rehash {
		t.Errorf("wrong password: ok=%v rehash=%v", ok, rehash)
	}
}

func TestTooLong(t *testing.T) {
	h := mustHasher(t, fastParams)
	long := strings.Repeat("a", MaxLength+1)
	if _, err := h.Hash(long); !errors.Is(err, ErrTooLong) {
		t.Errorf("Hash(long) err = %v, want ErrTooLong", err)
	}
	enc, err := h.Hash(strings.Repeat("a", MaxLength))
	if err != nil {
		t.Fatalf("Hash(max length): %v", err)
	}
	if _, _, err := h.Verify(enc, long); !errors.Is(err, ErrTooLong) {
		t.Errorf("Verify(long) err = %v, want ErrTooLong", err)
	}
	if ok, _, err := h.Verify(enc, strings.Repeat("a", MaxLength)); !ok || err != nil {
		t.Errorf("Verify(max length) = %v, %v", ok, err)
	}
}

func TestNewHasherRejectsBadParams(t *testing.T) {
	tests := []struct {
		name string
		p    Params
		want []string
	}{
		{"zero", Params{}, []string{"memory", "iterations", "parallelism", "salt length", "key length"}},
		{"memory low", Params{MemoryKiB: 1024, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}, []string{"memory 1024 KiB"}},
		{"memory high", Params{MemoryKiB: MaxMemoryKiB + 1, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}, []string{"memory"}},
		{"iterations high", Params{MemoryKiB: 19456, Iterations: MaxIterations + 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, []string{"iterations"}},
		{"parallelism high", Params{MemoryKiB: 19456, Iterations: 2, Parallelism: MaxParallelism + 1, SaltLen: 16, KeyLen: 32}, []string{"parallelism"}},
		{"short salt", Params{MemoryKiB: 19456, Iterations: 2, Parallelism: 1, SaltLen: 8, KeyLen: 32}, []string{"salt length 8"}},
		{"short key", Params{MemoryKiB: 19456, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 8}, []string{"key length 8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewHasher(tt.p)
			if err == nil {
				t.Fatal("NewHasher accepted bad params")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	if err := DefaultParams().Validate(); err != nil {
		t.Errorf("DefaultParams invalid: %v", err)
	}
}

func TestVerifyRejectsMalformed(t *testing.T) {
	h := mustHasher(t, fastParams)
	good := "$argon2id$v=19$m=8192,t=1,p=2$c29tZXNhbHRzb21lc2FsdA$b2DETkCDkjbfQroTxiOKuQ"
	tests := []struct {
		name, encoded string
		want          error
	}{
		{"empty", "", ErrMalformedHash},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", ErrMalformedHash},
		{"argon2i", strings.Replace(good, "argon2id", "argon2i", 1), ErrMalformedHash},
		{"version 16", strings.Replace(good, "v=19", "v=16", 1), ErrUnsupportedVersion},
		{"no version", strings.Replace(good, "$v=19", "", 1), ErrMalformedHash},
		{"leading zero", strings.Replace(good, "t=1", "t=01", 1), ErrMalformedHash},
		{"plus sign", strings.Replace(good, "t=1", "t=+1", 1), ErrMalformedHash},
		{"reordered", strings.Replace(good, "m=8192,t=1", "t=1,m=8192", 1), ErrMalformedHash},
		{"huge memory", strings.Replace(good, "m=8192", "m=4294967295", 1), ErrMalformedHash},
		{"overflow memory", strings.Replace(good, "m=8192", "m=4294967296", 1), ErrMalformedHash},
		{"memory below lanes", strings.Replace(good, "m=8192", "m=15", 1), ErrMalformedHash},
		{"zero iterations", strings.Replace(good, "t=1", "t=0", 1), ErrMalformedHash},
		{"many iterations", strings.Replace(good, "t=1", "t=1000", 1), ErrMalformedHash},
		{"zero lanes", strings.Replace(good, "p=2", "p=0", 1), ErrMalformedHash},
		{"many lanes", strings.Replace(good, "p=2", "p=255", 1), ErrMalformedHash},
		{"padded salt", strings.Replace(good, "c29tZXNhbHRzb21lc2FsdA", "c29tZXNhbHRzb21lc2FsdA==", 1), ErrMalformedHash},
		{"short salt", strings.Replace(good, "c29tZXNhbHRzb21lc2FsdA", "c2FsdA", 1), ErrMalformedHash},
		{"bad base64", strings.Replace(good, "b2DETkCDkjbfQroTxiOKuQ", "b2DETkCDkjbf!roTxiOKuQ", 1), ErrMalformedHash},
		{"extra field", good + "$x", ErrMalformedHash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(tt.encoded, "password")
			if ok || rehash || !errors.Is(err, tt.want) {
				t.Errorf("Verify = %v, %v, %v; want false, false, %v", ok, rehash, err, tt.want)
			}
		})
	}
}

func TestDummyVerifyDoesNotPanic(t *testing.T) {
	for _, p := range []Params{fastParams, {MemoryKiB: MinMemoryKiB, Iterations: 1, Parallelism: 1, SaltLen: MaxSaltLen, KeyLen: MaxKeyLen}} {
		h := mustHasher(t, p)
		h.DummyVerify("whatever")
		h.DummyVerify(strings.Repeat("a", MaxLength+1))
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$QKHrg5tayLGcN+Y0HVPNaBqykOVLUxlMkZycXE1uWRM")
	f.Add("$argon2id$v=19$m=8192,t=1,p=2$c29tZXNhbHRzb21lc2FsdA$b2DETkCDkjbfQroTxiOKuQ")
	f.Add("$argon2id$v=19$m=,t=,p=$$")
	f.Add("$argon2id$v=-1$m=1,t=1,p=1$$")
	f.Add("$$$$$")
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := decode(s)
		if err != nil {
			return
		}
		// Whatever parses must be within the bounds Verify relies on and
		// must re-encode to the same string: one hash, one spelling.
		if p.MemoryKiB > MaxMemoryKiB || p.Iterations > MaxIterations || p.Parallelism > MaxParallelism ||
			p.Iterations < 1 || p.Parallelism < 1 || p.MemoryKiB < 8*uint32(p.Parallelism) {
			t.Fatalf("decode(%q) accepted out-of-bounds params %+v", s, p)
		}
		if int(p.SaltLen) != len(salt) || int(p.KeyLen) != len(key) {
			t.Fatalf("decode(%q): lengths %+v disagree with salt %d key %d", s, p, len(salt), len(key))
		}
		if got := encode(p, salt, key); got != s {
			t.Fatalf("decode(%q) re-encodes as %q", s, got)
		}
	})
}

func BenchmarkHash(b *testing.B) {
	h := mustHasher(b, DefaultParams())
	for b.Loop() {
		if _, err := h.Hash("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	h := mustHasher(b, DefaultParams())
	enc, err := h.Hash("correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, _, err := h.Verify(enc, "correct horse battery staple"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkDummyVerify(b *testing.B) {
	h := mustHasher(b, DefaultParams())
	for b.Loop() {
		h.DummyVerify("correct horse battery staple")
	}
}
