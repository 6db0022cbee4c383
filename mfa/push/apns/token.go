package apns

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// tokenReuse is how long one provider token is used. APNs refuses tokens
// older than an hour and token changes more frequent than every 20
// minutes; 50 minutes leaves ten for clocks that disagree.
const tokenReuse = 50 * time.Minute

// providerToken signs the provider authentication token and caches it.
// Safe for concurrent use.
type providerToken struct {
	teamID, keyID string
	key           *ecdsa.PrivateKey
	now           func() time.Time

	mu     sync.Mutex
	value  string
	issued time.Time
}

// token returns the cached token, or signs a new one when it is 50 minutes
// old. Signing is local and fast, so holding the lock while signing costs
// nothing and guarantees one token per period.
func (p *providerToken) token() (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	// A clock that went back keeps the token: a new one would only be
	// refused as too frequent.
	if p.value != "" && now.Sub(p.issued) < tokenReuse {
		return p.value, nil
	}
	v, err := p.sign(now)
	if err != nil {
		return "", err
	}
	p.value, p.issued = v, now
	return v, nil
}

// invalidate drops value if it is still the cached token: of many sends
// told ExpiredProviderToken with the same token, only the first signs a
// new one.
func (p *providerToken) invalidate(value string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.value == value {
		p.value = ""
	}
}

// sign makes the JWT Apple describes in "Establishing a token-based
// connection to APNs": header {alg: ES256, kid}, claims {iss: team id,
// iat}, signature R || S (32 bytes each, RFC 7518 §3.4).
func (p *providerToken) sign(now time.Time) (string, error) {
	header, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}{"ES256", p.keyID})
	if err != nil {
		return "", fmt.Errorf("apns: token header: %w", err)
	}
	claims, err := json.Marshal(struct {
		Iss string `json:"iss"`
		Iat int64  `json:"iat"`
	}{p.teamID, now.Unix()})
	if err != nil {
		return "", fmt.Errorf("apns: token claims: %w", err)
	}
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(claims)
	digest := sha256.Sum256([]byte(signing))
	r, s, err := ecdsa.Sign(rand.Reader, p.key, digest[:])
	if err != nil {
		return "", fmt.Errorf("apns: sign token: %w", err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signing + "." + enc.EncodeToString(sig), nil
}
