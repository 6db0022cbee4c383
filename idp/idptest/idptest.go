// Package idptest runs a real Latchkey OpenID Provider on httptest for
// tests: a migrated store (SQLite in a temporary directory unless a store is
// given), signing keys, a password hasher with cheap parameters, the
// provider's full handler, and helpers to create users and clients and to
// drive the hosted sign-in like a browser would.
//
// It is a test harness, imported by tests only; every failure is reported
// through the testing.TB it was given.
package idptest

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/idp"
	"github.com/latchkey/latchkey/idp/clientsecret"
	"github.com/latchkey/latchkey/idp/keys"
	"github.com/latchkey/latchkey/idp/password"
	"github.com/latchkey/latchkey/idp/secretbox"
	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/idp/storage/sqlite"
	"github.com/latchkey/latchkey/idp/web"
	"github.com/latchkey/latchkey/mfa"
)

// CheapParams are the cheapest Argon2id parameters password.NewHasher
// accepts, so that a test signs in in milliseconds. They are the harness
// default; benchmarks and the rehash test pass password.DefaultParams.
func CheapParams() password.Params {
	return password.Params{MemoryKiB: password.MinMemoryKiB, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}
}

// DefaultLifetimes are the lifetimes an Env's provider uses unless
// WithProviderOptions changes them.
func DefaultLifetimes() idp.Lifetimes {
	return idp.Lifetimes{
		AccessToken: 10 * time.Minute, IDToken: 10 * time.Minute, RefreshToken: 24 * time.Hour,
		AuthorizeCode: time.Minute, Session: 12 * time.Hour, SessionIdle: time.Hour, Login: 10 * time.Minute,
	}
}

// DefaultThrottle is the sign-in back-off an Env's provider uses: five free
// failures per account, twenty per IP (every test request comes from
// 127.0.0.1), then one second doubling up to a minute.
func DefaultThrottle() idp.Throttle {
	return idp.Throttle{AccountFreeAttempts: 5, IPFreeAttempts: 20, BaseDelay: time.Second,
		MaxDelay: time.Minute, ResetAfter: 15 * time.Minute}
}

// Env is one running provider and what it was built from.
type Env struct {
	T         testing.TB
	Store     storage.Store
	Keys      *keys.Manager
	Passwords *password.Hasher
	Provider  *idp.Provider
	Server    *httptest.Server
	// Issuer is the provider's issuer: the server's URL unless
	// WithProviderOptions set another (two nodes behind one name).
	Issuer string
	// base is where the provider's routes are reachable: the server's URL
	// and the issuer's path.
	base  string
	Clock *Clock
	// Options are what idp.New was called with.
	Options idp.Options
	// Logs holds everything the provider and the key manager logged; it is
	// printed when the test fails.
	Logs *LogBuffer
}

type config struct {
	store      storage.Store
	clock      *Clock
	params     password.Params
	provider   []func(*idp.Options)
	keyOpts    []func(*keys.Options)
	secretKey  []byte
	routes     []idp.Route
	routeFuncs []func(*idp.Provider) []idp.Route
	middleware []func(http.Handler) http.Handler
	localhost  bool
}

// WithLocalhost names the issuer http://localhost:PORT instead of
// 127.0.0.1, so WebAuthn (which refuses IP addresses as relying-party ids)
// works: browser tests of passkeys need it. Env.URL then uses that name too.
func WithLocalhost() Option { return func(c *config) { c.localhost = true } }

// Option changes how New builds the Env.
type Option func(*config)

// WithStore runs the provider on s (for example PostgreSQL from pgtest)
// instead of a fresh SQLite file. New migrates it if it has a Migrate
// method; closing it stays with the caller.
func WithStore(s storage.Store) Option { return func(c *config) { c.store = s } }

// WithClock injects the clock of the provider and the key manager.
func WithClock(clk *Clock) Option { return func(c *config) { c.clock = clk } }

// WithPasswordParams sets the Argon2id parameters of the hasher (for
// example password.DefaultParams()).
func WithPasswordParams(p password.Params) Option { return func(c *config) { c.params = p } }

