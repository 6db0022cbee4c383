package push

import (
	"errors"
	"fmt"
	"net/http"
)

// Errors of the device protocol. ParseRequest and CheckAnswer return the
// first group; the second group is for the caller (the idp handlers and
// the store), so that every node answers a device with the same status
// and error code (see Status and docs/push-protocol.md).
var (
	ErrMalformed     = errors.New("push: malformed request")
	ErrBadSignature  = errors.New("push: bad signature")
	ErrStale         = errors.New("push: request time outside the allowed window")
	ErrWrongAudience = errors.New("push: request is for another issuer")
	ErrWrongKind     = errors.New("push: request of the wrong kind for this endpoint")
	ErrKeyMismatch   = errors.New("push: request not signed by the key it names")
	ErrNonce         = errors.New("push: wrong challenge nonce")
	ErrExpired       = errors.New("push: challenge expired")
	ErrWrongNumber   = errors.New("push: wrong number")
	// ErrDecoyPicked is a wrong number that was one of the challenge's
	// choices: someone picked a button without looking at the sign-in
	// page. It wraps ErrWrongNumber; the caller ends the challenge at once
	// (see CheckAnswer).
	ErrDecoyPicked = fmt.Errorf("%w (a decoy was picked)", ErrWrongNumber)
)

var (
	ErrReplayed         = errors.New("push: request already seen (jti replayed)")
	ErrInvalidToken     = errors.New("push: enrolment token unknown, used or expired")
	ErrDeviceExists     = errors.New("push: device already enrolled")
	ErrUnknownDevice    = errors.New("push: unknown or removed device")
	ErrUnknownChallenge = errors.New("push: unknown challenge")
	ErrAnswered         = errors.New("push: challenge already answered")
	ErrChallengeEnded   = errors.New("push: challenge ended")
	ErrRateLimited      = errors.New("push: too many requests")
)

// Status maps a protocol error to the HTTP status and the "error" code of
// the JSON error body (ErrorBody) that docs/push-protocol.md lists. An
// error outside the protocol is a 500 "server_error".
func Status(err error) (int, string) {
	switch {
	case err == nil:
		return http.StatusOK, ""
	case errors.Is(err, ErrBadSignature), errors.Is(err, ErrKeyMismatch):
		return http.StatusUnauthorized, "invalid_signature"
	case errors.Is(err, ErrUnknownDevice):
		return http.StatusUnauthorized, "unknown_device"
	case errors.Is(err, ErrStale):
		return http.StatusBadRequest, "stale_request"
	case errors.Is(err, ErrReplayed):
		return http.StatusBadRequest, "replayed_request"
	case errors.Is(err, ErrMalformed), errors.Is(err, ErrWrongKind), errors.Is(err, ErrWrongAudience):
		return http.StatusBadRequest, "invalid_request"
	case errors.Is(err, ErrInvalidToken):
		return http.StatusBadRequest, "invalid_enrolment_token"
	case errors.Is(err, ErrDeviceExists):
		return http.StatusConflict, "device_exists"
	case errors.Is(err, ErrUnknownChallenge):
		return http.StatusNotFound, "unknown_challenge"
	case errors.Is(err, ErrNonce):
		return http.StatusBadRequest, "invalid_nonce"
	case errors.Is(err, ErrDecoyPicked), errors.Is(err, ErrChallengeEnded):
		return http.StatusConflict, "challenge_ended"
	case errors.Is(err, ErrWrongNumber):
		return http.StatusBadRequest, "wrong_number"
	case errors.Is(err, ErrExpired):
		return http.StatusGone, "challenge_expired"
	case errors.Is(err, ErrAnswered):
		return http.StatusConflict, "already_answered"
	case errors.Is(err, ErrRateLimited):
		return http.StatusTooManyRequests, "rate_limited"
	default:
		return http.StatusInternalServerError, "server_error"
	}
}
