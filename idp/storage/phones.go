package storage

import (
	"context"
	"fmt"
	"time"
)

// PhoneStore is the persistence of the phone factor: numbers, one-time
// codes, the messages and calls that carried them, and send budgets. It is
// part of Store; it is declared apart only to keep this file's contract in
// one place.
type PhoneStore interface {
	// Phones. A user has each number at most once (by NumberHash); two
	// users may share a number. A method given another user's id treats
	// the phone as missing.
	// CreatePhone: ErrConflict if the id exists or the user has the
	// number, ErrNotFound if the user does not exist.
	CreatePhone(ctx context.Context, p Phone) error
	// ListPhones returns a user's phones, unverified ones included, oldest
	// first (the id breaks ties).
	ListPhones(ctx context.Context, userID string) ([]Phone, error)
	// GetPhone returns one of the user's phones; ErrNotFound if absent.
	GetPhone(ctx context.Context, userID, id string) (Phone, error)
	// UpdatePhone replaces LineType, Status, VerifiedAt, SIMCheckedAt,
	// SIMSwappedAt and LastUsedAt of the user's phone; ErrNotFound if
	// absent.
	UpdatePhone(ctx context.Context, p Phone) error
	// DeletePhone removes one of the user's phones (and, by cascade, its
	// codes); ErrNotFound if absent.
	DeletePhone(ctx context.Context, userID, id string) error
	// DeleteUnverifiedPhones removes phones never verified and created
	// before olderThan (and their codes), and returns how many went.
	DeleteUnverifiedPhones(ctx context.Context, olderThan time.Time) (int64, error)

	// One-time codes sent by SMS or voice. The code itself is never
	// stored, only its keyed hash. A code whose ExpiresAt is not after now
	// is expired. A code goes with its phone and its user.
	// CreatePhoneCode: ErrConflict if the id exists, ErrNotFound if the
	// phone does not exist or is not UserID's.
	CreatePhoneCode(ctx context.Context, c PhoneCode) error
	// GetPhoneCode returns a code, used ones included; ErrNotFound if
	// missing or expired.
	GetPhoneCode(ctx context.Context, id string, now time.Time) (PhoneCode, error)
	// FindPhoneCode returns the newest live (unused, unexpired) code of a
	// transaction for a phone (by CreatedAt, then id), so a resend reuses
	// it; ErrNotFound if none. Attempts are the caller's to judge.
	FindPhoneCode(ctx context.Context, txID, phoneID string, now time.Time) (PhoneCode, error)
	// RecordPhoneCodeSend claims the right to send the code (again): it
	// sets Sends = sends+1, LastSentAt = now and Channel = channel if the
	// code is live, has been sent exactly sends times and LastSentAt is not
	// after notBefore (the caller's resend wait). Of many concurrent callers
	// exactly one gets nil; the others, and any caller whose conditions do
	// not hold, get ErrConflict. ErrNotFound if missing or expired.
	RecordPhoneCodeSend(ctx context.Context, id, channel string, sends int, notBefore, now time.Time) error
	// AttemptPhoneCode counts one verification attempt before the caller
	// compares the code: if the code is live and Attempts < maxAttempts it
	// increments Attempts and returns the code as updated; otherwise
	// ErrConflict (used or out of attempts). ErrNotFound if missing or
	// expired. Counting before comparing means concurrent guesses cannot
	// exceed maxAttempts.
	AttemptPhoneCode(ctx context.Context, id string, maxAttempts int, now time.Time) (PhoneCode, error)
	// UsePhoneCode marks a live code used (UsedAt = now). Of many concurrent
	// callers exactly one gets nil; the others get ErrConflict. ErrNotFound
	// if missing or expired.
	UsePhoneCode(ctx context.Context, id string, now time.Time) error
	// DeleteExpiredPhoneCodes removes expired codes (those GetPhoneCode no
	// longer returns) and returns how many went.
	DeleteExpiredPhoneCodes(ctx context.Context, now time.Time) (int64, error)

	// Messages and calls, keyed by the provider's id (Twilio SID). A
	// message outlives its code, phone and user (delivery metrics, audit):
	// their ids are not checked and deleting them leaves it.
	CreatePhoneMessage(ctx context.Context, m PhoneMessage) error // ErrConflict if the SID exists
	// GetPhoneMessage returns ErrNotFound if absent.
	GetPhoneMessage(ctx context.Context, sid string) (PhoneMessage, error)
	// UpdatePhoneMessage replaces Status, ErrorCode, Price, PriceUnit,
	// Segments and UpdatedAt; ErrNotFound if absent.
	UpdatePhoneMessage(ctx context.Context, m PhoneMessage) error
	// ListPhoneMessages returns the messages and calls of one code, oldest
	// first (the SID breaks ties).
	ListPhoneMessages(ctx context.Context, codeID string) ([]PhoneMessage, error)

	// Budgets: counters in fixed windows, shared by every node.
	// SpendBudgets applies every charge or none, in one transaction. For
	// each charge the counter of its key restarts at 0 when its window
	// (started at WindowStart, lasting the charge's Window) has ended by
	// now (WindowStart + Window <= now): WindowStart becomes now. Then Cost
	// is added. If any counter would pass its Limit, nothing
	// changes and the error is a *BudgetExceededError (errors.Is
	// ErrConflict), not wrapped, naming the first such key in charges'
	// order. Charges of one call must have distinct keys, a Cost of at
	// least 0 and a positive Window; otherwise SpendBudgets changes nothing
	// and returns an error that is neither sentinel. No charges: nil.
	SpendBudgets(ctx context.Context, charges []BudgetCharge, now time.Time) error
	// GetBudget returns a counter; a missing key is a zero Budget with the
	// Key set. Callers judge whether its window has ended.
	GetBudget(ctx context.Context, key string) (Budget, error)
	// DeleteStaleBudgets removes counters whose window started before
	// before, and returns how many went.
	DeleteStaleBudgets(ctx context.Context, before time.Time) (int64, error)
}

