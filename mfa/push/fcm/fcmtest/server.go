// Package fcmtest is a fake Firebase Cloud Messaging for tests: one TLS
// httptest server that answers Google's OAuth 2.0 token endpoint and the FCM
// HTTP v1 send API the way Google does, and records what it delivered.
//
// The token endpoint takes only the JWT bearer grant (RFC 7523) and checks
// the RS256 assertion against the public half of the service-account key the
// fake generated (ServiceAccountJSON), its kid, iss, aud, scope, iat and exp
// (at most one hour). The send API checks the bearer token it issued (expiry
// by the fake's clock), the project, and the message: JSON shape, exactly a
// registration token as target, string data, android priority and ttl. It
// also holds Latchkey's own rule that a push is data-only: a notification
// block is refused like an invalid field.
//
// Behaviour per registration token is set with SetDevice: a permanent
// answer (UNREGISTERED, INVALID_ARGUMENT, SENDER_ID_MISMATCH) or transient
// statuses (429, 500, 503) answered a number of times first. Answers use
// Google's error bodies (google.rpc.Status with FcmError and BadRequest
// details). The package imports nothing from mfa/push/fcm, so the signature
// checks are independent of the code under test.
//
// A Server is safe for concurrent use.
package fcmtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Permanent answers for SetDevice.
const (
	Unregistered     = "UNREGISTERED"       // 404 NOT_FOUND: the app is gone
	InvalidToken     = "INVALID_ARGUMENT"   // 400: not a valid registration token
	SenderIDMismatch = "SENDER_ID_MISMATCH" // 403: the token is another project's
)

// Scope is the OAuth 2.0 scope FCM needs.
const Scope = "https://www.googleapis.com/auth/firebase.messaging"

// DefaultTokenLifetime is the expires_in Google announces.
const DefaultTokenLifetime = 3599 * time.Second

// Device sets how the fake answers sends to one registration token.
type Device struct {
	// Permanent, when set, is answered to every send (after Failures).
	Permanent string
	// Failures are HTTP statuses (429, 500 or 503) answered to the next
	// sends, in order, before the device behaves normally.
	Failures []int
	// RetryAfter is the Retry-After header sent with Failures; none when
	// empty.
	RetryAfter string
}

// Message is one message the fake accepted for delivery.
type Message struct {
	ProjectID string
	Token     string
	Data      map[string]string
	Priority  string // android.priority
	TTL       string // android.ttl
	Body      []byte // the request body as sent
}

// Server is a running fake FCM.
type Server struct {
	// ProjectID, ClientEmail and PrivateKeyID describe the fake's service
	// account; random per Server.
	ProjectID    string
	ClientEmail  string
	PrivateKeyID string

	key *rsa.PrivateKey
	srv *httptest.Server

	mu            sync.Mutex
	now           func() time.Time
	lifetime      time.Duration
	accessTokens  map[string]time.Time // token → expiry
	reject        int
	tokenFailures int
	tokenRequests int
	sendRequests  int
	devices       map[string]*Device
	messages      []Message
}

// New starts a fake FCM with a fresh service account; it is closed when the
// test ends.
func New(t testing.TB) *Server {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("fcmtest: generate key: %v", err)
	}
	project := "latchkey-test-" + randomHex(4)
	s := &Server{
		ProjectID:    project,
		ClientEmail:  "firebase-adminsdk-" + randomHex(3) + "@" + project + ".iam.gserviceaccount.com",
		PrivateKeyID: randomHex(20),
		key:          key,
		now:          time.Now,
		lifetime:     DefaultTokenLifetime,
		accessTokens: map[string]time.Time{},
		devices:      map[string]*Device{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", s.token)
	mux.HandleFunc("POST /v1/projects/{project}/messages:send", s.send)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeStatus(w, http.StatusNotFound, "NOT_FOUND", "The requested URL "+r.URL.Path+" was not found on this server.", "", nil)
	})
	s.srv = httptest.NewTLSServer(mux)
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the base URL of the send API (Config.Endpoint).
func (s *Server) URL() string { return s.srv.URL }

// TokenURL is the token endpoint, the key file's token_uri.
func (s *Server) TokenURL() string { return s.srv.URL + "/token" }

// Client returns an HTTP client that trusts the fake's certificate.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// ServiceAccountJSON is a key file for the fake's service account, shaped
// like the one the Firebase console downloads.
func (s *Server) ServiceAccountJSON() []byte {
	der, err := x509.MarshalPKCS8PrivateKey(s.key)
	if err != nil {
		panic("fcmtest: marshal key: " + err.Error())
	}
	b, err := json.MarshalIndent(map[string]string{
		"type":                        "service_account",
		"project_id":                  s.ProjectID,
		"private_key_id":              s.PrivateKeyID,
		"private_key":                 string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":                s.ClientEmail,
		"client_id":                   "1" + randomDigits(20),
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   s.TokenURL(),
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"universe_domain":             "googleapis.com",
	}, "", "  ")
	if err != nil {
		panic("fcmtest: marshal key file: " + err.Error())
	}
	return b
}

// PublicKey is the service account's public key.
func (s *Server) PublicKey() *rsa.PublicKey { return &s.key.PublicKey }

// SetClock sets the fake's clock, for assertion times and token expiry.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// SetTokenLifetime sets the expires_in of access tokens issued from now on.
func (s *Server) SetTokenLifetime(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lifetime = d
}

// RevokeAccessTokens makes every access token issued so far invalid, as
// Google does when a key is rotated: the next send with one gets 401.
func (s *Server) RevokeAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.accessTokens)
}

// RejectAccessTokens makes the next n sends answer 401 whatever their
// token, as when the service account's permission is being changed.
func (s *Server) RejectAccessTokens(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reject = n
}

// FailTokenRequests makes the token endpoint answer the next n requests
// with 503, as during an outage of oauth2.googleapis.com.
func (s *Server) FailTokenRequests(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenFailures = n
}

// SetDevice sets the behaviour for one registration token.
func (s *Server) SetDevice(token string, d Device) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d.Failures = append([]int(nil), d.Failures...)
	s.devices[token] = &d
}

// TokenRequests is how many requests the token endpoint received.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenRequests
}

// SendRequests is how many requests the send API received, whatever the
// answer.
func (s *Server) SendRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sendRequests
}

// Messages returns the messages accepted so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// NewRegistrationToken returns a random token shaped like the ones the
// Firebase SDK hands an app: a 22-character instance id, ":APA91b" and
// 134 more characters.
func NewRegistrationToken() string {
	return randomB64(22) + ":APA91b" + randomB64(134)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randomDigits(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	return string(b)
}

func randomB64(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[b[i]%64]
	}
	return string(b)
}
