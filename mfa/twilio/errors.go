package twilio

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
)

// Twilio error codes callers branch on. The full list is at
// https://www.twilio.com/docs/api/errors.
const (
	// CodeAuthenticate (HTTP 401): the Account SID or auth token is wrong.
	CodeAuthenticate = 20003
	// CodeAccountNotActive: the account is suspended or closed.
	CodeAccountNotActive = 20005
	// CodeTooManyRequests (HTTP 429): the account's concurrency or rate
	// limit; retried inside the client.
	CodeTooManyRequests = 20429
	// CodeInvalidNumber: "Invalid 'To' Phone Number".
	CodeInvalidNumber = 21211
	// CodeInvalidFrom: the configured caller ID is not a usable number.
	CodeInvalidFrom = 21212
	// CodeFromNotCapable: the configured From cannot send SMS to that
	// destination.
	CodeFromNotCapable = 21606
	// CodeUnsubscribed: the recipient replied STOP to this sender; SMS stays
	// refused until they reply START, so fall back to voice.
	CodeUnsubscribed = 21610
	// CodeNotMobile: "'To' number is not a valid mobile number" (a landline
	// for SMS).
	CodeNotMobile = 21614
)

// ErrConfig marks a configuration the client refuses, or one Twilio refused
// (see IsConfigError).
var ErrConfig = errors.New("twilio: configuration")

// Error is an error answer from Twilio: the JSON error body
// {"code", "message", "more_info", "status"}, or, for a body that is not JSON
// (a proxy's HTML 502 page), only the HTTP status. HTTPStatus is 0 when the
// client refused the request itself (a To that is not E.164 gets Code 21211
// before any request, so callers branch on one thing).
type Error struct {
	Code       int    // Twilio's error code; 0 when the body had none
	HTTPStatus int    // the response's HTTP status
	Message    string // Twilio's message; may contain the phone number
	MoreInfo   string // link to Twilio's page about the code
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.HTTPStatus)
	}
	switch {
	case e.Code != 0 && e.HTTPStatus != 0:
		return fmt.Sprintf("twilio: error %d (HTTP %d): %s", e.Code, e.HTTPStatus, msg)
	case e.Code != 0:
		return fmt.Sprintf("twilio: error %d: %s", e.Code, msg)
	default:
		return fmt.Sprintf("twilio: HTTP %d: %s", e.HTTPStatus, msg)
	}
}

// ErrorCode returns the Twilio error code in err's chain, or 0.
func ErrorCode(err error) int {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return 0
}

func httpStatus(err error) int {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.HTTPStatus
	}
	return 0
}

// IsUndeliverable reports whether a delivery error code from a status
// callback (or a fetched message) means the carrier could not deliver the
// SMS: 30003 unreachable handset, 30004 blocked, 30005 unknown or inactive
// number, 30006 landline or unreachable carrier, 30007 carrier filtering,
// 30008 unknown error. These never come back from the create call: the
// message is accepted ("queued") and fails later. Voice is the fallback.
func IsUndeliverable(code int) bool { return code >= 30003 && code <= 30008 }

// IsUnsubscribed reports Twilio's 21610: the recipient texted STOP. Another
// SMS will be refused until they text START; use voice.
func IsUnsubscribed(err error) bool { return ErrorCode(err) == CodeUnsubscribed }

// IsInvalidNumber reports 21211: the number cannot be a phone number (from
// Twilio, or the client's own E.164 check).
func IsInvalidNumber(err error) bool { return ErrorCode(err) == CodeInvalidNumber }

// IsNotMobile reports 21614: Twilio knows the number cannot receive SMS.
func IsNotMobile(err error) bool { return ErrorCode(err) == CodeNotMobile }

// IsRateLimited reports 20429 or HTTP 429, as left after the client's own
// retries gave up.
func IsRateLimited(err error) bool {
	return ErrorCode(err) == CodeTooManyRequests || httpStatus(err) == http.StatusTooManyRequests
}

// configCodes are Twilio answers that no retry and no user can fix: the
// operator's credentials or sender numbers are wrong.
var configCodes = []int{CodeAuthenticate, CodeAccountNotActive, CodeInvalidFrom, CodeFromNotCapable}

// IsConfigError reports a configuration problem: one New refused, or an
// answer from Twilio that only the operator can fix (20003 wrong credentials,
// 20005 account not active, 21212 / 21606 unusable sender). Callers log it at
// error level: every later message fails the same way.
func IsConfigError(err error) bool {
	return errors.Is(err, ErrConfig) || slices.Contains(configCodes, ErrorCode(err))
}

// retryable: Twilio asked us to slow down, or failed on its side. The same
// request is sent again (an SMS keeps its code: the user may already hold an
// earlier copy, and a new code would void it).
func retryable(err error) bool {
	return IsRateLimited(err) || httpStatus(err) >= 500
}
