package phone_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/mfa/phone"
)

func TestParse(t *testing.T) {
	jp := phone.Number{E164: "+819012345678", Region: "JP", CountryCode: 81, Type: phone.TypeMobile}
	tests := []struct {
		name, input, region string
		want                phone.Number
	}{
		{"JP national with dashes", "090-1234-5678", "JP", jp},
		{"JP lower-case region", "09012345678", "jp", jp},
		{"JP full-width digits and dashes", "０９０－１２３４－５６７８", "JP", jp},
		{"JP full-width with long-vowel marks", "０９０ー１２３４ー５６７８", "JP", jp},
		{"JP full-width plus and ideographic space", "＋８１\u3000９０\u3000１２３４\u3000５６７８", "", jp},
		{"JP brackets", "(090) 1234-5678", "JP", jp},
		{"JP international", "+81 90 1234 5678", "", jp},
		{"JP international from another region", "+81 90-1234-5678", "US", jp},
		{"JP 00 prefix in Japan (IDD is 010)", "0081 90 1234 5678", "JP", jp},
		{"JP 010 prefix in Japan", "010 81 90 1234 5678", "JP", jp},
		{"JP 00 prefix without region", "0081-90-1234-5678", "", jp},
		{"JP with country code, no plus", "81 90 1234 5678", "JP", jp},
		{"JP surrounding space and tab", " \t+819012345678\n", "", jp},
		{"JP fixed line", "03-1234-5678", "JP", phone.Number{E164: "+81312345678", Region: "JP", CountryCode: 81, Type: phone.TypeFixedLine}},
		{"JP toll free", "0120-123-456", "JP", phone.Number{E164: "+81120123456", Region: "JP", CountryCode: 81, Type: phone.TypeTollFree}},
		{"US national", "(201) 555-0123", "US", phone.Number{E164: "+12015550123", Region: "US", CountryCode: 1, Type: phone.TypeFixedOrMobile}},
		{"US dots", "201.555.0123", "US", phone.Number{E164: "+12015550123", Region: "US", CountryCode: 1, Type: phone.TypeFixedOrMobile}},
		{"US premium rate", "+1 900 555 0123", "", phone.Number{E164: "+19005550123", Region: "US", CountryCode: 1, Type: phone.TypePremiumRate}},
		{"CA shares +1", "+1 604 555 5555", "", phone.Number{E164: "+16045555555", Region: "CA", CountryCode: 1, Type: phone.TypeFixedOrMobile}},
		{"GB mobile national", "07400 123456", "GB", phone.Number{E164: "+447400123456", Region: "GB", CountryCode: 44, Type: phone.TypeMobile}},
		{"GB 00 from the US (IDD is 011)", "0044 7400 123456", "US", phone.Number{E164: "+447400123456", Region: "GB", CountryCode: 44, Type: phone.TypeMobile}},
		{"GB (0) trunk prefix", "+44 (0)20 7946 0958", "", phone.Number{E164: "+442079460958", Region: "GB", CountryCode: 44, Type: phone.TypeFixedLine}},
		{"AU IDD 0011", "0011 44 7400 123456", "AU", phone.Number{E164: "+447400123456", Region: "GB", CountryCode: 44, Type: phone.TypeMobile}},
		{"DE mobile with slash", "01512/3456789", "DE", phone.Number{E164: "+4915123456789", Region: "DE", CountryCode: 49, Type: phone.TypeMobile}},
		{"IT keeps its leading zero", "+39 06 1234 5678", "", phone.Number{E164: "+390612345678", Region: "IT", CountryCode: 39, Type: phone.TypeFixedLine}},
		{"non-geographic has no region", "+800 1234 5678", "", phone.Number{E164: "+80012345678", Region: "", CountryCode: 800, Type: phone.TypeTollFree}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := phone.Parse(tt.input, tt.region)
			if err != nil {
				t.Fatalf("Parse(%q, %q): %v", tt.input, tt.region, err)
			}
			if got != tt.want {
				t.Errorf("Parse(%q, %q) = %+v, want %+v", tt.input, tt.region, got, tt.want)
			}
			// The stored form reads back as the same number.
			again, err := phone.Parse(got.E164, "")
			if err != nil || again != got {
				t.Errorf("Parse(%q, \"\") = %+v, %v; want %+v", got.E164, again, err, got)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, input, region string
		want                error
	}{
		{"empty", "", "JP", phone.ErrEmpty},
		{"blank", " \u3000\t", "JP", phone.ErrEmpty},
		{"only separators", "--", "JP", phone.ErrTooShort},
		{"plus alone", "+", "", phone.ErrTooShort},
		{"letters", "1-800-FLOWERS", "US", phone.ErrCharacters},
		{"extension", "+1 201 555 0123 ext. 12", "", phone.ErrCharacters},
		{"plus inside", "81+9012345678", "JP", phone.ErrCharacters},
		{"two pluses", "++819012345678", "", phone.ErrCharacters},
		{"emoji", "090☎12345678", "JP", phone.ErrCharacters},
		{"tel URI", "tel:+819012345678", "", phone.ErrCharacters},
		{"national without region", "090-1234-5678", "", phone.ErrCountryCode},
		{"unknown region", "090-1234-5678", "XX", phone.ErrCountryCode},
		{"unknown country code", "+999 1234 5678", "", phone.ErrCountryCode},
		{"too short", "123", "JP", phone.ErrTooShort},
		{"too short international", "+81 90", "", phone.ErrTooShort},
		{"too long", "+81 90 1234 5678 9012 3456", "", phone.ErrTooLong},
		{"too long input", strings.Repeat("1", 200), "JP", phone.ErrTooLong},
		{"possible length, not a number", "+81 90 1234 56789", "", phone.ErrInvalid},
		{"NANP area code cannot start with 1", "+1 123 555 0123", "", phone.ErrInvalid},
		{"unassigned non-geographic", "+882 1234 5678", "", phone.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := phone.Parse(tt.input, tt.region)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse(%q, %q) = %+v, %v; want %v", tt.input, tt.region, got, err, tt.want)
			}
			if got != (phone.Number{}) {
				t.Errorf("Parse(%q, %q) returned %+v with its error", tt.input, tt.region, got)
			}
		})
	}
}

