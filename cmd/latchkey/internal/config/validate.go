package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/idp/password"
)

// Mode says what the configuration is loaded for; modes differ in what
// they require.
type Mode int

const (
	// Serve is production: the secrets key is required, because keys
	// derived from it protect cookies and signing keys across restarts
	// and nodes.
	Serve Mode = iota
	// Dev is the local development server: an empty secrets key is
	// allowed and the binary generates one for the run.
	Dev
	// Tool is an offline subcommand (migrate, clients, users) that only
	// touches the database and needs no secrets key.
	Tool
)

// String names the mode.
func (m Mode) String() string {
	switch m {
	case Serve:
		return "serve"
	case Dev:
		return "dev"
	case Tool:
		return "tool"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// Validate reports every problem of c for mode at once (errors.Join),
// each message starting with the TOML path of the key at fault.
func (c Config) Validate(mode Mode) error {
	v := &validator{}
	v.check("issuer", checkIssuer(c.Issuer))
	v.check("listen", checkListen(c.Listen))
	for i, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			v.problem(fmt.Sprintf("trusted_proxies[%d]", i), "%q is not a CIDR (write a single address as 203.0.113.7/32)", p)
		}
	}
	v.check("storage.dsn", checkDSN(c.Storage.DSN))
	switch {
	case c.Secrets.Key == "" && mode == Serve:
		v.problem("secrets.key", "is required to serve; generate one with: head -c 32 /dev/urandom | base64")
	case c.Secrets.Key != "":
		if _, err := c.SecretKey(); err != nil {
			// decodeKey's message already starts with the path.
			v.errs = append(v.errs, err)
		}
	}

	v.between("session.lifetime", c.Session.Lifetime, 5*time.Minute, 90*24*time.Hour)
	v.between("session.idle_timeout", c.Session.IdleTimeout, time.Minute, 90*24*time.Hour)
	if c.Session.IdleTimeout.Duration > c.Session.Lifetime.Duration {
		v.problem("session.idle_timeout", "must not exceed session.lifetime (%s)", c.Session.Lifetime)
	}

	t := c.Tokens
	v.between("tokens.access_token_lifetime", t.AccessTokenLifetime, time.Minute, 24*time.Hour)
	v.between("tokens.id_token_lifetime", t.IDTokenLifetime, time.Minute, 24*time.Hour)
	v.between("tokens.refresh_token_lifetime", t.RefreshTokenLifetime, time.Hour, 365*24*time.Hour)
	// RFC 6749 section 4.1.2: "A maximum authorization code lifetime of
	// 10 minutes is RECOMMENDED."
	v.between("tokens.authorization_code_lifetime", t.AuthorizationCodeLifetime, 10*time.Second, 10*time.Minute)
	v.between("tokens.login_timeout", t.LoginTimeout, time.Minute, 24*time.Hour)
	if t.RefreshTokenLifetime.Duration < t.AccessTokenLifetime.Duration {
		v.problem("tokens.refresh_token_lifetime", "must not be shorter than tokens.access_token_lifetime (%s)", t.AccessTokenLifetime)
	}

	l := c.Login
	v.intBetween("login.account_free_attempts", int64(l.AccountFreeAttempts), 1, 100)
	v.intBetween("login.ip_free_attempts", int64(l.IPFreeAttempts), 1, 100000)
	v.between("login.base_delay", l.BaseDelay, 100*time.Millisecond, time.Minute)
	v.between("login.max_delay", l.MaxDelay, time.Second, 24*time.Hour)
	if l.MaxDelay.Duration < l.BaseDelay.Duration {
		v.problem("login.max_delay", "must not be shorter than login.base_delay (%s)", l.BaseDelay)
	}
	v.between("login.reset_after", l.ResetAfter, time.Minute, 30*24*time.Hour)

	p := c.Password
	v.intBetween("password.memory_kib", int64(p.MemoryKiB), password.MinMemoryKiB, password.MaxMemoryKiB)
	v.intBetween("password.iterations", int64(p.Iterations), 1, password.MaxIterations)
	v.intBetween("password.parallelism", int64(p.Parallelism), 1, password.MaxParallelism)

	v.oneOf("keys.algorithm", c.Keys.Algorithm, "ES256", "RS256")

	h := c.HTTP
	v.between("http.read_header_timeout", h.ReadHeaderTimeout, time.Second, time.Minute)
	v.between("http.read_timeout", h.ReadTimeout, time.Second, 10*time.Minute)
	v.between("http.write_timeout", h.WriteTimeout, time.Second, 10*time.Minute)
	v.between("http.idle_timeout", h.IdleTimeout, time.Second, time.Hour)
	v.intBetween("http.max_body_bytes", h.MaxBodyBytes, 1<<10, 64<<20)
	v.between("http.shutdown_timeout", h.ShutdownTimeout, time.Second, 10*time.Minute)

	v.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	v.oneOf("log.format", c.Log.Format, "json", "text")

	c.MFA.validate(v)
	c.Passkeys.validate(v, c.Issuer)
	c.Phone.validate(v, c.Twilio, mode)
	c.Push.validate(v, c.HTTP, mode)
	return errors.Join(v.errs...)
}

