package push_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/mfa/push"
)

// The reference device's requests pass ParseRequest, and its key and
// thumbprint agree with the independent computation.
func TestDeviceKeyRoundTrip(t *testing.T) {
	k, err := push.NewDeviceKey()
	if err != nil {
		t.Fatal(err)
	}
	jwk := k.PublicJWK()
	if want := thumbprintByMarshal(t, map[string]any{"kty": jwk.Kty, "crv": jwk.Crv, "x": jwk.X, "y": jwk.Y}); k.Thumbprint() != want || jwk.Thumbprint() != want {
		t.Fatalf("Thumbprint %s, JWK.Thumbprint %s, want %s", k.Thumbprint(), jwk.Thumbprint(), want)
	}
	c := k.NewClaims(push.KindAnswer, issuer, now)
	c.Challenge, c.Nonce, c.Decision, c.Number = "chal_0123456789abcdef", "nonce_0123456789abcdef", push.DecisionApprove, "42"
	compact, err := k.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	r, err := push.ParseRequest(compact, issuer, now, push.KindAnswer)
	if err != nil {
		t.Fatal(err)
	}
	if r.DeviceID != k.Thumbprint() || !r.Key.Equal(jwk) || r.Answer.Number != "42" || r.ID != c.ID {
		t.Errorf("request %+v", r)
	}
	// Each NewClaims has its own jti.
	if c2 := k.NewClaims(push.KindAnswer, issuer, now); c2.ID == c.ID || len(c2.ID) < 16 {
		t.Errorf("jti %q after %q", c2.ID, c.ID)
	}
	// The stored form of the key reads back as the same key.
	stored, err := json.Marshal(jwk)
	if err != nil {
		t.Fatal(err)
	}
	back, err := push.ParseJWK(stored)
	if err != nil || !back.Equal(jwk) {
		t.Errorf("ParseJWK(%s) = %+v, %v", stored, back, err)
	}
	if _, err := push.ParseJWK([]byte(`{"kty":"EC","crv":"P-256","x":"` + jwk.X + `","y":"` + jwk.Y + `","d":"AAAA"}`)); !errors.Is(err, push.ErrMalformed) {
		t.Errorf("ParseJWK with d: %v", err)
	}
}

func TestDeviceKeyFrom(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := push.DeviceKeyFrom(priv); err == nil {
		t.Error("a P-384 key accepted")
	}
	if _, err := push.DeviceKeyFrom(nil); err == nil {
		t.Error("nil accepted")
	}
}

func TestDeviceKeyLogValue(t *testing.T) {
	k, err := push.NewDeviceKey()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("device", "key", k)
	if !strings.Contains(buf.String(), k.Thumbprint()) || strings.Contains(buf.String(), `"D"`) || strings.Contains(buf.String(), "priv") {
		t.Errorf("log line %s", buf.String())
	}
}

