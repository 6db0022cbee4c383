package apnstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// sign builds an ES256 compact JWS, independently of mfa/push/apns.
func sign(t *testing.T, key *ecdsa.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	in := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	digest := sha256.Sum256([]byte(in))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return in + "." + enc.EncodeToString(sig)
}

func providerToken(t *testing.T, s *Server, iat time.Time) string {
	return sign(t, s.key, map[string]any{"alg": "ES256", "kid": s.KeyID}, map[string]any{"iss": s.TeamID, "iat": iat.Unix()})
}

const alertPayload = `{"aps":{"alert":{"loc-key":"SIGN_IN_REQUEST"},"mutable-content":1},"iss":"https://id.example","challenge":"c1"}`

type request struct {
	method, path, body string
	header             map[string]string // "" deletes
}

// goodRequest is a valid alert push to device with bearer token jwt.
func goodRequest(s *Server, device, jwt string) request {
	return request{http.MethodPost, "/3/device/" + device, alertPayload, map[string]string{
		"authorization":   "bearer " + jwt,
		"apns-topic":      s.Topic,
		"apns-push-type":  "alert",
		"apns-priority":   "10",
		"apns-expiration": "1900000000",
		"apns-id":         "5a7c9f0e-3b1d-4e2a-9c8b-7d6e5f4a3b2c",
	}}
}

func do(t *testing.T, c *http.Client, s *Server, rq request) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(rq.method, s.URL()+rq.path, strings.NewReader(rq.body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range rq.header {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var v map[string]any
	_ = json.Unmarshal(raw, &v)
	return resp.StatusCode, v, resp.Header
}

func TestKeyFile(t *testing.T) {
	s := New(t)
	block, _ := pem.Decode(s.PrivateKeyPEM())
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatal("PrivateKeyPEM is not a PKCS#8 PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil || !k.(*ecdsa.PrivateKey).PublicKey.Equal(s.PublicKey()) {
		t.Fatalf("key does not match the fake's public key: %v", err)
	}
	if len(s.TeamID) != 10 || len(s.KeyID) != 10 || len(NewDeviceToken()) != 64 {
		t.Errorf("ids %q %q", s.TeamID, s.KeyID)
	}
}

func TestHTTP1Refused(t *testing.T) {
	s := New(t)
	// A client that offers no ALPN: Go's TLS server lets it in, so the
	// handler must refuse it.
	h1 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.RootCAs()}}}
	req, _ := http.NewRequest(http.MethodPost, s.URL()+"/3/device/"+NewDeviceToken(), strings.NewReader(alertPayload))
	resp, err := h1.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 1 || resp.StatusCode != http.StatusHTTPVersionNotSupported {
		t.Fatalf("HTTP/1.1 request answered %s %d, want 505", resp.Proto, resp.StatusCode)
	}
	if n := s.Requests(); n != 0 {
		t.Errorf("Requests = %d, want 0", n)
	}
	// The fake's own client speaks HTTP/2.
	status, _, _ := do(t, s.Client(), s, goodRequest(s, NewDeviceToken(), providerToken(t, s, time.Now())))
	if status != http.StatusOK {
		t.Fatalf("HTTP/2 request answered %d", status)
	}
}

