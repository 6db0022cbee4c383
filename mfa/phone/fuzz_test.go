package phone_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/mfa/phone"
)

var e164RE = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

// FuzzParse checks that Parse never panics and that whatever it accepts is
// a well-formed, stable number whose mask hides all but a few digits.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "+", "00", "090-1234-5678", "０９０－１２３４－５６７８", "+81 90 1234 5678",
		"0081 90 1234 5678", "(201) 555-0123", "+44 (0)20 7946 0958", "+800 1234 5678",
		"1-800-FLOWERS", "+1 201 555 0123 ext. 12", strings.Repeat("9", 40), "+683 4002",
		"\xff\xfe", "ー・／（）",
	} {
		for _, region := range []string{"", "JP", "US", "GB", "zz", "001", "\x00"} {
			f.Add(s, region)
		}
	}
	f.Fuzz(func(t *testing.T, input, region string) {
		n, err := phone.Parse(input, region)
		if err != nil {
			if n != (phone.Number{}) {
				t.Fatalf("Parse(%q, %q) = %+v with error %v", input, region, n, err)
			}
			return
		}
		if !e164RE.MatchString(n.E164) || n.CountryCode < 1 || n.Type == "" {
			t.Fatalf("Parse(%q, %q) = %+v", input, region, n)
		}
		if again, err := phone.Parse(n.E164, ""); err != nil || again != n {
			t.Fatalf("Parse(%q, \"\") = %+v, %v; want %+v", n.E164, again, err, n)
		}
		m := phone.Mask(n)
		national, ok := strings.CutPrefix(m, phone.Prefix(n, 0)+" ")
		if !ok {
			t.Fatalf("Mask(%s) = %q does not start with the country code", n.E164, m)
		}
		if shown := len(strings.Map(keepDigits, national)); shown > 4 {
			t.Fatalf("Mask(%s) = %q shows %d digits", n.E164, m, shown)
		}
		if p := phone.Prefix(n, 3); !strings.HasPrefix(n.E164, p) {
			t.Fatalf("Prefix(%s, 3) = %q", n.E164, p)
		}
	})
}

func keepDigits(r rune) rune {
	if r >= '0' && r <= '9' {
		return r
	}
	return -1
}