func TestMask(t *testing.T) {
	tests := []struct {
		input, region, want string
	}{
		{"090-1234-4321", "JP", "+81 •• •••• 4321"},
		{"03-1234-5678", "JP", "+81 • •••• 5678"},
		{"(201) 555-0123", "US", "+1 ••• ••• 0123"},
		{"07400 123456", "GB", "+44 •••• ••3456"},
		{"020 7946 0958", "GB", "+44 •• •••• 0958"},
		{"01512 3456789", "DE", "+49 •••• •••6789"},
		{"030 1234567", "DE", "+49 •• •••4567"},
		// Four national digits: only half are shown.
		{"+683 4002", "", "+683 ••02"},
	}
	for _, tt := range tests {
		n, err := phone.Parse(tt.input, tt.region)
		if err != nil {
			t.Fatalf("Parse(%q, %q): %v", tt.input, tt.region, err)
		}
		if got := phone.Mask(n); got != tt.want {
			t.Errorf("Mask(%s) = %q, want %q", n.E164, got, tt.want)
		}
	}
}

func TestMaskOddNumbers(t *testing.T) {
	tests := []struct {
		n    phone.Number
		want string
	}{
		{phone.Number{}, ""},
		// Inconsistent fields give nothing rather than a wrong mask.
		{phone.Number{E164: "+819012345678", CountryCode: 1}, ""},
		// A number the library cannot format is masked as one group.
		{phone.Number{E164: "+81901234567890", CountryCode: 81}, "+81 ••••••••7890"},
	}
	for _, tt := range tests {
		if got := phone.Mask(tt.n); got != tt.want {
			t.Errorf("Mask(%+v) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestPrefix(t *testing.T) {
	jp, err := phone.Parse("090-1234-5678", "JP")
	if err != nil {
		t.Fatal(err)
	}
	us, err := phone.Parse("+1 201 555 0123", "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		n      phone.Number
		digits int
		want   string
	}{
		{jp, 2, "+8190"},
		{jp, 4, "+819012"},
		{jp, 0, "+81"},
		{jp, -3, "+81"},
		{jp, 10, "+819012345678"},
		{jp, 99, "+819012345678"},
		{us, 3, "+1201"},
		{us, 6, "+1201555"},
		{phone.Number{}, 3, ""},
	}
	for _, tt := range tests {
		got := phone.Prefix(tt.n, tt.digits)
		if got != tt.want {
			t.Errorf("Prefix(%s, %d) = %q, want %q", tt.n.E164, tt.digits, got, tt.want)
		}
		if !strings.HasPrefix(tt.n.E164, got) {
			t.Errorf("Prefix(%s, %d) = %q is not a prefix of the number", tt.n.E164, tt.digits, got)
		}
	}
}
