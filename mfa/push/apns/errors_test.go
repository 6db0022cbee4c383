package apns

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/latchkey/latchkey/mfa/push"
)

func TestErrorClassification(t *testing.T) {
	tests := []struct {
		status                   int
		reason                   string
		unregistered, temp, conf bool
	}{
		{410, "Unregistered", true, false, false},
		{410, "ExpiredToken", true, false, false},
		{410, "", true, false, false},
		{400, "BadDeviceToken", true, false, false},
		{400, "DeviceTokenNotForTopic", true, false, false},
		{400, "TopicDisallowed", false, false, true},
		{400, "MissingTopic", false, false, true},
		{400, "BadCertificateEnvironment", false, false, true},
		{400, "BadPriority", false, false, false}, // this code's bug
		{413, "PayloadTooLarge", false, false, false},
		{400, "IdleTimeout", false, true, false},
		{403, "InvalidProviderToken", false, false, true},
		{403, "ExpiredProviderToken", false, false, true},
		{403, "Forbidden", false, false, true},
		{404, "BadPath", false, false, true},
		{429, "TooManyRequests", false, true, false},
		{429, "TooManyProviderTokenUpdates", false, false, false},
		{500, "InternalServerError", false, true, false},
		{503, "ServiceUnavailable", false, true, false},
		{503, "Shutdown", false, true, false},
		{502, "", false, true, false},
	}
	for _, tt := range tests {
		e := &Error{StatusCode: tt.status, Reason: tt.reason}
		if got := errors.Is(e, push.ErrUnregistered); got != tt.unregistered {
			t.Errorf("%v: unregistered = %v, want %v", e, got, tt.unregistered)
		}
		if got := e.Temporary(); got != tt.temp {
			t.Errorf("%v: temporary = %v, want %v", e, got, tt.temp)
		}
		if got := errors.Is(e, ErrConfig); got != tt.conf {
			t.Errorf("%v: config = %v, want %v", e, got, tt.conf)
		}
	}
}

func TestParseError(t *testing.T) {
	resp := &http.Response{StatusCode: 410, Header: http.Header{"Apns-Id": {"EC1BF194-B3B2-424A-AD3E-E4C0D6A5B2C1"}}}
	e := parseError(resp, []byte(`{"reason":"Unregistered","timestamp":1454402113000}`), time.Now())
	if e.Reason != "Unregistered" || !e.Timestamp.Equal(time.UnixMilli(1454402113000)) || e.ID != "EC1BF194-B3B2-424A-AD3E-E4C0D6A5B2C1" {
		t.Fatalf("parsed %+v", e)
	}
	e = parseError(&http.Response{StatusCode: 502, Header: http.Header{"Retry-After": {"4"}}}, []byte("<html>"), time.Now())
	if e.Reason != "" || !e.Temporary() || e.RetryAfter != 4*time.Second || e.Error() != "apns: HTTP 502: Bad Gateway" {
		t.Fatalf("parsed %+v (%v)", e, e)
	}
}
