package fcmtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable clock for the fake.
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

// sign builds a compact JWS, independently of mfa/push/fcm.
func sign(t *testing.T, key *rsa.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	in := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	digest := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + enc.EncodeToString(sig)
}

func goodAssertion(s *Server, now time.Time) (header, claims map[string]any) {
	return map[string]any{"alg": "RS256", "typ": "JWT", "kid": s.PrivateKeyID},
		map[string]any{"iss": s.ClientEmail, "scope": Scope, "aud": s.TokenURL(), "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
}

// post sends a request to the fake and decodes its JSON answer.
func post(t *testing.T, s *Server, path, contentType, auth, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var v map[string]any
	_ = json.Unmarshal(raw, &v)
	return resp.StatusCode, resp.Header, v
}

func tokenRequest(t *testing.T, s *Server, assertion string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {grantType}, "assertion": {assertion}}
	status, _, v := post(t, s, "/token", "application/x-www-form-urlencoded", "", form.Encode())
	return status, v
}

func accessToken(t *testing.T, s *Server, now time.Time) string {
	t.Helper()
	h, c := goodAssertion(s, now)
	status, v := tokenRequest(t, s, sign(t, s.key, h, c))
	if status != http.StatusOK {
		t.Fatalf("token: %d %v", status, v)
	}
	return v["access_token"].(string)
}

func TestServiceAccountJSON(t *testing.T) {
	s := New(t)
	var sa map[string]string
	if err := json.Unmarshal(s.ServiceAccountJSON(), &sa); err != nil {
		t.Fatal(err)
	}
	if sa["type"] != "service_account" || sa["project_id"] != s.ProjectID || sa["client_email"] != s.ClientEmail ||
		sa["private_key_id"] != s.PrivateKeyID || sa["token_uri"] != s.TokenURL() {
		t.Fatalf("key file: %v", sa)
	}
	block, _ := pem.Decode([]byte(sa["private_key"]))
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("private_key is not a PKCS#8 PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil || !k.(*rsa.PrivateKey).PublicKey.Equal(s.PublicKey()) {
		t.Fatalf("private_key does not match the fake's public key: %v", err)
	}
}

func TestTokenEndpoint(t *testing.T) {
	s := New(t)
	clk := &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	s.SetClock(clk.now)
	now := clk.now()
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(h, c map[string]any)
		key  *rsa.PrivateKey
		code string // "" for success
	}{
		{"good", nil, nil, ""},
		{"no kid", func(h, c map[string]any) { delete(h, "kid") }, nil, ""},
		{"cloud-platform scope", func(h, c map[string]any) { c["scope"] = cloudPlatform }, nil, ""},
		{"another key", nil, other, "invalid_grant"},
		{"HS256", func(h, c map[string]any) { h["alg"] = "HS256" }, nil, "invalid_grant"},
		{"other kid", func(h, c map[string]any) { h["kid"] = "0123" }, nil, "invalid_grant"},
		{"other issuer", func(h, c map[string]any) { c["iss"] = "someone@example.com" }, nil, "invalid_grant"},
		{"other audience", func(h, c map[string]any) { c["aud"] = "https://oauth2.googleapis.com/token" }, nil, "invalid_grant"},
		{"no exp", func(h, c map[string]any) { delete(c, "exp") }, nil, "invalid_grant"},
		{"over an hour", func(h, c map[string]any) { c["exp"] = now.Add(time.Hour + time.Second).Unix() }, nil, "invalid_grant"},
		{"expired", func(h, c map[string]any) {
			c["iat"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
		}, nil, "invalid_grant"},
		{"issued in the future", func(h, c map[string]any) {
			c["iat"], c["exp"] = now.Add(10*time.Minute).Unix(), now.Add(time.Hour).Unix()
		}, nil, "invalid_grant"},
		{"no scope", func(h, c map[string]any) { delete(c, "scope") }, nil, "invalid_scope"},
		{"other scope", func(h, c map[string]any) { c["scope"] = "https://www.googleapis.com/auth/userinfo.email" }, nil, "invalid_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, c := goodAssertion(s, now)
			if tt.edit != nil {
				tt.edit(h, c)
			}
			key := s.key
			if tt.key != nil {
				key = tt.key
			}
			status, v := tokenRequest(t, s, sign(t, key, h, c))
			if tt.code == "" {
				if status != http.StatusOK || v["token_type"] != "Bearer" || v["expires_in"] != float64(3599) || v["access_token"] == "" {
					t.Fatalf("answer %d %v, want a bearer token for 3599 s", status, v)
				}
				return
			}
			if status != http.StatusBadRequest || v["error"] != tt.code {
				t.Fatalf("answer %d %v, want 400 %s", status, v, tt.code)
			}
		})
	}

	t.Run("other grant", func(t *testing.T) {
		form := url.Values{"grant_type": {"client_credentials"}}
		status, _, v := post(t, s, "/token", "application/x-www-form-urlencoded", "", form.Encode())
		if status != http.StatusBadRequest || v["error"] != "unsupported_grant_type" {
			t.Fatalf("answer %d %v", status, v)
		}
	})
	t.Run("JSON body", func(t *testing.T) {
		status, _, v := post(t, s, "/token", "application/json", "", `{"grant_type":"`+grantType+`"}`)
		if status != http.StatusBadRequest || v["error"] != "invalid_request" {
			t.Fatalf("answer %d %v", status, v)
		}
	})
	if n := s.TokenRequests(); n != len(tests)+2 {
		t.Errorf("TokenRequests = %d, want %d", n, len(tests)+2)
	}
}