// validator collects problems; every message is "<path>: <problem>".
type validator struct {
	errs []error
}

func (v *validator) problem(path, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
}

func (v *validator) check(path string, err error) {
	if err != nil {
		v.errs = append(v.errs, fmt.Errorf("%s: %w", path, err))
	}
}

func (v *validator) between(path string, d Duration, lo, hi time.Duration) {
	if d.Duration < lo || d.Duration > hi {
		v.problem(path, "must be between %s and %s, got %s", formatDuration(lo), formatDuration(hi), d)
	}
}

func (v *validator) intBetween(path string, n, lo, hi int64) {
	if n < lo || n > hi {
		v.problem(path, "must be between %d and %d, got %d", lo, hi, n)
	}
}

func (v *validator) oneOf(path, s string, allowed ...string) {
	for _, a := range allowed {
		if s == a {
			return
		}
	}
	v.problem(path, "must be one of %s, got %q", strings.Join(allowed, ", "), s)
}

// checkIssuer applies OpenID Connect Discovery 1.0 section 3: the issuer
// is an https URL with no query or fragment. Plain http is allowed only on
// the loopback interface, for development.
func checkIssuer(s string) error {
	if s == "" {
		return errors.New("is required")
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL", s)
	}
	var errs []error
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	case u.Scheme == "http":
		errs = append(errs, fmt.Errorf("%q must use https (http is allowed only for localhost, 127.0.0.1 and ::1)", s))
	default:
		errs = append(errs, fmt.Errorf("%q must be an https URL", s))
	}
	if u.Host == "" || u.Hostname() == "" {
		errs = append(errs, fmt.Errorf("%q has no host", s))
	}
	if u.User != nil {
		errs = append(errs, fmt.Errorf("%q must not contain user info", s))
	}
	if u.RawQuery != "" || u.ForceQuery {
		errs = append(errs, fmt.Errorf("%q must not have a query", s))
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		errs = append(errs, fmt.Errorf("%q must not have a fragment", s))
	}
	if strings.HasSuffix(s, "/") {
		errs = append(errs, fmt.Errorf("%q must not end with a slash", s))
	}
	return joinInline(errs)
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

func checkListen(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port (e.g. 127.0.0.1:8080 or :8080)", s)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		return fmt.Errorf("%q: port must be a number from 0 to 65535", s)
	}
	if host != "" && host != "localhost" {
		if _, err := netip.ParseAddr(host); err != nil {
			return fmt.Errorf("%q: host must be an IP address, localhost or empty", s)
		}
	}
	return nil
}

// checkDSN accepts the two forms the binary can open; the message names
// them so a mistyped scheme is easy to fix.
func checkDSN(s string) error {
	if s == "" {
		return errors.New(`is required ("sqlite:PATH" or "postgres://user:pass@host/db")`)
	}
	if path, ok := strings.CutPrefix(s, "sqlite:"); ok {
		if path == "" {
			return errors.New(`"sqlite:" needs a file path, e.g. "sqlite:latchkey.db"`)
		}
		return nil
	}
	if strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") {
		u, err := url.Parse(s)
		if err != nil {
			return errors.New("is not a valid PostgreSQL URL") // may hold a password: not echoed
		}
		if u.Host == "" {
			return errors.New("PostgreSQL URL has no host")
		}
		return nil
	}
	scheme, _, _ := strings.Cut(s, ":")
	return fmt.Errorf(`unsupported scheme %q: use "sqlite:PATH", "postgres://..." or "postgresql://..."`, scheme)
}

// joinInline joins several problems of one key on one line, so every
// line of Validate's error keeps its path prefix.
func joinInline(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "; "))
}