func TestProviderTokenChecks(t *testing.T) {
	s := New(t)
	clk := &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	s.SetClock(clk.now)
	now := clk.now()
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good := func() (map[string]any, map[string]any) {
		return map[string]any{"alg": "ES256", "kid": s.KeyID}, map[string]any{"iss": s.TeamID, "iat": now.Unix()}
	}
	tests := []struct {
		name   string
		edit   func(h, c map[string]any)
		key    *ecdsa.PrivateKey
		status int
		reason string
	}{
		{"good", nil, nil, 200, ""},
		{"59 minutes old", func(h, c map[string]any) { c["iat"] = now.Add(-59 * time.Minute).Unix() }, nil, 200, ""},
		{"61 minutes old", func(h, c map[string]any) { c["iat"] = now.Add(-61 * time.Minute).Unix() }, nil, 403, "ExpiredProviderToken"},
		{"issued in the future", func(h, c map[string]any) { c["iat"] = now.Add(5 * time.Minute).Unix() }, nil, 403, "InvalidProviderToken"},
		{"another key", nil, other, 403, "InvalidProviderToken"},
		{"ES384", func(h, c map[string]any) { h["alg"] = "ES384" }, nil, 403, "InvalidProviderToken"},
		{"other kid", func(h, c map[string]any) { h["kid"] = "ZZZZZZZZZZ" }, nil, 403, "InvalidProviderToken"},
		{"no kid", func(h, c map[string]any) { delete(h, "kid") }, nil, 403, "InvalidProviderToken"},
		{"other team", func(h, c map[string]any) { c["iss"] = "ZZZZZZZZZZ" }, nil, 403, "InvalidProviderToken"},
		{"no iat", func(h, c map[string]any) { delete(c, "iat") }, nil, 403, "InvalidProviderToken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, c := good()
			if tt.edit != nil {
				tt.edit(h, c)
			}
			key := s.key
			if tt.key != nil {
				key = tt.key
			}
			// A client per case: a new connection may start with any token.
			client := &http.Client{Transport: s.Client().Transport.(*http.Transport).Clone()}
			status, v, _ := do(t, client, s, goodRequest(s, NewDeviceToken(), sign(t, key, h, c)))
			if status != tt.status || (tt.reason != "" && v["reason"] != tt.reason) {
				t.Fatalf("answer %d %v, want %d %s", status, v, tt.status, tt.reason)
			}
		})
	}
	for _, auth := range []string{"", "Basic abc", "bearer ", "bearer a.b"} {
		rq := goodRequest(s, NewDeviceToken(), "x")
		rq.header["authorization"] = auth
		status, v, _ := do(t, s.Client(), s, rq)
		if status != http.StatusForbidden || (v["reason"] != "MissingProviderToken" && v["reason"] != "InvalidProviderToken") {
			t.Errorf("authorization %q: answer %d %v", auth, status, v)
		}
	}
}

func TestProviderTokenUpdateInterval(t *testing.T) {
	s := New(t)
	clk := &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	s.SetClock(clk.now)
	c := s.Client()
	a := providerToken(t, s, clk.now())
	send := func(jwt string) (int, any) {
		status, v, _ := do(t, c, s, goodRequest(s, NewDeviceToken(), jwt))
		return status, v["reason"]
	}
	if status, r := send(a); status != 200 {
		t.Fatalf("first token: %d %v", status, r)
	}
	clk.advance(10 * time.Minute)
	b := providerToken(t, s, clk.now())
	if status, r := send(b); status != http.StatusTooManyRequests || r != "TooManyProviderTokenUpdates" {
		t.Fatalf("new token after 10 minutes: %d %v, want 429 TooManyProviderTokenUpdates", status, r)
	}
	if status, r := send(a); status != 200 {
		t.Fatalf("first token again: %d %v", status, r)
	}
	// Another connection may use another token.
	other := &http.Client{Transport: c.Transport.(*http.Transport).Clone()}
	if status, v, _ := do(t, other, s, goodRequest(s, NewDeviceToken(), b)); status != 200 {
		t.Fatalf("new token on another connection: %d %v", status, v)
	}
	clk.advance(11 * time.Minute)
	if status, r := send(b); status != 200 {
		t.Fatalf("new token after 21 minutes: %d %v", status, r)
	}
	if n := s.ProviderTokens(); n != 2 {
		t.Errorf("ProviderTokens = %d, want 2", n)
	}
}

