// Package phone reads the phone numbers users enrol for SMS and voice codes
// and shows them back without giving them away, on top of
// github.com/nyaruka/phonenumbers (a port of Google's libphonenumber).
//
// A number is stored and sent to Twilio in one form only, E.164
// ("+819012345678"), whatever the user typed: spaces, dashes, brackets,
// the full-width digits and long-vowel dashes of a Japanese input method,
// a leading 00 or +, or the national form of the default region
// ("090-1234-5678" in Japan). Parse refuses what no operator would route,
// with sentinel errors the web layer turns into a message in the user's
// language, so a typo is caught on the enrolment page and not by a failed
// delivery (and a paid one) later.
//
// Number.Type is the library's guess from the numbering plan, free and
// offline; it cannot see ported or virtual numbers, so Twilio Lookup has
// the last word when a number is enrolled. Mask is the only form a number
// is ever displayed or logged in. Prefix names the number range a number
// belongs to, so send budgets can be kept per range: SMS pumping fraud
// spreads requests over many numbers of one premium range, which a budget
// per number never notices.
//
// The package has no state, does no I/O and never logs.
package phone

import (
	"errors"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"
)

// Errors returned by Parse, one per thing the user can fix. Their text
// reads as advice, in the lower case of Go errors; the web pages, which are
// localised, branch on them with errors.Is and show their own words.
var (
	ErrEmpty       = errors.New("enter a phone number")
	ErrCharacters  = errors.New("a phone number can only contain digits, spaces, dashes, brackets and a leading +")
	ErrCountryCode = errors.New("the country code is missing or unknown: start the number with + and the country code, such as +81")
	ErrTooShort    = errors.New("the phone number is too short: enter all of it, with the area code")
	ErrTooLong     = errors.New("the phone number is too long: check the digits")
	ErrInvalid     = errors.New("this is not a valid phone number: check the digits and the country code")
)

// Type is the kind of line a number belongs to by its country's numbering
// plan (libphonenumber's PhoneNumberType).
type Type string

// The number types. TypeFixedOrMobile is for plans that do not tell the
// two apart, such as the North American one.
const (
	TypeMobile        Type = "mobile"
	TypeFixedLine     Type = "fixed-line"
	TypeFixedOrMobile Type = "fixed-or-mobile"
	TypeVoIP          Type = "voip"
	TypePremiumRate   Type = "premium-rate"
	TypeSharedCost    Type = "shared-cost"
	TypePager         Type = "pager"
	TypeTollFree      Type = "toll-free"
	TypeUAN           Type = "uan"
	TypePersonal      Type = "personal"
	TypeVoicemail     Type = "voicemail"
	TypeUnknown       Type = "unknown"
)

// Number is a valid phone number in the forms Latchkey needs. Its fields
// are plain values: a Number is comparable and can be rebuilt from a stored
// E.164 string with Parse(e164, "").
type Number struct {
	// E164 is the number as "+" and up to 15 digits: the only form stored
	// and sent.
	E164 string
	// Region is the ISO 3166-1 alpha-2 code of the country or territory the
	// number belongs to ("JP"), or "" for the numbers of non-geographic
	// services (+800, +882, ...), which belong to none.
	Region string
	// CountryCode is the ITU calling code, 81 for Japan.
	CountryCode int
	// Type is the numbering plan's guess of the line type.
	Type Type
}

// maxInput bounds the bytes Parse reads: a number with generous spacing in
// full-width digits (three bytes each) is well under it, and nothing
// longer reaches the library.
const maxInput = 120

// Parse reads a phone number as a user typed it. A number without a
// leading + or 00 is read in the national form of defaultRegion (an ISO
// 3166-1 alpha-2 code such as "JP", in any case); with defaultRegion ""
// such a number is refused with ErrCountryCode. A leading 00 is read as +
// when the number is not valid in the region's own international prefix
// (Japan's is 010, the United States' 011). Letters and extensions are
// refused: no one receives an SMS on "1-800-FLOWERS" or an extension.
//
// The error is one of the package's sentinel errors.
func Parse(input, defaultRegion string) (Number, error) {
	if len(input) > maxInput {
		return Number{}, ErrTooLong
	}
	cleaned, err := clean(input)
	if err != nil {
		return Number{}, err
	}
	region := strings.ToUpper(defaultRegion)
	if region == "" {
		region = "ZZ" // the library's "unknown region": a + is required
	}
	n, err := parseValid(cleaned, region)
	if err != nil && strings.HasPrefix(cleaned, "00") {
		// The user wrote an international number: when it fails too, its
		// error is the one that helps.
		return parseValid("+"+cleaned[2:], region)
	}
	return n, err
}

