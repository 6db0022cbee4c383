package push

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// b64 is base64url without padding (RFC 7515 §2), strict: the unused bits
// of the last character must be zero, so every value has exactly one
// encoding and a thumbprint or signature cannot be re-spelt.
var b64 = base64.RawURLEncoding.Strict()

// coordLen is the length of a P-256 coordinate. RFC 7518 §6.2.1.2 says x
// and y MUST be the full length, leading zeros included; a shorter value
// would give the same key a second thumbprint.
const coordLen = 32

// JWK is a device's public key: an EC P-256 JSON Web Key (RFC 7517,
// RFC 7518 §6.2.1) holding only the public members.
type JWK struct {
	Kty string `json:"kty"` // always "EC"
	Crv string `json:"crv"` // always "P-256"
	X   string `json:"x"`   // base64url of the 32-byte x coordinate
	Y   string `json:"y"`   // base64url of the 32-byte y coordinate
}

// privateMembers are the JWK members that carry private key material in
// any key type (RFC 7518 §6.2.2, §6.3.2, §6.4.1). A device that sends one
// has leaked its key (or is not the software it claims to be).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// ParseJWK reads a device's public key from its JSON form, as it appears
// in the JOSE header or as the store keeps it. Private members, other key
// types and curves, short coordinates and points off the curve are refused.
func ParseJWK(data []byte) (JWK, error) {
	m, err := decodeObject(data)
	if err != nil {
		return JWK{}, fmt.Errorf("%w: jwk: %w", ErrMalformed, err)
	}
	return jwkFromMembers(m)
}

func jwkFromMembers(m map[string]json.RawMessage) (JWK, error) {
	for _, name := range privateMembers {
		if _, ok := m[name]; ok {
			return JWK{}, fmt.Errorf("%w: jwk carries the private member %q", ErrMalformed, name)
		}
	}
	var k JWK
	for _, f := range []struct {
		name string
		dst  *string
	}{{"kty", &k.Kty}, {"crv", &k.Crv}, {"x", &k.X}, {"y", &k.Y}} {
		v, err := stringMember(m, f.name, true)
		if err != nil {
			return JWK{}, fmt.Errorf("%w: jwk: %w", ErrMalformed, err)
		}
		*f.dst = v
	}
	// Optional members that would contradict how the key is used.
	if alg, err := stringMember(m, "alg", false); err != nil || (alg != "" && alg != "ES256") {
		return JWK{}, fmt.Errorf("%w: jwk alg must be ES256 when present", ErrMalformed)
	}
	if use, err := stringMember(m, "use", false); err != nil || (use != "" && use != "sig") {
		return JWK{}, fmt.Errorf("%w: jwk use must be sig when present", ErrMalformed)
	}
	if _, err := k.PublicKey(); err != nil {
		return JWK{}, err
	}
	return k, nil
}

// PublicKey returns the key as an *ecdsa.PublicKey after checking that it
// is a P-256 point on the curve in canonical encoding.
func (k JWK) PublicKey() (*ecdsa.PublicKey, error) {
	if k.Kty != "EC" {
		return nil, fmt.Errorf("%w: jwk kty must be EC", ErrMalformed)
	}
	if k.Crv != "P-256" {
		return nil, fmt.Errorf("%w: jwk crv must be P-256", ErrMalformed)
	}
	x, errX := b64.DecodeString(k.X)
	y, errY := b64.DecodeString(k.Y)
	if errX != nil || errY != nil || len(x) != coordLen || len(y) != coordLen {
		return nil, fmt.Errorf("%w: jwk x and y must be base64url of %d bytes each", ErrMalformed, coordLen)
	}
	point := make([]byte, 0, 1+2*coordLen)
	point = append(point, 4) // SEC 1 uncompressed point
	point = append(point, x...)
	point = append(point, y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	if err != nil {
		return nil, fmt.Errorf("%w: jwk is not a point on P-256", ErrMalformed)
	}
	return pub, nil
}

// Thumbprint is the RFC 7638 thumbprint of the key: base64url(SHA-256) of
// the required members in lexicographic order with no whitespace. It is
// the device id. The members are base64url and fixed strings, so they
// need no JSON escaping and the string can be built directly.
func (k JWK) Thumbprint() string {
	canonical := `{"crv":"` + k.Crv + `","kty":"` + k.Kty + `","x":"` + k.X + `","y":"` + k.Y + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return b64.EncodeToString(sum[:])
}

// Equal reports whether two keys are the same key.
func (k JWK) Equal(o JWK) bool { return k == o }

func jwkFromPublicKey(pub *ecdsa.PublicKey) (JWK, error) {
	point, err := pub.Bytes()
	if err != nil || len(point) != 1+2*coordLen {
		return JWK{}, fmt.Errorf("encode public key: not a P-256 key")
	}
	return JWK{
		Kty: "EC",
		Crv: "P-256",
		X:   b64.EncodeToString(point[1 : 1+coordLen]),
		Y:   b64.EncodeToString(point[1+coordLen:]),
	}, nil
}

// decodeObject decodes one JSON object into its members, refusing what
// encoding/json would let through silently: duplicate member names (two
// parsers could each see a different "alg" or "sub"), invalid UTF-8 and
// anything after the object. Members are looked up by their exact name,
// never by encoding/json's case-insensitive field matching.
func decodeObject(data []byte) (map[string]json.RawMessage, error) {
	if !utf8.Valid(data) {
		return nil, errors.New("not UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, errors.New("not JSON")
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	m := make(map[string]json.RawMessage)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errors.New("not JSON")
		}
		name, ok := tok.(string)
		if !ok {
			return nil, errors.New("not JSON")
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, errors.New("not JSON")
		}
		if _, dup := m[name]; dup {
			return nil, fmt.Errorf("member %q appears twice", name)
		}
		m[name] = v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, errors.New("not JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return m, nil
}

// stringMember returns the member name as a string: "" when it is absent
// and not required, an error when it is absent and required or is not a
// JSON string.
func stringMember(m map[string]json.RawMessage, name string, required bool) (string, error) {
	raw, ok := m[name]
	if !ok {
		if required {
			return "", fmt.Errorf("%q is missing", name)
		}
		return "", nil
	}
	if len(raw) == 0 || raw[0] != '"' {
		return "", fmt.Errorf("%q must be a string", name)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%q must be a string", name)
	}
	return s, nil
}