// WithProviderOptions edits the idp.Options just before idp.New.
func WithProviderOptions(f func(*idp.Options)) Option {
	return func(c *config) { c.provider = append(c.provider, f) }
}

// WithKeyOptions edits the keys.Options of the key manager.
func WithKeyOptions(f func(*keys.Options)) Option {
	return func(c *config) { c.keyOpts = append(c.keyOpts, f) }
}

// WithPolicy sets the default MFA policy (mfa.DefaultPolicy() otherwise).
func WithPolicy(pol mfa.Policy) Option {
	return WithProviderOptions(func(o *idp.Options) { o.Policy = pol })
}

// WithSecretKey sets the master key (default: 32 random bytes). Two Envs
// with the same key and store behave as two nodes of one deployment.
func WithSecretKey(k []byte) Option { return func(c *config) { c.secretKey = k } }

// WithRoutes mounts extra routes on the provider's handler (the binary's
// /demo app or /metrics).
func WithRoutes(routes ...idp.Route) Option {
	return func(c *config) { c.routes = append(c.routes, routes...) }
}

// WithProviderRoutes mounts routes that need the provider to exist
// first, such as p.OutboxRoute(outbox) of `latchkey dev`.
func WithProviderRoutes(f func(*idp.Provider) []idp.Route) Option {
	return func(c *config) { c.routeFuncs = append(c.routeFuncs, f) }
}

// WithMiddleware wraps the handler as the binary does (request ids,
// security headers, body limits), for tests that look at whole responses.
func WithMiddleware(mws ...func(http.Handler) http.Handler) Option {
	return func(c *config) { c.middleware = append(c.middleware, mws...) }
}

type migrator interface {
	Migrate(ctx context.Context) error
}

// New starts a provider; everything it opens is closed by t.Cleanup.
func New(t testing.TB, opts ...Option) *Env {
	t.Helper()
	c := config{clock: NewClock(0), params: CheapParams()}
	for _, o := range opts {
		o(&c)
	}
	ctx := context.Background()
	logs := &LogBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("provider log:\n%s", logs.String())
		}
	})

	st := c.store
	if st == nil {
		s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "latchkey.db"), logger)
		if err != nil {
			t.Fatalf("open sqlite: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		st = s
	}
	if m, ok := st.(migrator); ok {
		if err := m.Migrate(ctx); err != nil {
			t.Fatalf("migrate: %v", err)
		}
	}

	if c.secretKey == nil {
		c.secretKey = make([]byte, secretbox.KeySize)
		_, _ = rand.Read(c.secretKey)
	}
	boxKey, err := secretbox.DeriveKey(c.secretKey, "signing-keys")
	if err != nil {
		t.Fatalf("derive key: %v", err)
	}
	box, err := secretbox.New(boxKey)
	if err != nil {
		t.Fatalf("secretbox: %v", err)
	}
	ko := keys.Options{RetainFor: 24 * time.Hour, Now: c.clock.Now, Logger: logger}
	for _, f := range c.keyOpts {
		f(&ko)
	}
	km := keys.NewManager(st, box, ko)

	hasher, err := password.NewHasher(c.params)
	if err != nil {
		t.Fatalf("password hasher: %v", err)
	}

	// The provider needs its issuer before it exists: take the listener's
	// address first, start serving once the handler is built.
	srv := httptest.NewUnstartedServer(nil)
	t.Cleanup(srv.Close)
	issuer := "http://" + srv.Listener.Addr().String()
	if c.localhost {
		_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
		issuer = "http://localhost:" + port
	}

	o := idp.Options{
		Issuer: issuer, Store: st, Keys: km, Passwords: hasher, SecretKey: c.secretKey,
		DefaultAlg: keys.ES256, Lifetimes: DefaultLifetimes(), Throttle: DefaultThrottle(),
		Dev: true, Logger: logger, Now: c.clock.Now, Policy: mfa.DefaultPolicy(),
	}
	for _, f := range c.provider {
		f(&o)
	}
	p, err := idp.New(ctx, o)
	if err != nil {
		t.Fatalf("idp.New: %v", err)
	}
	routes := c.routes
	for _, f := range c.routeFuncs {
		routes = append(routes, f(p)...)
	}
	srv.Config.Handler = web.Chain(p.Handler(routes...), c.middleware...)
	srv.Start()
	base := strings.TrimSuffix(srv.URL, "/")
	if c.localhost {
		base = issuerOrigin(o.Issuer)
	}
	if u, err := url.Parse(o.Issuer); err == nil {
		base += strings.TrimSuffix(u.Path, "/")
	}
	return &Env{T: t, Store: st, Keys: km, Passwords: hasher, Provider: p, Server: srv,
		Issuer: strings.TrimSuffix(o.Issuer, "/"), base: base, Clock: c.clock, Options: o, Logs: logs}
}

