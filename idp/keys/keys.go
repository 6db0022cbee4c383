// Package keys manages the JWT signing keys that every Latchkey node shares
// through the store: it generates them (ES256 by default, RS256 for clients
// whose libraries predate ECDSA), keeps the private halves encrypted at rest,
// rotates them, and serves the public halves as a JWKS document that is built
// once per key change rather than per request.
//
// A retired key stops signing at once but stays in the JWKS until every token
// it signed has expired (RemoveAfter), so relying parties never see a valid
// token they cannot verify.
package keys

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey/idp/secretbox"
	"github.com/latchkey/latchkey/idp/storage"
)

// Supported algorithms.
const (
	ES256 = "ES256"
	RS256 = "RS256"
)

// Algorithms lists what Latchkey signs with, default first.
var Algorithms = []string{ES256, RS256}

// ErrUnknownKey: no key with that kid is known (not even retired).
var ErrUnknownKey = errors.New("keys: unknown key id")

// Store is what the manager needs from storage.
type Store interface {
	CreateSigningKey(ctx context.Context, k storage.SigningKey) error
	RotateSigningKey(ctx context.Context, k storage.SigningKey, removeOldAfter time.Time) error
	ListSigningKeys(ctx context.Context) ([]storage.SigningKey, error)
	DeleteRemovedSigningKeys(ctx context.Context, now time.Time) (int64, error)
}

// Sealer encrypts private keys at rest.
type Sealer interface {
	Seal(plaintext, aad []byte) ([]byte, error)
	Open(sealed, aad []byte) ([]byte, error)
}

var _ Sealer = (*secretbox.Box)(nil)

// Options tune a Manager.
type Options struct {
	// RetainFor is how long a retired key stays in the JWKS: at least the
	// longest lifetime of a token signed with it (id or access token).
	RetainFor time.Duration
	// Refresh is how often a node re-reads the keys, so that a rotation made
	// on one node reaches the others. Default 30s.
	Refresh time.Duration
	Now     func() time.Time
	Logger  *slog.Logger
}

// Key is a loaded signing key.
type Key struct {
	ID        string
	Algorithm string
	// Private is nil for keys loaded only for verification.
	Private   crypto.Signer
	Public    crypto.PublicKey
	CreatedAt time.Time
	RetiredAt time.Time
}

// Manager loads, caches, rotates and publishes signing keys.
type Manager struct {
	store  Store
	sealer Sealer
	opts   Options

	mu  sync.Mutex
	set *keySet
	// lastMiss throttles store reloads triggered by unknown kids, so a flood
	// of tokens with random kids cannot turn into a flood of queries.
	lastMiss time.Time
}

type keySet struct {
	active   map[string]*Key // by algorithm: the newest active key
	byID     map[string]*Key
	jwks     []byte
	loadedAt time.Time
}

// NewManager returns a manager; call EnsureKeys before first use.
func NewManager(store Store, sealer Sealer, opts Options) *Manager {
	if opts.Refresh <= 0 {
		opts.Refresh = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Manager{store: store, sealer: sealer, opts: opts}
}

// Generate makes a new key of alg, sealed for the store.
func (m *Manager) Generate(alg string) (storage.SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		return storage.SigningKey{}, fmt.Errorf("generate key: unsupported algorithm %q", alg)
	}
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("generate %s key: %w", alg, err)
	}
	idBytes := make([]byte, 12)
	if _, err := rand.Read(idBytes); err != nil {
		return storage.SigningKey{}, fmt.Errorf("generate key id: %w", err)
	}
	kid := hex.EncodeToString(idBytes)
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("marshal %s key: %w", alg, err)
	}
	sealed, err := m.sealer.Seal(der, aad(kid))
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("seal %s key: %w", alg, err)
	}
	jwk, err := publicJWK(kid, alg, priv.Public())
	if err != nil {
		return storage.SigningKey{}, err
	}
	return storage.SigningKey{
		ID:         kid,
		Algorithm:  alg,
		PrivateKey: sealed,
		PublicJWK:  jwk,
		CreatedAt:  m.opts.Now().UTC(),
	}, nil
}

// ErrKeysUnreadable: the store holds active signing keys this node cannot
// open, almost always because its master key differs from the one that
// sealed them.
var ErrKeysUnreadable = errors.New("active signing keys cannot be opened with this master key")

