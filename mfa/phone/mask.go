package phone

import (
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// bullet stands for a hidden digit.
const bullet = "•"

// shownDigits is how many trailing digits Mask leaves readable: enough for
// a user with two phones to tell which one a code goes to, the same four
// digits a bank statement shows.
const shownDigits = 4

// Mask returns the form a number is displayed and logged in: the country
// code, then the national number in its international grouping with every
// digit a bullet except the last four, which stay readable. Japan's
// +81 90-1234-4321 becomes "+81 •• •••• 4321", the United States'
// +1 201-555-0123 "+1 ••• ••• 0123". Groups are separated by spaces,
// whatever the country's own separator. A number of fewer than eight
// national digits shows only half of them, so a mask never gives a number
// away. Mask of the zero Number is "".
func Mask(n Number) string {
	cc := "+" + strconv.Itoa(n.CountryCode)
	if n.E164 == "" || !strings.HasPrefix(n.E164, cc) {
		return ""
	}
	national := n.E164[len(cc):]
	shown := min(shownDigits, len(national)/2)
	grouped := national // one group when the library cannot format it
	if p, err := phonenumbers.Parse(n.E164, "ZZ"); err == nil {
		intl := phonenumbers.Format(p, phonenumbers.INTERNATIONAL)
		if rest, ok := strings.CutPrefix(intl, cc+" "); ok && digitCount(rest) == len(national) {
			grouped = rest
		}
	}

	var b strings.Builder
	b.WriteString(cc)
	hidden := len(national) - shown
	seen := 0
	gap := true // a space before the first group
	for _, r := range grouped {
		if r < '0' || r > '9' {
			gap = true
			continue
		}
		if gap {
			b.WriteByte(' ')
			gap = false
		}
		if seen < hidden {
			b.WriteString(bullet)
		} else {
			b.WriteRune(r)
		}
		seen++
	}
	return b.String()
}

func digitCount(s string) int {
	n := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			n++
		}
	}
	return n
}

// Prefix returns the number range n belongs to, for budgets kept per
// range: "+", the country code and the first digits of the national
// number, such as "+8190" for Prefix(+819012345678, 2). It is always a
// prefix of n.E164, shorter when the number has fewer digits; digits below
// zero count as zero, giving the country alone ("+81").
//
// Which length makes a range depends on the country's plan; two or three
// digits name an operator's block in most, and a fraud campaign on a
// premium range shows up there long before any single number looks busy.
func Prefix(n Number, digits int) string {
	end := 1 + len(strconv.Itoa(n.CountryCode)) + max(digits, 0)
	return n.E164[:min(end, len(n.E164))]
}