// URL returns the absolute URL of a path of the provider on this Env's
// server (under the issuer's path).
func (e *Env) URL(path string) string { return e.base + path }

// CreateUser stores a verified user with a hash of password made by the
// Env's hasher and returns it.
func (e *Env) CreateUser(email, name, pw string) storage.User {
	e.T.Helper()
	h, err := e.Passwords.Hash(pw)
	if err != nil {
		e.T.Fatalf("hash password: %v", err)
	}
	return e.CreateUserWithHash(email, name, h)
}

// CreateUserWithHash stores a verified user with a given password hash (a
// hash made with other parameters, to test rehashing).
func (e *Env) CreateUserWithHash(email, name, hash string) storage.User {
	e.T.Helper()
	now := e.Clock.Now().UTC()
	u := storage.User{
		ID: "u-" + strings.ToLower(rand.Text()[:16]), Email: strings.ToLower(strings.TrimSpace(email)),
		EmailVerified: true, DisplayName: name, PasswordHash: hash, CreatedAt: now, UpdatedAt: now,
	}
	if err := e.Store.CreateUser(context.Background(), u); err != nil {
		e.T.Fatalf("create user %s: %v", email, err)
	}
	return u
}

// CreateClient registers c, filling what it leaves empty: grant types
// (authorization_code, refresh_token), response types (code), scopes
// (openid profile email offline_access), the token endpoint auth method,
// and for a confidential client without a SecretHash a fresh secret, which
// it returns ("" for public clients).
func (e *Env) CreateClient(c storage.Client) (secret string) {
	e.T.Helper()
	if len(c.GrantTypes) == 0 {
		c.GrantTypes = []string{"authorization_code", "refresh_token"}
	}
	if len(c.ResponseTypes) == 0 {
		c.ResponseTypes = []string{"code"}
	}
	if len(c.Scopes) == 0 {
		c.Scopes = []string{"openid", "profile", "email", "offline_access"}
	}
	if c.TokenEndpointAuthMethod == "" {
		c.TokenEndpointAuthMethod = "client_secret_basic"
		if c.Public {
			c.TokenEndpointAuthMethod = "none"
		}
	}
	if !c.Public && c.SecretHash == "" {
		var err error
		if secret, err = clientsecret.Generate(); err != nil {
			e.T.Fatalf("generate client secret: %v", err)
		}
		if c.SecretHash, err = clientsecret.Hash(secret); err != nil {
			e.T.Fatalf("hash client secret: %v", err)
		}
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = e.Clock.Now().UTC()
	}
	if err := e.Store.CreateClient(context.Background(), c); err != nil {
		e.T.Fatalf("create client %s: %v", c.ID, err)
	}
	return secret
}

// Clock is the injected clock: real time shifted by an adjustable offset.
// fosite compares auth_time with the real time.Now (and refuses one more
// than five seconds ahead), so a test that moves time forward should start
// from a clock behind real time: NewClock(-time.Hour).
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// NewClock returns a clock offset from real time.
func NewClock(offset time.Duration) *Clock { return &Clock{offset: offset} }

// Now is real time plus the offset.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward by d (backward if d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// LogBuffer is a goroutine-safe buffer for a slog handler.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything logged so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// issuerOrigin is the scheme and host of an issuer.
func issuerOrigin(issuer string) string {
	u, err := url.Parse(issuer)
	if err != nil {
		return issuer
	}
	return u.Scheme + "://" + u.Host
}