// EnsureKeys creates an active key for every supported algorithm that has
// none, then loads the set. Two nodes starting together may both create one;
// every node then signs with the newest, and both stay verifiable.
//
// Active keys that exist but cannot be opened are an error, not a reason to
// make new ones: a node started with the wrong master key must fail at
// start-up rather than sign with keys the rest of the cluster cannot use, or
// answer every token request with a server error. `latchkey keys rotate`
// under the new master key is the deliberate way out.
func (m *Manager) EnsureKeys(ctx context.Context) error {
	stored, err := m.store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("ensure keys: %w", err)
	}
	have := map[string]bool{}
	for _, k := range stored {
		if k.Active() {
			have[k.Algorithm] = true
		}
	}
	for _, alg := range Algorithms {
		if have[alg] {
			continue
		}
		k, err := m.Generate(alg)
		if err != nil {
			return fmt.Errorf("ensure keys: %w", err)
		}
		if err := m.store.CreateSigningKey(ctx, k); err != nil {
			return fmt.Errorf("ensure keys: store %s key: %w", alg, err)
		}
		m.opts.Logger.InfoContext(ctx, "signing key created", "kid", k.ID, "alg", alg)
	}
	if err := m.Reload(ctx); err != nil {
		return err
	}
	m.mu.Lock()
	set := m.set
	m.mu.Unlock()
	var missing []string
	for _, alg := range Algorithms {
		if set.active[alg] == nil {
			missing = append(missing, alg)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("ensure keys: %s: %w (check the master key, or run `latchkey keys rotate` to replace them)",
			strings.Join(missing, ", "), ErrKeysUnreadable)
	}
	return nil
}

// Rotate makes a new active key for every algorithm and retires the old ones;
// they stay published for RetainFor. It returns the new keys.
func (m *Manager) Rotate(ctx context.Context) ([]storage.SigningKey, error) {
	now := m.opts.Now().UTC()
	var out []storage.SigningKey
	for _, alg := range Algorithms {
		k, err := m.Generate(alg)
		if err != nil {
			return out, fmt.Errorf("rotate keys: %w", err)
		}
		k.CreatedAt = now
		if err := m.store.RotateSigningKey(ctx, k, now.Add(m.opts.RetainFor)); err != nil {
			return out, fmt.Errorf("rotate %s key: %w", alg, err)
		}
		out = append(out, k)
	}
	if _, err := m.store.DeleteRemovedSigningKeys(ctx, now); err != nil {
		return out, fmt.Errorf("rotate keys: prune: %w", err)
	}
	return out, m.Reload(ctx)
}

// Reload re-reads the keys from the store and rebuilds the JWKS.
func (m *Manager) Reload(ctx context.Context) error {
	stored, err := m.store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("reload keys: %w", err)
	}
	now := m.opts.Now()
	set := &keySet{active: map[string]*Key{}, byID: map[string]*Key{}, loadedAt: now}
	var published []json.RawMessage
	// Newest first, so the first active key per algorithm is the signer.
	sort.SliceStable(stored, func(i, j int) bool { return stored[i].CreatedAt.After(stored[j].CreatedAt) })
	for _, sk := range stored {
		if !sk.Active() && !sk.RemoveAfter.IsZero() && now.After(sk.RemoveAfter) {
			continue
		}
		k, err := m.load(sk)
		if err != nil {
			// One unreadable key (for example sealed under an old master
			// key) must not take the whole node down; it is left out.
			m.opts.Logger.ErrorContext(ctx, "signing key unusable", "kid", sk.ID, "err", err)
			continue
		}
		set.byID[k.ID] = k
		if sk.Active() && set.active[k.Algorithm] == nil {
			set.active[k.Algorithm] = k
		}
		published = append(published, sk.PublicJWK)
	}
	if published == nil {
		published = []json.RawMessage{}
	}
	set.jwks, err = json.Marshal(struct {
		Keys []json.RawMessage `json:"keys"`
	}{published})
	if err != nil {
		return fmt.Errorf("reload keys: encode jwks: %w", err)
	}
	m.mu.Lock()
	m.set = set
	m.mu.Unlock()
	return nil
}

