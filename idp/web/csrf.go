package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
)

// CSRFField is the name of the hidden form field that carries the token.
const CSRFField = "csrf_token"

const (
	csrfCookieSecure   = "__Host-latchkey_csrf" // __Host-: Secure, Path=/, no Domain; subdomains cannot plant it
	csrfCookieInsecure = "latchkey_csrf"
	csrfValueBytes     = 32
	csrfKeyBytes       = 32
)

// Reasons a request fails CSRF protection, reported by [CSRFFailure].
var (
	ErrCrossOrigin = errors.New("cross-origin request")
	ErrCSRFCookie  = errors.New("missing or malformed csrf cookie")
	ErrCSRFToken   = errors.New("missing or invalid csrf token")
)

func defaultCSRFFailure(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, http.StatusText(http.StatusForbidden), http.StatusForbidden)
}

// CSRF protects hosted forms without JavaScript. It layers two defences: Go's
// http.CrossOriginProtection, which rejects cross-origin browser requests by
// Sec-Fetch-Site / Origin, and a signed double-submit token: a random cookie value and
// a form field holding HMAC(key, cookie value). An attacker who can plant a cookie
// still cannot compute the matching token without the key.
type CSRF struct {
	key     []byte
	secure  bool
	cop     *http.CrossOriginProtection
	failure http.Handler
}

// NewCSRF returns CSRF protection keyed by key, which must be at least 32 random bytes
// (a short key is a wiring bug, so it panics). secureCookie selects the __Host- cookie,
// which browsers accept only over HTTPS.
func NewCSRF(key []byte, secureCookie bool) *CSRF {
	if len(key) < csrfKeyBytes {
		panic(fmt.Sprintf("web.NewCSRF: key has %d bytes, need %d", len(key), csrfKeyBytes))
	}
	return &CSRF{
		key:     append([]byte(nil), key...),
		secure:  secureCookie,
		cop:     http.NewCrossOriginProtection(),
		failure: http.HandlerFunc(defaultCSRFFailure),
	}
}

// WithFailureHandler returns a copy of c that answers rejected requests with h instead
// of a plain 403. h can read the reason with [CSRFFailure].
func (c *CSRF) WithFailureHandler(h http.Handler) *CSRF {
	cp := *c
	cp.failure = h
	return &cp
}

func (c *CSRF) cookieName() string {
	if c.secure {
		return csrfCookieSecure
	}
	return csrfCookieInsecure
}

// Token returns the value for the hidden csrf_token field of a form, setting the CSRF
// cookie on w first if the browser has none. Call it before writing the response.
func (c *CSRF) Token(w http.ResponseWriter, r *http.Request) string {
	if v, ok := c.requestCookie(r); ok {
		return c.sign(v)
	}
	// A page may render several forms: reuse the cookie this response already sets.
	name := c.cookieName()
	for _, line := range w.Header().Values("Set-Cookie") {
		if ck, err := http.ParseSetCookie(line); err == nil && ck.Name == name && validCSRFValue(ck.Value) {
			return c.sign(ck.Value)
		}
	}
	var b [csrfValueBytes]byte
	_, _ = rand.Read(b[:]) // never fails since Go 1.24
	v := base64.RawURLEncoding.EncodeToString(b[:])
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    v,
		Path:     "/",
		Secure:   c.secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
	return c.sign(v)
}

// Protect rejects unsafe requests (anything but GET, HEAD, OPTIONS) that are
// cross-origin or lack a csrf_token form field matching the CSRF cookie.
func (c *CSRF) Protect(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := c.check(r); err != nil {
			c.failure.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), csrfFailureKey{}, err)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (c *CSRF) check(r *http.Request) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if err := c.cop.Check(r); err != nil {
		return fmt.Errorf("%w: %w", ErrCrossOrigin, err)
	}
	v, ok := c.requestCookie(r)
	if !ok {
		return ErrCSRFCookie
	}
	if err := r.ParseMultipartForm(1 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		return fmt.Errorf("%w: parse form: %w", ErrCSRFToken, err)
	}
	// PostFormValue reads only the body: a token in the URL would leak via logs.
	got, err := base64.RawURLEncoding.DecodeString(r.PostFormValue(CSRFField))
	if err != nil || !hmac.Equal(got, c.mac(v)) {
		return ErrCSRFToken
	}
	return nil
}

type csrfFailureKey struct{}

// CSRFFailure returns why [CSRF.Protect] rejected r, for the failure handler to log;
// nil if r was not rejected.
func CSRFFailure(r *http.Request) error {
	err, _ := r.Context().Value(csrfFailureKey{}).(error)
	return err
}

func (c *CSRF) requestCookie(r *http.Request) (string, bool) {
	ck, err := r.Cookie(c.cookieName())
	if err != nil || !validCSRFValue(ck.Value) {
		return "", false
	}
	return ck.Value, true
}

func validCSRFValue(v string) bool {
	b, err := base64.RawURLEncoding.DecodeString(v)
	return err == nil && len(b) == csrfValueBytes
}

func (c *CSRF) mac(cookieValue string) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(cookieValue))
	return m.Sum(nil)
}

func (c *CSRF) sign(cookieValue string) string {
	return base64.RawURLEncoding.EncodeToString(c.mac(cookieValue))
}
