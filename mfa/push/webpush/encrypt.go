package webpush

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// Sizes fixed by RFC 8188 (aes128gcm) and RFC 8291 (Web Push encryption).
const (
	saltSize      = 16
	authSize      = 16 // RFC 8291 Section 3.2: the auth secret is 16 octets
	keySize       = 65 // an uncompressed P-256 point
	tagSize       = 16 // AES-GCM authentication tag
	recordSize    = 4096
	headerSize    = saltSize + 4 + 1 + keySize // salt, rs, idlen, keyid (RFC 8291 Section 4)
	lastRecordPad = 0x02                       // RFC 8188 Section 2: delimiter of the last record

	// MaxPayload is the largest plaintext one push carries. RFC 8030
	// Section 7.2 obliges push services to accept 4096 octets of body; the
	// body is the 86-octet header plus one record holding the plaintext,
	// the padding delimiter and the tag.
	MaxPayload = recordSize - headerSize - 1 - tagSize
)

// encrypt encrypts plaintext for the user agent holding uaPublic and
// authSecret (the subscription's keys.p256dh and keys.auth) as RFC 8291
// Section 3.4 prescribes: asPrivate is the sender's ephemeral ECDH key and
// salt 16 random octets, both fresh per message; they are parameters so
// that the RFC's example (Section 5) can be reproduced exactly.
//
// The result is an aes128gcm body (RFC 8188) with a single record whose
// key id is the ephemeral public key, as RFC 8291 Section 4 requires.
func encrypt(plaintext []byte, uaPublic *ecdh.PublicKey, authSecret []byte, asPrivate *ecdh.PrivateKey, salt []byte) ([]byte, error) {
	if len(plaintext) > MaxPayload {
		return nil, fmt.Errorf("%w: %d octets, at most %d", ErrPayloadTooLarge, len(plaintext), MaxPayload)
	}
	if len(authSecret) != authSize {
		return nil, fmt.Errorf("webpush: encrypt: auth secret is %d octets, want %d", len(authSecret), authSize)
	}
	ecdhSecret, err := asPrivate.ECDH(uaPublic)
	if err != nil {
		return nil, fmt.Errorf("webpush: encrypt: key agreement: %w", err)
	}
	asPublic := asPrivate.PublicKey().Bytes()
	// RFC 8291 Section 3.3: IKM = HKDF(salt=auth_secret, ikm=ecdh_secret,
	// info="WebPush: info" || 0x00 || ua_public || as_public, L=32). Binding
	// both public keys into the IKM is what stops a key-substitution attack.
	info := make([]byte, 0, 14+2*keySize)
	info = append(info, "WebPush: info\x00"...)
	info = append(info, uaPublic.Bytes()...)
	info = append(info, asPublic...)
	ikm, err := hkdf.Key(sha256.New, ecdhSecret, authSecret, string(info), 32)
	if err != nil {
		return nil, fmt.Errorf("webpush: encrypt: derive IKM: %w", err)
	}
	return seal(plaintext, ikm, salt, asPublic, recordSize)
}

// seal is the aes128gcm content coding of RFC 8188 for a single record:
// header (salt, rs, idlen, keyid) followed by the record. The record holds
// the plaintext, the last-record delimiter 0x02 and no further padding.
func seal(plaintext, ikm, salt, keyID []byte, rs int) ([]byte, error) {
	if len(salt) != saltSize {
		return nil, fmt.Errorf("webpush: encrypt: salt is %d octets, want %d", len(salt), saltSize)
	}
	if len(keyID) > 255 {
		return nil, fmt.Errorf("webpush: encrypt: key id is %d octets, at most 255", len(keyID))
	}
	// One record: rs must exceed plaintext, delimiter and tag (RFC 8291
	// Section 4), so that the receiver never looks for a second record.
	if len(plaintext)+1+tagSize > rs {
		return nil, fmt.Errorf("%w: %d octets do not fit a %d-octet record", ErrPayloadTooLarge, len(plaintext), rs)
	}
	// RFC 8188 Section 2.2 and 2.3: PRK = HMAC-SHA-256(salt, IKM); the
	// content-encryption key and the nonce are expanded from it.
	prk, err := hkdf.Extract(sha256.New, ikm, salt)
	if err != nil {
		return nil, fmt.Errorf("webpush: encrypt: extract: %w", err)
	}
	cek, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: aes128gcm\x00", 16)
	if err != nil {
		return nil, fmt.Errorf("webpush: encrypt: derive key: %w", err)
	}
	// The nonce of record SEQ is NONCE XOR SEQ; the only record has SEQ 0,
	// so the derived nonce is used as it is.
	nonce, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: nonce\x00", 12)
	if err != nil {
		return nil, fmt.Errorf("webpush: encrypt: derive nonce: %w", err)
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, fmt.Errorf("webpush: encrypt: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("webpush: encrypt: %w", err)
	}

	out := make([]byte, 0, saltSize+4+1+len(keyID)+len(plaintext)+1+tagSize)
	out = append(out, salt...)
	out = binary.BigEndian.AppendUint32(out, uint32(rs))
	out = append(out, byte(len(keyID)))
	out = append(out, keyID...)
	record := make([]byte, 0, len(plaintext)+1)
	record = append(record, plaintext...)
	record = append(record, lastRecordPad)
	return aead.Seal(out, nonce, record, nil), nil
}
