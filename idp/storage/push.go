package storage

import (
	"context"
	"time"
)

// PushStore is the persistence of push approval: the devices that receive
// pushes, the one-time tokens that enrol them, and the challenges a sign-in
// sends to them. It is part of Store; it is declared apart only to keep this
// file's contract in one place.
type PushStore interface {
	// Push devices, keyed by the RFC 7638 thumbprint of the device's P-256
	// key: the device API learns device and user from the key that signed
	// a request. Ids are global. A device goes with its user.
	// CreatePushDevice: ErrConflict if the id exists (for any user),
	// ErrNotFound if the user does not exist.
	CreatePushDevice(ctx context.Context, d PushDevice) error
	// ListPushDevices returns a user's devices, unregistered ones
	// included, oldest first (the id breaks ties).
	ListPushDevices(ctx context.Context, userID string) ([]PushDevice, error)
	// GetPushDevice returns a device by id; ErrNotFound if absent.
	GetPushDevice(ctx context.Context, id string) (PushDevice, error)
	// UpdatePushDeviceState records a heartbeat: Permission = permission
	// and LastSeenAt = now. A non-empty token also replaces Token and
	// Channel, and if it differs from the stored token the device is
	// reachable again (TokenValid = true, UnregisteredAt zero). An empty
	// token leaves Token and Channel as they are. The stored token sent
	// again leaves TokenValid as it is: a push service that called a
	// token gone will refuse it again, so the device must get a new one.
	// ErrNotFound if absent.
	UpdatePushDeviceState(ctx context.Context, id, permission, token, channel string, now time.Time) error
	// MarkPushDeviceUnregistered records a permanent push error for token:
	// TokenValid = false and UnregisteredAt = now (kept from the first
	// such error). It changes the device only if its token is still
	// token, so a late error for an old token never undoes a heartbeat
	// that brought a new one: then it returns ErrConflict and changes
	// nothing. Marking an unregistered token again is nil. ErrNotFound if
	// the device is absent.
	MarkPushDeviceUnregistered(ctx context.Context, id, token string, now time.Time) error
	// DeletePushDevice removes one of the user's devices and, by cascade,
	// its challenges; ErrNotFound if absent or another user's.
	DeletePushDevice(ctx context.Context, userID, id string) error

	// Enrolment tokens, the one-time secret in the account page's QR code,
	// stored as a hash. A token whose ExpiresAt is not after now is
	// expired. A token goes with its user.
	// CreatePushEnrolment: ErrConflict if the hash exists, ErrNotFound if
	// the user does not exist.
	CreatePushEnrolment(ctx context.Context, e PushEnrolment) error
	// UsePushEnrolment is the single-use rule: it sets UsedAt = now on a
	// live (unused, unexpired) token and returns it as updated. Of many
	// concurrent callers exactly one gets it; the others get ErrConflict.
	// ErrNotFound if missing or expired (used or not).
	UsePushEnrolment(ctx context.Context, tokenHash string, now time.Time) (PushEnrolment, error)
	// DeleteExpiredPushEnrolments removes expired tokens and returns how
	// many went.
	DeleteExpiredPushEnrolments(ctx context.Context, now time.Time) (int64, error)

	// Challenges: one push to one device for one login transaction. A
	// challenge is open while its Status is PushPending or PushDelivered;
	// every other status is final and never changes. Expiry does not hide
	// a challenge (the sign-in page reads its outcome), it only stops
	// answers. The methods the device API calls take the id of the device
	// that signed the request and treat another device's challenge as
	// missing. A challenge goes with its device and its user.
	// CreatePushChallenge stores c as given: ErrConflict if the id
	// exists, ErrNotFound if the device does not exist or is not
	// UserID's.
	CreatePushChallenge(ctx context.Context, c PushChallenge) error
	// GetPushChallenge returns a challenge, open or final, expired or not;
	// ErrNotFound if absent.
	GetPushChallenge(ctx context.Context, id string) (PushChallenge, error)
	// LatestPushChallenge returns the newest challenge of a login
	// transaction (by CreatedAt, then id), whatever its status;
	// ErrNotFound if none.
	LatestPushChallenge(ctx context.Context, txID string) (PushChallenge, error)
	// MarkPushDelivered records the device's fetch of the challenge, its
	// delivery acknowledgement: an open, unexpired challenge becomes
	// PushDelivered and DeliveredAt is set the first time. Any other
	// challenge is left as it is. Either way it returns the challenge as
	// it now stands. ErrNotFound if absent or another device's.
	MarkPushDelivered(ctx context.Context, deviceID, id string, now time.Time) (PushChallenge, error)
	// AnswerPushChallenge is the single-use rule: status (PushApproved,
	// PushDenied or PushNotMe) replaces the status of an open challenge
	// whose ExpiresAt is after now, and EndedAt = now. Of many concurrent
	// callers exactly one gets nil; the others, and any caller when the
	// challenge is final or expired, get ErrConflict. ErrNotFound if
	// absent or another device's. Another status is an error that is
	// neither sentinel, and changes nothing.
	AnswerPushChallenge(ctx context.Context, deviceID, id, status string, now time.Time) error
	// RecordWrongNumber counts a wrong number: if the challenge is open,
	// unexpired and WrongNumbers < maxWrong it increments WrongNumbers, and
	// the increment that reaches maxWrong also makes it PushFailed (Reason
	// PushReasonWrongNumbers, EndedAt = now) in the same step; it returns
	// the challenge as updated. Otherwise ErrConflict and nothing changes:
	// of many concurrent callers at most maxWrong succeed. ErrNotFound if
	// absent or another device's. The caller compares the number before
	// calling, so answers compared at the same moment can outnumber
	// maxWrong; that needs the device's key, and a device answers one at a
	// time.
	RecordWrongNumber(ctx context.Context, deviceID, id string, maxWrong int, now time.Time) (PushChallenge, error)
	// SupersedePushChallenges makes every open challenge of a login
	// transaction except exceptID ("": every one) PushSuperseded, with
	// EndedAt = now, so a late answer to an older push (or to a push the
	// sign-in moved on from) is refused. It returns how many changed.
	SupersedePushChallenges(ctx context.Context, txID, exceptID string, now time.Time) (int64, error)
	// EndPushChallenge ends an open challenge without an answer: status is
	// PushFailed (a permanent send error) or PushExpired (no delivery
	// acknowledgement or no answer in time); Reason = reason, EndedAt =
	// now, whether or not ExpiresAt has passed. ErrConflict if the
	// challenge is already final (an answer came first), ErrNotFound if
	// absent. Another status is an error that is neither sentinel, and
	// changes nothing.
	EndPushChallenge(ctx context.Context, id, status, reason string, now time.Time) error
	// CountPushChallenges counts a user's challenges created at or after
	// since, whatever their status. Counting then creating is not atomic:
	// a limit that must hold among concurrent sign-ins belongs in
	// SpendBudgets.
	CountPushChallenges(ctx context.Context, userID string, since time.Time) (int, error)
	// DeleteExpiredPushChallenges removes challenges whose ExpiresAt is
	// before before (the caller keeps outcomes readable for a while after
	// expiry), and returns how many went.
	DeleteExpiredPushChallenges(ctx context.Context, before time.Time) (int64, error)
}

