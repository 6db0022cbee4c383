package webpush_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/mfa/push"
	"github.com/latchkey/latchkey/mfa/push/webpush"
	"github.com/latchkey/latchkey/mfa/push/webpush/webpushtest"
)

// token is a PushSubscription JSON with the given parts.
func token(endpoint, p256dh, auth string) string {
	b, _ := json.Marshal(map[string]any{
		"endpoint": endpoint, "expirationTime": nil,
		"keys": map[string]string{"p256dh": p256dh, "auth": auth},
	})
	return string(b)
}

func TestSendInvalidSubscription(t *testing.T) {
	fake := webpushtest.New(t)
	s, _ := newSender(t, fake, nil)
	good := fake.NewSubscriptionFor(s.PublicKey())
	offCurve := "BA" + strings.Repeat("A", 85) // 0x04 then 64 zero octets
	past := fmt.Sprintf(`{"endpoint":%q,"expirationTime":%d,"keys":{"p256dh":%q,"auth":%q}}`,
		good.Endpoint, time.Now().Add(-time.Hour).UnixMilli(), good.P256DH, good.Auth)

	cases := []struct {
		name, token, says string
	}{
		{"empty", "", "empty token"},
		{"not JSON", "endpoint=https://x", "not a PushSubscription JSON"},
		{"a JSON string", `"https://fcm.googleapis.com/fcm/send/x"`, "not a PushSubscription JSON"},
		{"trailing data", good.JSON + `{}`, "trailing data"},
		{"no endpoint", token("", good.P256DH, good.Auth), "endpoint is missing"},
		{"http endpoint", token(strings.Replace(good.Endpoint, "https:", "http:", 1), good.P256DH, good.Auth), "https"},
		{"relative endpoint", token("/push/x", good.P256DH, good.Auth), "https"},
		{"user info", token("https://a:b@"+fake.Host()+"/push/x", good.P256DH, good.Auth), "user information"},
		{"no p256dh", token(good.Endpoint, "", good.Auth), "keys.p256dh is missing"},
		{"p256dh not base64", token(good.Endpoint, "***", good.Auth), "keys.p256dh is not base64url"},
		{"p256dh compressed", token(good.Endpoint, good.P256DH[:44], good.Auth), "uncompressed P-256 point"},
		{"p256dh off the curve", token(good.Endpoint, offCurve, good.Auth), "not a point on P-256"},
		{"no auth", token(good.Endpoint, good.P256DH, ""), "keys.auth is missing"},
		{"auth of 12 octets", token(good.Endpoint, good.P256DH, good.Auth[:16]), "keys.auth must be 16 octets"},
		{"auth all zeros", token(good.Endpoint, good.P256DH, "AAAAAAAAAAAAAAAAAAAAAA"), "all zeros"},
		{"expired", past, "expired"},
		{"huge", `{"endpoint":"` + strings.Repeat("a", 5000) + `"}`, "at most 4096"},
	}
	for _, c := range cases {
		err := s.Send(t.Context(), push.Target{Channel: push.ChannelWebPush, Token: c.token}, msg)
		if !errors.Is(err, webpush.ErrInvalidSubscription) || !errors.Is(err, push.ErrUnregistered) {
			t.Errorf("%s: err = %v, want ErrInvalidSubscription and push.ErrUnregistered", c.name, err)
			continue
		}
		if !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: err %q does not say %q", c.name, err, c.says)
		}
		if s.CheckSubscription(c.token) == nil {
			t.Errorf("%s: CheckSubscription accepted it", c.name)
		}
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("%d requests for invalid subscriptions", n)
	}
	if err := s.CheckSubscription(good.JSON); err != nil {
		t.Errorf("CheckSubscription(good) = %v", err)
	}
	// Padded and standard-alphabet keys, as some libraries write them, are
	// the same keys.
	std := strings.NewReplacer("-", "+", "_", "/").Replace(good.P256DH) + "="
	if err := s.Send(t.Context(), push.Target{Channel: push.ChannelWebPush, Token: token(good.Endpoint, std, good.Auth+"==")}, msg); err != nil {
		t.Errorf("padded standard base64 keys: %v", err)
	}
}

