package keys_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v3"

	"github.com/latchkey/latchkey/idp/keys"
	"github.com/latchkey/latchkey/idp/secretbox"
	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/idp/storage/sqlite"
)

// clock is a manual clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// countingStore counts the reads of the key list, to observe the cache.
type countingStore struct {
	keys.Store
	lists atomic.Int64
}

func (c *countingStore) ListSigningKeys(ctx context.Context) ([]storage.SigningKey, error) {
	c.lists.Add(1)
	return c.Store.ListSigningKeys(ctx)
}

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "keys.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func newBox(t *testing.T) *secretbox.Box {
	t.Helper()
	k := make([]byte, secretbox.KeySize)
	_, _ = rand.Read(k)
	b, err := secretbox.New(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type logBuf struct {
	mu sync.Mutex
	sb strings.Builder
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sb.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sb.String()
}

const retain = 24 * time.Hour

func newManager(t *testing.T, st keys.Store, box keys.Sealer, clk *clock, logs *logBuf) *keys.Manager {
	t.Helper()
	o := keys.Options{RetainFor: retain, Refresh: 30 * time.Second, Now: clk.Now}
	if logs != nil {
		o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	return keys.NewManager(st, box, o)
}

func startClock() *clock {
	return &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// published returns kid -> JWK of the JWKS document.
func published(t *testing.T, m *keys.Manager) map[string]jose.JSONWebKey {
	t.Helper()
	raw, err := m.JWKS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), `"d"`) {
		t.Fatalf("JWKS holds private material: %s", raw)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		t.Fatalf("JWKS does not parse as RFC 7517: %v\n%s", err, raw)
	}
	out := map[string]jose.JSONWebKey{}
	for _, k := range set.Keys {
		if !k.IsPublic() || !k.Valid() || k.Use != "sig" {
			t.Errorf("JWK %s: public %v valid %v use %q", k.KeyID, k.IsPublic(), k.Valid(), k.Use)
		}
		out[k.KeyID] = k
	}
	return out
}

func signing(t *testing.T, m *keys.Manager, alg string) *keys.Key {
	t.Helper()
	k, err := m.Signing(context.Background(), alg)
	if err != nil {
		t.Fatalf("Signing(%s): %v", alg, err)
	}
	return k
}

// verifiesWith signs a digest with k and checks it with the published JWK,
// so the JWK is the public half of the signing key.
func verifiesWith(t *testing.T, k *keys.Key, jwk jose.JSONWebKey) {
	t.Helper()
	digest := sha256.Sum256([]byte("latchkey"))
	switch pub := jwk.Key.(type) {
	case *ecdsa.PublicKey:
		sig, err := k.Private.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil || !ecdsa.VerifyASN1(pub, digest[:], sig) {
			t.Errorf("%s: the published EC key does not verify the signing key's signature (%v)", k.ID, err)
		}
	case *rsa.PublicKey:
		sig, err := k.Private.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil || rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) != nil {
			t.Errorf("%s: the published RSA key does not verify the signing key's signature (%v)", k.ID, err)
		}
	default:
		t.Errorf("%s: unexpected JWK key type %T", k.ID, jwk.Key)
	}
}

func TestEnsureKeys(t *testing.T) {
	st := openStore(t)
	clk := startClock()
	box := newBox(t)
	m := newManager(t, st, box, clk, nil)
	ctx := context.Background()
	if err := m.EnsureKeys(ctx); err != nil {
		t.Fatal(err)
	}
	es, rs := signing(t, m, keys.ES256), signing(t, m, keys.RS256)
	if es.Algorithm != keys.ES256 || rs.Algorithm != keys.RS256 || es.ID == rs.ID {
		t.Fatalf("keys: %s %s / %s %s", es.ID, es.Algorithm, rs.ID, rs.Algorithm)
	}
	if _, ok := es.Private.(*ecdsa.PrivateKey); !ok {
		t.Errorf("ES256 key is %T", es.Private)
	}
	if r, ok := rs.Private.(*rsa.PrivateKey); !ok || r.N.BitLen() != 2048 {
		t.Errorf("RS256 key is %T", rs.Private)
	}
	pub := published(t, m)
	if len(pub) != 2 || pub[es.ID].Algorithm != "ES256" || pub[rs.ID].Algorithm != "RS256" {
		t.Fatalf("JWKS = %v", pub)
	}
	verifiesWith(t, es, pub[es.ID])
	verifiesWith(t, rs, pub[rs.ID])

	// The private halves are sealed at rest.
	stored, _ := st.ListSigningKeys(ctx)
	for _, k := range stored {
		if strings.Contains(string(k.PrivateKey), "PRIVATE") || len(k.PrivateKey) < 100 {
			t.Errorf("key %s stored private key looks unsealed", k.ID)
		}
		if !k.CreatedAt.Equal(clk.Now()) {
			t.Errorf("key %s created at %v, want the injected clock's %v", k.ID, k.CreatedAt, clk.Now())
		}
	}

	// A second call, or a second node starting, adds nothing.
	if err := m.EnsureKeys(ctx); err != nil {
		t.Fatal(err)
	}
	if err := newManager(t, st, box, clk, nil).EnsureKeys(ctx); err != nil {
		t.Fatal(err)
	}
	if stored, _ := st.ListSigningKeys(ctx); len(stored) != 2 {
		t.Errorf("after EnsureKeys again: %d keys, want 2", len(stored))
	}
	if _, err := m.Generate("HS256"); err == nil {
		t.Error("Generate accepted HS256")
	}
}

