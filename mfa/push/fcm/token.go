package fcm

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

const (
	// grantType is the JWT bearer grant (RFC 7523 §2.1).
	grantType = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	// assertionLifetime is the longest Google accepts: "a short-lived token
	// (60 minutes)".
	assertionLifetime = time.Hour
	// refreshMargin: a cached access token is replaced this long before the
	// expiry the token endpoint announced, so that a send never carries a
	// token that expires on the way.
	refreshMargin = time.Minute
	maxBody       = 1 << 20
)

// TokenError is a refusal from the OAuth 2.0 token endpoint (RFC 6749
// §5.2): {"error", "error_description"}, or only the HTTP status when the
// body is not JSON. A 4xx answer (invalid_grant: the key was deleted or the
// clock is wrong; invalid_scope ...) matches ErrConfig; 429 and 5xx are
// transient.
type TokenError struct {
	StatusCode  int
	Code        string // "invalid_grant" ...
	Description string
}

func (e *TokenError) Error() string {
	msg := e.Code
	if e.Description != "" {
		msg += ": " + e.Description
	}
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	return fmt.Sprintf("fcm: token endpoint (HTTP %d): %s", e.StatusCode, msg)
}

// Temporary reports whether asking again later may succeed.
func (e *TokenError) Temporary() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// Unwrap makes a permanent refusal match ErrConfig.
func (e *TokenError) Unwrap() error {
	if e.Temporary() {
		return nil
	}
	return ErrConfig
}

// tokenSource gets access tokens by the JWT bearer grant and caches the
// current one. Safe for concurrent use.
type tokenSource struct {
	client   *http.Client
	email    string
	keyID    string
	tokenURL string
	key      *rsa.PrivateKey
	now      func() time.Time

	// fetching holds one slot: one token request at a time, and a waiter
	// can give up when its context ends (a mutex could not).
	fetching chan struct{}

	mu      sync.Mutex
	value   string
	renewAt time.Time
}

func newTokenSource(client *http.Client, s settings, now func() time.Time) *tokenSource {
	return &tokenSource{
		client: client, email: s.email, keyID: s.keyID, tokenURL: s.tokenURL, key: s.key, now: now,
		fetching: make(chan struct{}, 1),
	}
}

// token returns the cached access token, or fetches a new one.
func (ts *tokenSource) token(ctx context.Context) (string, error) {
	if v, ok := ts.cached(); ok {
		return v, nil
	}
	select {
	case ts.fetching <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-ts.fetching }()
	// Whoever held the slot before us may have fetched one.
	if v, ok := ts.cached(); ok {
		return v, nil
	}
	// The lifetime counts from before the request: the token endpoint's
	// clock started it no later than that.
	start := ts.now()
	v, lifetime, err := ts.fetch(ctx, start)
	if err != nil {
		return "", err
	}
	margin := min(refreshMargin, lifetime/2)
	ts.mu.Lock()
	ts.value, ts.renewAt = v, start.Add(lifetime-margin)
	ts.mu.Unlock()
	return v, nil
}

func (ts *tokenSource) cached() (string, bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.value == "" || !ts.now().Before(ts.renewAt) {
		return "", false
	}
	return ts.value, true
}

// invalidate drops value if it is still the cached token: of many sends
// that got 401 with the same token, only the first causes a new fetch.
func (ts *tokenSource) invalidate(value string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.value == value {
		ts.value = ""
	}
}

// fetch runs the JWT bearer grant and returns the access token and its
// lifetime.
func (ts *tokenSource) fetch(ctx context.Context, now time.Time) (string, time.Duration, error) {
	assertion, err := ts.assertion(now)
	if err != nil {
		return "", 0, err
	}
	form := url.Values{"grant_type": {grantType}, "assertion": {assertion}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, fmt.Errorf("fcm: token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := ts.client.Do(req)
	if err != nil {
		return "", 0, fmt.Errorf("fcm: token request: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return "", 0, fmt.Errorf("fcm: token response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		te := &TokenError{StatusCode: resp.StatusCode}
		var eb struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(body, &eb) == nil {
			te.Code, te.Description = eb.Error, eb.Description
		}
		return "", 0, te
	}
	var tr struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &tr); err != nil {
		return "", 0, fmt.Errorf("fcm: token response: %w", err)
	}
	if tr.AccessToken == "" || !strings.EqualFold(tr.TokenType, "Bearer") {
		return "", 0, fmt.Errorf("fcm: token response: no bearer access token (token_type %q)", tr.TokenType)
	}
	// Without expires_in the token is used for this send only (lifetime 0
	// never satisfies cached), rather than trusted forever.
	lifetime := time.Duration(max(tr.ExpiresIn, 0)) * time.Second
	return tr.AccessToken, lifetime, nil
}

// assertion is the signed JWT of RFC 7523 §3 as Google's token endpoint
// expects it: RS256, kid = the key file's private_key_id.
func (ts *tokenSource) assertion(now time.Time) (string, error) {
	header, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
		Kid string `json:"kid,omitempty"`
	}{"RS256", "JWT", ts.keyID})
	if err != nil {
		return "", fmt.Errorf("fcm: assertion header: %w", err)
	}
	claims, err := json.Marshal(struct {
		Iss   string `json:"iss"`
		Scope string `json:"scope"`
		Aud   string `json:"aud"`
		Iat   int64  `json:"iat"`
		Exp   int64  `json:"exp"`
	}{ts.email, Scope, ts.tokenURL, now.Unix(), now.Add(assertionLifetime).Unix()})
	if err != nil {
		return "", fmt.Errorf("fcm: assertion claims: %w", err)
	}
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(claims)
	digest := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, ts.key, crypto.SHA256, digest[:])
	if err != nil {
		return "", fmt.Errorf("fcm: sign assertion: %w", err)
	}
	return signing + "." + enc.EncodeToString(sig), nil
}
