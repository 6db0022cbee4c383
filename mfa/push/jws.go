package push

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
)

// MaxRequestSize bounds a device request (the compact JWS) in bytes. The
// largest legitimate one, an enrolment with a Web Push subscription, is
// under 2 KiB; the HTTP handlers should use the same limit for the body.
const MaxRequestSize = 8 << 10

// Type is the JOSE "typ" of every device request (RFC 7515 §4.1.9, with
// the RFC 8725 §3.11 advice to give each kind of JWT its own type), so a
// JWS the device key signed for another purpose is never taken for one.
const Type = "latchkey-push+jwt"

// sigLen is an ES256 signature: r and s, 32 bytes each, big-endian
// (RFC 7518 §3.4). Not DER.
const sigLen = 64

// jws is a compact JWS whose ES256 signature has been checked against the
// key in its own header. What the header and payload mean is the caller's.
type jws struct {
	header  map[string]json.RawMessage
	payload []byte
	key     JWK
}

// parseJWS splits a compact JWS (RFC 7515 §7.1), reads the protected
// header, and verifies the ES256 signature with the EC key in the header's
// "jwk" member. It refuses every other algorithm (including "none"), a
// "crit" header (no extension is understood), keys from anywhere but the
// header (jku, x5u, x5c) and signatures that are not exactly r||s.
func parseJWS(compact string) (jws, error) {
	if len(compact) > MaxRequestSize {
		return jws{}, fmt.Errorf("%w: request longer than %d bytes", ErrMalformed, MaxRequestSize)
	}
	h64, rest, ok1 := strings.Cut(compact, ".")
	p64, s64, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(s64, ".") {
		return jws{}, fmt.Errorf("%w: not a compact JWS (three dot-separated parts)", ErrMalformed)
	}
	hb, err := b64.DecodeString(h64)
	if err != nil {
		return jws{}, fmt.Errorf("%w: header is not base64url", ErrMalformed)
	}
	header, err := decodeObject(hb)
	if err != nil {
		return jws{}, fmt.Errorf("%w: header: %w", ErrMalformed, err)
	}
	alg, err := stringMember(header, "alg", true)
	if err != nil {
		return jws{}, fmt.Errorf("%w: header: %w", ErrMalformed, err)
	}
	if alg != "ES256" {
		// RFC 8725 §3.1: the verifier, not the token, picks the algorithm.
		return jws{}, fmt.Errorf("%w: alg %q is not ES256", ErrBadSignature, alg)
	}
	for _, name := range []string{"crit", "jku", "x5u", "x5c", "b64"} {
		if _, ok := header[name]; ok {
			return jws{}, fmt.Errorf("%w: header member %q is not supported", ErrMalformed, name)
		}
	}
	rawKey, ok := header["jwk"]
	if !ok {
		return jws{}, fmt.Errorf("%w: header has no jwk", ErrMalformed)
	}
	km, err := decodeObject(rawKey)
	if err != nil {
		return jws{}, fmt.Errorf("%w: jwk: %w", ErrMalformed, err)
	}
	key, err := jwkFromMembers(km)
	if err != nil {
		return jws{}, err
	}
	pub, err := key.PublicKey()
	if err != nil {
		return jws{}, err
	}
	sig, err := b64.DecodeString(s64)
	if err != nil {
		return jws{}, fmt.Errorf("%w: signature is not base64url", ErrBadSignature)
	}
	if err := verifyES256(pub, h64+"."+p64, sig); err != nil {
		return jws{}, err
	}
	payload, err := b64.DecodeString(p64)
	if err != nil {
		return jws{}, fmt.Errorf("%w: payload is not base64url", ErrMalformed)
	}
	return jws{header: header, payload: payload, key: key}, nil
}

// verifyES256 checks a raw r||s signature over the JWS signing input.
// ecdsa.Verify would also refuse r or s outside [1, n-1]; checking first
// makes the rule explicit and keeps a DER signature (70-72 bytes) or a
// truncated one from ever reaching it.
func verifyES256(pub *ecdsa.PublicKey, signingInput string, sig []byte) error {
	if len(sig) != sigLen {
		return fmt.Errorf("%w: ES256 signature must be %d bytes (r||s), not %d", ErrBadSignature, sigLen, len(sig))
	}
	n := elliptic.P256().Params().N
	r := new(big.Int).SetBytes(sig[:sigLen/2])
	s := new(big.Int).SetBytes(sig[sigLen/2:])
	if r.Sign() == 0 || s.Sign() == 0 || r.Cmp(n) >= 0 || s.Cmp(n) >= 0 {
		return fmt.Errorf("%w: r or s out of range", ErrBadSignature)
	}
	digest := sha256.Sum256([]byte(signingInput))
	if !ecdsa.Verify(pub, digest[:], r, s) {
		return fmt.Errorf("%w: signature does not verify", ErrBadSignature)
	}
	return nil
}

// signES256 makes the compact JWS of payload with the given header.
func signES256(priv *ecdsa.PrivateKey, header any, payload []byte) (string, error) {
	hb, err := json.Marshal(header)
	if err != nil {
		return "", fmt.Errorf("sign request: encode header: %w", err)
	}
	input := b64.EncodeToString(hb) + "." + b64.EncodeToString(payload)
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, priv, digest[:])
	if err != nil {
		return "", fmt.Errorf("sign request: %w", err)
	}
	sig := make([]byte, sigLen)
	r.FillBytes(sig[:sigLen/2])
	s.FillBytes(sig[sigLen/2:])
	return input + "." + b64.EncodeToString(sig), nil
}
