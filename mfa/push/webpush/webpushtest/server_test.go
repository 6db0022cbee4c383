package webpushtest

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The RFC 8291 Section 5 example, from the user agent's side.
const (
	rfcUAPrivate = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"
	rfcAuth      = "BTBZMqHH6r4Tts7J_aSIgg"
	rfcPlaintext = "When I grow up, I want to be a watermelon"
	rfcBody      = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27ml" +
		"mlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPT" +
		"pK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
)

func b64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return b
}

func rfcKeys(t *testing.T) (*ecdh.PrivateKey, []byte) {
	t.Helper()
	priv, err := ecdh.P256().NewPrivateKey(b64(t, rfcUAPrivate))
	if err != nil {
		t.Fatal(err)
	}
	return priv, b64(t, rfcAuth)
}

func TestDecryptRFC8291Example(t *testing.T) {
	priv, auth := rfcKeys(t)
	got, err := decrypt(b64(t, rfcBody), priv, auth)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != rfcPlaintext {
		t.Errorf("plaintext = %q, want %q", got, rfcPlaintext)
	}
}

func TestDecryptRefusesTampering(t *testing.T) {
	priv, auth := rfcKeys(t)
	body := b64(t, rfcBody)
	flip := func(i int) []byte {
		b := bytes.Clone(body)
		b[i] ^= 1
		return b
	}
	otherAuth := bytes.Clone(auth)
	otherAuth[0] ^= 1
	twoRecords := bytes.Clone(body)
	twoRecords[18], twoRecords[19] = 0, 20 // rs 20: the 58-octet record would be several
	for name, c := range map[string]struct {
		body []byte
		auth []byte
	}{
		"salt":        {flip(0), auth},
		"keyid":       {flip(30), auth},
		"ciphertext":  {flip(len(body) - 20), auth},
		"tag":         {flip(len(body) - 1), auth},
		"auth secret": {body, otherAuth},
		"truncated":   {body[:60], auth},
		"two records": {twoRecords, auth},
	} {
		if _, err := decrypt(c.body, priv, c.auth); err == nil {
			t.Errorf("%s: a tampered push decrypted", name)
		}
	}
}

// rfcSubscription registers a subscription holding the RFC example's user
// agent keys, so that the RFC's body is a valid push to it.
func rfcSubscription(t *testing.T, s *Server, boundKey []byte) Subscription {
	t.Helper()
	priv, auth := rfcKeys(t)
	id := randomID()
	pub := Subscription{ID: id, Endpoint: s.origin + "/push/" + id}
	s.mu.Lock()
	s.subs[id] = &subscription{pub: pub, priv: priv, auth: auth, boundKey: boundKey}
	s.mu.Unlock()
	return pub
}