const goodBody = `{"message":{"token":"%s","data":{"iss":"https://id.example","challenge":"c1"},"android":{"priority":"HIGH","ttl":"90s"}}}`

func TestSendChecks(t *testing.T) {
	s := New(t)
	clk := &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	s.SetClock(clk.now)
	bearer := "Bearer " + accessToken(t, s, clk.now())
	device := NewRegistrationToken()
	path := "/v1/projects/" + s.ProjectID + "/messages:send"
	body := func(msg string) string { return `{"message":` + msg + `}` }

	tests := []struct {
		name, path, ctype, auth, body string
		status                        int
		field                         string // the field violation expected on 400
	}{
		{"good", path, "application/json", bearer, strings.Replace(goodBody, "%s", device, 1), 200, ""},
		{"validate only", path, "application/json", bearer, `{"validate_only":true,"message":{"token":"` + device + `"}}`, 200, ""},
		{"no bearer", path, "application/json", "", strings.Replace(goodBody, "%s", device, 1), 401, ""},
		{"unknown bearer", path, "application/json", "Bearer ya29.forged", strings.Replace(goodBody, "%s", device, 1), 401, ""},
		{"other project", "/v1/projects/someone-else/messages:send", "application/json", bearer, strings.Replace(goodBody, "%s", device, 1), 403, ""},
		{"form body", path, "application/x-www-form-urlencoded", bearer, "token=" + device, 400, ""},
		{"notification block", path, "application/json", bearer, body(`{"token":"` + device + `","notification":{"title":"Sign in?"}}`), 400, "message.notification"},
		{"android notification", path, "application/json", bearer, body(`{"token":"` + device + `","android":{"notification":{"title":"x"}}}`), 400, "message.android.notification"},
		{"no token", path, "application/json", bearer, body(`{"data":{"a":"b"}}`), 400, "message.token"},
		{"malformed token", path, "application/json", bearer, body(`{"token":"not a token"}`), 400, "message.token"},
		{"topic", path, "application/json", bearer, body(`{"token":"` + device + `","topic":"news"}`), 400, "message.topic"},
		{"number in data", path, "application/json", bearer, body(`{"token":"` + device + `","data":{"n":1}}`), 400, "message.data"},
		{"reserved data key", path, "application/json", bearer, body(`{"token":"` + device + `","data":{"google.x":"1"}}`), 400, "message.data"},
		{"priority", path, "application/json", bearer, body(`{"token":"` + device + `","android":{"priority":"URGENT"}}`), 400, "message.android.priority"},
		{"ttl unit", path, "application/json", bearer, body(`{"token":"` + device + `","android":{"ttl":"2m"}}`), 400, "message.android.ttl"},
		{"ttl over four weeks", path, "application/json", bearer, body(`{"token":"` + device + `","android":{"ttl":"2419201s"}}`), 400, "message.android.ttl"},
		{"unknown field", path, "application/json", bearer, body(`{"token":"` + device + `","priority":"high"}`), 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, v := post(t, s, tt.path, tt.ctype, tt.auth, tt.body)
			if status != tt.status {
				t.Fatalf("status %d %v, want %d", status, v, tt.status)
			}
			switch status {
			case 200:
				if name, _ := v["name"].(string); !strings.HasPrefix(name, "projects/"+s.ProjectID+"/messages/") {
					t.Errorf("name %q", name)
				}
			case 401:
				if e := errorStatus(v); e != "UNAUTHENTICATED" || hdr.Get("WWW-Authenticate") == "" {
					t.Errorf("401 answer %v", v)
				}
			case 403:
				if e := errorStatus(v); e != "PERMISSION_DENIED" {
					t.Errorf("403 answer %v", v)
				}
			case 400:
				if e := errorStatus(v); e != "INVALID_ARGUMENT" {
					t.Errorf("400 answer %v", v)
				}
				if tt.field != "" && !strings.Contains(fieldViolations(v), tt.field) {
					t.Errorf("field violations %q, want %s", fieldViolations(v), tt.field)
				}
			}
		})
	}
	msgs := s.Messages()
	if len(msgs) != 1 || msgs[0].Token != device || msgs[0].Data["challenge"] != "c1" || msgs[0].Priority != "HIGH" || msgs[0].TTL != "90s" {
		t.Fatalf("messages %+v, want only the good one", msgs)
	}

	t.Run("expired access token", func(t *testing.T) {
		clk.advance(DefaultTokenLifetime)
		status, _, _ := post(t, s, path, "application/json", bearer, strings.Replace(goodBody, "%s", device, 1))
		if status != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", status)
		}
	})
	t.Run("revoked access token", func(t *testing.T) {
		bearer := "Bearer " + accessToken(t, s, clk.now())
		s.RevokeAccessTokens()
		status, _, _ := post(t, s, path, "application/json", bearer, strings.Replace(goodBody, "%s", device, 1))
		if status != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", status)
		}
	})
}

