package webpushtest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// decrypt is what the browser does with a push (RFC 8291 Section 3 and RFC
// 8188 Section 2), written out with HMAC rather than an HKDF package so
// that it shares nothing with the sender: parse the aes128gcm header, agree
// on a key with the sender's public key in keyid, derive the key and nonce,
// open the single record and remove its padding.
func decrypt(body []byte, priv *ecdh.PrivateKey, authSecret []byte) ([]byte, error) {
	const fixed = 16 + 4 + 1
	if len(body) < fixed {
		return nil, errors.New("shorter than the aes128gcm header")
	}
	salt := body[:16]
	rs := binary.BigEndian.Uint32(body[16:20])
	idlen := int(body[20])
	// RFC 8291 Section 4: keyid is the sender's ephemeral public key.
	if idlen != 65 {
		return nil, fmt.Errorf("keyid is %d octets, want the 65-octet sender public key", idlen)
	}
	if len(body) < fixed+idlen {
		return nil, errors.New("truncated keyid")
	}
	if rs < 18 {
		return nil, fmt.Errorf("record size %d below the minimum of 18", rs)
	}
	record := body[fixed+idlen:]
	// RFC 8291 Section 4: exactly one record.
	if len(record) > int(rs) {
		return nil, fmt.Errorf("%d octets of records with rs %d: more than one record", len(record), rs)
	}
	if len(record) < 17 {
		return nil, errors.New("record shorter than the tag and a delimiter")
	}
	asPublic, err := ecdh.P256().NewPublicKey(body[fixed : fixed+idlen])
	if err != nil {
		return nil, fmt.Errorf("keyid is not a P-256 point: %w", err)
	}
	secret, err := priv.ECDH(asPublic)
	if err != nil {
		return nil, fmt.Errorf("key agreement: %w", err)
	}

	// RFC 8291 Section 3.4.
	prkKey := hmacSHA256(authSecret, secret)
	keyInfo := append([]byte("WebPush: info\x00"), priv.PublicKey().Bytes()...)
	keyInfo = append(keyInfo, asPublic.Bytes()...)
	ikm := hmacSHA256(prkKey, append(keyInfo, 0x01))
	// RFC 8188 Section 2.2 and 2.3; one-block HKDF-Expand is HMAC(PRK, info || 0x01).
	prk := hmacSHA256(salt, ikm)
	cek := hmacSHA256(prk, []byte("Content-Encoding: aes128gcm\x00\x01"))[:16]
	nonce := hmacSHA256(prk, []byte("Content-Encoding: nonce\x00\x01"))[:12]

	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	plain, err := aead.Open(nil, nonce, record, nil)
	if err != nil {
		return nil, errors.New("record does not open: wrong keys, salt or auth secret")
	}
	// RFC 8188 Section 2: the plaintext is followed by a delimiter (0x02 in
	// the last record) and zero or more 0x00 octets.
	i := len(plain) - 1
	for i >= 0 && plain[i] == 0 {
		i--
	}
	if i < 0 || plain[i] != 0x02 {
		return nil, errors.New("the only record lacks the last-record delimiter 0x02")
	}
	return plain[:i], nil
}

func hmacSHA256(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}
