// Package config is Latchkey's configuration: a TOML file, overridden by
// environment variables, checked all at once.
//
// The steps are kept apart: Default holds every default value, Load
// decodes the file strictly (an unknown key is an error, so a typo is
// never silently ignored) and applies the environment, and Validate
// reports every problem at once, each message naming its TOML path
// ("tokens.access_token_lifetime: must be between 1m and 24h").
//
// Every key can be set from the environment as LATCHKEY_<SECTION>_<KEY>
// (LATCHKEY_STORAGE_DSN, LATCHKEY_SECRETS_KEY), top-level keys as
// LATCHKEY_<KEY> (LATCHKEY_ISSUER); nested tables join their names
// (LATCHKEY_MFA_LIMITS_MAX_ATTEMPTS). Lists are comma-separated; tables of
// strings ([mfa.aliases]) are comma-separated key=value pairs and replace
// the file's whole table. An empty variable counts as unset.
package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/latchkey/latchkey/idp/password"
)

// Config is the whole configuration. The toml tags are also the source of
// the environment variable names.
type Config struct {
	// Issuer is the OpenID Provider's issuer identifier: the base URL of
	// every endpoint and the iss of every token.
	Issuer string `toml:"issuer"`
	// Listen is the TCP address the HTTP server binds.
	Listen string `toml:"listen"`
	// TrustedProxies are the CIDRs of reverse proxies whose
	// X-Forwarded-For is believed when finding a client's IP.
	TrustedProxies []string `toml:"trusted_proxies"`

	Storage  Storage  `toml:"storage"`
	Secrets  Secrets  `toml:"secrets"`
	Session  Session  `toml:"session"`
	Tokens   Tokens   `toml:"tokens"`
	Login    Login    `toml:"login"`
	Password Password `toml:"password"`
	Keys     Keys     `toml:"keys"`
	HTTP     HTTP     `toml:"http"`
	Log      Log      `toml:"log"`
	Metrics  Metrics  `toml:"metrics"`
	MFA      MFA      `toml:"mfa"`
	Passkeys Passkeys `toml:"passkeys"`
	Phone    Phone    `toml:"phone"`
	Twilio   Twilio   `toml:"twilio"`
	Push     Push     `toml:"push"`
}

// Storage selects the database.
type Storage struct {
	// DSN is "sqlite:PATH" or a PostgreSQL URL (postgres://...,
	// postgresql://...).
	DSN string `toml:"dsn"`
}

// Secrets holds the master key. Its String, GoString and LogValue redact
// the key so that printing or logging a Config cannot leak it.
type Secrets struct {
	// Key is base64 (standard or URL alphabet) of 32 random bytes, from
	// which the cookie, CSRF and key-encryption keys are derived (HKDF).
	Key string `toml:"key"`
}

// Session bounds a browser session.
type Session struct {
	Lifetime    Duration `toml:"lifetime"`
	IdleTimeout Duration `toml:"idle_timeout"`
}

// Tokens sets the lifetimes of what the provider issues.
type Tokens struct {
	AccessTokenLifetime       Duration `toml:"access_token_lifetime"`
	IDTokenLifetime           Duration `toml:"id_token_lifetime"`
	RefreshTokenLifetime      Duration `toml:"refresh_token_lifetime"`
	AuthorizationCodeLifetime Duration `toml:"authorization_code_lifetime"`
	// LoginTimeout is how long a login transaction (the hosted steps of
	// one authorization request) may take.
	LoginTimeout Duration `toml:"login_timeout"`
}

// Login throttles failed sign-ins: after the free attempts, each further
// failure doubles a delay starting at BaseDelay, up to MaxDelay; counters
// restart after ResetAfter without failures.
type Login struct {
	AccountFreeAttempts int      `toml:"account_free_attempts"`
	IPFreeAttempts      int      `toml:"ip_free_attempts"`
	BaseDelay           Duration `toml:"base_delay"`
	MaxDelay            Duration `toml:"max_delay"`
	ResetAfter          Duration `toml:"reset_after"`
}

// Password holds the Argon2id cost of new password hashes.
type Password struct {
	MemoryKiB   int `toml:"memory_kib"`
	Iterations  int `toml:"iterations"`
	Parallelism int `toml:"parallelism"`
}

// Params returns the password hashing parameters, with the salt and key
// lengths of password.DefaultParams. Call it on a validated Config: the
// conversions assume the bounds Validate checks.
func (p Password) Params() password.Params {
	d := password.DefaultParams()
	d.MemoryKiB = uint32(p.MemoryKiB)
	d.Iterations = uint32(p.Iterations)
	d.Parallelism = uint8(p.Parallelism)
	return d
}

// Keys configures token signing.
type Keys struct {
	// Algorithm is the default id_token signing algorithm of new
	// clients: ES256 or RS256.
	Algorithm string `toml:"algorithm"`
}

// HTTP configures the server.
type HTTP struct {
	ReadHeaderTimeout Duration `toml:"read_header_timeout"`
	ReadTimeout       Duration `toml:"read_timeout"`
	WriteTimeout      Duration `toml:"write_timeout"`
	IdleTimeout       Duration `toml:"idle_timeout"`
	MaxBodyBytes      int64    `toml:"max_body_bytes"`
	ShutdownTimeout   Duration `toml:"shutdown_timeout"`
}

// Log configures log/slog.
type Log struct {
	Level  string `toml:"level"`  // debug, info, warn, error
	Format string `toml:"format"` // json or text
}

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	Enabled bool `toml:"enabled"`
}