func TestRequestChecks(t *testing.T) {
	s := New(t)
	jwt := providerToken(t, s, time.Now())
	device := NewDeviceToken()
	tests := []struct {
		name   string
		edit   func(*request)
		status int
		reason string
	}{
		{"good", nil, 200, ""},
		{"upper-case token", func(r *request) { r.path = "/3/device/" + strings.ToUpper(device) }, 200, ""},
		{"no optional headers", func(r *request) {
			r.header["apns-priority"], r.header["apns-expiration"], r.header["apns-id"] = "", "", ""
		}, 200, ""},
		{"GET", func(r *request) { r.method = http.MethodGet }, 405, "MethodNotAllowed"},
		{"other path", func(r *request) { r.path = "/3/devices/" + device }, 404, "BadPath"},
		{"no token", func(r *request) { r.path = "/3/device/" }, 400, "MissingDeviceToken"},
		{"token not hex", func(r *request) { r.path = "/3/device/" + strings.Repeat("zz", 32) }, 400, BadDeviceToken},
		{"token too short", func(r *request) { r.path = "/3/device/" + device[:40] }, 400, BadDeviceToken},
		{"no topic", func(r *request) { r.header["apns-topic"] = "" }, 400, "MissingTopic"},
		{"other topic", func(r *request) { r.header["apns-topic"] = "com.example.other" }, 400, "TopicDisallowed"},
		{"no push type", func(r *request) { r.header["apns-push-type"] = "" }, 400, "InvalidPushType"},
		{"unknown push type", func(r *request) { r.header["apns-push-type"] = "urgent" }, 400, "InvalidPushType"},
		{"priority 7", func(r *request) { r.header["apns-priority"] = "7" }, 400, "BadPriority"},
		{"background at priority 10", func(r *request) {
			r.header["apns-push-type"], r.body = "background", `{"aps":{"content-available":1}}`
		}, 400, "BadPriority"},
		{"background at priority 5", func(r *request) {
			r.header["apns-push-type"], r.header["apns-priority"], r.body = "background", "5", `{"aps":{"content-available":1}}`
		}, 200, ""},
		{"expiration not a number", func(r *request) { r.header["apns-expiration"] = "soon" }, 400, "BadExpirationDate"},
		{"apns-id not a UUID", func(r *request) { r.header["apns-id"] = "push-1" }, 400, "BadMessageId"},
		{"long collapse id", func(r *request) { r.header["apns-collapse-id"] = strings.Repeat("x", 65) }, 400, "BadCollapseId"},
		{"empty payload", func(r *request) { r.body = "" }, 400, "PayloadEmpty"},
		{"payload over 4 KB", func(r *request) {
			r.body = `{"aps":{"alert":"x"},"pad":"` + strings.Repeat("x", 4096) + `"}`
		}, 413, "PayloadTooLarge"},
		{"not JSON", func(r *request) { r.body = "hello" }, 400, "BadPayload"},
		{"no aps", func(r *request) { r.body = `{"iss":"x"}` }, 400, "BadPayload"},
		{"alert without alert", func(r *request) { r.body = `{"aps":{"mutable-content":1}}` }, 400, "BadPayload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rq := goodRequest(s, device, jwt)
			if tt.edit != nil {
				tt.edit(&rq)
			}
			status, v, hdr := do(t, s.Client(), s, rq)
			if status != tt.status || (tt.reason != "" && v["reason"] != tt.reason) {
				t.Fatalf("answer %d %v, want %d %s", status, v, tt.status, tt.reason)
			}
			if hdr.Get("apns-id") == "" {
				t.Errorf("no apns-id in the answer")
			}
		})
	}
	t.Run("duplicate headers", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, s.URL()+"/3/device/"+device, strings.NewReader(alertPayload))
		for k, v := range goodRequest(s, device, jwt).header {
			req.Header.Set(k, v)
		}
		req.Header.Add("apns-topic", s.Topic)
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Fatalf("answer %d, want 400 DuplicateHeaders", resp.StatusCode)
		}
	})
	n := s.Notifications()
	if len(n) != 4 || n[0].Token != device || n[0].Topic != s.Topic || n[0].PushType != "alert" ||
		n[0].Priority != "10" || n[0].Expiration != "1900000000" || string(n[0].Payload) != alertPayload {
		t.Fatalf("notifications %+v, want the 4 good ones", n)
	}
}

func TestDeviceBehaviour(t *testing.T) {
	s := New(t)
	jwt := providerToken(t, s, time.Now())
	gone := time.Date(2029, 12, 31, 23, 59, 58, 123e6, time.UTC)
	send := func(device string) (int, map[string]any) {
		status, v, _ := do(t, s.Client(), s, goodRequest(s, device, jwt))
		return status, v
	}
	for _, tt := range []struct {
		reason string
		status int
	}{{Unregistered, 410}, {BadDeviceToken, 400}, {DeviceTokenNotForTopic, 400}} {
		device := NewDeviceToken()
		s.SetDevice(device, Device{Reason: tt.reason, UnregisteredAt: gone})
		status, v := send(device)
		if status != tt.status || v["reason"] != tt.reason {
			t.Errorf("%s: answer %d %v", tt.reason, status, v)
		}
		if tt.reason == Unregistered && v["timestamp"] != float64(gone.UnixMilli()) {
			t.Errorf("timestamp %v, want %d", v["timestamp"], gone.UnixMilli())
		}
	}
	device := NewDeviceToken()
	s.SetDevice(device, Device{Failures: []int{503, 429, 500}})
	for _, want := range []struct {
		status int
		reason any
	}{{503, "ServiceUnavailable"}, {429, "TooManyRequests"}, {500, "InternalServerError"}, {200, nil}} {
		if status, v := send(device); status != want.status || v["reason"] != want.reason {
			t.Errorf("answer %d %v, want %d %v", status, v, want.status, want.reason)
		}
	}
	if n := len(s.Notifications()); n != 1 {
		t.Errorf("%d notifications, want 1", n)
	}
	if n := s.Requests(); n != 7 {
		t.Errorf("Requests = %d, want 7", n)
	}
}
