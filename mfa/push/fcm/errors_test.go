package fcm

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/mfa/push"
)

func TestErrorClassification(t *testing.T) {
	detail := func(code string) string {
		return `{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"` + code + `"}`
	}
	fields := func(fs ...string) string {
		vs := make([]string, len(fs))
		for i, f := range fs {
			vs[i] = `{"field":"` + f + `","description":"bad"}`
		}
		return `{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[` + strings.Join(vs, ",") + "]}"
	}
	status := func(code int, st string, details ...string) string {
		return `{"error":{"code":` + strconv.Itoa(code) + `,"message":"m","status":"` + st + `","details":[` + strings.Join(details, ",") + `]}}`
	}
	tests := []struct {
		name                     string
		code                     int
		body                     string
		unregistered, temp, conf bool
	}{
		{"unregistered", 404, status(404, "NOT_FOUND", detail("UNREGISTERED")), true, false, false},
		{"invalid token", 400, status(400, "INVALID_ARGUMENT", detail("INVALID_ARGUMENT")), true, false, false},
		{"invalid token field", 400, status(400, "INVALID_ARGUMENT", detail("INVALID_ARGUMENT"), fields("message.token")), true, false, false},
		{"invalid argument without detail", 400, status(400, "INVALID_ARGUMENT"), true, false, false},
		{"invalid ttl: our bug, not the device's", 400, status(400, "INVALID_ARGUMENT", detail("INVALID_ARGUMENT"), fields("message.android.ttl")), false, false, false},
		{"unknown name: our bug", 400, status(400, "INVALID_ARGUMENT", fields("")), false, false, false},
		{"sender id mismatch", 403, status(403, "PERMISSION_DENIED", detail("SENDER_ID_MISMATCH")), true, false, false},
		{"permission denied", 403, status(403, "PERMISSION_DENIED"), false, false, true},
		{"unauthenticated", 401, status(401, "UNAUTHENTICATED"), false, false, true},
		{"APNs credentials in Firebase", 401, status(401, "UNAUTHENTICATED", detail("THIRD_PARTY_AUTH_ERROR")), false, false, true},
		{"no such project", 404, status(404, "NOT_FOUND"), false, false, true},
		{"quota", 429, status(429, "RESOURCE_EXHAUSTED", detail("QUOTA_EXCEEDED")), false, true, false},
		{"unavailable", 503, status(503, "UNAVAILABLE", detail("UNAVAILABLE")), false, true, false},
		{"internal", 500, status(500, "INTERNAL", detail("INTERNAL")), false, true, false},
		{"front end's HTML 502", 502, "<html>502</html>", false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := parseError(&http.Response{StatusCode: tt.code, Header: http.Header{}}, []byte(tt.body), time.Now())
			if got := errors.Is(e, push.ErrUnregistered); got != tt.unregistered {
				t.Errorf("%v: unregistered = %v, want %v", e, got, tt.unregistered)
			}
			if got := e.Temporary(); got != tt.temp {
				t.Errorf("%v: temporary = %v, want %v", e, got, tt.temp)
			}
			if got := errors.Is(e, ErrConfig); got != tt.conf {
				t.Errorf("%v: config = %v, want %v", e, got, tt.conf)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		h    string
		want time.Duration
	}{
		{"", 0},
		{"5", 5 * time.Second},
		{"0", 0},
		{"-3", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	} {
		if got := retryAfter(tt.h, now); got != tt.want {
			t.Errorf("retryAfter(%q) = %s, want %s", tt.h, got, tt.want)
		}
	}
}

func TestTokenErrorClassification(t *testing.T) {
	for _, tt := range []struct {
		code       int
		temp, conf bool
	}{{400, false, true}, {401, false, true}, {429, true, false}, {500, true, false}, {503, true, false}} {
		e := &TokenError{StatusCode: tt.code, Code: "x"}
		if e.Temporary() != tt.temp || errors.Is(e, ErrConfig) != tt.conf {
			t.Errorf("HTTP %d: temporary %v config %v", tt.code, e.Temporary(), errors.Is(e, ErrConfig))
		}
	}
}
