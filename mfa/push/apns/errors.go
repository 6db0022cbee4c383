package apns

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/mfa/push"
)

// APNs reasons the Sender branches on, from "Handling notification
// responses from APNs".
const (
	ReasonBadDeviceToken              = "BadDeviceToken"         // 400
	ReasonDeviceTokenNotForTopic      = "DeviceTokenNotForTopic" // 400
	ReasonUnregistered                = "Unregistered"           // 410
	ReasonExpiredToken                = "ExpiredToken"           // 410
	ReasonExpiredProviderToken        = "ExpiredProviderToken"   // 403
	ReasonInvalidProviderToken        = "InvalidProviderToken"   // 403
	ReasonTooManyProviderTokenUpdates = "TooManyProviderTokenUpdates"
	ReasonTooManyRequests             = "TooManyRequests" // 429
	ReasonIdleTimeout                 = "IdleTimeout"     // 400: the connection sat idle; a new one works
)

// Reasons that say the configuration is wrong rather than the request.
var configReasons = []string{"MissingTopic", "BadTopic", "TopicDisallowed", "BadCertificate",
	"BadCertificateEnvironment", "BadPath", "MissingProviderToken", "InvalidProviderToken",
	"ExpiredProviderToken", "Forbidden", "UnrelatedKeyIdInToken"}

// Error is an error answer from APNs: its status and the JSON body
// {"reason", "timestamp"}.
//
// It matches push.ErrUnregistered when the device can never be reached at
// this token, and ErrConfig when an operator must act.
type Error struct {
	StatusCode int
	Reason     string // "BadDeviceToken" ...; "" when the body had none
	// Timestamp is, for 410, when APNs learned the token is no longer
	// valid for the topic: a token registered after it is a new one.
	Timestamp time.Time
	// ID is the apns-id of the answer, for Apple's support.
	ID string
	// RetryAfter is the Retry-After header's delay; 0 when absent.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	reason := e.Reason
	if reason == "" {
		reason = http.StatusText(e.StatusCode)
	}
	return fmt.Sprintf("apns: HTTP %d: %s", e.StatusCode, reason)
}

// Unregistered reports whether APNs says the device token is gone for good
// (for this topic).
func (e *Error) Unregistered() bool {
	switch e.Reason {
	case ReasonUnregistered, ReasonExpiredToken, ReasonBadDeviceToken, ReasonDeviceTokenNotForTopic:
		return true
	}
	return e.StatusCode == http.StatusGone
}

// Temporary reports whether the same request may succeed later.
func (e *Error) Temporary() bool {
	if e.Reason == ReasonTooManyProviderTokenUpdates {
		// Only waiting out Apple's 20 minutes would help.
		return false
	}
	switch e.StatusCode {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return e.Reason == ReasonIdleTimeout
}

// Config reports whether an operator must act: a 403 (the key, team id or
// clock), a topic refusal, or a path the host does not know.
func (e *Error) Config() bool {
	return !e.Unregistered() && (e.StatusCode == http.StatusForbidden || slices.Contains(configReasons, e.Reason))
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
	e := &Error{
		StatusCode: resp.StatusCode,
		ID:         resp.Header.Get("apns-id"),
		RetryAfter: retryAfter(resp.Header.Get("Retry-After"), now),
	}
	var b struct {
		Reason    string `json:"reason"`
		Timestamp int64  `json:"timestamp"` // milliseconds since the epoch
	}
	if json.Unmarshal(body, &b) == nil {
		e.Reason = b.Reason
		if b.Timestamp > 0 {
			e.Timestamp = time.UnixMilli(b.Timestamp).UTC()
		}
	}
	return e
}

// retryAfter reads a Retry-After header (RFC 9110 §10.2.3): delay-seconds
// or an HTTP-date, compared with the wall clock like the context deadline
// it competes with. APNs does not document one; a proxy may send it.
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
	// Everything else is the network or a garbled answer.
	return !errors.Is(err, ErrConfig)
}