// TestRotate: a rotation switches the signer at once, keeps the old keys
// verifiable and published until RemoveAfter, and then drops them.
func TestRotate(t *testing.T) {
	st := openStore(t)
	clk := startClock()
	m := newManager(t, st, newBox(t), clk, nil)
	ctx := context.Background()
	if err := m.EnsureKeys(ctx); err != nil {
		t.Fatal(err)
	}
	oldES, oldRS := signing(t, m, keys.ES256), signing(t, m, keys.RS256)

	clk.Advance(time.Hour)
	rotatedAt := clk.Now()
	fresh, err := m.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(fresh) != 2 {
		t.Fatalf("Rotate returned %d keys", len(fresh))
	}
	newES, newRS := signing(t, m, keys.ES256), signing(t, m, keys.RS256)
	if newES.ID == oldES.ID || newRS.ID == oldRS.ID {
		t.Fatal("Rotate did not change the signing keys")
	}
	pub := published(t, m)
	for _, id := range []string{oldES.ID, oldRS.ID, newES.ID, newRS.ID} {
		if _, ok := pub[id]; !ok {
			t.Errorf("JWKS after rotation lacks %s", id)
		}
		if _, err := m.Verification(ctx, id); err != nil {
			t.Errorf("Verification(%s): %v", id, err)
		}
	}
	stored, _ := st.ListSigningKeys(ctx)
	for _, k := range stored {
		old := k.ID == oldES.ID || k.ID == oldRS.ID
		switch {
		case old && (!k.RetiredAt.Equal(rotatedAt) || !k.RemoveAfter.Equal(rotatedAt.Add(retain))):
			t.Errorf("retired key %s: retired %v remove after %v; want %v and %v", k.ID, k.RetiredAt, k.RemoveAfter, rotatedAt, rotatedAt.Add(retain))
		case !old && !k.Active():
			t.Errorf("new key %s is not active", k.ID)
		}
	}

	// Just before RemoveAfter the old keys still verify; after it they are gone.
	clk.Advance(retain - time.Second)
	if err := m.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Verification(ctx, oldES.ID); err != nil {
		t.Errorf("old key before RemoveAfter: %v", err)
	}
	clk.Advance(2 * time.Second)
	if err := m.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	pub = published(t, m)
	if len(pub) != 2 || pub[newES.ID].KeyID == "" || pub[newRS.ID].KeyID == "" {
		t.Errorf("JWKS after RemoveAfter = %v, want only the new keys", pub)
	}
	clk.Advance(10 * time.Second) // past the unknown-kid reload throttle
	if _, err := m.Verification(ctx, oldES.ID); !errors.Is(err, keys.ErrUnknownKey) {
		t.Errorf("old key after RemoveAfter: %v, want ErrUnknownKey", err)
	}

	// The next rotation prunes the expired keys from the store.
	if _, err := m.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	stored, _ = st.ListSigningKeys(ctx)
	if len(stored) != 4 {
		t.Errorf("store after the second rotation: %d keys, want 4 (2 retired, 2 active)", len(stored))
	}
	for _, k := range stored {
		if k.ID == oldES.ID || k.ID == oldRS.ID {
			t.Errorf("expired key %s was not pruned", k.ID)
		}
	}
}