func TestDeviceBehaviour(t *testing.T) {
	s := New(t)
	bearer := "Bearer " + accessToken(t, s, time.Now())
	path := "/v1/projects/" + s.ProjectID + "/messages:send"
	send := func(device string) (int, http.Header, map[string]any) {
		return post(t, s, path, "application/json", bearer, strings.Replace(goodBody, "%s", device, 1))
	}
	for _, tt := range []struct {
		permanent, status string
		code              int
	}{
		{Unregistered, "NOT_FOUND", 404},
		{InvalidToken, "INVALID_ARGUMENT", 400},
		{SenderIDMismatch, "PERMISSION_DENIED", 403},
	} {
		device := NewRegistrationToken()
		s.SetDevice(device, Device{Permanent: tt.permanent})
		for range 2 {
			code, _, v := send(device)
			if code != tt.code || errorStatus(v) != tt.status || errorCode(v) != tt.permanent {
				t.Errorf("%s: answer %d %v", tt.permanent, code, v)
			}
		}
	}

	device := NewRegistrationToken()
	s.SetDevice(device, Device{Failures: []int{503, 429, 500}, RetryAfter: "7"})
	for _, want := range []struct {
		code       int
		errorCode  string
		retryAfter string
	}{{503, "UNAVAILABLE", "7"}, {429, "QUOTA_EXCEEDED", "7"}, {500, "INTERNAL", "7"}, {200, "", ""}} {
		code, hdr, v := send(device)
		if code != want.code || errorCode(v) != want.errorCode || hdr.Get("Retry-After") != want.retryAfter {
			t.Errorf("answer %d %v (Retry-After %q), want %d %s", code, v, hdr.Get("Retry-After"), want.code, want.errorCode)
		}
	}
	if n := len(s.Messages()); n != 1 {
		t.Errorf("%d messages delivered, want 1", n)
	}
	if n := s.SendRequests(); n != 10 {
		t.Errorf("SendRequests = %d, want 10", n)
	}
}

func errorStatus(v map[string]any) string {
	e, _ := v["error"].(map[string]any)
	s, _ := e["status"].(string)
	return s
}

func errorCode(v map[string]any) string {
	e, _ := v["error"].(map[string]any)
	details, _ := e["details"].([]any)
	for _, d := range details {
		if m, _ := d.(map[string]any); m["@type"] == fcmErrorType {
			s, _ := m["errorCode"].(string)
			return s
		}
	}
	return ""
}

func fieldViolations(v map[string]any) string {
	e, _ := v["error"].(map[string]any)
	details, _ := e["details"].([]any)
	var fields []string
	for _, d := range details {
		m, _ := d.(map[string]any)
		vs, _ := m["fieldViolations"].([]any)
		for _, fv := range vs {
			f, _ := fv.(map[string]any)
			s, _ := f["field"].(string)
			fields = append(fields, s)
		}
	}
	return strings.Join(fields, ",")
}
