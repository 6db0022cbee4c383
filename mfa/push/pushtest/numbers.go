package pushtest

import (
	"slices"
	"strconv"
)

// WrongNumber is a two-digit number that is neither right nor one of the
// choices: a typo on the keypad, which costs one of push.MaxWrongNumbers
// attempts. skip lists numbers not to return (to type a different typo
// each time).
func WrongNumber(choices []string, right string, skip ...string) string {
	for n := 10; n <= 99; n++ {
		s := strconv.Itoa(n)
		if s != right && !slices.Contains(choices, s) && !slices.Contains(skip, s) {
			return s
		}
	}
	return ""
}

// Decoy is a choice that is not the right number: what a user who picks
// a button without reading the sign-in page may press. It ends the
// challenge at once.
func Decoy(choices []string, right string) string {
	for _, c := range choices {
		if c != right {
			return c
		}
	}
	return ""
}