// Default returns the configuration used for every key that neither the
// file nor the environment sets. It is the only place defaults live.
func Default() Config {
	pw := password.DefaultParams()
	return Config{
		Issuer:         "http://localhost:8080",
		Listen:         "127.0.0.1:8080",
		TrustedProxies: []string{},
		Storage:        Storage{DSN: "sqlite:latchkey.db"},
		Session:        Session{Lifetime: D(24 * time.Hour), IdleTimeout: D(8 * time.Hour)},
		Tokens: Tokens{
			AccessTokenLifetime:       D(10 * time.Minute),
			IDTokenLifetime:           D(time.Hour),
			RefreshTokenLifetime:      D(720 * time.Hour),
			AuthorizationCodeLifetime: D(time.Minute),
			LoginTimeout:              D(30 * time.Minute),
		},
		Login: Login{
			AccountFreeAttempts: 5,
			IPFreeAttempts:      50,
			BaseDelay:           D(time.Second),
			MaxDelay:            D(15 * time.Minute),
			ResetAfter:          D(time.Hour),
		},
		Password: Password{MemoryKiB: int(pw.MemoryKiB), Iterations: int(pw.Iterations), Parallelism: int(pw.Parallelism)},
		Keys:     Keys{Algorithm: "ES256"},
		HTTP: HTTP{
			ReadHeaderTimeout: D(5 * time.Second),
			ReadTimeout:       D(15 * time.Second),
			WriteTimeout:      D(30 * time.Second),
			IdleTimeout:       D(120 * time.Second),
			MaxBodyBytes:      64 << 10,
			ShutdownTimeout:   D(15 * time.Second),
		},
		Log:      Log{Level: "info", Format: "json"},
		Metrics:  Metrics{Enabled: true},
		MFA:      defaultMFA(),
		Passkeys: defaultPasskeys(),
		Phone:    defaultPhone(),
		Twilio:   defaultTwilio(),
		Push:     defaultPush(),
	}
}

// Load reads the TOML file at path (none if path is ""), applies the
// environment through getenv and checks the result as Validate(Dev) does.
// The caller then checks the requirements of its mode with Validate: only
// serve mode adds any (the secrets key).
//
// A file that is not valid TOML fails at once; otherwise every unknown
// key, bad environment variable and invalid value is reported together.
func Load(path string, getenv func(string) string) (Config, error) {
	cfg := Default()
	var errs []error
	source := "defaults and environment"
	if path != "" {
		source = path
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("read config: %w", err)
		}
		problems, err := decode(data, &cfg)
		if err != nil {
			return Config{}, fmt.Errorf("decode config %s: %w", path, err)
		}
		errs = append(errs, problems...)
	}
	errs = append(errs, applyEnv(&cfg, getenv)...)
	cfg.normalize()
	if err := cfg.Validate(Dev); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("invalid configuration (%s):\n%w", source, err)
	}
	return cfg, nil
}

// decode decodes data over cfg. A syntax or type error is returned as err;
// unknown keys come back as problems, so that they are reported together
// with the other mistakes.
func decode(data []byte, cfg *Config) (problems []error, err error) {
	md, err := toml.Decode(string(data), cfg)
	if err != nil {
		return nil, err
	}
	for _, k := range md.Undecoded() {
		problems = append(problems, fmt.Errorf("%s: unknown key", k))
	}
	return problems, nil
}

// normalize puts values with several spellings into one.
func (c *Config) normalize() {
	c.Issuer = strings.TrimRight(strings.TrimSpace(c.Issuer), "/")
	c.Log.Level = strings.ToLower(strings.TrimSpace(c.Log.Level))
	c.Log.Format = strings.ToLower(strings.TrimSpace(c.Log.Format))
	c.Keys.Algorithm = strings.ToUpper(strings.TrimSpace(c.Keys.Algorithm))
	c.Storage.DSN = strings.TrimSpace(c.Storage.DSN)
	for i, p := range c.TrustedProxies {
		c.TrustedProxies[i] = strings.TrimSpace(p)
	}
	c.MFA.normalize()
	c.Phone.normalize()
	c.Push.normalize()
}

// ErrNoSecretKey: secrets.key is empty.
var ErrNoSecretKey = errors.New("secrets.key is not set")

// SecretKey decodes secrets.key into its 32 bytes.
func (c Config) SecretKey() ([]byte, error) {
	return decodeKey(c.Secrets.Key)
}

// secretKeyLen is the size of the master key: 256 bits.
const secretKeyLen = 32

func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, ErrNoSecretKey
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != secretKeyLen {
				// Never echo the value: it is the master key.
				return nil, fmt.Errorf("secrets.key: decodes to %d bytes, want %d", len(b), secretKeyLen)
			}
			return b, nil
		}
	}
	return nil, errors.New("secrets.key: not base64 (standard or URL alphabet)")
}

const redacted = "[REDACTED]"

// String redacts the key.
func (s Secrets) String() string {
	if s.Key == "" {
		return "{Key:}"
	}
	return "{Key:" + redacted + "}"
}

// GoString redacts the key in %#v.
func (s Secrets) GoString() string { return "config.Secrets" + s.String() }

// LogValue redacts the key.
func (s Secrets) LogValue() slog.Value {
	v := ""
	if s.Key != "" {
		v = redacted
	}
	return slog.GroupValue(slog.String("key", v))
}

// String shows the DSN with any password redacted.
func (s Storage) String() string { return "{DSN:" + redactDSN(s.DSN) + "}" }

// GoString redacts the DSN's password in %#v.
func (s Storage) GoString() string { return "config.Storage" + s.String() }

// LogValue shows the DSN with any password redacted.
func (s Storage) LogValue() slog.Value {
	return slog.GroupValue(slog.String("dsn", redactDSN(s.DSN)))
}

// redactDSN hides the password of a PostgreSQL URL, in the user info or
// in a password query parameter.
func redactDSN(dsn string) string {
	if strings.HasPrefix(dsn, "sqlite:") {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return redacted
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}
