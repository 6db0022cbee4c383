package recovery_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/mfa/recovery"
)

const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"

var displayRE = regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}$`)

func TestGenerateFormat(t *testing.T) {
	if recovery.Count != 10 || recovery.Length != 10 {
		t.Fatalf("Count %d, Length %d", recovery.Count, recovery.Length)
	}
	codes, err := recovery.Generate(recovery.Count)
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != recovery.Count {
		t.Fatalf("got %d codes", len(codes))
	}
	for _, c := range codes {
		if !displayRE.MatchString(c) {
			t.Errorf("code %q is not xxxxx-xxxxx in the alphabet", c)
		}
		n, ok := recovery.Normalize(c)
		if !ok || n != strings.ReplaceAll(c, "-", "") {
			t.Errorf("Normalize(%q) = %q, %v", c, n, ok)
		}
	}
}

func TestGenerateCount(t *testing.T) {
	for _, n := range []int{-1, 0, 101} {
		if codes, err := recovery.Generate(n); err == nil {
			t.Errorf("Generate(%d) = %d codes, want an error", n, len(codes))
		}
	}
	for _, n := range []int{1, 100} {
		codes, err := recovery.Generate(n)
		if err != nil || len(codes) != n {
			t.Errorf("Generate(%d) = %d codes, %v", n, len(codes), err)
		}
	}
}

func TestGenerateUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 2000 {
		codes, err := recovery.Generate(recovery.Count)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range codes {
			if seen[c] {
				t.Fatalf("code %s generated twice", c)
			}
			seen[c] = true
		}
	}
}

// Symbol counts over 10,000 codes. The bounds are about ±9 standard
// deviations wide, so a fair generator fails them with odds below 1e-15,
// while a symbol never drawn, or drawn at twice the rate, fails at once.
func TestGenerateDistribution(t *testing.T) {
	const codes = 10_000
	var total [256]int
	var byPos [recovery.Length][256]int
	for range codes / recovery.Count {
		batch, err := recovery.Generate(recovery.Count)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range batch {
			c = strings.ReplaceAll(c, "-", "")
			for i := 0; i < len(c); i++ {
				total[c[i]]++
				byPos[i][c[i]]++
			}
		}
	}
	// Overall: expected 3125 per symbol, standard deviation about 55.
	const expected = codes * recovery.Length / len(alphabet)
	chi2 := 0.0
	for i := 0; i < len(alphabet); i++ {
		n := total[alphabet[i]]
		if n < 2625 || n > 3625 {
			t.Errorf("symbol %q drawn %d times, want about %d", alphabet[i], n, expected)
		}
		d := float64(n - expected)
		chi2 += d * d / float64(expected)
	}
	// 31 degrees of freedom: mean 31, and P(chi2 > 150) is about 1e-16.
	if chi2 > 150 {
		t.Errorf("chi-square %.1f over 31 degrees of freedom", chi2)
	}
	// Per position: expected 312.5, standard deviation about 17.4.
	for pos := range byPos {
		for i := 0; i < len(alphabet); i++ {
			if n := byPos[pos][alphabet[i]]; n < 150 || n > 475 {
				t.Errorf("position %d: symbol %q drawn %d times, want about 312", pos, alphabet[i], n)
			}
		}
	}
}

func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "" for not ok
	}{
		{"abcde-fghjk", "abcdefghjk"},
		{"abcdefghjk", "abcdefghjk"},
		{"  abcde-fghjk\n", "abcdefghjk"},
		{"abc de fg hjk", "abcdefghjk"},
		{"abcde--fghjk", "abcdefghjk"},
		{"a-b-c-d-e-f-g-h-j-k", "abcdefghjk"},
		{"ABCDE-FGHJK", "abcdefghjk"},
		{"AbCdE-fGhJk", "abcdefghjk"},
		{"abcde\u2013fghjk", "abcdefghjk"}, // en dash from autocorrect
		{"abcde\u2212fghjk", "abcdefghjk"}, // minus sign
		{"abcde\u3000fghjk", "abcdefghjk"}, // ideographic space
		{"ａｂｃｄｅ－ｆｇｈｊｋ", "abcdefghjk"},      // full-width, from a Japanese IME
		{"oooo0-iiiil", "0000011111"},
		{"OIL01-23456", "0110123456"},
		{"vwxyz-mnpqr", "vwxyzmnpqr"},
		{"01234-56789", "0123456789"},
		// Not codes.
		{"", ""},
		{"-----", ""},
		{"abcde-fghj", ""},        // 9 characters
		{"abcde-fghjkm", ""},      // 11 characters
		{"abcde-fghju", ""},       // u is not in the alphabet
		{"abcde_fghjk", ""},       // underscore is not a separator
		{"abcde.fghjk", ""},       // nor is a dot
		{"abcdé-fghjk", ""},       // non-ASCII letter
		{"аbcde-fghjk", ""},       // Cyrillic а, not Latin a
		{"abcde-fghj\x00", ""},    // NUL
		{"abcde-fghj\xff", ""},    // invalid UTF-8
		{"١٢٣٤٥-٦٧٨٩٠", ""},       // Arabic-Indic digits
		{"abcde-fghjk-abcde", ""}, // two codes
		{strings.Repeat(" ", 200) + "abcdefghjk", ""},
	} {
		got, ok := recovery.Normalize(tc.in)
		if ok != (tc.want != "") || got != tc.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
}

func testKey(b byte) []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = b + byte(i)
	}
	return k
}

func TestHash(t *testing.T) {
	key := testKey('A')
	h, err := recovery.NewHasher(key)
	if err != nil {
		t.Fatal(err)
	}
	// The hash is what the store holds: it must never change between
	// releases, or every stored code stops working.
	m := hmac.New(sha256.New, key)
	m.Write([]byte("latchkey recovery code v1\x00abcdefghjk"))
	if got, want := h.Hash("abcde-fghjk"), hex.EncodeToString(m.Sum(nil)); got != want {
		t.Fatalf("Hash = %s, want HMAC-SHA256 of the prefixed canonical code %s", got, want)
	}

	// Every way of typing the code hashes alike.
	want := h.Hash("abcdefghjk")
	for _, typed := range []string{"abcde-fghjk", " ABCDE FGHJK ", "ａｂｃｄｅ－ｆｇｈｊｋ"} {
		if got := h.Hash(typed); got != want {
			t.Errorf("Hash(%q) = %s, want %s", typed, got, want)
		}
	}
	if h.Hash("0000011111") != h.Hash("ooooo-iiiil") {
		t.Error("confusables hash differently")
	}

	// Different codes and different keys give different hashes.
	if h.Hash("abcdefghjm") == want {
		t.Error("two codes share a hash")
	}
	other, err := recovery.NewHasher(testKey('B'))
	if err != nil {
		t.Fatal(err)
	}
	if other.Hash("abcdefghjk") == want {
		t.Error("the hash does not depend on the key")
	}

	// Input that is not a code still hashes, never to a real code's hash,
	// and not to the plain HMAC of the input.
	invalid := h.Hash("abcdefghju")
	if invalid == "" || invalid == h.Hash("abcdefghjv") || len(invalid) != 64 {
		t.Errorf("Hash of a non-code = %q", invalid)
	}
	m = hmac.New(sha256.New, key)
	m.Write([]byte("latchkey recovery code v1\x00abcdefghju"))
	if invalid == hex.EncodeToString(m.Sum(nil)) {
		t.Error("a non-code is hashed in the codes' domain")
	}
}

func TestNewHasher(t *testing.T) {
	for _, n := range []int{0, 16, 31} {
		if _, err := recovery.NewHasher(make([]byte, n)); err == nil {
			t.Errorf("NewHasher with a %d-byte key: no error", n)
		}
	}
	key := testKey('A')
	h, err := recovery.NewHasher(key)
	if err != nil {
		t.Fatal(err)
	}
	before := h.Hash("abcde-fghjk")
	key[0] ^= 1 // the caller reusing its buffer must not change the hasher
	if h.Hash("abcde-fghjk") != before {
		t.Error("Hasher shares the caller's key slice")
	}
}

func TestHasherRedactsKey(t *testing.T) {
	key := []byte("this-key-must-never-be-printed-anywhere")
	h, err := recovery.NewHasher(key)
	if err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "hasher", h)
	out := fmt.Sprintf("%v %+v %#v %s", h, h, h, h) + logged.String()
	if strings.Contains(out, "never") || strings.Contains(out, hex.EncodeToString(key[:8])) {
		t.Errorf("key leaked: %s", out)
	}
}

// FuzzNormalize: Normalize never panics, and what it accepts is canonical:
// 10 alphabet characters that normalise to themselves, however they are
// shown again.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"abcde-fghjk", "OIL01 23456", "ａｂｃｄｅ－ｆｇｈｊｋ", "abcde-fghju", "", "\xff", "-", "uuuuu-uuuuu"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := recovery.Normalize(s)
		if !ok {
			if got != "" {
				t.Fatalf("Normalize(%q) = %q with false", s, got)
			}
			return
		}
		if len(got) != recovery.Length {
			t.Fatalf("Normalize(%q) = %q: length %d", s, got, len(got))
		}
		for i := 0; i < len(got); i++ {
			if !strings.ContainsRune(alphabet, rune(got[i])) {
				t.Fatalf("Normalize(%q) = %q: %q is not in the alphabet", s, got, got[i])
			}
		}
		for _, shown := range []string{got, got[:5] + "-" + got[5:], strings.ToUpper(got)} {
			if again, ok := recovery.Normalize(shown); !ok || again != got {
				t.Fatalf("Normalize(%q) = %q, %v; want %q", shown, again, ok, got)
			}
		}
	})
}
