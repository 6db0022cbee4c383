package web

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// recordingRenderer is an ErrorRenderer that records what it was asked to render.
type recordingRenderer struct {
	calls  int
	status int
	key    string
}

func (rr *recordingRenderer) RenderError(w http.ResponseWriter, _ *http.Request, status int, key string) {
	rr.calls++
	rr.status, rr.key = status, key
	w.WriteHeader(status)
	fmt.Fprintf(w, "error page: %s", key)
}

func TestHandle(t *testing.T) {
	tests := []struct {
		name       string
		h          HandlerFunc
		wantStatus int
		wantKey    string // "" means the error renderer must not be called
		wantLevel  string // "" means nothing may be logged
		wantBody   string
	}{
		{
			name:       "success",
			h:          func(w http.ResponseWriter, r *http.Request) error { io.WriteString(w, "ok"); return nil },
			wantStatus: http.StatusOK,
			wantBody:   "ok",
		},
		{
			name:       "web error 404",
			h:          func(w http.ResponseWriter, r *http.Request) error { return NewError(404, MsgNotFound, nil) },
			wantStatus: 404, wantKey: MsgNotFound, wantLevel: "INFO",
		},
		{
			name: "wrapped web error keeps its status",
			h: func(w http.ResponseWriter, r *http.Request) error {
				return fmt.Errorf("load client: %w", Errorf(400, "error.unknown_client", "client %q", "c1"))
			},
			wantStatus: 400, wantKey: "error.unknown_client", wantLevel: "INFO",
		},
		{
			name: "web error 503 logs at error",
			h: func(w http.ResponseWriter, r *http.Request) error {
				return NewError(503, MsgInternal, errors.New("db down"))
			},
			wantStatus: 503, wantKey: MsgInternal, wantLevel: "ERROR",
		},
		{
			name:       "plain error is internal",
			h:          func(w http.ResponseWriter, r *http.Request) error { return errors.New("boom") },
			wantStatus: 500, wantKey: MsgInternal, wantLevel: "ERROR",
		},
		{
			name:       "status out of range becomes 500",
			h:          func(w http.ResponseWriter, r *http.Request) error { return NewError(302, "error.bad_request", nil) },
			wantStatus: 500, wantKey: "error.bad_request", wantLevel: "ERROR",
		},
		{
			name:       "empty key gets the default for the status",
			h:          func(w http.ResponseWriter, r *http.Request) error { return NewError(403, "", nil) },
			wantStatus: 403, wantKey: MsgForbidden, wantLevel: "INFO",
		},
		{
			name: "body too large is 413",
			h: func(w http.ResponseWriter, r *http.Request) error {
				r.Body = http.MaxBytesReader(w, r.Body, 2)
				if err := r.ParseForm(); err != nil {
					return fmt.Errorf("parse form: %w", err)
				}
				return nil
			},
			wantStatus: 413, wantKey: MsgRequestTooLarge, wantLevel: "INFO",
		},
		{
			name: "no render after the handler wrote",
			h: func(w http.ResponseWriter, r *http.Request) error {
				w.WriteHeader(http.StatusAccepted)
				io.WriteString(w, "partial")
				return errors.New("late failure")
			},
			wantStatus: http.StatusAccepted, wantLevel: "ERROR", wantBody: "partial",
		},
		{
			name: "no render after the handler wrote a body only",
			h: func(w http.ResponseWriter, r *http.Request) error {
				io.WriteString(w, "streamed")
				return NewError(400, MsgBadRequest, nil)
			},
			wantStatus: http.StatusOK, wantLevel: "INFO", wantBody: "streamed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			rr := &recordingRenderer{}
			srv := Chain(Handle(logger, rr, tt.h), RequestID)

			req := httptest.NewRequest(http.MethodPost, "/callback?code=SECRETCODE", strings.NewReader("a=bcdef"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set(RequestIDHeader, "req-123")
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)

			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if tt.wantKey == "" {
				if rr.calls != 0 {
					t.Errorf("error renderer called %d times, want 0", rr.calls)
				}
			} else if rr.calls != 1 || rr.status != tt.wantStatus || rr.key != tt.wantKey {
				t.Errorf("renderer got (%d calls, %d, %q), want (1, %d, %q)", rr.calls, rr.status, rr.key, tt.wantStatus, tt.wantKey)
			}
			if tt.wantBody != "" && rec.Body.String() != tt.wantBody {
				t.Errorf("body = %q, want %q", rec.Body.String(), tt.wantBody)
			}
			out := logs.String()
			if tt.wantLevel == "" {
				if out != "" {
					t.Errorf("unexpected log: %s", out)
				}
				return
			}
			if strings.Count(out, "\n") != 1 || !strings.Contains(out, "level="+tt.wantLevel) {
				t.Errorf("want one log line at %s, got:\n%s", tt.wantLevel, out)
			}
			if !strings.Contains(out, "request_id=req-123") {
				t.Errorf("log lacks the request id:\n%s", out)
			}
			if strings.Contains(out, "SECRETCODE") {
				t.Errorf("log leaks the query string:\n%s", out)
			}
		})
	}
}

func TestHandleNilRenderer(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := Handle(logger, nil, func(w http.ResponseWriter, r *http.Request) error { return NewError(404, MsgNotFound, nil) })
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	if rec.Code != 404 {
		t.Errorf("status = %d, want 404", rec.Code)
	}
}

func TestErrorUnwrapAndText(t *testing.T) {
	cause := errors.New("row missing")
	err := Errorf(404, MsgNotFound, "get client %s: %w", "c1", cause)
	if !errors.Is(err, cause) {
		t.Error("Errorf does not wrap its %w cause")
	}
	if got, want := err.Error(), "404 error.not_found: get client c1: row missing"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := NewError(400, MsgBadRequest, nil).Error(), "400 error.bad_request"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestErrorHandler(t *testing.T) {
	rr := &recordingRenderer{}
	rec := httptest.NewRecorder()
	ErrorHandler(rr, 403, MsgCSRF).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	if rec.Code != 403 || rr.key != MsgCSRF {
		t.Errorf("got %d %q, want 403 %q", rec.Code, rr.key, MsgCSRF)
	}
}
