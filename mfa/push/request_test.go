package push_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/mfa/push"
)

func TestParseRequestValid(t *testing.T) {
	d := newTestDevice(t)
	cases := []struct {
		name  string
		kind  push.Kind
		edit  func(c map[string]any)
		check func(t *testing.T, r push.Request)
	}{
		{"enrol", push.KindEnrol, nil, func(t *testing.T, r push.Request) {
			want := push.Enrol{Token: "tok_0123456789abcdefghijklmnopqrstuvwxyzABCDE", Channel: "fcm", PushToken: "dQw4w9WgXcQ:APA91bHun4MxP5egoKMwt2KZFBaFUH", Permission: "granted", Name: "Pixel 9", Platform: "android"}
			if r.Enrol == nil || *r.Enrol != want {
				t.Errorf("Enrol = %+v, want %+v", r.Enrol, want)
			}
			if r.Heartbeat != nil || r.Fetch != nil || r.Answer != nil {
				t.Error("other kinds' claims set")
			}
		}},
		{"enrol without sub", push.KindEnrol, func(c map[string]any) { delete(c, "sub") }, nil},
		{"enrol over web push, permission not asked yet, no token", push.KindEnrol, func(c map[string]any) {
			c["channel"], c["permission"], c["platform"] = "webpush", "default", "web"
			delete(c, "push_token")
		}, func(t *testing.T, r push.Request) {
			if r.Enrol.PushToken != "" || r.Enrol.Permission != "default" {
				t.Errorf("Enrol = %+v", r.Enrol)
			}
		}},
		{"enrol with a web push subscription", push.KindEnrol, func(c map[string]any) {
			c["channel"], c["push_token"] = "webpush", subscription(t, "https://fcm.googleapis.com/fcm/send/abc:def")
		}, nil},
		{"enrol over apns, Japanese name with ideographic space", push.KindEnrol, func(c map[string]any) {
			c["channel"], c["push_token"], c["name"], c["platform"] = "apns", strings.Repeat("ab", 32), "花子の\u3000iPhone", "ios"
		}, func(t *testing.T, r push.Request) {
			if r.Enrol.Name != "花子の\u3000iPhone" {
				t.Errorf("name %q", r.Enrol.Name)
			}
		}},
		{"heartbeat", push.KindHeartbeat, nil, func(t *testing.T, r push.Request) {
			want := push.Heartbeat{Channel: "fcm", PushToken: "dQw4w9WgXcQ:APA91bHun4MxP5egoKMwt2KZFBaFUH", Permission: "denied", AppVersion: "1.4.2"}
			if r.Heartbeat == nil || *r.Heartbeat != want {
				t.Errorf("Heartbeat = %+v, want %+v", r.Heartbeat, want)
			}
		}},
		{"fetch", push.KindFetch, nil, func(t *testing.T, r push.Request) {
			if r.Fetch == nil || r.Fetch.ChallengeID != "chal_0123456789abcdef" {
				t.Errorf("Fetch = %+v", r.Fetch)
			}
		}},
		{"answer approve, number as string", push.KindAnswer, nil, func(t *testing.T, r push.Request) {
			want := push.Answer{ChallengeID: "chal_0123456789abcdef", Nonce: "nonce_0123456789abcdef", Decision: "approve", Number: "42"}
			if r.Answer == nil || *r.Answer != want {
				t.Errorf("Answer = %+v, want %+v", r.Answer, want)
			}
		}},
		{"answer approve, number as integer", push.KindAnswer, func(c map[string]any) { c["number"] = 42 }, func(t *testing.T, r push.Request) {
			if r.Answer.Number != "42" {
				t.Errorf("number %q", r.Answer.Number)
			}
		}},
		{"answer deny without number", push.KindAnswer, func(c map[string]any) { c["decision"] = "deny"; delete(c, "number") }, nil},
		{"answer not_me with null number", push.KindAnswer, func(c map[string]any) { c["decision"] = "not_me"; c["number"] = nil }, nil},
		{"iat 4m59s old", push.KindFetch, func(c map[string]any) { c["iat"] = now.Add(-299 * time.Second).Unix() }, nil},
		{"iat 4m59s ahead, with a fraction", push.KindFetch, func(c map[string]any) { c["iat"] = float64(now.Add(299*time.Second).Unix()) + 0.5 }, nil},
		{"aud as a one-element array", push.KindFetch, func(c map[string]any) { c["aud"] = []string{issuer} }, nil},
		{"unknown claims ignored", push.KindFetch, func(c map[string]any) { c["exp"] = now.Unix() + 60; c["x-debug"] = true }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := d.claims(string(tc.kind))
			if tc.edit != nil {
				tc.edit(c)
			}
			r, err := push.ParseRequest(d.sign(t, d.header(), c), issuer, now, tc.kind)
			if err != nil {
				t.Fatalf("ParseRequest: %v", err)
			}
			if r.Kind != tc.kind || r.DeviceID != d.thumb || r.ID != "jti-0123456789abcdef" {
				t.Errorf("Kind %q DeviceID %q ID %q", r.Kind, r.DeviceID, r.ID)
			}
			if r.Key.Thumbprint() != d.thumb || r.Key.X != d.jwk["x"] || r.Key.Y != d.jwk["y"] {
				t.Errorf("Key %+v is not the signing key", r.Key)
			}
			if r.ReplayUntil().Sub(r.IssuedAt) != push.MaxSkew {
				t.Errorf("ReplayUntil %v for iat %v", r.ReplayUntil(), r.IssuedAt)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

func TestParseRequestRefuses(t *testing.T) {
	d := newTestDevice(t)
	other := newTestDevice(t)
	signed := func(edit func(h, c map[string]any)) func(t *testing.T) string {
		return func(t *testing.T) string {
			h, c := d.header(), d.claims("answer")
			edit(h, c)
			return d.sign(t, h, c)
		}
	}
	claims := func(edit func(c map[string]any)) func(t *testing.T) string {
		return signed(func(_, c map[string]any) { edit(c) })
	}
	header := func(edit func(h map[string]any)) func(t *testing.T) string {
		return signed(func(h, _ map[string]any) { edit(h) })
	}
	// withSig re-signs a valid request's input with a signature made from r, s.
	withSig := func(f func(r, s *big.Int) []byte) func(t *testing.T) string {
		return func(t *testing.T) string {
			input := enc.EncodeToString(mustJSON(t, d.header())) + "." + enc.EncodeToString(mustJSON(t, d.claims("answer")))
			return input + "." + enc.EncodeToString(f(d.rawSig(t, input)))
		}
	}
	enrol := func(edit func(c map[string]any)) func(t *testing.T) string {
		return func(t *testing.T) string {
			c := d.claims("enrol")
			edit(c)
			return d.sign(t, d.header(), c)
		}
	}
	cases := []struct {
		name string
		make func(t *testing.T) string
		kind push.Kind // answer when empty
		want error
	}{
		{"tampered payload", func(t *testing.T) string {
			parts := strings.Split(d.sign(t, d.header(), d.claims("answer")), ".")
			c := d.claims("answer")
			c["decision"] = "not_me"
			parts[1] = enc.EncodeToString(mustJSON(t, c))
			return strings.Join(parts, ".")
		}, "", push.ErrBadSignature},
		{"tampered header", func(t *testing.T) string {
			parts := strings.Split(d.sign(t, d.header(), d.claims("answer")), ".")
			h := d.header()
			h["kid"] = "x"
			parts[0] = enc.EncodeToString(mustJSON(t, h))
			return strings.Join(parts, ".")
		}, "", push.ErrBadSignature},
		{"alg none, no signature", func(t *testing.T) string {
			h := d.header()
			h["alg"] = "none"
			return enc.EncodeToString(mustJSON(t, h)) + "." + enc.EncodeToString(mustJSON(t, d.claims("answer"))) + "."
		}, "", push.ErrBadSignature},
		{"alg none, with a signature", header(func(h map[string]any) { h["alg"] = "none" }), "", push.ErrBadSignature},
		{"alg HS256", header(func(h map[string]any) { h["alg"] = "HS256" }), "", push.ErrBadSignature},
		{"alg ES384", header(func(h map[string]any) { h["alg"] = "ES384" }), "", push.ErrBadSignature},
		{"alg es256 in lower case", header(func(h map[string]any) { h["alg"] = "es256" }), "", push.ErrBadSignature},
		{"alg missing", header(func(h map[string]any) { delete(h, "alg") }), "", push.ErrMalformed},
		{"jwk missing", header(func(h map[string]any) { delete(h, "jwk") }), "", push.ErrMalformed},
		{"kid instead of jwk", header(func(h map[string]any) { delete(h, "jwk"); h["kid"] = d.thumb }), "", push.ErrMalformed},
		{"jwk with the private key d", header(func(h map[string]any) {
			h["jwk"] = map[string]any{"kty": "EC", "crv": "P-256", "x": d.jwk["x"], "y": d.jwk["y"], "d": enc.EncodeToString(d.priv.D.FillBytes(make([]byte, 32)))}
		}), "", push.ErrMalformed},
		{"jwk of another key", header(func(h map[string]any) { h["jwk"] = other.jwk }), "", push.ErrBadSignature},
		{"jwk on P-384", header(func(h map[string]any) {
			k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
			p, _ := k.PublicKey.Bytes()
			h["jwk"] = map[string]any{"kty": "EC", "crv": "P-384", "x": enc.EncodeToString(p[1:49]), "y": enc.EncodeToString(p[49:])}
		}), "", push.ErrMalformed},
		{"jwk kty RSA", header(func(h map[string]any) { h["jwk"] = map[string]any{"kty": "RSA", "n": "0vx7", "e": "AQAB"} }), "", push.ErrMalformed},
		{"jwk x without its leading zero byte", header(func(h map[string]any) {
			h["jwk"] = map[string]any{"kty": "EC", "crv": "P-256", "x": enc.EncodeToString(make([]byte, 31)), "y": d.jwk["y"]}
		}), "", push.ErrMalformed},
		{"jwk point off the curve", header(func(h map[string]any) {
			y, _ := enc.DecodeString(d.jwk["y"].(string))
			y[31] ^= 1
			h["jwk"] = map[string]any{"kty": "EC", "crv": "P-256", "x": d.jwk["x"], "y": enc.EncodeToString(y)}
		}), "", push.ErrMalformed},
		{"jwk alg RS256", header(func(h map[string]any) {
			h["jwk"] = map[string]any{"kty": "EC", "crv": "P-256", "x": d.jwk["x"], "y": d.jwk["y"], "alg": "RS256"}
		}), "", push.ErrMalformed},
		{"jku header", header(func(h map[string]any) { h["jku"] = "https://evil.example/keys" }), "", push.ErrMalformed},
		{"crit header", header(func(h map[string]any) { h["crit"] = []string{"exp"} }), "", push.ErrMalformed},
		{"typ missing", header(func(h map[string]any) { delete(h, "typ") }), "", push.ErrMalformed},
		{"typ JWT", header(func(h map[string]any) { h["typ"] = "JWT" }), "", push.ErrMalformed},
		{"typ dpop+jwt", header(func(h map[string]any) { h["typ"] = "dpop+jwt" }), "", push.ErrMalformed},
		{"sub of another key", claims(func(c map[string]any) { c["sub"] = other.thumb }), "", push.ErrKeyMismatch},
		{"sub missing", claims(func(c map[string]any) { delete(c, "sub") }), "", push.ErrMalformed},
		{"sub empty", claims(func(c map[string]any) { c["sub"] = "" }), "", push.ErrKeyMismatch},
		{"enrol with sub of another key", enrol(func(c map[string]any) { c["sub"] = other.thumb }), push.KindEnrol, push.ErrKeyMismatch},
		{"iat 5m1s old", claims(func(c map[string]any) { c["iat"] = now.Add(-301 * time.Second).Unix() }), "", push.ErrStale},
		{"iat 5m1s ahead", claims(func(c map[string]any) { c["iat"] = now.Add(301 * time.Second).Unix() }), "", push.ErrStale},
		{"iat a day old", claims(func(c map[string]any) { c["iat"] = now.Add(-24 * time.Hour).Unix() }), "", push.ErrStale},
		{"iat missing", claims(func(c map[string]any) { delete(c, "iat") }), "", push.ErrMalformed},
		{"iat as a string", claims(func(c map[string]any) { c["iat"] = "1773480413" }), "", push.ErrMalformed},
		{"iat in milliseconds", claims(func(c map[string]any) { c["iat"] = now.UnixMilli() }), "", push.ErrMalformed},
		{"aud of another issuer", claims(func(c map[string]any) { c["aud"] = "https://evil.example" }), "", push.ErrWrongAudience},
		{"aud with a trailing slash", claims(func(c map[string]any) { c["aud"] = issuer + "/" }), "", push.ErrWrongAudience},
		{"aud of two audiences", claims(func(c map[string]any) { c["aud"] = []string{issuer, "https://rp.example"} }), "", push.ErrMalformed},
		{"aud missing", claims(func(c map[string]any) { delete(c, "aud") }), "", push.ErrMalformed},
		{"kind fetch at the answer endpoint", claims(func(c map[string]any) { c["kind"] = "fetch" }), "", push.ErrWrongKind},
		{"kind missing", claims(func(c map[string]any) { delete(c, "kind") }), "", push.ErrMalformed},
		{"jti missing", claims(func(c map[string]any) { delete(c, "jti") }), "", push.ErrMalformed},
		{"jti too short", claims(func(c map[string]any) { c["jti"] = "1" }), "", push.ErrMalformed},
		{"jti with spaces", claims(func(c map[string]any) { c["jti"] = "jti 0123456789abcdef" }), "", push.ErrMalformed},
		{"approve without number", claims(func(c map[string]any) { delete(c, "number") }), "", push.ErrMalformed},
		{"number one digit", claims(func(c map[string]any) { c["number"] = "7" }), "", push.ErrMalformed},
		{"number with a leading zero", claims(func(c map[string]any) { c["number"] = "07" }), "", push.ErrMalformed},
		{"number 100", claims(func(c map[string]any) { c["number"] = 100 }), "", push.ErrMalformed},
		{"number 42.0", claims(func(c map[string]any) { c["number"] = 42.5 }), "", push.ErrMalformed},
		{"number as an array", claims(func(c map[string]any) { c["number"] = []int{4, 2} }), "", push.ErrMalformed},
		{"decision maybe", claims(func(c map[string]any) { c["decision"] = "maybe" }), "", push.ErrMalformed},
		{"nonce missing", claims(func(c map[string]any) { delete(c, "nonce") }), "", push.ErrMalformed},
		{"channel sms", enrol(func(c map[string]any) { c["channel"] = "sms" }), push.KindEnrol, push.ErrMalformed},
		{"permission sure", enrol(func(c map[string]any) { c["permission"] = "sure" }), push.KindEnrol, push.ErrMalformed},
		{"web push endpoint over http", enrol(func(c map[string]any) {
			c["channel"], c["push_token"] = "webpush", subscription(t, "http://10.0.0.1/admin")
		}), push.KindEnrol, push.ErrMalformed},
		{"web push token not a subscription", enrol(func(c map[string]any) { c["channel"] = "webpush" }), push.KindEnrol, push.ErrMalformed},
		{"apns token not hex", enrol(func(c map[string]any) { c["channel"] = "apns" }), push.KindEnrol, push.ErrMalformed},
		{"fcm token with a newline", enrol(func(c map[string]any) { c["push_token"] = "abc\ndef" }), push.KindEnrol, push.ErrMalformed},
		{"name with a right-to-left override", enrol(func(c map[string]any) { c["name"] = "Pixel\u202e9" }), push.KindEnrol, push.ErrMalformed},
		{"name empty", enrol(func(c map[string]any) { c["name"] = "  " }), push.KindEnrol, push.ErrMalformed},
		{"name too long", enrol(func(c map[string]any) { c["name"] = strings.Repeat("x", 65) }), push.KindEnrol, push.ErrMalformed},
		{"enrolment token missing", enrol(func(c map[string]any) { delete(c, "token") }), push.KindEnrol, push.ErrMalformed},
		{"platform missing", enrol(func(c map[string]any) { delete(c, "platform") }), push.KindEnrol, push.ErrMalformed},
		{"DER signature", withSig(func(r, s *big.Int) []byte {
			der, err := asn1.Marshal(struct{ R, S *big.Int }{r, s})
			if err != nil {
				t.Fatal(err)
			}
			return der
		}), "", push.ErrBadSignature},
		{"signature one byte short", withSig(func(r, s *big.Int) []byte { return rs(r, s)[:63] }), "", push.ErrBadSignature},
		{"r zero", withSig(func(_, s *big.Int) []byte { return rs(new(big.Int), s) }), "", push.ErrBadSignature},
		{"s zero", withSig(func(r, _ *big.Int) []byte { return rs(r, new(big.Int)) }), "", push.ErrBadSignature},
		{"r equal to n", withSig(func(_, s *big.Int) []byte { return rs(p256, s) }), "", push.ErrBadSignature},
		{"s equal to n", withSig(func(r, _ *big.Int) []byte { return rs(r, p256) }), "", push.ErrBadSignature},
		{"s all ones", withSig(func(r, _ *big.Int) []byte {
			return rs(r, new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1)))
		}), "", push.ErrBadSignature},
		{"empty", func(*testing.T) string { return "" }, "", push.ErrMalformed},
		{"two parts", func(*testing.T) string { return "eyJ9.eyJ9" }, "", push.ErrMalformed},
		{"four parts", func(t *testing.T) string { return d.sign(t, d.header(), d.claims("answer")) + ".x" }, "", push.ErrMalformed},
		{"padded base64", func(t *testing.T) string {
			parts := strings.Split(d.sign(t, d.header(), d.claims("answer")), ".")
			return parts[0] + "=." + parts[1] + "." + parts[2]
		}, "", push.ErrMalformed},
		{"too long", claims(func(c map[string]any) { c["padding"] = strings.Repeat("x", push.MaxRequestSize) }), "", push.ErrMalformed},
		{"duplicate kind claim", func(t *testing.T) string {
			return d.signBytes(t, mustJSON(t, d.header()), []byte(`{"kind":"fetch","kind":"answer","aud":"`+issuer+`"}`))
		}, "", push.ErrMalformed},
		{"duplicate alg in header", func(t *testing.T) string {
			h := `{"alg":"none","typ":"latchkey-push+jwt","jwk":` + string(mustJSON(t, d.jwk)) + `,"alg":"ES256"}`
			return d.signBytes(t, []byte(h), mustJSON(t, d.claims("answer")))
		}, "", push.ErrMalformed},
		{"claim names in another case", func(t *testing.T) string {
			c := d.claims("answer")
			delete(c, "aud")
			c["AUD"] = issuer
			return d.sign(t, d.header(), c)
		}, "", push.ErrMalformed},
		{"payload not an object", func(t *testing.T) string {
			return d.signBytes(t, mustJSON(t, d.header()), []byte(`["kind","answer"]`))
		}, "", push.ErrMalformed},
		{"payload with trailing data", func(t *testing.T) string {
			return d.signBytes(t, mustJSON(t, d.header()), append(mustJSON(t, d.claims("answer")), []byte(` {}`)...))
		}, "", push.ErrMalformed},
		{"payload not UTF-8", func(t *testing.T) string {
			return d.signBytes(t, mustJSON(t, d.header()), []byte("{\"kind\":\"answer\xff\"}"))
		}, "", push.ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kind := tc.kind
			if kind == "" {
				kind = push.KindAnswer
			}
			r, err := push.ParseRequest(tc.make(t), issuer, now, kind)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v (request %+v)", err, tc.want, r)
			}
		})
	}
}

