package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
)

// Message keys of the generic errors. They are keys of the locale files, not text.
const (
	MsgInternal        = "error.internal"
	MsgNotFound        = "error.not_found"
	MsgBadRequest      = "error.bad_request"
	MsgForbidden       = "error.forbidden"
	MsgCSRF            = "error.csrf"
	MsgRequestTooLarge = "error.request_too_large"
)

// HandlerFunc is an HTTP handler that reports failure by returning an error instead of
// writing an error response itself; [Handle] turns it into an [http.Handler].
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Error is an error with the status and the user-facing message it should produce.
// Message is an i18n key, never text: the user sees its translation, while Err, the
// internal cause, is logged and never shown.
type Error struct {
	Status  int
	Message string
	Err     error
}

// Errorf returns an *Error whose internal cause is fmt.Errorf(format, args...); %w
// wraps as usual. The cause is logged, so args must not hold secrets.
func Errorf(status int, messageKey string, format string, args ...any) *Error {
	return &Error{Status: status, Message: messageKey, Err: fmt.Errorf(format, args...)}
}

// NewError returns an *Error with the given internal cause, which may be nil.
func NewError(status int, messageKey string, err error) *Error {
	return &Error{Status: status, Message: messageKey, Err: err}
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%d %s", e.Status, e.Message)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// ErrorRenderer writes the error response a user sees, typically a localized page.
type ErrorRenderer interface {
	RenderError(w http.ResponseWriter, r *http.Request, status int, messageKey string)
}

// ErrorHandler returns a handler that always renders the given error through er. It fits
// places that want an http.Handler for a fixed failure, such as [CSRF.WithFailureHandler].
func ErrorHandler(er ErrorRenderer, status int, messageKey string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		renderError(w, r, er, status, messageKey)
	})
}

// Handle adapts h to an http.Handler. It is the one place where a handler's error
// becomes a status, a log line and a page: a *Error anywhere in the chain gives the
// status and message key, *http.MaxBytesError gives 413, anything else is a 500 with
// [MsgInternal]. 5xx are logged at Error and 4xx at Info, with the request id. If the
// handler already wrote a response, the error is logged and nothing more is written.
func Handle(logger *slog.Logger, er ErrorRenderer, h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &trackingWriter{ResponseWriter: w}
		err := h(tw, r)
		if err == nil {
			return
		}
		status, key := classify(err)
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		// Only the path: the query of an OAuth request may carry codes or tokens.
		attrs := []slog.Attr{
			slog.String("request_id", RequestIDFrom(r.Context())),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", status),
			slog.String("message", key),
			slog.String("error", err.Error()),
		}
		if tw.wrote {
			attrs = append(attrs, slog.Bool("response_written", true))
		}
		logger.LogAttrs(r.Context(), level, "request failed", attrs...)
		if tw.wrote {
			return
		}
		renderError(w, r, er, status, key)
	})
}

// classify maps an error to the status and message key the user gets.
func classify(err error) (int, string) {
	var we *Error
	if errors.As(err, &we) {
		status, key := we.Status, we.Message
		if status < 400 || status > 599 {
			status = http.StatusInternalServerError
		}
		if key == "" {
			key = defaultMessage(status)
		}
		return status, key
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, MsgRequestTooLarge
	}
	return http.StatusInternalServerError, MsgInternal
}

func defaultMessage(status int) string {
	switch {
	case status == http.StatusNotFound:
		return MsgNotFound
	case status == http.StatusForbidden:
		return MsgForbidden
	case status >= 500:
		return MsgInternal
	default:
		return MsgBadRequest
	}
}

// renderError falls back to plain text when there is no renderer, so a wiring mistake
// still produces the right status.
func renderError(w http.ResponseWriter, r *http.Request, er ErrorRenderer, status int, key string) {
	if er == nil {
		http.Error(w, http.StatusText(status), status)
		return
	}
	er.RenderError(w, r, status, key)
}

// trackingWriter records whether the handler has started a response, so Handle never
// writes an error page after (or into) one.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (t *trackingWriter) WriteHeader(code int) {
	// 1xx responses (103 Early Hints) are not the final response.
	if code >= 200 {
		t.wrote = true
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *trackingWriter) Write(b []byte) (int, error) {
	t.wrote = true
	return t.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer (Flush, deadlines).
func (t *trackingWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// Flush keeps streaming handlers working through the wrapper; a flush commits the
// response headers, so it counts as writing.
func (t *trackingWriter) Flush() {
	t.wrote = true
	_ = http.NewResponseController(t.ResponseWriter).Flush()
}
