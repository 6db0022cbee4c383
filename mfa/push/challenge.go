package push

import (
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"math/big"
	"strconv"
	"time"
)

// NumChoices is how many numbers the device offers as buttons: the right
// one and two decoys. Picking blindly succeeds one time in three, once:
// a decoy ends the challenge (ErrDecoyPicked).
const NumChoices = 3

// MaxWrongNumbers is how many typed wrong numbers (not decoys) a challenge
// survives; the caller ends it at the next one. Typing blind has 1 chance
// in 90 a try.
const MaxWrongNumbers = 3

// Challenge is one push sent for one sign-in. The caller stores it whole,
// choices included, before the push goes out, and never makes new choices
// for it: a device shown different decoys on a second fetch would learn
// the number as the one value every set shares.
type Challenge struct {
	// ID names the challenge in the push and in the device's requests
	// (128 random bits, base64url). Not a secret: the push carries it.
	ID string
	// Nonce is handed to the device only by a signed fetch, and the answer
	// must carry it back: an answer proves the device fetched this very
	// challenge (128 random bits, base64url).
	Nonce string
	// Number is the two digits shown on the sign-in page, and only there.
	Number string
	// Choices are given to the device: Number and NumChoices-1 decoys, in
	// random order.
	Choices []string
	Created time.Time
	Expires time.Time
}

// NewChallenge makes a challenge that expires ttl after now.
func NewChallenge(now time.Time, ttl time.Duration) (Challenge, error) {
	if ttl <= 0 {
		return Challenge{}, fmt.Errorf("new challenge: ttl must be positive, not %s", ttl)
	}
	n, err := randInt(90)
	if err != nil {
		return Challenge{}, fmt.Errorf("new challenge: %w", err)
	}
	ch := Challenge{
		ID:      randomID(),
		Nonce:   randomID(),
		Number:  strconv.Itoa(10 + n),
		Created: now,
		Expires: now.Add(ttl),
	}
	if ch.Choices, err = Choices(ch.Number, NumChoices); err != nil {
		return Challenge{}, fmt.Errorf("new challenge: %w", err)
	}
	return ch, nil
}

// Choices returns n distinct two-digit numbers (10 to 99), number among
// them, in uniformly random order; the decoys are uniform among the
// other 89 values, so nothing about the list points at the right one.
func Choices(number string, n int) ([]string, error) {
	v, err := strconv.Atoi(number)
	if err != nil || len(number) != 2 || v < 10 || v > 99 {
		return nil, fmt.Errorf("choices: %q is not a number from 10 to 99", number)
	}
	if n < 1 || n > 90 {
		return nil, fmt.Errorf("choices: n must be 1 to 90, not %d", n)
	}
	// A partial Fisher-Yates shuffle of the 89 other values picks the
	// decoys without repetition.
	others := make([]int, 0, 89)
	for i := 10; i <= 99; i++ {
		if i != v {
			others = append(others, i)
		}
	}
	out := []string{number}
	for i := 0; i < n-1; i++ {
		j, err := randInt(len(others) - i)
		if err != nil {
			return nil, fmt.Errorf("choices: %w", err)
		}
		others[i], others[i+j] = others[i+j], others[i]
		out = append(out, strconv.Itoa(others[i]))
	}
	// Shuffle the result so the right number's position is uniform too.
	for i := len(out) - 1; i > 0; i-- {
		j, err := randInt(i + 1)
		if err != nil {
			return nil, fmt.Errorf("choices: %w", err)
		}
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// CheckAnswer checks a parsed answer (Request.Answer) against the stored
// challenge: the id, the nonce (ErrNonce) and, to approve, the expiry
// (ErrExpired) and the number (ErrWrongNumber, or ErrDecoyPicked when the
// wrong number is one of the choices). Secrets are compared in constant
// time. Deny and not_me need no number (the person refusing a sign-in
// they did not start has no page to read it from), and are accepted after
// the expiry: a late "this wasn't me" still tells of a stolen password,
// and the sign-in it names may have moved on to another factor.
//
// CheckAnswer has no state. The caller (in the store, one conditional
// update each, so every node agrees) must also:
//   - take the challenge once: a second answer is ErrAnswered, and an
//     approval of a challenge superseded by another factor is ErrExpired
//     (a deny or not_me still ends whatever sign-in is going on);
//   - count wrong numbers and end the challenge (ErrChallengeEnded) at the
//     MaxWrongNumbers-th, and at the first ErrDecoyPicked;
//   - check that the signing device belongs to the challenge's user and
//     was sent this challenge, and refuse a replayed jti.
func CheckAnswer(ch Challenge, ans Answer, now time.Time) error {
	if ans.ChallengeID != ch.ID {
		return fmt.Errorf("%w: answer names another challenge", ErrUnknownChallenge)
	}
	if subtle.ConstantTimeCompare([]byte(ans.Nonce), []byte(ch.Nonce)) != 1 {
		return ErrNonce
	}
	switch ans.Decision {
	case DecisionDeny, DecisionNotMe:
		return nil
	case DecisionApprove:
	default:
		return fmt.Errorf("%w: decision must be approve, deny or not_me", ErrMalformed)
	}
	if !now.Before(ch.Expires) {
		return ErrExpired
	}
	if subtle.ConstantTimeCompare([]byte(ans.Number), []byte(ch.Number)) == 1 {
		return nil
	}
	for _, c := range ch.Choices {
		if ans.Number == c { // the device was given the choices: nothing secret here
			return ErrDecoyPicked
		}
	}
	return ErrWrongNumber
}

// randInt is uniform in [0, n) from crypto/rand (rand.Int rejects and
// redraws rather than reducing modulo n, so there is no bias).
func randInt(n int) (int, error) {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		return 0, err
	}
	return int(v.Int64()), nil
}

// randomID is 128 random bits in base64url (22 characters).
func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails since Go 1.24
	return b64.EncodeToString(b)
}