// An ECDSA signature (r, s) has a twin (r, n-s) that verifies just as well.
// Requests are not refused for it (WebCrypto and platform keystores make
// either), which is why replays are told apart by jti and never by the
// JWS text.
func TestParseRequestHighS(t *testing.T) {
	d := newTestDevice(t)
	input := enc.EncodeToString(mustJSON(t, d.header())) + "." + enc.EncodeToString(mustJSON(t, d.claims("fetch")))
	r, s := d.rawSig(t, input)
	a, err := push.ParseRequest(input+"."+enc.EncodeToString(rs(r, s)), issuer, now, push.KindFetch)
	if err != nil {
		t.Fatal(err)
	}
	b, err := push.ParseRequest(input+"."+enc.EncodeToString(rs(r, new(big.Int).Sub(p256, s))), issuer, now, push.KindFetch)
	if err != nil {
		t.Fatalf("twin signature: %v", err)
	}
	if a.ID != b.ID {
		t.Errorf("jti %q and %q", a.ID, b.ID)
	}
}

func TestParseRequestUnknownWantedKind(t *testing.T) {
	d := newTestDevice(t)
	if _, err := push.ParseRequest(d.sign(t, d.header(), d.claims("fetch")), issuer, now, "launch"); !errors.Is(err, push.ErrWrongKind) {
		t.Fatalf("err = %v", err)
	}
}

// The signature is checked before anything in the payload is believed: a
// forged request of the wrong kind, audience or time is a bad signature.
func TestParseRequestSignatureFirst(t *testing.T) {
	d := newTestDevice(t)
	c := d.claims("enrol")
	c["aud"], c["iat"] = "https://evil.example", 1
	parts := strings.Split(d.sign(t, d.header(), c), ".")
	sum := sha256.Sum256([]byte("not the input"))
	r, s, err := ecdsa.Sign(rand.Reader, d.priv, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	parts[2] = enc.EncodeToString(rs(r, s))
	if _, err := push.ParseRequest(strings.Join(parts, "."), issuer, now, push.KindAnswer); !errors.Is(err, push.ErrBadSignature) {
		t.Fatalf("err = %v, want ErrBadSignature", err)
	}
}
