// Package webpushtest is a fake Web Push service for tests: an httptest TLS
// server that creates subscriptions as a browser's push service does and
// accepts push messages to them only when they follow the protocol the way
// real services check it:
//
//   - RFC 8030: POST to the subscription's endpoint, a TTL header (400,
//     errno 111, without one), Urgency and Topic valid when present, at
//     most 4096 octets of body (413, errno 104).
//   - RFC 8188/8291: Content-Encoding aes128gcm (400, errno 110).
//   - RFC 8292: Authorization "vapid t=<JWT>, k=<key>" with an ES256
//     signature that k verifies, aud the endpoint's origin, exp in the
//     future and at most 24 hours ahead, sub a mailto: or https: URI (401,
//     errno 109, otherwise, as Mozilla's autopush answers; FCM and Apple
//     also refuse pushes without VAPID). A subscription created for an
//     applicationServerKey refuses any other key with 403 (RFC 8292
//     Section 4.2).
//
// Error bodies are autopush's JSON ({"code", "errno", "error", "message",
// "more_info"}). An accepted push is answered 201 with a Location, and the
// fake decrypts it with the subscription's private key and auth secret and
// records the plaintext for assertions. A body that does not decrypt is
// still accepted, as a real service (which cannot read it) would, but the
// test fails unless AllowUndecryptable was called: in real life the browser
// drops such a push silently.
//
// Behaviour is set per subscription with SetBehavior: gone (410) or unknown
// (404), 413, 429 with Retry-After, 500 a number of times, stalls. The
// package imports nothing from mfa/push/webpush: decryption and VAPID
// verification are written independently of the code under test.
//
// A Server is safe for concurrent use.
package webpushtest

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
)

// Server is a running fake push service.
type Server struct {
	t      testing.TB
	srv    *httptest.Server
	origin string
	done   chan struct{}

	mu          sync.Mutex
	subs        map[string]*subscription
	pushes      []Push
	requests    []Request
	now         func() time.Time
	onPush      func(Push)
	undecrypted bool
	pending     sync.WaitGroup
}

// Subscription is what a browser's pushManager.subscribe() resolves to.
type Subscription struct {
	ID       string
	Endpoint string // https://127.0.0.1:PORT/push/ID
	P256DH   string // keys.p256dh: base64url uncompressed P-256 point
	Auth     string // keys.auth: base64url 16 octets
	// ApplicationServerKey is the VAPID public key the subscription was
	// created for; empty when any key is accepted.
	ApplicationServerKey string
	// JSON is PushSubscription.toJSON() as a browser serialises it: what the
	// companion app reports and what push.Target.Token carries.
	JSON string
}

// Behavior scripts a subscription's answers. Counters are consumed one per
// push that passed the protocol checks: ServerErrors first, then
// RateLimited, then Stall.
type Behavior struct {
	// Status, when not zero, answers every push with it instead of
	// delivering: 410 (unsubscribed or expired), 404 (unknown), 413 ...
	Status int
	// ServerErrors: the next n pushes are answered 500.
	ServerErrors int
	// RateLimited: the next n pushes are answered 429, with RetryAfter
	// (seconds or an HTTP date) as Retry-After when not empty.
	RateLimited int
	RetryAfter  string
	// Stall: the next n pushes get no answer until the client gives up.
	Stall int
}

// Push is a push message the fake accepted (201).
type Push struct {
	SubscriptionID string
	Payload        []byte // decrypted; nil when Err is set or the body was empty
	Err            error  // the body did not decrypt
	TTL            int
	Urgency        string // "" when the header was absent
	Topic          string
	VAPIDKey       string // k, base64url
	Subject        string // the token's sub
	Audience       string
	Expires        time.Time // the token's exp
	Received       time.Time
}

// Request is one request the fake answered, whatever the outcome.
type Request struct {
	SubscriptionID string
	Status         int
	Errno          int    // autopush's errno; 0 when none
	Message        string // why the fake refused it
	Header         http.Header
}

// subscription is the fake's side of a Subscription.
type subscription struct {
	pub      Subscription
	priv     *ecdh.PrivateKey
	auth     []byte
	boundKey []byte // uncompressed point, nil when unbound
	behavior Behavior
}

// New starts a fake push service; it is closed when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		t:    t,
		done: make(chan struct{}),
		subs: map[string]*subscription{},
		now:  time.Now,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /push/{id}", s.receive)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, "", http.StatusNotFound, 102, "Invalid subscription: "+r.Method+" "+r.URL.Path, nil)
	})
	s.srv = httptest.NewTLSServer(mux)
	s.origin = s.srv.URL
	t.Cleanup(s.Close)
	return s
}

// URL is the fake's origin (https://127.0.0.1:PORT), the aud VAPID tokens
// must name.
func (s *Server) URL() string { return s.origin }

