package otp_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/latchkey/latchkey/mfa/otp"
)

var codeRE = regexp.MustCompile(`^[0-9]{6}$`)

func TestPolicy(t *testing.T) {
	if otp.Lifetime != 5*time.Minute || otp.MaxAttempts != 5 || otp.Digits != 6 {
		t.Errorf("Lifetime %v, MaxAttempts %d, Digits %d", otp.Lifetime, otp.MaxAttempts, otp.Digits)
	}
}

func TestResendWait(t *testing.T) {
	tests := []struct {
		sends int
		want  time.Duration
	}{
		{-1, 0}, {0, 0},
		{1, 30 * time.Second}, {2, 60 * time.Second}, {3, 120 * time.Second},
		{4, 120 * time.Second}, {50, 120 * time.Second},
	}
	for _, tt := range tests {
		if got := otp.ResendWait(tt.sends); got != tt.want {
			t.Errorf("ResendWait(%d) = %v, want %v", tt.sends, got, tt.want)
		}
		if got := otp.DefaultSchedule().ResendWait(tt.sends); got != tt.want {
			t.Errorf("DefaultSchedule().ResendWait(%d) = %v, want %v", tt.sends, got, tt.want)
		}
	}
	custom := otp.Schedule{time.Second, time.Minute}
	for sends, want := range []time.Duration{0, time.Second, time.Minute, time.Minute} {
		if got := custom.ResendWait(sends); got != want {
			t.Errorf("custom ResendWait(%d) = %v, want %v", sends, got, want)
		}
	}
	if got := (otp.Schedule{}).ResendWait(3); got != 0 {
		t.Errorf("empty schedule ResendWait(3) = %v", got)
	}
	// The default cannot be changed through a returned copy.
	otp.DefaultSchedule()[0] = time.Hour
	if got := otp.ResendWait(1); got != 30*time.Second {
		t.Errorf("ResendWait(1) = %v after editing a DefaultSchedule", got)
	}
}

func TestGenerateFormat(t *testing.T) {
	for range 1000 {
		c, err := otp.Generate()
		if err != nil {
			t.Fatal(err)
		}
		if !codeRE.MatchString(c) {
			t.Fatalf("Generate() = %q", c)
		}
		if n, ok := otp.Normalize(c); !ok || n != c {
			t.Fatalf("Normalize(%q) = %q, %v", c, n, ok)
		}
	}
}

// Digit counts per position over 100,000 codes. Each count is binomial
// with mean 10,000 and standard deviation about 95; the bounds are ±9
// deviations, so a fair generator fails them with odds below 1e-15, while
// a digit never drawn or one drawn 10% too often fails at once. Leading
// zeros lost (a "%d" format) would leave position 0 short of zeros and the
// codes short of six digits.
func TestGenerateDistribution(t *testing.T) {
	const codes = 100_000
	var counts [otp.Digits][10]int
	for range codes {
		c, err := otp.Generate()
		if err != nil {
			t.Fatal(err)
		}
		if len(c) != otp.Digits {
			t.Fatalf("Generate() = %q", c)
		}
		for i := range otp.Digits {
			counts[i][c[i]-'0']++
		}
	}
	const want, slack = codes / 10, 855
	for i, pos := range counts {
		for d, n := range pos {
			if n < want-slack || n > want+slack {
				t.Errorf("digit %d at position %d drawn %d times in %d codes, want %d±%d", d, i, n, codes, want, slack)
			}
		}
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"123456", "123456", true},
		{"004217", "004217", true},
		{" 123 456 ", "123456", true},
		{"123-456", "123456", true},
		{"123\u2013456", "123456", true}, // en dash
		{"１２３４５６", "123456", true},       // full-width
		{"１２３\u3000４５６", "123456", true}, // ideographic space
		{"１２３－４５６", "123456", true},      // full-width hyphen-minus
		{"１２３ー４５６", "123456", true},      // long-vowel mark
		{"1 2 3 4 5 6", "123456", true},
		{"\t123456\n", "123456", true},
		{"", "", false},
		{"12345", "", false},
		{"1234567", "", false},
		{"12345a", "", false},
		{"#123456", "", false},
		{"123.456", "", false},
		{"١٢٣٤٥٦", "", false}, // Arabic-Indic digits: not what we sent
		{"12345６7", "", false},
		{"123456" + string(make([]byte, 200)), "", false},
	}
	for _, tt := range tests {
		got, ok := otp.Normalize(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Normalize(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"123456", " 123-456 ", "１２３４５６", "１２３ー４５６", "12345", "abcdef", "\xff\xfe", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, ok := otp.Normalize(in)
		if !ok {
			if got != "" {
				t.Fatalf("Normalize(%q) = %q, false", in, got)
			}
			return
		}
		if !codeRE.MatchString(got) {
			t.Fatalf("Normalize(%q) = %q", in, got)
		}
		if again, ok := otp.Normalize(got); !ok || again != got {
			t.Fatalf("Normalize(%q) = %q, %v; not idempotent", got, again, ok)
		}
	})
}