// TestSecondNodeSeesRotation: another manager on the same store picks up a
// rotation at its next refresh, and verifies new kids at once.
func TestSecondNodeSeesRotation(t *testing.T) {
	st := openStore(t)
	clk := startClock()
	box := newBox(t)
	ctx := context.Background()
	m1 := newManager(t, st, box, clk, nil)
	if err := m1.EnsureKeys(ctx); err != nil {
		t.Fatal(err)
	}
	m2 := newManager(t, st, box, clk, nil)
	if err := m2.EnsureKeys(ctx); err != nil {
		t.Fatal(err)
	}
	before := signing(t, m2, keys.ES256)
	if before.ID != signing(t, m1, keys.ES256).ID {
		t.Fatal("two nodes sign with different keys")
	}
	if _, err := m1.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	after := signing(t, m1, keys.ES256)

	// Within the refresh interval node 2 still signs with the old key ...
	clk.Advance(10 * time.Second)
	if got := signing(t, m2, keys.ES256); got.ID != before.ID {
		t.Errorf("node 2 changed key before its refresh: %s", got.ID)
	}
	// ... but already verifies the new one (an unknown kid reloads).
	if k, err := m2.Verification(ctx, after.ID); err != nil || k.ID != after.ID {
		t.Errorf("node 2 Verification(new kid): %v", err)
	}
	// After the refresh interval it signs with the new key.
	clk.Advance(30 * time.Second)
	if got := signing(t, m2, keys.ES256); got.ID != after.ID {
		t.Errorf("node 2 after refresh signs with %s, want %s", got.ID, after.ID)
	}
	if _, ok := published(t, m2)[after.ID]; !ok {
		t.Error("node 2's JWKS lacks the new key")
	}
}

// TestForeignMasterKey: keys sealed under another master key are left out
// with an error log; a node with no usable active key refuses to start
// rather than answer token requests with errors, and a rotation recovers.
func TestForeignMasterKey(t *testing.T) {
	st := openStore(t)
	clk := startClock()
	ctx := context.Background()
	other := newManager(t, st, newBox(t), clk, nil)
	if err := other.EnsureKeys(ctx); err != nil {
		t.Fatal(err)
	}
	foreign, _ := st.ListSigningKeys(ctx)

	logs := &logBuf{}
	m := newManager(t, st, newBox(t), clk, logs)
	if err := m.EnsureKeys(ctx); !errors.Is(err, keys.ErrKeysUnreadable) {
		t.Fatalf("EnsureKeys with only unreadable keys: %v, want ErrKeysUnreadable", err)
	}
	if after, _ := st.ListSigningKeys(ctx); len(after) != len(foreign) {
		t.Errorf("EnsureKeys created keys beside unreadable ones: %d keys, want %d", len(after), len(foreign))
	}
	if _, err := m.Signing(ctx, keys.ES256); err == nil {
		t.Error("Signing succeeded with only unreadable keys")
	}
	for _, k := range foreign {
		if !strings.Contains(logs.String(), "signing key unusable") || !strings.Contains(logs.String(), k.ID) {
			t.Errorf("no error log for the unreadable key %s:\n%s", k.ID, logs)
		}
	}
	if !strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("unreadable keys not logged at error level:\n%s", logs)
	}
	// A rotation by this node gives it keys of its own.
	if _, err := m.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	es := signing(t, m, keys.ES256)
	pub := published(t, m)
	if len(pub) != 2 || pub[es.ID].KeyID != es.ID {
		t.Errorf("JWKS = %v, want this node's two keys", pub)
	}
	for _, k := range foreign {
		if _, err := m.Verification(ctx, k.ID); !errors.Is(err, keys.ErrUnknownKey) {
			t.Errorf("Verification(unreadable %s): %v, want ErrUnknownKey", k.ID, err)
		}
	}
}

// TestVerificationUnknownKid: unknown kids are refused, and a flood of them
// costs at most one store read every few seconds.
func TestVerificationUnknownKid(t *testing.T) {
	cs := &countingStore{Store: openStore(t)}
	clk := startClock()
	m := newManager(t, cs, newBox(t), clk, nil)
	ctx := context.Background()
	if err := m.EnsureKeys(ctx); err != nil {
		t.Fatal(err)
	}
	base := cs.lists.Load()
	for _, kid := range []string{"nope", "", "../../etc", strings.Repeat("k", 5000)} {
		if _, err := m.Verification(ctx, kid); !errors.Is(err, keys.ErrUnknownKey) {
			t.Errorf("Verification(%.10q): %v, want ErrUnknownKey", kid, err)
		}
	}
	if n := cs.lists.Load() - base; n != 1 {
		t.Errorf("4 unknown kids read the store %d times, want 1", n)
	}
	clk.Advance(6 * time.Second)
	_, _ = m.Verification(ctx, "again") // only the read count matters
	if n := cs.lists.Load() - base; n != 2 {
		t.Errorf("after the throttle window: %d reads, want 2", n)
	}
	// Known kids are served from the cache.
	es := signing(t, m, keys.ES256)
	before := cs.lists.Load()
	for range 10 {
		if _, err := m.Verification(ctx, es.ID); err != nil {
			t.Fatal(err)
		}
	}
	if cs.lists.Load() != before {
		t.Error("verifying a known kid read the store")
	}
}
