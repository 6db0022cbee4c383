package webpush

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// vapidLifetime is how long a VAPID token is valid. RFC 8292 Section 2
// allows at most 24 hours; 12 leaves room for clock skew between Latchkey
// and the push service (Apple and Mozilla refuse an exp beyond 24 h).
const vapidLifetime = 12 * time.Hour

// GenerateVAPIDKey creates a VAPID key pair: the private key as a PKCS #8
// PEM block (for Config.VAPIDPrivateKey; keep it secret) and the public key
// as base64url of the uncompressed point, which the companion web app
// passes to pushManager.subscribe as applicationServerKey.
func GenerateVAPIDKey() (privatePEM, publicKey string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("webpush: generate VAPID key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", fmt.Errorf("webpush: generate VAPID key: %w", err)
	}
	pub, err := publicKeyString(&key.PublicKey)
	if err != nil {
		return "", "", fmt.Errorf("webpush: generate VAPID key: %w", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), pub, nil
}

// ParseVAPIDKey reads a VAPID private key: a PEM block (PKCS #8 "PRIVATE
// KEY" or SEC 1 "EC PRIVATE KEY"), or the raw 32-octet scalar in base64url
// as the web-push libraries for Node and Python print it. The key must be
// on P-256 (RFC 8292 Section 3.2).
func ParseVAPIDKey(s string) (*ecdsa.PrivateKey, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("webpush: VAPID key is empty")
	}
	if strings.HasPrefix(s, "-----BEGIN") {
		block, rest := pem.Decode([]byte(s))
		if block == nil {
			return nil, errors.New("webpush: VAPID key: malformed PEM")
		}
		if len(strings.TrimSpace(string(rest))) != 0 {
			return nil, errors.New("webpush: VAPID key: more than one PEM block")
		}
		var key *ecdsa.PrivateKey
		switch block.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("webpush: VAPID key: %w", err)
			}
			ec, ok := k.(*ecdsa.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("webpush: VAPID key: a %T, want an ECDSA P-256 key", k)
			}
			key = ec
		case "EC PRIVATE KEY":
			k, err := x509.ParseECPrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("webpush: VAPID key: %w", err)
			}
			key = k
		default:
			return nil, fmt.Errorf("webpush: VAPID key: PEM type %q, want PRIVATE KEY or EC PRIVATE KEY", block.Type)
		}
		if key.Curve != elliptic.P256() {
			return nil, fmt.Errorf("webpush: VAPID key: curve %s, want P-256", key.Curve.Params().Name)
		}
		return key, nil
	}
	raw, err := decodeBase64URL(s)
	if err != nil || len(raw) != 32 {
		return nil, errors.New("webpush: VAPID key: neither PEM nor a base64url 32-octet P-256 scalar")
	}
	key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), raw)
	if err != nil {
		return nil, fmt.Errorf("webpush: VAPID key: %w", err)
	}
	return key, nil
}

// publicKeyString is the base64url uncompressed point: the k parameter of
// the vapid scheme and the browser's applicationServerKey.
func publicKeyString(pub *ecdsa.PublicKey) (string, error) {
	b, err := pub.Bytes()
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// vapidHeader is the base64url JOSE header every token carries (RFC 8292
// Section 2: ES256 is the one algorithm push services must accept).
var vapidHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"JWT","alg":"ES256"}`))

// vapidToken signs the JWT of RFC 8292 Section 2 for one push service:
// aud is the endpoint's origin, exp at most 24 h ahead, sub the contact
// the push service operator may write to.
func vapidToken(key *ecdsa.PrivateKey, audience, subject string, now time.Time) (string, error) {
	claims, err := json.Marshal(struct {
		Aud string `json:"aud"`
		Exp int64  `json:"exp"`
		Sub string `json:"sub"`
	}{audience, now.Add(vapidLifetime).Unix(), subject})
	if err != nil {
		return "", fmt.Errorf("webpush: VAPID claims: %w", err)
	}
	signingInput := vapidHeader + "." + base64.RawURLEncoding.EncodeToString(claims)
	digest := sha256.Sum256([]byte(signingInput))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		return "", fmt.Errorf("webpush: sign VAPID token: %w", err)
	}
	// JWS (RFC 7518 Section 3.4) wants R || S, each 32 octets big-endian,
	// not the ASN.1 encoding.
	var sig [64]byte
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signingInput + "." + base64.RawURLEncoding.EncodeToString(sig[:]), nil
}
