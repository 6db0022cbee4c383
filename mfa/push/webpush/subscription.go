package webpush

import (
	"bytes"
	"crypto/ecdh"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// maxSubscriptionJSON bounds what ParseSubscription reads: a browser's
// subscription is a few hundred octets (FCM endpoints are the longest).
const maxSubscriptionJSON = 4096

// Subscription is a browser's PushSubscription, as toJSON() gives it:
//
//	{"endpoint": "https://...", "expirationTime": null,
//	 "keys": {"p256dh": "<base64url point>", "auth": "<base64url 16 octets>"}}
type Subscription struct {
	Endpoint *url.URL
	// Expires is the subscription's expirationTime; zero when the browser
	// gave none (the usual case).
	Expires time.Time
	p256dh  *ecdh.PublicKey
	auth    []byte
}

// ParseSubscription parses and checks a PushSubscription JSON: an https
// endpoint, a P-256 public key on the curve, a 16-octet auth secret. Every
// error matches ErrInvalidSubscription and push.ErrUnregistered and names
// the field at fault, never its value (the endpoint is a capability).
func ParseSubscription(token string) (*Subscription, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidSubscription}, args...)...)
	}
	if strings.TrimSpace(token) == "" {
		return nil, bad("empty token")
	}
	if len(token) > maxSubscriptionJSON {
		return nil, bad("%d octets of JSON, at most %d", len(token), maxSubscriptionJSON)
	}
	var raw struct {
		Endpoint       string   `json:"endpoint"`
		ExpirationTime *float64 `json:"expirationTime"`
		Keys           struct {
			P256DH string `json:"p256dh"`
			Auth   string `json:"auth"`
		} `json:"keys"`
	}
	dec := json.NewDecoder(strings.NewReader(token))
	if err := dec.Decode(&raw); err != nil {
		return nil, bad("not a PushSubscription JSON object: %w", err)
	}
	if dec.More() {
		return nil, bad("trailing data after the JSON object")
	}

	sub := &Subscription{}
	switch u, err := url.Parse(raw.Endpoint); {
	case raw.Endpoint == "":
		return nil, bad("endpoint is missing")
	case err != nil:
		return nil, bad("endpoint is not a URL")
	case u.Scheme != "https":
		// RFC 8030 Section 8: push messages travel over HTTPS only; the
		// payload is encrypted but the VAPID token and metadata are not.
		return nil, bad("endpoint must be an https URL, not %q", u.Scheme)
	case u.Host == "" || u.Hostname() == "":
		return nil, bad("endpoint has no host")
	case u.User != nil:
		return nil, bad("endpoint must not carry user information")
	case u.Fragment != "" || u.Opaque != "":
		return nil, bad("endpoint must be a plain https URL")
	default:
		sub.Endpoint = u
	}
	if raw.ExpirationTime != nil && *raw.ExpirationTime > 0 {
		sub.Expires = time.UnixMilli(int64(*raw.ExpirationTime))
	}

	point, err := decodeBase64URL(raw.Keys.P256DH)
	switch {
	case raw.Keys.P256DH == "":
		return nil, bad("keys.p256dh is missing")
	case err != nil:
		return nil, bad("keys.p256dh is not base64url")
	case len(point) != keySize || point[0] != 0x04:
		return nil, bad("keys.p256dh must be an uncompressed P-256 point (65 octets), got %d octets", len(point))
	}
	if sub.p256dh, err = ecdh.P256().NewPublicKey(point); err != nil {
		return nil, bad("keys.p256dh is not a point on P-256")
	}
	auth, err := decodeBase64URL(raw.Keys.Auth)
	switch {
	case raw.Keys.Auth == "":
		return nil, bad("keys.auth is missing")
	case err != nil:
		return nil, bad("keys.auth is not base64url")
	case len(auth) != authSize:
		return nil, bad("keys.auth must be %d octets, got %d", authSize, len(auth))
	case bytes.Equal(auth, make([]byte, authSize)):
		return nil, bad("keys.auth is all zeros")
	}
	sub.auth = auth
	return sub, nil
}

// Origin is the endpoint's origin, the VAPID token's audience (RFC 8292
// Section 2: "the origin of the push resource"), serialised as RFC 6454
// Section 6.2 says: lower-case host, no default port.
func (s *Subscription) Origin() string {
	host := strings.ToLower(s.Endpoint.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port := s.Endpoint.Port(); port != "" && port != "443" {
		host += ":" + port
	}
	return "https://" + host
}

// decodeBase64URL accepts what browsers and libraries produce for the
// keys: base64url without padding (the standard), with padding, or the
// standard alphabet.
func decodeBase64URL(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	return base64.RawURLEncoding.DecodeString(s)
}

// DefaultPushServices are the push services of the browsers that support
// Web Push (Chrome and other Chromium browsers, Firefox, Safari, Edge); a
// leading "*." matches any subdomain. An endpoint elsewhere is refused: the
// endpoint comes from the device, and without a list a device could make
// Latchkey post to any URL, internal ones included.
var DefaultPushServices = []string{
	"fcm.googleapis.com",                // Chrome, Chromium browsers, Firefox on Android
	"updates.push.services.mozilla.com", // Firefox
	"*.push.apple.com",                  // Safari (web.push.apple.com)
	"*.notify.windows.com",              // Edge (WNS)
}

// hostAllowed reports whether the endpoint's host matches a pattern: an
// exact host (with its port when the endpoint names one other than 443),
// or "*.domain" for any host under domain.
func hostAllowed(u *url.URL, patterns []string) bool {
	host := strings.ToLower(u.Host)
	if h, port, err := net.SplitHostPort(host); err == nil && port == "443" {
		host = h
	}
	for _, p := range patterns {
		p = strings.ToLower(p)
		if suffix, ok := strings.CutPrefix(p, "*."); ok {
			if _, _, err := net.SplitHostPort(host); err == nil {
				continue // a wildcard names default-port hosts only
			}
			if strings.HasSuffix(host, "."+suffix) {
				return true
			}
			continue
		}
		if host == p {
			return true
		}
	}
	return false
}
