package fcm

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/mfa/push"
)

// FCM error codes (google.firebase.fcm.v1.FcmError.errorCode), from
// https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode.
const (
	CodeUnregistered      = "UNREGISTERED"       // 404: the app was uninstalled or the token expired
	CodeInvalidArgument   = "INVALID_ARGUMENT"   // 400: a bad registration token, or a bad message
	CodeSenderIDMismatch  = "SENDER_ID_MISMATCH" // 403: the token belongs to another Firebase project
	CodeQuotaExceeded     = "QUOTA_EXCEEDED"     // 429
	CodeUnavailable       = "UNAVAILABLE"        // 503
	CodeInternal          = "INTERNAL"           // 500
	CodeThirdPartyAuthErr = "THIRD_PARTY_AUTH_ERROR"
)

// tokenField is the message field FCM names when the registration token is
// the problem.
const tokenField = "message.token"

// Error is an error answer from the FCM send API: the google.rpc.Status
// body {"error": {"code", "message", "status", "details"}}, or only the
// HTTP status when the body is not JSON (a front end's HTML 502 page).
//
// It matches push.ErrUnregistered when the device can never be reached at
// this token, and ErrConfig when an operator must act.
type Error struct {
	StatusCode int    // the HTTP status
	Status     string // the google.rpc code name: NOT_FOUND, INVALID_ARGUMENT ...
	ErrorCode  string // FcmError.errorCode: UNREGISTERED ...; "" when absent
	Message    string
	// Fields are the message fields a google.rpc.BadRequest detail names;
	// "" for a violation that names none (an unknown JSON name).
	Fields []string
	// RetryAfter is the Retry-After header's delay; 0 when absent.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "fcm: HTTP %d", e.StatusCode)
	for _, s := range []string{e.Status, e.ErrorCode} {
		if s != "" {
			b.WriteString(" " + s)
		}
	}
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	b.WriteString(": " + msg)
	if named := slices.DeleteFunc(slices.Clone(e.Fields), func(f string) bool { return f == "" }); len(named) > 0 {
		fmt.Fprintf(&b, " (fields %s)", strings.Join(named, ", "))
	}
	return b.String()
}

// Unregistered reports whether FCM says the registration token is gone for
// good.
func (e *Error) Unregistered() bool {
	switch {
	case e.ErrorCode == CodeUnregistered, e.ErrorCode == CodeSenderIDMismatch:
		return true
	case e.ErrorCode == CodeInvalidArgument || (e.ErrorCode == "" && e.Status == CodeInvalidArgument):
		// INVALID_ARGUMENT also answers a malformed message. That is this
		// code's bug, and it must not unregister every device it reaches:
		// the token is to blame only when no other field is named.
		for _, f := range e.Fields {
			if f != tokenField {
				return false
			}
		}
		return true
	}
	return false
}

// Temporary reports whether the same request may succeed later.
func (e *Error) Temporary() bool {
	switch e.StatusCode {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return e.ErrorCode == CodeQuotaExceeded || e.ErrorCode == CodeUnavailable || e.ErrorCode == CodeInternal
}

// Config reports whether the answer means the credentials or the project
// are wrong: 401 (after the one retry with a fresh token), 403 other than
// SENDER_ID_MISMATCH, THIRD_PARTY_AUTH_ERROR (the APNs or Web Push
// credentials uploaded to Firebase) and 404 without UNREGISTERED (no such
// project or API path).
func (e *Error) Config() bool {
	if e.Unregistered() || e.Temporary() {
		return false
	}
	return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden ||
		e.StatusCode == http.StatusNotFound || e.ErrorCode == CodeThirdPartyAuthErr
}

// Unwrap makes the error match push.ErrUnregistered or ErrConfig.
func (e *Error) Unwrap() error {
	switch {
	case e.Unregistered():
		return push.ErrUnregistered
	case e.Config():
		return ErrConfig
	}
	return nil
}

// parseError reads an error answer.
func parseError(resp *http.Response, body []byte, now time.Time) *Error {
	e := &Error{StatusCode: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"), now)}
	var st struct {
		Error struct {
			Message string `json:"message"`
			Status  string `json:"status"`
			Details []struct {
				Type            string `json:"@type"`
				ErrorCode       string `json:"errorCode"`
				FieldViolations []struct {
					Field string `json:"field"`
				} `json:"fieldViolations"`
			} `json:"details"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &st) != nil {
		return e
	}
	e.Status, e.Message = st.Error.Status, st.Error.Message
	for _, d := range st.Error.Details {
		switch {
		case strings.HasSuffix(d.Type, "/google.firebase.fcm.v1.FcmError"):
			e.ErrorCode = d.ErrorCode
		case strings.HasSuffix(d.Type, "/google.rpc.BadRequest"):
			for _, v := range d.FieldViolations {
				e.Fields = append(e.Fields, v.Field)
			}
		}
	}
	return e
}

// retryAfter reads a Retry-After header (RFC 9110 §10.2.3): delay-seconds
// or an HTTP-date, compared with the wall clock like the context deadline
// it competes with.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if n, err := strconv.ParseInt(h, 10, 32); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// temporary reports whether err, from one attempt, is worth another.
func temporary(err error) bool {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Temporary()
	}
	if e, ok := errors.AsType[*TokenError](err); ok {
		return e.Temporary()
	}
	// Everything else is the network or a garbled answer.
	return !errors.Is(err, ErrConfig)
}
