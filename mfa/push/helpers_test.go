package push_test

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"testing"
	"time"
)

// The tests build requests by hand, independently of DeviceKey, so that a
// mistake shared by the signer and the verifier cannot hide.

const issuer = "https://id.example.com"

var (
	now  = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)
	enc  = base64.RawURLEncoding
	p256 = elliptic.P256().Params().N
)

type testDevice struct {
	priv  *ecdsa.PrivateKey
	jwk   map[string]any
	thumb string
}

func newTestDevice(t testing.TB) testDevice {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	point, err := priv.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	jwk := map[string]any{"kty": "EC", "crv": "P-256", "x": enc.EncodeToString(point[1:33]), "y": enc.EncodeToString(point[33:])}
	return testDevice{priv: priv, jwk: jwk, thumb: thumbprintByMarshal(t, jwk)}
}

// thumbprintByMarshal computes RFC 7638 another way than the package:
// encoding/json sorts map keys, which is the lexicographic order the RFC
// asks for, and writes no whitespace.
func thumbprintByMarshal(t testing.TB, jwk map[string]any) string {
	t.Helper()
	required := map[string]any{"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"], "y": jwk["y"]}
	b, err := json.Marshal(required)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return enc.EncodeToString(sum[:])
}

func (d testDevice) header() map[string]any {
	return map[string]any{"alg": "ES256", "typ": "latchkey-push+jwt", "jwk": d.jwk}
}

// claims returns valid claims for a request of the given kind.
func (d testDevice) claims(kind string) map[string]any {
	c := map[string]any{"kind": kind, "aud": issuer, "sub": d.thumb, "iat": now.Unix(), "jti": "jti-0123456789abcdef"}
	switch kind {
	case "enrol":
		c["token"] = "tok_0123456789abcdefghijklmnopqrstuvwxyzABCDE"
		c["channel"] = "fcm"
		c["push_token"] = "dQw4w9WgXcQ:APA91bHun4MxP5egoKMwt2KZFBaFUH"
		c["permission"] = "granted"
		c["name"] = "Pixel 9"
		c["platform"] = "android"
	case "heartbeat":
		c["channel"] = "fcm"
		c["push_token"] = "dQw4w9WgXcQ:APA91bHun4MxP5egoKMwt2KZFBaFUH"
		c["permission"] = "denied"
		c["app_version"] = "1.4.2"
	case "fetch":
		c["challenge"] = "chal_0123456789abcdef"
	case "answer":
		c["challenge"] = "chal_0123456789abcdef"
		c["nonce"] = "nonce_0123456789abcdef"
		c["decision"] = "approve"
		c["number"] = "42"
	}
	return c
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawSig signs the JWS signing input and returns r and s.
func (d testDevice) rawSig(t testing.TB, input string) (*big.Int, *big.Int) {
	t.Helper()
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, d.priv, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return r, s
}

func rs(r, s *big.Int) []byte {
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return sig
}

// signBytes makes a compact JWS of the exact header and payload bytes.
func (d testDevice) signBytes(t testing.TB, header, payload []byte) string {
	t.Helper()
	input := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
	return input + "." + enc.EncodeToString(rs(d.rawSig(t, input)))
}

func (d testDevice) sign(t testing.TB, header, claims map[string]any) string {
	t.Helper()
	return d.signBytes(t, mustJSON(t, header), mustJSON(t, claims))
}

// subscription is a well-formed Web Push subscription.
func subscription(t testing.TB, endpoint string) string {
	t.Helper()
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	auth := make([]byte, 16)
	_, _ = rand.Read(auth)
	return string(mustJSON(t, map[string]any{
		"endpoint":       endpoint,
		"expirationTime": nil,
		"keys":           map[string]string{"p256dh": enc.EncodeToString(k.PublicKey().Bytes()), "auth": enc.EncodeToString(auth)},
	}))
}
