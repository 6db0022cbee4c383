// Package twiliotest is a fake Twilio for tests: an httptest server that
// answers the Messages, Calls and Lookup v2 APIs as Twilio does (basic
// auth, required fields, E.164 numbers, Twilio's error codes and JSON
// shapes), records every request for assertions, and posts signed status
// callbacks. Behaviour is set per number with SetNumber: a create error
// (21211, 21610, 21614 ...), 20429 or HTML 500 answers a given number of
// times, a delivery outcome (undelivered 30003 ...) and Lookup answers.
//
// Point a client at it with Transport, which rewrites https://*.twilio.com
// to the fake and keeps the original Host. Its answers follow Twilio's
// published OpenAPI contract; mfa/twilio's contract tests check that through
// Prism. The package imports nothing from mfa/twilio, so signatures are
// computed independently of the code under test.
//
// A Server is safe for concurrent use.
package twiliotest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a running fake Twilio.
type Server struct {
	// AccountSID and AuthToken are the credentials the fake accepts, random
	// per Server.
	AccountSID string
	AuthToken  string

	srv *httptest.Server

	mu             sync.Mutex
	numbers        map[string]*Number
	messages       []*Message
	calls          []*Call
	lookups        []Lookup
	requests       []Request
	deliveries     []Delivery
	autoCallbacks  bool
	callbackClient *http.Client
	pending        sync.WaitGroup
}

// Request is one request the fake answered, whatever the outcome.
type Request struct {
	Method string
	Host   string // the Host header: api.twilio.com, lookups.twilio.com ...
	Path   string
	Form   url.Values // POST body, or query for GET
	Status int        // the HTTP status answered
}

// New starts a fake Twilio with fresh credentials; it is closed when the
// test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		AccountSID:     "AC" + randomHex(16),
		AuthToken:      randomHex(16),
		numbers:        map[string]*Number{},
		callbackClient: &http.Client{Timeout: 10 * time.Second},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2010-04-01/Accounts/{account}/Messages.json", s.account(s.createMessage))
	mux.HandleFunc("GET /2010-04-01/Accounts/{account}/Messages/{file}", s.account(s.fetchMessage))
	mux.HandleFunc("POST /2010-04-01/Accounts/{account}/Calls.json", s.account(s.createCall))
	mux.HandleFunc("GET /v2/PhoneNumbers/{number}", s.authenticated(s.lookup))
	mux.HandleFunc("/", s.authenticated(func(w http.ResponseWriter, r *http.Request) int {
		return s.twilioError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
	}))
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// URL is the fake's base URL (http://127.0.0.1:PORT).
func (s *Server) URL() string { return s.srv.URL }

// Close waits for callbacks in flight and stops the server.
func (s *Server) Close() {
	s.pending.Wait()
	s.srv.Close()
}

// Transport returns a RoundTripper that sends requests for any
// https://*.twilio.com host to the fake, keeping the original Host header
// (twilio-go has no base-URL option). Other hosts are refused: a test must
// never reach the real Twilio or anything else.
func (s *Server) Transport() http.RoundTripper {
	return &Rewriter{Routes: map[string]string{"*.twilio.com": s.srv.URL}}
}

// Client is an http.Client using Transport.
func (s *Server) Client() *http.Client { return &http.Client{Transport: s.Transport()} }

// Rewriter sends each request to the base URL routed for its host and
// keeps the original host in req.Host. A route key is a host name, or
// "*.twilio.com" for any host under twilio.com; unrouted hosts are refused.
type Rewriter struct {
	Routes map[string]string
	Next   http.RoundTripper // http.DefaultTransport when nil
}

// RoundTrip implements http.RoundTripper.
func (t *Rewriter) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Hostname()
	base, ok := t.Routes[host]
	if !ok && strings.HasSuffix(host, ".twilio.com") {
		base, ok = t.Routes["*.twilio.com"]
	}
	if !ok {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("twiliotest: no route for host %q (tests must not leave the machine)", host)
	}
	target, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("twiliotest: route for %q: %w", host, err)
	}
	out := req.Clone(req.Context())
	out.URL.Scheme = target.Scheme
	out.URL.Host = target.Host
	out.Host = req.URL.Host
	next := t.Next
	if next == nil {
		next = http.DefaultTransport
	}
	return next.RoundTrip(out)
}