func TestEnrolmentToken(t *testing.T) {
	tok, hash := push.NewEnrolmentToken()
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`).MatchString(tok) {
		t.Errorf("token %q is not 256 bits of base64url", tok)
	}
	if hash != push.HashToken(tok) || hash == tok || len(hash) != 43 {
		t.Errorf("hash %q of %q", hash, tok)
	}
	// SHA-256 of "abc" (FIPS 180-2 B.1), base64url.
	if got := push.HashToken("abc"); got != "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0" {
		t.Errorf("HashToken(abc) = %s", got)
	}
	tok2, _ := push.NewEnrolmentToken()
	if tok2 == tok {
		t.Error("two tokens alike")
	}
}

func TestEnrolmentLinks(t *testing.T) {
	tok := "q3Jm2x8vKX0fUa7Tn9cR4bLwE1hYdS6gZpV5oNiMkQA"
	for _, iss := range []string{"https://id.example.com", "https://example.com/sso", "http://localhost:8080"} {
		uri := push.EnrolmentURI(iss, tok)
		u := push.EnrolmentURL(iss, tok)
		if !strings.HasPrefix(uri, "latchkey-push://enrol?iss=") || !strings.HasSuffix(uri, "&token="+tok) {
			t.Errorf("EnrolmentURI = %s", uri)
		}
		if u != iss+"/authenticator#enrol="+tok {
			t.Errorf("EnrolmentURL = %s", u)
		}
		for _, link := range []string{uri, u} {
			gotIss, gotTok, err := push.ParseEnrolmentLink(link)
			if err != nil || gotIss != iss || gotTok != tok {
				t.Errorf("ParseEnrolmentLink(%s) = %q, %q, %v", link, gotIss, gotTok, err)
			}
		}
	}
	if got := push.EnrolmentURI("https://id.example.com", tok); got != "latchkey-push://enrol?iss=https%3A%2F%2Fid.example.com&token="+tok {
		t.Errorf("EnrolmentURI = %s", got)
	}
	for _, bad := range []string{
		"https://id.example.com/authenticator",              // no token
		"https://id.example.com/authenticator?enrol=" + tok, // token in the query: it would reach logs
		"https://id.example.com/account#enrol=" + tok,
		"latchkey-push://enrol?token=" + tok, // no issuer
		"latchkey-push://other?iss=https%3A%2F%2Fid.example.com&token=" + tok,
		"otpauth://totp/x",
		"%zz",
	} {
		if iss, tok, err := push.ParseEnrolmentLink(bad); err == nil {
			t.Errorf("ParseEnrolmentLink(%s) = %q, %q", bad, iss, tok)
		}
	}
}

func TestReady(t *testing.T) {
	const silence = 30 * 24 * time.Hour
	ok := push.DeviceState{Permission: push.PermissionGranted, TokenValid: true, LastSeen: now.Add(-time.Hour)}
	cases := []struct {
		name   string
		edit   func(s *push.DeviceState)
		max    time.Duration
		ready  bool
		reason string
	}{
		{"granted, valid, seen an hour ago", nil, silence, true, ""},
		{"seen exactly maxSilence ago", func(s *push.DeviceState) { s.LastSeen = now.Add(-silence) }, silence, true, ""},
		{"seen in the future (another node's clock)", func(s *push.DeviceState) { s.LastSeen = now.Add(time.Minute) }, silence, true, ""},
		{"silent too long", func(s *push.DeviceState) { s.LastSeen = now.Add(-silence - time.Second) }, silence, false, push.ReasonSilent},
		{"never seen", func(s *push.DeviceState) { s.LastSeen = time.Time{} }, silence, false, push.ReasonSilent},
		{"never seen, no silence rule", func(s *push.DeviceState) { s.LastSeen = time.Time{} }, 0, true, ""},
		{"denied", func(s *push.DeviceState) { s.Permission = push.PermissionDenied }, silence, false, push.ReasonPermission},
		{"default", func(s *push.DeviceState) { s.Permission = push.PermissionDefault }, silence, false, push.ReasonPermission},
		{"prompt", func(s *push.DeviceState) { s.Permission = push.PermissionPrompt }, silence, false, push.ReasonPermission},
		{"unknown permission", func(s *push.DeviceState) { s.Permission = "" }, silence, false, push.ReasonPermission},
		{"token gone", func(s *push.DeviceState) { s.TokenValid = false }, silence, false, push.ReasonToken},
		{"everything wrong: permission first", func(s *push.DeviceState) {
			*s = push.DeviceState{Permission: push.PermissionDenied}
		}, silence, false, push.ReasonPermission},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := ok
			if tc.edit != nil {
				tc.edit(&s)
			}
			ready, reason := push.Ready(s, now, tc.max)
			if ready != tc.ready || reason != tc.reason {
				t.Errorf("Ready = %v, %q; want %v, %q", ready, reason, tc.ready, tc.reason)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	cases := []struct {
		err    error
		status int
		code   string
	}{
		{push.ErrBadSignature, http.StatusUnauthorized, "invalid_signature"},
		{push.ErrKeyMismatch, http.StatusUnauthorized, "invalid_signature"},
		{push.ErrUnknownDevice, http.StatusUnauthorized, "unknown_device"},
		{push.ErrMalformed, http.StatusBadRequest, "invalid_request"},
		{push.ErrWrongKind, http.StatusBadRequest, "invalid_request"},
		{push.ErrWrongAudience, http.StatusBadRequest, "invalid_request"},
		{push.ErrStale, http.StatusBadRequest, "stale_request"},
		{push.ErrReplayed, http.StatusBadRequest, "replayed_request"},
		{push.ErrInvalidToken, http.StatusBadRequest, "invalid_enrolment_token"},
		{push.ErrDeviceExists, http.StatusConflict, "device_exists"},
		{push.ErrUnknownChallenge, http.StatusNotFound, "unknown_challenge"},
		{push.ErrNonce, http.StatusBadRequest, "invalid_nonce"},
		{push.ErrWrongNumber, http.StatusBadRequest, "wrong_number"},
		{push.ErrDecoyPicked, http.StatusConflict, "challenge_ended"},
		{push.ErrChallengeEnded, http.StatusConflict, "challenge_ended"},
		{push.ErrExpired, http.StatusGone, "challenge_expired"},
		{push.ErrAnswered, http.StatusConflict, "already_answered"},
		{push.ErrRateLimited, http.StatusTooManyRequests, "rate_limited"},
		{errors.New("pq: connection refused to 10.0.0.5"), http.StatusInternalServerError, "server_error"},
	}
	for _, tc := range cases {
		wrapped := errors.Join(errors.New("push answer"), tc.err)
		status, body := push.ErrorResponse(wrapped)
		if status != tc.status || body.Error != tc.code {
			t.Errorf("%v: %d %s, want %d %s", tc.err, status, body.Error, tc.status, tc.code)
		}
		if tc.status == http.StatusInternalServerError && strings.Contains(body.Description, "10.0.0.5") {
			t.Errorf("server error shown to the device: %q", body.Description)
		}
	}
}

func TestSubscription(t *testing.T) {
	sub := subscription(t, "https://updates.push.services.mozilla.com/wpush/v2/gAAAA")
	s, err := push.ParseSubscription(sub)
	if err != nil {
		t.Fatal(err)
	}
	if s.Endpoint != "https://updates.push.services.mozilla.com/wpush/v2/gAAAA" || len(s.P256DH) != 65 || len(s.Auth) != 16 {
		t.Errorf("%+v", s)
	}
	for _, bad := range []string{
		subscription(t, "http://updates.push.services.mozilla.com/wpush"),
		subscription(t, "https://user:pw@push.example/x"),
		subscription(t, "/relative"),
		`{"endpoint":"https://fcm.googleapis.com/x","keys":{"p256dh":"BAAA","auth":"AAAAAAAAAAAAAAAAAAAAAA"}}`,
		`{"endpoint":"https://fcm.googleapis.com/x"}`,
		`null`,
	} {
		if _, err := push.ParseSubscription(bad); !errors.Is(err, push.ErrMalformed) {
			t.Errorf("ParseSubscription(%s): %v", bad, err)
		}
	}
}