// jwt signs claims with key as a VAPID sender would.
func jwt(t *testing.T, key *ecdsa.PrivateKey, header string, claims map[string]any) string {
	t.Helper()
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	in := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString(c)
	d := sha256.Sum256([]byte(in))
	r, s, err := ecdsa.Sign(rand.Reader, key, d[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func pubKey(t *testing.T, key *ecdsa.PrivateKey) string {
	t.Helper()
	b, err := key.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func (a answer) errno() float64 {
	n, _ := a.body["errno"].(float64)
	return n
}

func post(t *testing.T, s *Server, endpoint string, body []byte, h map[string]string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &a.body); err != nil {
			t.Fatalf("error body is not JSON: %q", raw)
		}
	}
	return a
}

func TestProtocolChecks(t *testing.T) {
	s := New(t)
	key, other := newKey(t), newKey(t)
	now := time.Now()
	claims := func(change func(map[string]any)) map[string]any {
		c := map[string]any{"aud": s.URL(), "exp": now.Add(12 * time.Hour).Unix(), "sub": "mailto:ops@example.com"}
		if change != nil {
			change(c)
		}
		return c
	}
	const head = `{"typ":"JWT","alg":"ES256"}`
	vapid := func(k *ecdsa.PrivateKey, c map[string]any) string {
		return "vapid t=" + jwt(t, k, head, c) + ", k=" + pubKey(t, k)
	}
	good := func(change func(h map[string]string)) map[string]string {
		h := map[string]string{
			"TTL":              "60",
			"Content-Encoding": "aes128gcm",
			"Urgency":          "high",
			"Authorization":    vapid(key, claims(nil)),
		}
		if change != nil {
			change(h)
		}
		return h
	}
	body := b64(t, rfcBody)
	open := rfcSubscription(t, s, nil)
	keyBytes, _ := key.PublicKey.Bytes()
	bound := rfcSubscription(t, s, keyBytes)

	cases := []struct {
		name   string
		sub    Subscription
		body   []byte
		header map[string]string
		status int
		errno  float64
	}{
		{"valid", open, body, good(nil), 201, 0},
		{"valid, topic, TTL 0, no urgency", open, body, good(func(h map[string]string) {
			h["Topic"], h["TTL"] = "signin-request", "0"
			delete(h, "Urgency")
		}), 201, 0},
		{"bound to the sender's key", bound, body, good(nil), 201, 0},
		{"bound to another key", bound, body, good(func(h map[string]string) {
			h["Authorization"] = vapid(other, claims(nil))
		}), 403, 109},
		{"no TTL", open, body, good(func(h map[string]string) { delete(h, "TTL") }), 400, 111},
		{"negative TTL", open, body, good(func(h map[string]string) { h["TTL"] = "-1" }), 400, 111},
		{"aesgcm", open, body, good(func(h map[string]string) { h["Content-Encoding"] = "aesgcm" }), 400, 110},
		{"no Content-Encoding", open, body, good(func(h map[string]string) { delete(h, "Content-Encoding") }), 400, 110},
		{"bad urgency", open, body, good(func(h map[string]string) { h["Urgency"] = "urgent" }), 400, 0},
		{"topic too long", open, body, good(func(h map[string]string) { h["Topic"] = strings.Repeat("a", 33) }), 400, 0},
		{"no Authorization", open, body, good(func(h map[string]string) { delete(h, "Authorization") }), 401, 109},
		{"Bearer", open, body, good(func(h map[string]string) {
			h["Authorization"] = "Bearer " + jwt(t, key, head, claims(nil))
		}), 401, 109},
		{"no k", open, body, good(func(h map[string]string) {
			h["Authorization"] = "vapid t=" + jwt(t, key, head, claims(nil))
		}), 401, 109},
		{"signed by another key than k", open, body, good(func(h map[string]string) {
			h["Authorization"] = "vapid t=" + jwt(t, other, head, claims(nil)) + ", k=" + pubKey(t, key)
		}), 401, 109},
		{"alg none", open, body, good(func(h map[string]string) {
			h["Authorization"] = "vapid t=" + jwt(t, key, `{"alg":"none"}`, claims(nil)) + ", k=" + pubKey(t, key)
		}), 401, 109},
		{"aud of another origin", open, body, good(func(h map[string]string) {
			h["Authorization"] = vapid(key, claims(func(c map[string]any) { c["aud"] = "https://fcm.googleapis.com" }))
		}), 401, 109},
		{"aud with a path", open, body, good(func(h map[string]string) {
			h["Authorization"] = vapid(key, claims(func(c map[string]any) { c["aud"] = open.Endpoint }))
		}), 401, 109},
		{"expired", open, body, good(func(h map[string]string) {
			h["Authorization"] = vapid(key, claims(func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() }))
		}), 401, 109},
		{"exp beyond 24 h", open, body, good(func(h map[string]string) {
			h["Authorization"] = vapid(key, claims(func(c map[string]any) { c["exp"] = now.Add(25 * time.Hour).Unix() }))
		}), 401, 109},
		{"exp as a string", open, body, good(func(h map[string]string) {
			h["Authorization"] = vapid(key, claims(func(c map[string]any) { c["exp"] = "1700000000" }))
		}), 401, 109},
		{"no sub", open, body, good(func(h map[string]string) {
			h["Authorization"] = vapid(key, claims(func(c map[string]any) { delete(c, "sub") }))
		}), 401, 109},
		{"sub without a scheme", open, body, good(func(h map[string]string) {
			h["Authorization"] = vapid(key, claims(func(c map[string]any) { c["sub"] = "ops@example.com" }))
		}), 401, 109},
		{"sub over http", open, body, good(func(h map[string]string) {
			h["Authorization"] = vapid(key, claims(func(c map[string]any) { c["sub"] = "http://example.com" }))
		}), 401, 109},
		{"sub https URL", open, body, good(func(h map[string]string) {
			h["Authorization"] = vapid(key, claims(func(c map[string]any) { c["sub"] = "https://idp.example.com/contact" }))
		}), 201, 0},
		{"4097 octets", open, make([]byte, 4097), good(nil), 413, 104},
		{"unknown subscription", Subscription{ID: "nope", Endpoint: s.URL() + "/push/nope"}, body, good(nil), 404, 102},
	}
	for _, c := range cases {
		a := post(t, s, c.sub.Endpoint, c.body, c.header)
		if a.status != c.status || a.errno() != c.errno {
			t.Errorf("%s: %d errno %v (%v), want %d errno %v", c.name, a.status, a.errno(), a.body["message"], c.status, c.errno)
		}
		if a.status == 201 && !strings.HasPrefix(a.header.Get("Location"), s.URL()+"/m/") {
			t.Errorf("%s: Location %q", c.name, a.header.Get("Location"))
		}
	}

	pushes := s.Pushes()
	if len(pushes) != 4 {
		t.Fatalf("%d pushes recorded, want 4", len(pushes))
	}
	p := pushes[0]
	if string(p.Payload) != rfcPlaintext || p.Err != nil {
		t.Errorf("payload = %q (%v), want %q", p.Payload, p.Err, rfcPlaintext)
	}
	if p.TTL != 60 || p.Urgency != "high" || p.Subject != "mailto:ops@example.com" ||
		p.VAPIDKey != pubKey(t, key) || p.Audience != s.URL() || p.Expires.Unix() != now.Add(12*time.Hour).Unix() {
		t.Errorf("recorded push %+v", p)
	}
	if p := pushes[1]; p.Topic != "signin-request" || p.TTL != 0 || p.Urgency != "" {
		t.Errorf("second push: topic %q TTL %d urgency %q", p.Topic, p.TTL, p.Urgency)
	}
	if n := len(s.Requests()); n != len(cases) {
		t.Errorf("%d requests recorded, want %d", n, len(cases))
	}
}

func TestBehaviors(t *testing.T) {
	s := New(t)
	key := newKey(t)
	h := func() map[string]string {
		return map[string]string{
			"TTL":              "30",
			"Content-Encoding": "aes128gcm",
			"Authorization": "vapid t=" + jwt(t, key, `{"alg":"ES256"}`, map[string]any{
				"aud": s.URL(), "exp": time.Now().Add(time.Hour).Unix(), "sub": "mailto:ops@example.com",
			}) + ", k=" + pubKey(t, key),
		}
	}
	body := b64(t, rfcBody)

	flaky := rfcSubscription(t, s, nil)
	s.SetBehavior(flaky, Behavior{ServerErrors: 2, RateLimited: 1, RetryAfter: "7"})
	var got []int
	for range 4 {
		a := post(t, s, flaky.Endpoint, body, h())
		got = append(got, a.status)
		if a.status == 429 && a.header.Get("Retry-After") != "7" {
			t.Errorf("429 with Retry-After %q, want 7", a.header.Get("Retry-After"))
		}
	}
	if want := []int{500, 500, 429, 201}; !slices.Equal(got, want) {
		t.Errorf("answers %v, want %v", got, want)
	}

	gone := rfcSubscription(t, s, nil)
	s.Unsubscribe(gone)
	a := post(t, s, gone.Endpoint, body, h())
	if a.status != 410 || a.errno() != 106 || a.header.Get("Cache-Control") != "max-age=86400" {
		t.Errorf("unsubscribed: %d errno %v cache %q", a.status, a.errno(), a.header.Get("Cache-Control"))
	}
	// A refused request consumes no scripted answer: protocol checks come first.
	hBad := h()
	delete(hBad, "TTL")
	s.SetBehavior(flaky, Behavior{ServerErrors: 1})
	if a := post(t, s, flaky.Endpoint, body, hBad); a.status != 400 {
		t.Errorf("no TTL: %d", a.status)
	}
	if a := post(t, s, flaky.Endpoint, body, h()); a.status != 500 {
		t.Errorf("scripted 500 after a refused request: %d", a.status)
	}
	if n := len(s.PushesTo(flaky)); n != 1 {
		t.Errorf("%d pushes to the flaky subscription, want 1", n)
	}
	if n := len(s.PushesTo(gone)); n != 0 {
		t.Errorf("%d pushes to the unsubscribed one, want 0", n)
	}
}

func TestUndecryptableAndOnPush(t *testing.T) {
	s := New(t)
	s.AllowUndecryptable()
	key := newKey(t)
	sub := s.NewSubscriptionFor(pubKey(t, key))
	var mu sync.Mutex
	var seen []Push
	s.OnPush(func(p Push) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, p)
	})
	a := post(t, s, sub.Endpoint, b64(t, rfcBody), map[string]string{
		"TTL":              "30",
		"Content-Encoding": "aes128gcm",
		"Authorization": "vapid t=" + jwt(t, key, `{"alg":"ES256"}`, map[string]any{
			"aud": s.URL(), "exp": time.Now().Add(time.Hour).Unix(), "sub": "mailto:ops@example.com",
		}) + ", k=" + pubKey(t, key),
	})
	// A real service cannot read the payload: it accepts it.
	if a.status != 201 {
		t.Fatalf("status %d", a.status)
	}
	s.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || seen[0].Err == nil || seen[0].Payload != nil {
		t.Errorf("OnPush saw %+v, want one push that did not decrypt", seen)
	}
}

func TestSubscriptionJSON(t *testing.T) {
	s := New(t)
	sub := s.NewSubscription()
	var js struct {
		Endpoint       string `json:"endpoint"`
		ExpirationTime *int64 `json:"expirationTime"`
		Keys           struct{ P256DH, Auth string }
	}
	if err := json.Unmarshal([]byte(sub.JSON), &js); err != nil {
		t.Fatal(err)
	}
	if js.Endpoint != sub.Endpoint || !strings.HasPrefix(js.Endpoint, "https://"+s.Host()+"/push/") {
		t.Errorf("endpoint %q", js.Endpoint)
	}
	if p := b64(t, js.Keys.P256DH); len(p) != 65 || p[0] != 4 {
		t.Errorf("p256dh is %d octets", len(p))
	}
	if a := b64(t, js.Keys.Auth); len(a) != 16 {
		t.Errorf("auth is %d octets", len(a))
	}
	if !strings.Contains(sub.JSON, `"expirationTime":null`) {
		t.Errorf("JSON %s lacks expirationTime null", sub.JSON)
	}
}
