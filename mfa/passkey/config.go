package passkey

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
)

// User verification requirements a Config accepts. "discouraged" is left
// out on purpose: a passkey that never asks for a PIN or biometric is just a
// possession factor, and the policy counts passkeys as more than that.
const (
	UVRequired  = "required"
	UVPreferred = "preferred"
)

// DefaultTimeout is the ceremony timeout given to the browser when
// Config.Timeout is zero; WebAuthn §5.4 recommends 5 to 10 minutes when user
// verification may be asked for.
const DefaultTimeout = 5 * time.Minute

// sessionGrace is how much longer than the browser's timeout a session is
// accepted: the browser starts its clock only once the options have reached
// the page, and the response still has to travel back.
const sessionGrace = 30 * time.Second

// Config is the relying party's side of WebAuthn; New validates it.
type Config struct {
	// RPID is the relying-party ID: a registrable domain, no scheme or port
	// ("localhost", "id.example.com"). Passkeys are bound to it for good:
	// changing it orphans every registered passkey.
	RPID string
	// RPName is shown by authenticators, e.g. "Latchkey".
	RPName string
	// Origins are the origins allowed to run ceremonies, scheme://host[:port]
	// ("http://localhost:8080", "https://id.example.com"); each host must be
	// the RPID or a subdomain of it.
	Origins []string
	// UserVerification is "required" or "preferred" (default "preferred").
	UserVerification string
	// Timeout is the ceremony timeout given to the browser (default 5m).
	// Sessions are accepted for 30 seconds longer.
	Timeout time.Duration
	// Now is the clock session expiry is measured with (default time.Now).
	Now func() time.Time
}

// ConfigFromIssuer derives the RP ID (the issuer's host without its port)
// and the first origin (the issuer's scheme://host[:port]) from the OpenID
// issuer URL and appends extraOrigins. It refuses what browsers would refuse
// later, with a message that says what to do instead.
func ConfigFromIssuer(issuer, rpName string, extraOrigins []string) (Config, error) {
	u, err := url.Parse(issuer)
	if err != nil {
		return Config{}, fmt.Errorf("passkey: parse issuer %q: %w", issuer, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Config{}, fmt.Errorf("passkey: issuer %q is not an absolute http(s) URL", issuer)
	}
	host := strings.ToLower(u.Hostname())
	if net.ParseIP(host) != nil {
		return Config{}, fmt.Errorf("passkey: issuer %q: %w", issuer, errIPAddress(host))
	}
	if u.Scheme == "http" && !isLocalhost(host) {
		return Config{}, fmt.Errorf("passkey: issuer %q: browsers allow WebAuthn over http only on localhost; use https", issuer)
	}
	origin := u.Scheme + "://" + strings.ToLower(u.Host)
	cfg := Config{
		RPID:    host,
		RPName:  rpName,
		Origins: append([]string{origin}, extraOrigins...),
	}
	if err := cfg.validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func errIPAddress(host string) error {
	return fmt.Errorf("host %s is an IP address and WebAuthn refuses IP addresses as relying-party IDs: use http://localhost:PORT for development or a domain name", host)
}

// isLocalhost reports whether browsers treat host as a secure context over
// plain http (localhost and its subdomains resolve to loopback).
func isLocalhost(host string) bool {
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

// withDefaults fills in the zero values.
func (c Config) withDefaults() Config {
	if c.UserVerification == "" {
		c.UserVerification = UVPreferred
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	// The library keeps the slice: a caller changing theirs later must not
	// change what is accepted.
	c.Origins = append([]string(nil), c.Origins...)
	return c
}

// validate reports every problem at once.
func (c Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("passkey config: "+format, args...))
	}

	switch {
	case c.RPID == "":
		bad("RPID is empty")
	case net.ParseIP(c.RPID) != nil:
		bad("RPID: %w", errIPAddress(c.RPID))
	case c.RPID != strings.ToLower(c.RPID):
		bad("RPID %q must be lower case", c.RPID)
	default:
		if err := protocol.ValidateRPID(c.RPID); err != nil {
			bad("RPID %q is not a valid domain: %w", c.RPID, err)
		}
	}
	if strings.TrimSpace(c.RPName) == "" {
		bad("RPName is empty")
	}
	if len(c.Origins) == 0 {
		bad("Origins is empty: list at least the issuer's origin")
	}
	for _, o := range c.Origins {
		if err := c.checkOrigin(o); err != nil {
			bad("origin %q: %w", o, err)
		}
	}
	switch c.UserVerification {
	case "", UVRequired, UVPreferred:
	default:
		bad("UserVerification %q must be %q or %q", c.UserVerification, UVRequired, UVPreferred)
	}
	if c.Timeout < 0 {
		bad("Timeout %s is negative", c.Timeout)
	}
	return errors.Join(errs...)
}

// checkOrigin applies the browser's rules (WebAuthn §5.1.3 step 8: the RP ID
// must be the origin's effective domain or a registrable suffix of it) so a
// misconfiguration fails at start-up rather than in a user's browser.
func (c Config) checkOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("scheme must be http or https")
	}
	if u.Host == "" || u.Opaque != "" {
		return errors.New("not an origin: want scheme://host[:port]")
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return errors.New("an origin is only scheme://host[:port], without user, path, query or fragment")
	}
	host := strings.ToLower(u.Hostname())
	if net.ParseIP(host) != nil {
		return errIPAddress(host)
	}
	if c.RPID != "" && host != c.RPID && !strings.HasSuffix(host, "."+c.RPID) {
		return fmt.Errorf("host %s is neither the RPID %s nor a subdomain of it", host, c.RPID)
	}
	if u.Scheme == "http" && !isLocalhost(host) {
		return errors.New("browsers allow WebAuthn over http only on localhost; use https")
	}
	return nil
}
