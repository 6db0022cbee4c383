package push_test

import (
	"errors"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"testing/cryptotest"
	"time"

	"github.com/latchkey/latchkey/mfa/push"
)

var idRE = regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`)

func TestNewChallenge(t *testing.T) {
	ch, err := push.NewChallenge(now, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !idRE.MatchString(ch.ID) || !idRE.MatchString(ch.Nonce) || ch.ID == ch.Nonce {
		t.Errorf("ID %q Nonce %q: want two different 128-bit base64url values", ch.ID, ch.Nonce)
	}
	if n, err := strconv.Atoi(ch.Number); err != nil || n < 10 || n > 99 || len(ch.Number) != 2 {
		t.Errorf("Number %q", ch.Number)
	}
	if len(ch.Choices) != push.NumChoices || !slices.Contains(ch.Choices, ch.Number) {
		t.Errorf("Choices %v for %s", ch.Choices, ch.Number)
	}
	if !ch.Created.Equal(now) || !ch.Expires.Equal(now.Add(2*time.Minute)) {
		t.Errorf("Created %v Expires %v", ch.Created, ch.Expires)
	}
	if _, err := push.NewChallenge(now, 0); err == nil {
		t.Error("ttl 0 accepted")
	}
}

func TestChoices(t *testing.T) {
	for _, n := range []int{1, 2, 3, 10, 90} {
		for _, number := range []string{"10", "42", "99"} {
			got, err := push.Choices(number, n)
			if err != nil {
				t.Fatalf("Choices(%s, %d): %v", number, n, err)
			}
			if len(got) != n || !slices.Contains(got, number) {
				t.Fatalf("Choices(%s, %d) = %v", number, n, got)
			}
			seen := map[string]bool{}
			for _, c := range got {
				v, err := strconv.Atoi(c)
				if err != nil || v < 10 || v > 99 || len(c) != 2 || seen[c] {
					t.Fatalf("Choices(%s, %d) = %v: %q bad or repeated", number, n, got, c)
				}
				seen[c] = true
			}
		}
	}
	for _, bad := range []struct {
		number string
		n      int
	}{{"9", 3}, {"09", 3}, {"100", 3}, {"4x", 3}, {"42", 0}, {"42", 91}} {
		if got, err := push.Choices(bad.number, bad.n); err == nil {
			t.Errorf("Choices(%q, %d) = %v, want an error", bad.number, bad.n, got)
		}
	}
}

// The number is uniform over 10..99, the right number is at each of the
// three positions equally often, and every other value turns up as a
// decoy. A fixed seed for crypto/rand makes this deterministic: the test
// checks the arithmetic (no modulo bias, no off-by-one), not the entropy.
func TestChallengeUniformity(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 1)
	const draws = 90 * 200
	numbers := map[string]int{}
	positions := make([]int, push.NumChoices)
	decoys := map[string]int{}
	for range draws {
		ch, err := push.NewChallenge(now, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		numbers[ch.Number]++
		for i, c := range ch.Choices {
			if c == ch.Number {
				positions[i]++
			} else {
				decoys[c]++
			}
		}
	}
	if len(numbers) != 90 || len(decoys) != 90 {
		t.Fatalf("%d distinct numbers, %d distinct decoys; want 90 each", len(numbers), len(decoys))
	}
	// Pearson's chi-squared: 89 degrees of freedom (mean 89, sd 13.3);
	// 180 is about seven sd out.
	chi := 0.0
	for _, c := range numbers {
		d := float64(c) - draws/90.0
		chi += d * d / (draws / 90.0)
	}
	if chi > 180 {
		t.Errorf("numbers not uniform: chi-squared %.1f over 89 degrees of freedom: %v", chi, numbers)
	}
	// 2 degrees of freedom: 30 is far beyond p = 1e-6.
	chi = 0
	for _, c := range positions {
		d := float64(c) - draws/float64(push.NumChoices)
		chi += d * d / (draws / float64(push.NumChoices))
	}
	if chi > 30 {
		t.Errorf("right number's position not uniform: %v (chi-squared %.1f)", positions, chi)
	}
}

func TestCheckAnswer(t *testing.T) {
	ch := push.Challenge{
		ID: "chal_0123456789abcdef", Nonce: "nonce_0123456789abcdef", Number: "42",
		Choices: []string{"17", "42", "88"}, Created: now, Expires: now.Add(2 * time.Minute),
	}
	answer := func(decision, number string) push.Answer {
		return push.Answer{ChallengeID: ch.ID, Nonce: ch.Nonce, Decision: decision, Number: number}
	}
	later := now.Add(2 * time.Minute) // the expiry instant itself is too late
	cases := []struct {
		name string
		ans  push.Answer
		at   time.Time
		want error
	}{
		{"approve with the number", answer("approve", "42"), now, nil},
		{"approve a second before expiry", answer("approve", "42"), later.Add(-time.Second), nil},
		{"approve at expiry", answer("approve", "42"), later, push.ErrExpired},
		{"approve with a decoy", answer("approve", "17"), now, push.ErrDecoyPicked},
		{"approve with a typed wrong number", answer("approve", "43"), now, push.ErrWrongNumber},
		{"approve with no number", answer("approve", ""), now, push.ErrWrongNumber},
		{"approve with the wrong nonce", push.Answer{ChallengeID: ch.ID, Nonce: "nonce_0123456789abcdeF", Decision: "approve", Number: "42"}, now, push.ErrNonce},
		{"approve without the nonce", push.Answer{ChallengeID: ch.ID, Decision: "approve", Number: "42"}, now, push.ErrNonce},
		{"approve another challenge", push.Answer{ChallengeID: "chal_other_0123456789", Nonce: ch.Nonce, Decision: "approve", Number: "42"}, now, push.ErrUnknownChallenge},
		{"expired approval with a wrong nonce is a nonce error", push.Answer{ChallengeID: ch.ID, Nonce: "x", Decision: "approve", Number: "42"}, later, push.ErrNonce},
		{"deny", answer("deny", ""), now, nil},
		{"deny with a wrong number", answer("deny", "43"), now, nil},
		{"deny after expiry", answer("deny", ""), later.Add(time.Hour), nil},
		{"not_me", answer("not_me", ""), now, nil},
		{"not_me after expiry", answer("not_me", ""), later.Add(time.Hour), nil},
		{"not_me with the wrong nonce", push.Answer{ChallengeID: ch.ID, Nonce: "nonce_0123456789abcdeF", Decision: "not_me"}, now, push.ErrNonce},
		{"unknown decision", answer("maybe", "42"), now, push.ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := push.CheckAnswer(ch, tc.ans, tc.at)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	// A decoy is a wrong number (the caller counts it) that also ends the
	// challenge; a typed wrong number is not a decoy.
	if !errors.Is(push.ErrDecoyPicked, push.ErrWrongNumber) || errors.Is(push.ErrWrongNumber, push.ErrDecoyPicked) {
		t.Error("ErrDecoyPicked must wrap ErrWrongNumber, not the other way round")
	}
}