func (m *Manager) load(sk storage.SigningKey) (*Key, error) {
	der, err := m.sealer.Open(sk.PrivateKey, aad(sk.ID))
	if err != nil {
		return nil, fmt.Errorf("open key %s: %w", sk.ID, err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse key %s: %w", sk.ID, err)
	}
	signer, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("parse key %s: %T is not a signer", sk.ID, parsed)
	}
	switch signer.(type) {
	case *ecdsa.PrivateKey:
		if sk.Algorithm != ES256 {
			return nil, fmt.Errorf("key %s: ECDSA key labelled %s", sk.ID, sk.Algorithm)
		}
	case *rsa.PrivateKey:
		if sk.Algorithm != RS256 {
			return nil, fmt.Errorf("key %s: RSA key labelled %s", sk.ID, sk.Algorithm)
		}
	default:
		return nil, fmt.Errorf("key %s: unsupported type %T", sk.ID, signer)
	}
	return &Key{ID: sk.ID, Algorithm: sk.Algorithm, Private: signer, Public: signer.Public(),
		CreatedAt: sk.CreatedAt, RetiredAt: sk.RetiredAt}, nil
}

// current returns the cached set, re-reading it when it is older than the
// refresh interval. A failed refresh keeps serving the old set.
func (m *Manager) current(ctx context.Context) (*keySet, error) {
	m.mu.Lock()
	set := m.set
	m.mu.Unlock()
	if set != nil && m.opts.Now().Sub(set.loadedAt) < m.opts.Refresh {
		return set, nil
	}
	if err := m.Reload(ctx); err != nil {
		if set != nil {
			m.opts.Logger.WarnContext(ctx, "signing keys not refreshed", "err", err)
			return set, nil
		}
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.set, nil
}

// Signing returns the active key for alg.
func (m *Manager) Signing(ctx context.Context, alg string) (*Key, error) {
	set, err := m.current(ctx)
	if err != nil {
		return nil, err
	}
	k := set.active[alg]
	if k == nil {
		return nil, fmt.Errorf("signing key: no active %s key", alg)
	}
	return k, nil
}

// Verification returns the key with kid, active or retired-but-published.
// An unknown kid triggers at most one store reload every few seconds, since a
// rotation on another node may be newer than this node's cache.
func (m *Manager) Verification(ctx context.Context, kid string) (*Key, error) {
	set, err := m.current(ctx)
	if err != nil {
		return nil, err
	}
	if k := set.byID[kid]; k != nil {
		return k, nil
	}
	m.mu.Lock()
	retry := m.opts.Now().Sub(m.lastMiss) > 5*time.Second
	if retry {
		m.lastMiss = m.opts.Now()
	}
	m.mu.Unlock()
	if retry {
		if err := m.Reload(ctx); err == nil {
			m.mu.Lock()
			k := m.set.byID[kid]
			m.mu.Unlock()
			if k != nil {
				return k, nil
			}
		}
	}
	return nil, fmt.Errorf("verification key %q: %w", kid, ErrUnknownKey)
}

// JWKS returns the published key set as JSON (prepared at load time).
func (m *Manager) JWKS(ctx context.Context) ([]byte, error) {
	set, err := m.current(ctx)
	if err != nil {
		return nil, err
	}
	return set.jwks, nil
}

// List returns the stored keys, newest first, for `latchkey keys list`.
func (m *Manager) List(ctx context.Context) ([]storage.SigningKey, error) {
	ks, err := m.store.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return ks, nil
}

func aad(kid string) []byte { return []byte("signing-key:" + kid) }

// publicJWK encodes a public key as an RFC 7517 JWK with its use and alg.
func publicJWK(kid, alg string, pub crypto.PublicKey) ([]byte, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	var jwk map[string]string
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		ecdh, err := p.ECDH()
		if err != nil {
			return nil, fmt.Errorf("encode jwk: %w", err)
		}
		raw := ecdh.Bytes() // 0x04 || X || Y, each 32 bytes for P-256
		jwk = map[string]string{"kty": "EC", "crv": "P-256", "x": b64(raw[1:33]), "y": b64(raw[33:65])}
	case *rsa.PublicKey:
		jwk = map[string]string{"kty": "RSA", "n": b64(p.N.Bytes()), "e": b64(big.NewInt(int64(p.E)).Bytes())}
	default:
		return nil, fmt.Errorf("encode jwk: unsupported key %T", pub)
	}
	jwk["kid"], jwk["alg"], jwk["use"] = kid, alg, "sig"
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(jwk); err != nil {
		return nil, fmt.Errorf("encode jwk: %w", err)
	}
	return bytes.TrimSpace(buf.Bytes()), nil
}