// Host is the fake's host:port, for a sender's list of allowed push
// services.
func (s *Server) Host() string {
	u, _ := url.Parse(s.origin)
	return u.Host
}

// Transport is an http.RoundTripper that trusts the fake's certificate.
func (s *Server) Transport() http.RoundTripper { return s.srv.Client().Transport }

// Client is an http.Client using Transport.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Close releases stalled requests, waits for OnPush callbacks in flight
// and stops the server. It is safe to call more than once.
func (s *Server) Close() {
	s.mu.Lock()
	select {
	case <-s.done:
	default:
		close(s.done)
	}
	s.mu.Unlock()
	s.pending.Wait()
	s.srv.Close()
}

// SetClock replaces the clock the fake checks VAPID expiry against.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// OnPush registers f, called in its own goroutine with every accepted push
// (a reference device reacts to its pushes this way); Wait waits for the
// calls in flight.
func (s *Server) OnPush(f func(Push)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onPush = f
}

// Wait blocks until the OnPush calls in flight have returned.
func (s *Server) Wait() { s.pending.Wait() }

// AllowUndecryptable stops the fake from failing the test when a push
// does not decrypt (for tests of broken senders); such pushes are still
// recorded, with Err set.
func (s *Server) AllowUndecryptable() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.undecrypted = true
}

// NewSubscription creates a subscription that accepts any valid VAPID key,
// as pushManager.subscribe() without applicationServerKey once did.
func (s *Server) NewSubscription() Subscription {
	return s.newSubscription(nil)
}

// NewSubscriptionFor creates a subscription restricted to the VAPID public
// key applicationServerKey (base64url, as the companion app passes it to
// pushManager.subscribe): pushes signed with another key are refused 403.
// Chrome requires an applicationServerKey, so this is what a browser makes.
func (s *Server) NewSubscriptionFor(applicationServerKey string) Subscription {
	key, err := decodeB64(applicationServerKey)
	if err != nil || len(key) != 65 || key[0] != 4 {
		s.t.Fatalf("webpushtest: applicationServerKey must be a base64url uncompressed P-256 point")
	}
	return s.newSubscription(key)
}

func (s *Server) newSubscription(boundKey []byte) Subscription {
	priv, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		s.t.Fatalf("webpushtest: subscription key: %v", err)
	}
	auth := make([]byte, 16)
	_, _ = rand.Read(auth)
	id := randomID()
	pub := Subscription{
		ID:       id,
		Endpoint: s.origin + "/push/" + id,
		P256DH:   base64.RawURLEncoding.EncodeToString(priv.PublicKey().Bytes()),
		Auth:     base64.RawURLEncoding.EncodeToString(auth),
	}
	if boundKey != nil {
		pub.ApplicationServerKey = base64.RawURLEncoding.EncodeToString(boundKey)
	}
	js, err := json.Marshal(map[string]any{
		"endpoint":       pub.Endpoint,
		"expirationTime": nil,
		"keys":           map[string]string{"p256dh": pub.P256DH, "auth": pub.Auth},
	})
	if err != nil {
		s.t.Fatalf("webpushtest: subscription JSON: %v", err)
	}
	pub.JSON = string(js)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs[id] = &subscription{pub: pub, priv: priv, auth: auth, boundKey: boundKey}
	return pub
}

// SetBehavior scripts the subscription's answers (see Behavior).
func (s *Server) SetBehavior(sub Subscription, b Behavior) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.subs[sub.ID]
	if !ok {
		s.t.Fatalf("webpushtest: SetBehavior: unknown subscription %s", sub.ID)
	}
	st.behavior = b
}

// Unsubscribe ends the subscription, as when the user revokes the
// notification permission or the browser drops it: pushes are answered
// 410 Gone from now on.
func (s *Server) Unsubscribe(sub Subscription) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.subs[sub.ID]; ok {
		st.behavior.Status = http.StatusGone
	}
}

// Pushes returns the pushes accepted so far, oldest first.
func (s *Server) Pushes() []Push {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Push, len(s.pushes))
	for i, p := range s.pushes {
		p.Payload = append([]byte(nil), p.Payload...)
		out[i] = p
	}
	return out
}

// PushesTo returns the pushes accepted for sub, oldest first.
func (s *Server) PushesTo(sub Subscription) []Push {
	var out []Push
	for _, p := range s.Pushes() {
		if p.SubscriptionID == sub.ID {
			out = append(out, p)
		}
	}
	return out
}

// Requests returns every request answered so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		r.Header = r.Header.Clone()
		out[i] = r
	}
	return out
}

// RequestsTo returns the requests answered for sub, oldest first.
func (s *Server) RequestsTo(sub Subscription) []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.SubscriptionID == sub.ID {
			out = append(out, r)
		}
	}
	return out
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