// clean keeps the digits of input and a leading +, folding full-width
// characters to ASCII, and refuses anything that is not a digit, a + or a
// separator.
func clean(input string) (string, error) {
	var b strings.Builder
	digits := 0
	for _, r := range input {
		if r >= '！' && r <= '～' { // U+FF01..FF5E: full-width ASCII
			r -= '！' - '!'
		}
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
			digits++
		case r == '+':
			if b.Len() > 0 {
				return "", ErrCharacters
			}
			b.WriteRune(r)
		case isSeparator(r):
		default:
			return "", ErrCharacters
		}
	}
	if digits == 0 {
		if b.Len() == 0 && strings.TrimSpace(input) == "" {
			return "", ErrEmpty
		}
		return "", ErrTooShort
	}
	return b.String(), nil
}

// isSeparator reports the characters people put between digit groups: white
// space, dots, slashes, brackets, the hyphen and the dashes autocorrect and
// fonts put in its place, and the long-vowel mark (ー) a Japanese input
// method often gives for a dash typed in kana mode.
func isSeparator(r rune) bool {
	if unicode.IsSpace(r) {
		return true
	}
	switch r {
	case '.', '/', '(', ')', '[', ']', '-',
		'\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', '\u2212', '\ufe63',
		'\u30fc', '\uff70', '\u30fb', '\uff65': // ー ｰ ・ ･
		return true
	}
	return false
}

// parseValid parses a cleaned number and accepts it only if the numbering
// plan says it exists, mapping each failure to a sentinel error.
func parseValid(cleaned, region string) (Number, error) {
	p, err := phonenumbers.Parse(cleaned, region)
	if err != nil {
		switch {
		case errors.Is(err, phonenumbers.ErrInvalidCountryCode):
			return Number{}, ErrCountryCode
		case errors.Is(err, phonenumbers.ErrTooShortNSN), errors.Is(err, phonenumbers.ErrTooShortAfterIDD):
			return Number{}, ErrTooShort
		case errors.Is(err, phonenumbers.ErrNumTooLong):
			return Number{}, ErrTooLong
		}
		return Number{}, ErrInvalid
	}
	if !phonenumbers.IsValidNumber(p) {
		switch phonenumbers.IsPossibleNumberWithReason(p) {
		case phonenumbers.INVALID_COUNTRY_CODE:
			return Number{}, ErrCountryCode
		case phonenumbers.TOO_SHORT, phonenumbers.IS_POSSIBLE_LOCAL_ONLY:
			return Number{}, ErrTooShort
		case phonenumbers.TOO_LONG:
			return Number{}, ErrTooLong
		}
		return Number{}, ErrInvalid
	}
	region = phonenumbers.GetRegionCodeForNumber(p)
	if len(region) != 2 || region == "ZZ" {
		region = "" // "001": a non-geographic entity
	}
	return Number{
		E164:        phonenumbers.Format(p, phonenumbers.E164),
		Region:      region,
		CountryCode: int(p.GetCountryCode()),
		Type:        typeOf(phonenumbers.GetNumberType(p)),
	}, nil
}

func typeOf(t phonenumbers.PhoneNumberType) Type {
	switch t {
	case phonenumbers.MOBILE:
		return TypeMobile
	case phonenumbers.FIXED_LINE:
		return TypeFixedLine
	case phonenumbers.FIXED_LINE_OR_MOBILE:
		return TypeFixedOrMobile
	case phonenumbers.VOIP:
		return TypeVoIP
	case phonenumbers.PREMIUM_RATE:
		return TypePremiumRate
	case phonenumbers.SHARED_COST:
		return TypeSharedCost
	case phonenumbers.PAGER:
		return TypePager
	case phonenumbers.TOLL_FREE:
		return TypeTollFree
	case phonenumbers.UAN:
		return TypeUAN
	case phonenumbers.PERSONAL_NUMBER:
		return TypePersonal
	case phonenumbers.VOICEMAIL:
		return TypeVoicemail
	}
	return TypeUnknown
}
