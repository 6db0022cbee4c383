package passkey

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// softAuthenticator is a CTAP2-like platform authenticator in software: one
// ECDSA P-256 discoverable credential, "none" attestation, real
// clientDataJSON, authenticatorData and signatures, playing the browser's
// part too (it writes the response JSON as credential.toJSON() does).
//
// Tests change its fields between ceremonies to misbehave: another origin,
// another RP ID, flags, a counter.
type softAuthenticator struct {
	key        *ecdsa.PrivateKey
	credID     []byte
	userHandle []byte
	aaguid     []byte

	origin string // clientDataJSON origin
	rpID   string // hashed into authenticatorData; "" means the options' RP ID

	up, uv, be, bs bool
	signCount      uint32
	countStep      uint32 // added to signCount before each assertion (0: never counts)

	// challenge, when set, replaces the options' challenge in clientDataJSON.
	challenge string
	// ceremonyType, when set, replaces webauthn.create / webauthn.get.
	ceremonyType string
	// ignoreAllow answers even when allowCredentials does not list it, as a
	// hostile client could.
	ignoreAllow bool
}

func newSoftAuthenticator(origin string) *softAuthenticator {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	return &softAuthenticator{
		key:       key,
		credID:    id,
		aaguid:    []byte("latchkey-test-00"),
		origin:    origin,
		up:        true,
		uv:        true,
		be:        true,
		bs:        true,
		countStep: 1,
	}
}

var b64 = base64.RawURLEncoding

// errExcluded is the authenticator's InvalidStateError: it already holds a
// credential listed in excludeCredentials.
var errExcluded = errors.New("authenticator: credential excluded")

// errNotAllowed is the browser's NotAllowedError: no allowed credential here.
var errNotAllowed = errors.New("authenticator: no allowed credential")

type creationOptions struct {
	RP struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"rp"`
	User struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		DisplayName string `json:"displayName"`
	} `json:"user"`
	Challenge        string `json:"challenge"`
	PubKeyCredParams []struct {
		Type string `json:"type"`
		Alg  int    `json:"alg"`
	} `json:"pubKeyCredParams"`
	Timeout            int          `json:"timeout"`
	ExcludeCredentials []descriptor `json:"excludeCredentials"`
	Selection          struct {
		Attachment         string `json:"authenticatorAttachment"`
		RequireResidentKey *bool  `json:"requireResidentKey"`
		ResidentKey        string `json:"residentKey"`
		UserVerification   string `json:"userVerification"`
	} `json:"authenticatorSelection"`
	Attestation string `json:"attestation"`
}

type requestOptions struct {
	Challenge        string       `json:"challenge"`
	Timeout          int          `json:"timeout"`
	RPID             string       `json:"rpId"`
	AllowCredentials []descriptor `json:"allowCredentials"`
	UserVerification string       `json:"userVerification"`
}

type descriptor struct {
	Type       string   `json:"type"`
	ID         string   `json:"id"`
	Transports []string `json:"transports"`
}

func (a *softAuthenticator) flags(attested bool) byte {
	var f byte
	for _, b := range []struct {
		on  bool
		bit byte
	}{{a.up, 0x01}, {a.uv, 0x04}, {a.be, 0x08}, {a.bs, 0x10}, {attested, 0x40}} {
		if b.on {
			f |= b.bit
		}
	}
	return f
}

func (a *softAuthenticator) clientData(typ, challenge string) []byte {
	if a.ceremonyType != "" {
		typ = a.ceremonyType
	}
	if a.challenge != "" {
		challenge = a.challenge
	}
	b, err := json.Marshal(map[string]any{
		"type":        typ,
		"challenge":   challenge,
		"origin":      a.origin,
		"crossOrigin": false,
	})
	if err != nil {
		panic(err)
	}
	return b
}

func (a *softAuthenticator) authData(optionsRPID string, attested []byte) []byte {
	rpID := optionsRPID
	if a.rpID != "" {
		rpID = a.rpID
	}
	h := sha256.Sum256([]byte(rpID))
	out := append([]byte(nil), h[:]...)
	out = append(out, a.flags(attested != nil))
	out = binary.BigEndian.AppendUint32(out, a.signCount)
	return append(out, attested...)
}

// coseKey is the credential public key as a COSE_Key (RFC 9053 §7.1.1).
func (a *softAuthenticator) coseKey() []byte {
	pub, err := a.key.PublicKey.ECDH()
	if err != nil {
		panic(err)
	}
	raw := pub.Bytes() // 0x04 || X || Y
	b, err := cbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: raw[1:33], -3: raw[33:65]})
	if err != nil {
		panic(err)
	}
	return b
}

// create answers navigator.credentials.create() for options (the JSON
// BeginRegistration returned) with the JSON of credential.toJSON().
func (a *softAuthenticator) create(options []byte) ([]byte, error) {
	var o creationOptions
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, fmt.Errorf("parse creation options: %w", err)
	}
	for _, d := range o.ExcludeCredentials {
		if id, _ := b64.DecodeString(d.ID); bytes.Equal(id, a.credID) {
			return nil, errExcluded
		}
	}
	handle, err := b64.DecodeString(o.User.ID)
	if err != nil {
		return nil, fmt.Errorf("user.id: %w", err)
	}
	a.userHandle = handle

	attested := append([]byte(nil), a.aaguid...)
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(a.credID)))
	attested = append(attested, a.credID...)
	attested = append(attested, a.coseKey()...)
	authData := a.authData(o.RP.ID, attested)
	attObj, err := cbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": authData})
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(&a.key.PublicKey)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"id":                      b64.EncodeToString(a.credID),
		"rawId":                   b64.EncodeToString(a.credID),
		"type":                    "public-key",
		"authenticatorAttachment": "platform",
		"clientExtensionResults":  map[string]any{},
		"response": map[string]any{
			"clientDataJSON":     b64.EncodeToString(a.clientData("webauthn.create", o.Challenge)),
			"attestationObject":  b64.EncodeToString(attObj),
			"authenticatorData":  b64.EncodeToString(authData),
			"publicKey":          b64.EncodeToString(spki),
			"publicKeyAlgorithm": -7,
			"transports":         []string{"hybrid", "internal"},
		},
	})
}

// get answers navigator.credentials.get() for options (the JSON a Begin
// login function returned) with the JSON of credential.toJSON().
func (a *softAuthenticator) get(options []byte) ([]byte, error) {
	var o requestOptions
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, fmt.Errorf("parse request options: %w", err)
	}
	if len(o.AllowCredentials) > 0 && !a.ignoreAllow {
		allowed := false
		for _, d := range o.AllowCredentials {
			if id, _ := b64.DecodeString(d.ID); bytes.Equal(id, a.credID) {
				allowed = true
			}
		}
		if !allowed {
			return nil, errNotAllowed
		}
	}
	a.signCount += a.countStep
	authData := a.authData(o.RPID, nil)
	cdj := a.clientData("webauthn.get", o.Challenge)
	h := sha256.Sum256(cdj)
	// ES256: ECDSA over SHA-256(authenticatorData || SHA-256(clientDataJSON)).
	digest := sha256.Sum256(append(append([]byte(nil), authData...), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"id":                      b64.EncodeToString(a.credID),
		"rawId":                   b64.EncodeToString(a.credID),
		"type":                    "public-key",
		"authenticatorAttachment": "platform",
		"clientExtensionResults":  map[string]any{},
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(cdj),
			"authenticatorData": b64.EncodeToString(authData),
			"signature":         b64.EncodeToString(sig),
			"userHandle":        b64.EncodeToString(a.userHandle),
		},
	})
}
