// Package apnstest is a fake Apple Push Notification service for tests: an
// HTTP/2 TLS httptest server that answers the provider API
// (POST /3/device/<token>) the way APNs does and records what it delivered.
//
// It refuses HTTP/1.1, verifies the provider JWT (ES256 against the public
// half of the key it generated, kid, iss, an iat no older than an hour, and
// no new token on a connection within 20 minutes of the last), and checks
// apns-topic, apns-push-type, apns-priority, apns-expiration, apns-id, the
// device token's format and the payload, answering Apple's reasons
// ({"reason": ...}, with a timestamp for 410).
//
// Behaviour per device token is set with SetDevice: a permanent reason
// (Unregistered, BadDeviceToken, DeviceTokenNotForTopic) or transient
// statuses (429, 500, 503) answered a number of times first. The package
// imports nothing from mfa/push/apns, so the signature checks are
// independent of the code under test.
//
// A Server is safe for concurrent use.
package apnstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Permanent reasons for SetDevice.
const (
	Unregistered           = "Unregistered"           // 410: the app was removed
	BadDeviceToken         = "BadDeviceToken"         // 400: not a token (or the other environment's)
	DeviceTokenNotForTopic = "DeviceTokenNotForTopic" // 400: another app's token
)

// Device sets how the fake answers pushes to one device token.
type Device struct {
	// Reason, when set, is answered to every push (after Failures).
	Reason string
	// UnregisteredAt is the timestamp sent with Unregistered; the fake's
	// clock when zero.
	UnregisteredAt time.Time
	// Failures are HTTP statuses (429, 500 or 503) answered to the next
	// pushes, in order, before the device behaves normally.
	Failures []int
}

// Notification is one push the fake accepted.
type Notification struct {
	Token      string
	Topic      string
	PushType   string
	Priority   string // "" when the header was absent (APNs then uses 10)
	Expiration string // apns-expiration as sent; "" when absent
	ID         string // apns-id as sent; "" when absent
	Payload    []byte
	// IssuedAt is the provider token's iat.
	IssuedAt time.Time
}

// Server is a running fake APNs.
type Server struct {
	// TeamID, KeyID and Topic are the account, key and app the fake
	// accepts; random per Server except Topic.
	TeamID string
	KeyID  string
	Topic  string

	key *ecdsa.PrivateKey
	srv *httptest.Server

	mu             sync.Mutex
	now            func() time.Time
	devices        map[string]*Device
	notifications  []Notification
	requests       int
	providerTokens map[string]bool
	conns          map[string]*connState
}

// connState is what APNs remembers per connection: the provider token in
// use and since when.
type connState struct {
	token string
	since time.Time
}

// New starts a fake APNs with a fresh key; it is closed when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("apnstest: generate key: %v", err)
	}
	s := &Server{
		TeamID:         randomID(),
		KeyID:          randomID(),
		Topic:          "com.example.latchkey.authenticator",
		key:            key,
		now:            time.Now,
		devices:        map[string]*Device{},
		providerTokens: map[string]bool{},
		conns:          map[string]*connState{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/3/device/{token...}", s.push)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if !requireHTTP2(w, r) {
			return
		}
		s.count()
		w.Header().Set("apns-id", newUUID())
		reason(w, http.StatusNotFound, "BadPath")
	})
	s.srv = httptest.NewUnstartedServer(mux)
	s.srv.EnableHTTP2 = true
	s.srv.StartTLS()
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the fake's base URL (Config.Host).
func (s *Server) URL() string { return s.srv.URL }

// Client returns an HTTP/2 client that trusts the fake's certificate.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// RootCAs is a pool holding the fake's certificate, for a TLS config.
func (s *Server) RootCAs() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(s.srv.Certificate())
	return pool
}

// PrivateKeyPEM is the fake's key as a .p8 file: PKCS#8 PEM.
func (s *Server) PrivateKeyPEM() []byte {
	der, err := x509.MarshalPKCS8PrivateKey(s.key)
	if err != nil {
		panic("apnstest: marshal key: " + err.Error())
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// PublicKey is the public half of the fake's key.
func (s *Server) PublicKey() *ecdsa.PublicKey { return &s.key.PublicKey }

// SetClock sets the fake's clock, for provider token ages and timestamps.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// SetDevice sets the behaviour for one device token.
func (s *Server) SetDevice(token string, d Device) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d.Failures = append([]int(nil), d.Failures...)
	s.devices[token] = &d
}

// Notifications returns the pushes accepted so far, oldest first.
func (s *Server) Notifications() []Notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Notification(nil), s.notifications...)
}

// Requests is how many HTTP/2 requests the fake received, whatever the
// answer.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// ProviderTokens is how many distinct provider tokens the fake accepted.
func (s *Server) ProviderTokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.providerTokens)
}

func (s *Server) count() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
}

// NewDeviceToken returns a random device token as an app reports it: 32
// bytes in hex.
func NewDeviceToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// randomID returns 10 upper-case letters and digits, like Apple's team and
// key ids.
func randomID() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