// SetNumber sets how the fake treats one E.164 number; numbers never set
// are valid mobiles whose messages are delivered and calls answered.
func (s *Server) SetNumber(e164 string, n Number) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.numbers[e164] = &n
}

// AutoCallbacks makes the fake post the final status callback (signed) to
// each StatusCallback right after creating the message or call, with the
// number's outcome. Off by default; Deliver sends one on demand.
func (s *Server) AutoCallbacks(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.autoCallbacks = on
}

// SetCallbackClient sets the client that posts status callbacks, such as
// one whose transport leads the public callback URL to an httptest server.
func (s *Server) SetCallbackClient(c *http.Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.callbackClient = c
}

// Requests returns every request answered so far, failed ones included.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		r.Form = cloneValues(r.Form)
		out[i] = r
	}
	return out
}

type handler func(w http.ResponseWriter, r *http.Request) int

// authenticated checks basic auth as Twilio does (401 with code 20003) and
// records the request.
func (s *Server) authenticated(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		}
		_ = r.ParseForm()
		var status int
		user, pass, ok := r.BasicAuth()
		if !ok || !equal(user, s.AccountSID) || !equal(pass, s.AuthToken) {
			w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
			status = s.writeJSON(w, http.StatusUnauthorized, map[string]any{
				"code": 20003, "detail": "Your AccountSid or AuthToken was incorrect.",
				"message": "Authenticate", "more_info": moreInfo(20003), "status": 401,
			})
		} else {
			status = h(w, r)
		}
		form := r.PostForm
		if r.Method == http.MethodGet {
			form = r.URL.Query()
		}
		s.mu.Lock()
		s.requests = append(s.requests, Request{Method: r.Method, Host: r.Host, Path: r.URL.Path, Form: cloneValues(form), Status: status})
		s.mu.Unlock()
	}
}

// account adds the check that the account SID in the path is the one
// authenticated.
func (s *Server) account(h handler) http.HandlerFunc {
	return s.authenticated(func(w http.ResponseWriter, r *http.Request) int {
		if r.PathValue("account") != s.AccountSID {
			return s.twilioError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
		}
		return h(w, r)
	})
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// twilioError writes Twilio's JSON error body.
func (s *Server) twilioError(w http.ResponseWriter, status, code int, message string) int {
	return s.writeJSON(w, status, map[string]any{
		"code": code, "message": message, "more_info": moreInfo(code), "status": status,
	})
}

func moreInfo(code int) string { return fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code) }

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) int {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
	return status
}

// htmlError is what a load balancer in front of an API answers: not JSON.
func htmlError(w http.ResponseWriter) int {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprint(w, "<html><head><title>500 Internal Server Error</title></head><body><h1>Internal Server Error</h1></body></html>\n")
	return http.StatusInternalServerError
}

// injected consumes the number's scripted failures, HTML 500s first, then
// 20429s; it reports whether it answered.
func (s *Server) injected(w http.ResponseWriter, e164 string) (int, bool) {
	s.mu.Lock()
	n := s.numbers[e164]
	var html, limited bool
	if n != nil && n.ServerErrors > 0 {
		n.ServerErrors--
		html = true
	} else if n != nil && n.RateLimited > 0 {
		n.RateLimited--
		limited = true
	}
	s.mu.Unlock()
	switch {
	case html:
		return htmlError(w), true
	case limited:
		return s.twilioError(w, http.StatusTooManyRequests, 20429, "Too Many Requests"), true
	}
	return 0, false
}

// number returns a copy of the number's settings (zero when unset).
func (s *Server) number(e164 string) Number {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.numbers[e164]; n != nil {
		return *n
	}
	return Number{}
}

var e164Re = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// rfc2822 is Twilio's date format in the 2010 API.
func rfc2822(t time.Time) string { return t.UTC().Format(time.RFC1123Z) }
