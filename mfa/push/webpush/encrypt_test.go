package webpush

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func b64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return b
}

// RFC 8291 Section 5 (and Appendix A): the published keys, salt and auth
// secret must give the published body byte for byte. A round trip through
// our own decryptor would pass with a symmetric mistake; this cannot.
func TestEncryptRFC8291Example(t *testing.T) {
	asPrivate, err := ecdh.P256().NewPrivateKey(b64(t, "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := base64.RawURLEncoding.EncodeToString(asPrivate.PublicKey().Bytes()),
		"BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"; got != want {
		t.Fatalf("as_public = %s, want %s", got, want)
	}
	uaPublic, err := ecdh.P256().NewPublicKey(b64(t, "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := encrypt([]byte("When I grow up, I want to be a watermelon"), uaPublic,
		b64(t, "BTBZMqHH6r4Tts7J_aSIgg"), asPrivate, b64(t, "DGv6ra1nlYgDCS1FRnbzlw"))
	if err != nil {
		t.Fatal(err)
	}
	const want = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27ml" +
		"mlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPT" +
		"pK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
	if got := base64.RawURLEncoding.EncodeToString(body); got != want {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
}

// RFC 8188 Section 3.1: the content coding on its own, so that a fault in
// the record layer cannot hide behind a correct key agreement.
func TestSealRFC8188Example(t *testing.T) {
	body, err := seal([]byte("I am the walrus"), b64(t, "yqdlZ-tYemfogSmv7Ws5PQ"),
		b64(t, "I1BsxtFttlv3u_Oo94xnmw"), nil, 4096)
	if err != nil {
		t.Fatal(err)
	}
	const want = "I1BsxtFttlv3u_Oo94xnmwAAEAAA-NAVub2qFgBEuQKRapoZu-IxkIva3MEB1PD-ly8Thjg"
	if got := base64.RawURLEncoding.EncodeToString(body); got != want {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
}

func TestEncryptLimits(t *testing.T) {
	ua, _ := ecdh.P256().GenerateKey(rand.Reader)
	as, _ := ecdh.P256().GenerateKey(rand.Reader)
	auth := make([]byte, 16)
	salt := make([]byte, 16)

	body, err := encrypt([]byte(strings.Repeat("x", MaxPayload)), ua.PublicKey(), auth, as, salt)
	if err != nil {
		t.Fatalf("MaxPayload octets: %v", err)
	}
	if len(body) != 4096 {
		t.Errorf("a MaxPayload push is %d octets, want exactly the 4096 push services accept", len(body))
	}
	if _, err := encrypt([]byte(strings.Repeat("x", MaxPayload+1)), ua.PublicKey(), auth, as, salt); !errors.Is(err, ErrPayloadTooLarge) {
		t.Errorf("MaxPayload+1 octets: err = %v, want ErrPayloadTooLarge", err)
	}
	if _, err := encrypt([]byte("x"), ua.PublicKey(), auth[:15], as, salt); err == nil {
		t.Error("a 15-octet auth secret was accepted")
	}
	if _, err := encrypt([]byte("x"), ua.PublicKey(), auth, as, salt[:8]); err == nil {
		t.Error("an 8-octet salt was accepted")
	}
}