func TestSendEndpointNotAllowed(t *testing.T) {
	fake := webpushtest.New(t)
	s, _ := newSender(t, fake, func(c *webpush.Config) {
		c.AllowedHosts = []string{fake.Host(), "*.push.apple.com", "fcm.googleapis.com"}
	})
	sub := fake.NewSubscription()
	for _, endpoint := range []string{
		"https://169.254.169.254/latest/meta-data",
		"https://localhost/push/x",
		"https://push.apple.com.evil.example/x",
		"https://push.apple.com/x", // the wildcard names subdomains only
		"https://web.push.apple.com:8443/x",
		"https://fcm.googleapis.com:8443/fcm/send/x",
		"https://evil.example/?u=https://fcm.googleapis.com/",
	} {
		err := s.CheckSubscription(token(endpoint, sub.P256DH, sub.Auth))
		if !errors.Is(err, webpush.ErrEndpointNotAllowed) || !errors.Is(err, push.ErrUnregistered) {
			t.Errorf("%s: err = %v, want ErrEndpointNotAllowed", endpoint, err)
		}
	}
	for _, endpoint := range []string{
		"https://web.push.apple.com/QGuQyavXutnMH",
		"https://FCM.googleapis.com:443/fcm/send/x",
		sub.Endpoint,
	} {
		if err := s.CheckSubscription(token(endpoint, sub.P256DH, sub.Auth)); err != nil {
			t.Errorf("%s: %v", endpoint, err)
		}
	}

	// By default only the browsers' push services are allowed: the fake is not.
	def, _ := newSender(t, fake, func(c *webpush.Config) { c.AllowedHosts = nil })
	err := def.Send(t.Context(), target(sub), msg)
	if !errors.Is(err, webpush.ErrEndpointNotAllowed) {
		t.Errorf("default allow-list: err = %v", err)
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("%d requests to endpoints not allowed", n)
	}
}

func TestSendRefusesMisuse(t *testing.T) {
	fake := webpushtest.New(t)
	s, _ := newSender(t, fake, nil)
	sub := fake.NewSubscriptionFor(s.PublicKey())
	err := s.Send(t.Context(), push.Target{Channel: push.ChannelFCM, Token: sub.JSON}, msg)
	if err == nil || errors.Is(err, push.ErrUnregistered) {
		t.Errorf("FCM target: err = %v, want an error that does not unregister the device", err)
	}
	if err := s.Send(t.Context(), target(sub), push.Message{Issuer: msg.Issuer}); err == nil {
		t.Error("a message without a challenge was sent")
	}
	big := push.Message{Issuer: "https://" + strings.Repeat("a", webpush.MaxPayload), ChallengeID: "c"}
	if err := s.Send(t.Context(), target(sub), big); !errors.Is(err, webpush.ErrPayloadTooLarge) {
		t.Errorf("oversized message: err = %v", err)
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("%d requests", n)
	}
}

func TestSubscriptionOrigin(t *testing.T) {
	const keys = `"keys":{"p256dh":"BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4","auth":"BTBZMqHH6r4Tts7J_aSIgg"}`
	for endpoint, want := range map[string]string{
		"https://fcm.googleapis.com/fcm/send/abc":     "https://fcm.googleapis.com",
		"https://FCM.GoogleAPIs.com:443/fcm/send/abc": "https://fcm.googleapis.com",
		"https://127.0.0.1:8443/push/abc":             "https://127.0.0.1:8443",
		"https://[::1]:8443/push/abc":                 "https://[::1]:8443",
		"https://[::1]/push/abc":                      "https://[::1]",
	} {
		sub, err := webpush.ParseSubscription(`{"endpoint":"` + endpoint + `",` + keys + `}`)
		if err != nil {
			t.Errorf("%s: %v", endpoint, err)
			continue
		}
		if got := sub.Origin(); got != want {
			t.Errorf("Origin(%s) = %s, want %s", endpoint, got, want)
		}
	}
}
