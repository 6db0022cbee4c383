package push

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"
)

// DeviceKey is the reference device's signing key: what a companion app
// keeps (non-extractable, in the platform keystore) and signs its
// requests with. Latchkey itself never holds one; tests and
// docs/push-protocol.md use it to show exactly what a device sends.
type DeviceKey struct {
	priv  *ecdsa.PrivateKey
	jwk   JWK
	thumb string
}

// NewDeviceKey makes a fresh P-256 key. A device makes one per enrolment
// (per issuer and account), so two accounts on one phone are two devices.
func NewDeviceKey() (*DeviceKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("new device key: %w", err)
	}
	return DeviceKeyFrom(priv)
}

// DeviceKeyFrom wraps an existing P-256 private key (a test vector, or a
// key a test wants to keep across runs).
func DeviceKeyFrom(priv *ecdsa.PrivateKey) (*DeviceKey, error) {
	if priv == nil || priv.Curve != elliptic.P256() {
		return nil, fmt.Errorf("device key: not a P-256 key")
	}
	jwk, err := jwkFromPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("device key: %w", err)
	}
	return &DeviceKey{priv: priv, jwk: jwk, thumb: jwk.Thumbprint()}, nil
}

// PublicJWK is the key's public half as sent in the JOSE header.
func (k *DeviceKey) PublicJWK() JWK { return k.jwk }

// Thumbprint is the device id: the RFC 7638 thumbprint of PublicJWK.
func (k *DeviceKey) Thumbprint() string { return k.thumb }

// Sign makes a device request: a compact JWS, ES256, with the header
// {"alg":"ES256","typ":"latchkey-push+jwt","jwk":{...}} and claims (any
// JSON-encodable value, usually a Claims from NewClaims) as the payload.
func (k *DeviceKey) Sign(claims any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("sign request: encode claims: %w", err)
	}
	header := struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
		JWK JWK    `json:"jwk"`
	}{"ES256", Type, k.jwk}
	return signES256(k.priv, header, payload)
}

// LogValue keeps the private key out of logs.
func (k *DeviceKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("device", k.thumb))
}

var _ slog.LogValuer = (*DeviceKey)(nil)

// Claims is the payload of every device request; each kind uses the
// common claims and its own (docs/push-protocol.md), and leaves the rest
// empty.
type Claims struct {
	Kind     Kind   `json:"kind"`
	Audience string `json:"aud"` // the issuer
	Subject  string `json:"sub,omitempty"`
	IssuedAt int64  `json:"iat"`
	ID       string `json:"jti"`

	// enrol: all seven; heartbeat: Channel, PushToken, Permission, AppVersion
	Token      string `json:"token,omitempty"`
	Channel    string `json:"channel,omitempty"`
	PushToken  string `json:"push_token,omitempty"`
	Permission string `json:"permission,omitempty"`
	Name       string `json:"name,omitempty"`
	Platform   string `json:"platform,omitempty"`
	AppVersion string `json:"app_version,omitempty"`
	// fetch and answer
	Challenge string `json:"challenge,omitempty"`
	// answer
	Nonce    string `json:"nonce,omitempty"`
	Decision string `json:"decision,omitempty"`
	Number   string `json:"number,omitempty"`
}

// NewClaims fills the common claims of a request of the given kind:
// aud, sub (the thumbprint; enrolments carry it too), iat and a fresh
// random jti.
func (k *DeviceKey) NewClaims(kind Kind, issuer string, now time.Time) Claims {
	return Claims{Kind: kind, Audience: issuer, Subject: k.thumb, IssuedAt: now.Unix(), ID: randomID()}
}
