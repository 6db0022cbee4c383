package webpush

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/latchkey/latchkey/mfa/push"
)

var (
	// ErrInvalidSubscription: the target's token is not a usable
	// PushSubscription. It also matches push.ErrUnregistered: the device
	// can never be reached with this token, only with a new subscription.
	ErrInvalidSubscription error = &kindError{"webpush: invalid subscription", push.ErrUnregistered}
	// ErrEndpointNotAllowed: the subscription's endpoint is not on a push
	// service this sender may post to (Config.AllowedHosts). It also
	// matches push.ErrUnregistered, for the same reason.
	ErrEndpointNotAllowed error = &kindError{"webpush: endpoint not allowed", push.ErrUnregistered}
	// ErrRejected: the push service refused the request for a reason that
	// retrying cannot fix and that is not the subscription's end: 400 (a
	// malformed request), 401 or 403 (VAPID: the key or the token, or a
	// subscription created for another applicationServerKey), 413 (payload
	// too large) and other 4xx. Usually configuration: log at error level.
	ErrRejected = errors.New("webpush: push service rejected the push")
	// ErrPayloadTooLarge: the message does not fit in one push
	// (MaxPayload); nothing was sent.
	ErrPayloadTooLarge = errors.New("webpush: payload too large")
)

// kindError is a sentinel that also matches a more general one.
type kindError struct {
	msg    string
	parent error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.parent }

// Error is a push service's answer other than 2xx. It matches
// push.ErrUnregistered for 404 and 410 (RFC 8030 Section 7.3: the
// subscription expired or was removed) and ErrRejected for the other 4xx
// but 429; 429 and 5xx match neither (they are retried).
type Error struct {
	StatusCode int
	Host       string // the push service, never the endpoint's path (a capability)
	// Message is the start of the answer's body, sanitised (push services
	// explain a refusal in text or JSON, as Mozilla's {"errno": ...}).
	Message string
	// RetryAfter is the answer's Retry-After, zero when absent or unusable.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	s := fmt.Sprintf("webpush: %s answered %d %s", e.Host, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Unwrap classifies the answer (see Error).
func (e *Error) Unwrap() error {
	switch {
	case e.StatusCode == http.StatusNotFound || e.StatusCode == http.StatusGone:
		return push.ErrUnregistered
	case e.retryable():
		return nil
	default:
		return ErrRejected
	}
}

func (e *Error) retryable() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// Retryable reports whether err is worth another attempt: a 429 or 5xx
// answer, or a request that failed on the way (connection refused, reset,
// per-attempt timeout) while the caller's context is still live.
func retryable(err error) bool {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.retryable()
	}
	return !errors.Is(err, push.ErrUnregistered) && !errors.Is(err, ErrRejected) && !errors.Is(err, ErrPayloadTooLarge)
}

// maxMessage bounds Error.Message: enough for Mozilla's JSON error or
// FCM's one-line reason.
const maxMessage = 200

// sanitize keeps a body excerpt fit for a log line: printable runes only,
// whitespace collapsed, at most maxMessage bytes.
func sanitize(body []byte) string {
	s := strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r):
			return ' '
		case !unicode.IsPrint(r):
			return -1
		}
		return r
	}, string(body))
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxMessage {
		cut := maxMessage
		for cut > 0 && !utf8Start(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
