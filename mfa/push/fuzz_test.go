package push_test

import (
	"testing"

	"github.com/latchkey/latchkey/mfa/push"
)

var kinds = []push.Kind{push.KindEnrol, push.KindHeartbeat, push.KindFetch, push.KindAnswer}

// checkParsed fails when ParseRequest accepted something inconsistent.
func checkParsed(t *testing.T, r push.Request, want push.Kind) {
	t.Helper()
	if r.Kind != want || r.DeviceID == "" || r.DeviceID != r.Key.Thumbprint() || r.ID == "" {
		t.Fatalf("accepted %+v", r)
	}
	set := 0
	for _, p := range []bool{r.Enrol != nil, r.Heartbeat != nil, r.Fetch != nil, r.Answer != nil} {
		if p {
			set++
		}
	}
	if set != 1 {
		t.Fatalf("%d kind bodies set", set)
	}
	if r.Answer != nil && r.Answer.Decision == push.DecisionApprove && len(r.Answer.Number) != 2 {
		t.Fatalf("approval with number %q", r.Answer.Number)
	}
}

// FuzzParseRequest feeds whole requests: most fail the signature, which
// is the point (no input may panic or get past it).
func FuzzParseRequest(f *testing.F) {
	d := newTestDevice(f)
	for _, k := range kinds {
		f.Add(d.sign(f, d.header(), d.claims(string(k))))
	}
	f.Add("")
	f.Add("..")
	f.Add("e30.e30.")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Fuzz(func(t *testing.T, compact string) {
		for _, k := range kinds {
			if r, err := push.ParseRequest(compact, issuer, now, k); err == nil {
				checkParsed(t, r, k)
			}
		}
	})
}

// FuzzParseRequestSigned signs whatever header and payload the fuzzer
// makes with a real key, so every claim parser behind the signature is
// reached.
func FuzzParseRequestSigned(f *testing.F) {
	d := newTestDevice(f)
	h := mustJSON(f, d.header())
	for _, k := range kinds {
		f.Add(h, mustJSON(f, d.claims(string(k))))
	}
	f.Add([]byte(`{"alg":"ES256","typ":"latchkey-push+jwt","jwk":{"kty":"EC","crv":"P-256","x":"","y":""}}`), []byte(`{}`))
	f.Add(h, []byte(`{"kind":"answer","number":1e400,"iat":-1}`))
	f.Fuzz(func(t *testing.T, header, payload []byte) {
		compact := d.signBytes(t, header, payload)
		for _, k := range kinds {
			if r, err := push.ParseRequest(compact, issuer, now, k); err == nil {
				checkParsed(t, r, k)
			}
		}
	})
}

func FuzzParseEnrolmentLink(f *testing.F) {
	f.Add(push.EnrolmentURI(issuer, "q3Jm2x8vKX0fUa7Tn9cR4bLwE1hYdS6gZpV5oNiMkQA"))
	f.Add(push.EnrolmentURL(issuer, "q3Jm2x8vKX0fUa7Tn9cR4bLwE1hYdS6gZpV5oNiMkQA"))
	f.Add("https://x/authenticator#enrol=%zz")
	f.Fuzz(func(t *testing.T, link string) {
		iss, tok, err := push.ParseEnrolmentLink(link)
		if err == nil && (iss == "" || tok == "") {
			t.Fatalf("accepted %q: %q %q", link, iss, tok)
		}
	})
}

func FuzzParseSubscription(f *testing.F) {
	f.Add(subscription(f, "https://fcm.googleapis.com/fcm/send/x"))
	f.Add(`{"endpoint":"https://a","keys":{"p256dh":"","auth":""}}`)
	f.Fuzz(func(t *testing.T, token string) {
		s, err := push.ParseSubscription(token)
		if err == nil && (len(s.P256DH) != 65 || len(s.Auth) != 16 || s.Endpoint == "") {
			t.Fatalf("accepted %q as %+v", token, s)
		}
	})
}