// PushDevice is a phone or browser that receives push challenges for a
// user.
type PushDevice struct {
	// ID is the RFC 7638 JWK thumbprint (SHA-256, base64url) of PublicKey.
	ID     string
	UserID string
	// PublicKey is the device's P-256 public key as JWK JSON, byte for
	// byte as enrolled.
	PublicKey []byte
	// Name is what the user or the device called it ("Pixel 8");
	// Platform what the device said it is ("android", "ios", "web").
	Name     string
	Platform string
	// Channel is the push service: "webpush", "fcm" or "apns".
	Channel string
	// Token is the FCM registration token, the APNs device token, or the
	// Web Push subscription JSON. It lets Latchkey send a content-free
	// push, not sign anyone in, so it is stored as is.
	Token string
	// Permission is the notification permission the device last reported:
	// "granted", "denied", "default" or "prompt".
	Permission string
	// TokenValid is false once the push service called Token permanently
	// gone (unregistered), until a heartbeat brings another token.
	TokenValid     bool
	CreatedAt      time.Time
	LastSeenAt     time.Time // the last heartbeat (zero: none yet)
	UnregisteredAt time.Time // when TokenValid became false (zero while valid)
}

// PushEnrolment is one enrolment token: the secret in the QR code a device
// scans to join a user's account.
type PushEnrolment struct {
	TokenHash string // a keyed hash of the token; the token is never stored
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero while unused
}

// Push challenge statuses. Pending and delivered are open; the others are
// final.
const (
	PushPending   = "pending"   // created; the push may be on its way
	PushDelivered = "delivered" // the device fetched the details
	PushApproved  = "approved"  // the user picked the right number
	PushDenied    = "denied"    // the user said no: try another way
	PushNotMe     = "not_me"    // "this wasn't me": end the sign-in
	PushExpired   = "expired"   // no acknowledgement or answer in time
	// PushSuperseded: a newer push, or another factor, took over the
	// sign-in.
	PushSuperseded = "superseded"
	PushFailed     = "failed" // a permanent send error, or too many wrong numbers
)

// PushReasonWrongNumbers is the Reason RecordWrongNumber gives a challenge
// it fails.
const PushReasonWrongNumbers = "wrong_numbers"

// PushChallenge is one push sent for a sign-in, and its outcome.
type PushChallenge struct {
	ID       string
	TxID     string // the login transaction ("" outside one)
	UserID   string
	DeviceID string
	// Number is the two-digit number shown only on the sign-in page; the
	// device must send it back.
	Number int
	// Nonce is what the device signs with its answer, binding the answer
	// to this challenge.
	Nonce        string
	Status       string // one of the Push* statuses
	WrongNumbers int
	// Reason says why a challenge failed or expired ("" otherwise), in
	// the caller's words, or PushReasonWrongNumbers.
	Reason string
	// Context is what the device shows about the sign-in (JSON: app name,
	// browser, location), never the number; opaque to the store.
	Context     []byte
	CreatedAt   time.Time
	ExpiresAt   time.Time
	DeliveredAt time.Time // the first delivery acknowledgement (zero: none)
	EndedAt     time.Time // when the status became final (zero while open)
}

// Open reports whether the challenge can still be delivered and answered
// at now: its status is pending or delivered and it has not expired.
func (c PushChallenge) Open(now time.Time) bool {
	return (c.Status == PushPending || c.Status == PushDelivered) && c.ExpiresAt.After(now)
}
