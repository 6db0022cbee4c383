package push

import (
	"crypto/ecdh"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// Subscription is a Web Push subscription as the browser's
// PushSubscription.toJSON() gives it: where to POST (RFC 8030) and the
// keys the payload is encrypted to (RFC 8291).
type Subscription struct {
	Endpoint string
	P256DH   []byte // the user agent's ECDH public key, 65 bytes uncompressed
	Auth     []byte // the 16-byte authentication secret
}

// ParseSubscription reads a Web Push Target.Token as a device sends it.
// The endpoint must be an absolute https URL without user info; which
// hosts may be reached (push services only, never internal addresses:
// the device chooses the URL) is the Web Push sender's policy, which the
// enrol and heartbeat handlers should also apply.
func ParseSubscription(token string) (Subscription, error) {
	m, err := decodeObject([]byte(token))
	if err != nil {
		return Subscription{}, fmt.Errorf("%w: web push subscription: %w", ErrMalformed, err)
	}
	endpoint, err := stringMember(m, "endpoint", true)
	if err != nil {
		return Subscription{}, fmt.Errorf("%w: web push subscription: %w", ErrMalformed, err)
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Fragment != "" || len(endpoint) > 2048 {
		return Subscription{}, fmt.Errorf("%w: web push endpoint must be an https URL", ErrMalformed)
	}
	keys, ok := m["keys"]
	if !ok {
		return Subscription{}, fmt.Errorf("%w: web push subscription has no keys", ErrMalformed)
	}
	km, err := decodeObject(keys)
	if err != nil {
		return Subscription{}, fmt.Errorf("%w: web push keys: %w", ErrMalformed, err)
	}
	s := Subscription{Endpoint: endpoint}
	if s.P256DH, err = subscriptionKey(km, "p256dh"); err != nil {
		return Subscription{}, err
	}
	if _, err := ecdh.P256().NewPublicKey(s.P256DH); err != nil {
		return Subscription{}, fmt.Errorf("%w: web push p256dh is not a P-256 public key", ErrMalformed)
	}
	if s.Auth, err = subscriptionKey(km, "auth"); err != nil {
		return Subscription{}, err
	}
	if len(s.Auth) != 16 {
		return Subscription{}, fmt.Errorf("%w: web push auth secret must be 16 bytes", ErrMalformed)
	}
	return s, nil
}

// subscriptionKey decodes a key of the subscription. Browsers give
// base64url without padding; padding and the standard alphabet are
// accepted too, as the Web Push sender (package webpush) accepts them, so
// that the two never disagree about a subscription.
func subscriptionKey(m map[string]json.RawMessage, name string) ([]byte, error) {
	v, err := stringMember(m, name, true)
	if err != nil {
		return nil, fmt.Errorf("%w: web push keys: %w", ErrMalformed, err)
	}
	v = strings.NewReplacer("+", "-", "/", "_").Replace(strings.TrimRight(v, "="))
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("%w: web push %s is not base64url", ErrMalformed, name)
	}
	return b, nil
}

// CheckPushToken checks that token has the form channel uses (see
// Target.Token). An empty token is valid: at enrolment a device without
// notification permission has none yet, and in a heartbeat it means "the
// token I sent before".
func CheckPushToken(channel, token string) error {
	switch channel {
	case ChannelWebPush, ChannelFCM, ChannelAPNs:
	default:
		return fmt.Errorf("%w: channel must be webpush, fcm or apns", ErrMalformed)
	}
	if token == "" {
		return nil
	}
	if len(token) > maxPushToken {
		return fmt.Errorf("%w: push token longer than %d bytes", ErrMalformed, maxPushToken)
	}
	switch channel {
	case ChannelWebPush:
		_, err := ParseSubscription(token)
		return err
	case ChannelFCM:
		// Registration tokens are opaque; today ~160 characters of
		// base64url and ':'. Only the shape is checked.
		for i := 0; i < len(token); i++ {
			if token[i] <= ' ' || token[i] > '~' {
				return fmt.Errorf("%w: fcm token must be printable ASCII", ErrMalformed)
			}
		}
	case ChannelAPNs:
		// 32 bytes today; Apple reserves the right to change the length.
		b, err := hex.DecodeString(token)
		if err != nil || len(b) < 16 || len(b) > 256 {
			return fmt.Errorf("%w: apns device token must be 16 to 256 bytes of hex", ErrMalformed)
		}
	}
	return nil
}