// Phone statuses.
const (
	PhoneActive = "active"
	// PhoneInvalid: the carrier or Twilio said the number cannot be
	// reached (Twilio 21211); it is never offered again.
	PhoneInvalid = "invalid"
	// PhoneStopped: the user replied STOP to an SMS (Twilio 21610); only
	// voice calls reach it.
	PhoneStopped = "stopped"
)

// Phone is a user's phone number for SMS and voice codes.
type Phone struct {
	ID     string
	UserID string
	// Number is the E.164 number sealed by the caller (AES-GCM); the store
	// never sees it in the clear.
	Number []byte
	// NumberHash is a keyed hash of the E.164 number, for finding a number
	// without decrypting every row (budgets, duplicates).
	NumberHash string
	// Country is the number's ISO 3166-1 region ("JP"); Masked is the
	// display form ("+81 ••• ••• 4321"), kept so lists need no decryption.
	Country string
	Masked  string
	// LineType is what the carrier lookup said ("mobile", "landline",
	// "nonFixedVoip", ...); "" when unknown.
	LineType string
	Status   string // PhoneActive, PhoneInvalid or PhoneStopped
	// ConsentAt: when the user agreed to receive codes at this number.
	ConsentAt  time.Time
	VerifiedAt time.Time // zero until a code sent to it was entered
	// SIMCheckedAt: the last SIM-swap lookup; SIMSwappedAt: the last SIM
	// change it reported (zero: none known).
	SIMCheckedAt time.Time
	SIMSwappedAt time.Time
	CreatedAt    time.Time
	LastUsedAt   time.Time
}

// Verified reports whether a code sent to the phone was ever entered.
func (p Phone) Verified() bool { return !p.VerifiedAt.IsZero() }

// PhoneCode is one one-time code, bound to a login transaction and a
// phone.
type PhoneCode struct {
	ID      string
	UserID  string
	PhoneID string
	TxID    string
	// Purpose: "sign-in" (a second factor) or "verify" (proving a new
	// number).
	Purpose string
	// Hash is the keyed HMAC of the code.
	Hash string
	// Channel of the last send: "sms" or "voice".
	Channel string
	// Lang is the page language the code was asked for in, so a call
	// placed later (after an undelivered SMS) speaks it too.
	Lang       string
	Attempts   int
	Sends      int
	LastSentAt time.Time
	CreatedAt  time.Time
	ExpiresAt  time.Time
	UsedAt     time.Time
}

// PhoneMessage is one SMS or call that carried a code, with what the
// provider reported about its delivery.
type PhoneMessage struct {
	SID     string // the provider's id (Twilio SM... or CA...)
	CodeID  string
	UserID  string
	PhoneID string
	Channel string // "sms" or "voice"
	Country string
	// Status as the provider spells it (queued, sent, delivered,
	// undelivered, failed; for calls ringing, in-progress, completed,
	// busy, no-answer, canceled).
	Status    string
	ErrorCode int
	// Price as reported (a decimal string, negative for a charge) and its
	// currency; "" until known.
	Price     string
	PriceUnit string
	Segments  int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// BudgetCharge is one counter to charge in SpendBudgets.
type BudgetCharge struct {
	Key string // opaque: "sms-user:<id>", "sms-country:JP", "sms-spend:day"
	// Cost is added to the counter (0 only checks it); the charge is
	// refused if the counter would pass Limit.
	Cost  int64
	Limit int64
	// Window is the length of the counter's window. It is not stored: a
	// key is always charged with the same Window.
	Window time.Duration
}

// Budget is a counter in a fixed window. A key never charged is the zero
// Budget (WindowStart zero: its window ended long ago).
type Budget struct {
	Key         string
	WindowStart time.Time
	Used        int64
}

// BudgetExceededError says which budget refused a SpendBudgets call.
type BudgetExceededError struct {
	Key string
	// Budget is the counter as it stands (unchanged by the refused call):
	// as stored, even if its window has ended; zero for a key never
	// charged.
	Budget Budget
}

func (e *BudgetExceededError) Error() string {
	return fmt.Sprintf("storage: budget %s exceeded", e.Key)
}

// Is makes errors.Is(err, ErrConflict) true: an exceeded budget is a lost
// race for the last unit like any other conditional write.
func (e *BudgetExceededError) Is(target error) bool { return target == ErrConflict }
