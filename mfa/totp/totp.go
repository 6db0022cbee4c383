package totp

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
)

// SecretSize is the secret length in bytes: 160 bits, the HMAC-SHA-1 output
// size that RFC 4226 §4 (R6) recommends.
const SecretSize = 20

// Secrets shorter than the RFC 4226 minimum of 128 bits are refused, so a
// truncated or corrupted secret never verifies anything.
const (
	minSecretBytes = 16
	maxSecretBytes = 128
)

// ErrInvalidLabel is returned by Generate for an issuer or account name
// that cannot go into an otpauth:// label: empty, not UTF-8, or holding a
// colon, which the Key URI format reserves as the issuer:account separator.
var ErrInvalidLabel = errors.New("invalid totp label")

// ErrInvalidSecret is returned by Code for a secret that is not base32 or
// is shorter than 128 bits.
var ErrInvalidSecret = errors.New("invalid totp secret")

// b32 is the encoding of secrets: RFC 4648 base32 without padding, which is
// what the Key URI format and authenticator apps expect.
var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// Key is a freshly generated TOTP secret with the ways to hand it to an
// authenticator app. It is shown once at enrolment; only Secret is kept.
type Key struct {
	Issuer  string
	Account string
	// Secret is the base32 secret (no padding): store it sealed.
	Secret string
	// URL is the otpauth://totp/ link, for the QR code and as a link for a
	// user whose authenticator app is on the same device.
	URL string
}

// Generate makes a key with the default Params (see GenerateWith).
func Generate(issuer, account string) (Key, error) {
	return GenerateWith(DefaultParams(), issuer, account)
}

// GenerateWith makes a 160-bit secret from crypto/rand and its
// otpauth://totp/Issuer:account link for p. The issuer (the service name
// shown in the app) and the account (which of the user's accounts) must be
// non-empty and colon-free (ErrInvalidLabel).
func GenerateWith(p Params, issuer, account string) (Key, error) {
	p = p.withDefaults()
	if err := p.Validate(); err != nil {
		return Key{}, fmt.Errorf("generate totp key: %w", err)
	}
	for _, s := range []string{issuer, account} {
		if strings.TrimSpace(s) == "" || strings.ContainsRune(s, ':') || !utf8.ValidString(s) {
			return Key{}, fmt.Errorf("generate totp key: %w: %q", ErrInvalidLabel, s)
		}
	}
	raw := make([]byte, SecretSize)
	if _, err := rand.Read(raw); err != nil {
		return Key{}, fmt.Errorf("generate totp key: %w", err)
	}
	secret := b32.EncodeToString(raw)
	return Key{
		Issuer:  issuer,
		Account: account,
		Secret:  secret,
		URL:     keyURL(p, issuer, account, secret),
	}, nil
}

// KeyFromSecret rebuilds the key of a stored secret with the default
// Params, so an enrolment page reloaded before it is confirmed shows the
// same QR code. Colons in the labels (reserved by the link format) become
// spaces.
func KeyFromSecret(issuer, account, secret string) Key {
	issuer, account = strings.ReplaceAll(issuer, ":", " "), strings.ReplaceAll(account, ":", " ")
	return Key{Issuer: issuer, Account: account, Secret: secret, URL: keyURL(DefaultParams(), issuer, account, secret)}
}

// keyURL builds the link of Google's Key URI format
// (github.com/google/google-authenticator/wiki/Key-Uri-Format). It does its
// own escaping: net/url leaves '&', '=' and '+' alone in paths and
// otp's query encoder does too, so an issuer like "R&D" would cut the query
// short. Here everything but the RFC 3986 unreserved characters is
// percent-encoded (space as %20, never '+'), except '@' in the label so
// e-mail addresses stay readable in apps that show the raw label.
func keyURL(p Params, issuer, account, secret string) string {
	var b strings.Builder
	b.WriteString("otpauth://totp/")
	b.WriteString(escape(issuer, "@"))
	b.WriteByte(':')
	b.WriteString(escape(account, "@"))
	b.WriteString("?secret=")
	b.WriteString(secret)
	b.WriteString("&issuer=")
	b.WriteString(escape(issuer, ""))
	b.WriteString("&algorithm=")
	b.WriteString(p.Algorithm)
	b.WriteString("&digits=")
	b.WriteString(strconv.Itoa(p.Digits))
	b.WriteString("&period=")
	b.WriteString(strconv.FormatInt(p.periodSeconds(), 10))
	return b.String()
}

// escape percent-encodes every byte of s that is not an RFC 3986
// unreserved character or listed in keep.
func escape(s, keep string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', strings.IndexByte(keep, c) >= 0:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// ManualEntry returns the secret in blocks of four characters
// ("ABCD EFGH ..."), for users who type it into their app.
func (k Key) ManualEntry() string {
	var b strings.Builder
	for i := 0; i < len(k.Secret); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k.Secret[i:min(i+4, len(k.Secret))])
	}
	return b.String()
}

// QRCodeSVG renders the key's URL as an inline SVG (see QRCodeSVG).
func (k Key) QRCodeSVG(ariaLabel string) (string, error) {
	return QRCodeSVG(k.URL, ariaLabel)
}

// String redacts the secret, so a Key printed by mistake leaks nothing.
func (k Key) String() string {
	return fmt.Sprintf("totp.Key{Issuer:%q Account:%q Secret:redacted}", k.Issuer, k.Account)
}

// GoString redacts the secret for %#v too.
func (k Key) GoString() string { return k.String() }

// LogValue redacts the secret and the URL that embeds it.
func (k Key) LogValue() slog.Value {
	return slog.GroupValue(slog.String("issuer", k.Issuer), slog.String("account", k.Account))
}

var _ slog.LogValuer = Key{}

// decodeSecret canonicalises a base32 secret (case, spaces of the manual
// entry form and padding are forgiven) and checks its decoded length.
func decodeSecret(secret string) (string, error) {
	if len(secret) > 4*maxSecretBytes {
		return "", ErrInvalidSecret
	}
	s := strings.ToUpper(strings.TrimRight(strings.ReplaceAll(secret, " ", ""), "="))
	raw, err := b32.DecodeString(s)
	if err != nil || len(raw) < minSecretBytes || len(raw) > maxSecretBytes {
		return "", ErrInvalidSecret
	}
	return s, nil
}

// hotpCode computes the HOTP value (RFC 4226 §5.3) of step; p is
// validated, secret canonical and step non-negative.
func hotpCode(p Params, secret string, step int64) (string, error) {
	return hotp.GenerateCodeCustom(secret, uint64(step), hotp.ValidateOpts{
		Digits:    otp.Digits(p.Digits),
		Algorithm: algorithms[p.Algorithm],
	})
}

// Code returns the code for secret at time t, for tests and the dev
// tooling (a stand-in authenticator app).
func Code(p Params, secret string, t time.Time) (string, error) {
	p = p.withDefaults()
	if err := p.Validate(); err != nil {
		return "", fmt.Errorf("compute totp code: %w", err)
	}
	s, err := decodeSecret(secret)
	if err != nil {
		return "", fmt.Errorf("compute totp code: %w", err)
	}
	step := p.Step(t)
	if step < 0 {
		return "", fmt.Errorf("compute totp code: time %s is before 1970", t)
	}
	c, err := hotpCode(p, s, step)
	if err != nil {
		return "", fmt.Errorf("compute totp code: %w", err)
	}
	return c, nil
}

// Window is how many time steps either side of the current one Verify
// accepts: one, as RFC 6238 §5.2 recommends for clock drift and typing
// delay.
const Window = 1

// Verify reports whether code is the code of secret for the time step of
// now or one step either side, and returns the step that matched. The
// caller must then record that step as used with the store's atomic rule
// (accept only a step greater than the last used one): Verify alone does not
// stop a replay.
//
// Any malformed input (bad Params, bad secret, a code that is not exactly
// p.Digits digits once white space is removed, or is absurdly long) is
// simply not ok. Full-width
// digits, which a Japanese input method produces, count as digits. Every
// candidate step is computed and compared in constant time, so the timing
// does not reveal which step matched; if several did, the latest wins.
func Verify(p Params, secret, code string, now time.Time) (step int64, ok bool) {
	p = p.withDefaults()
	if p.Validate() != nil {
		return 0, false
	}
	s, err := decodeSecret(secret)
	if err != nil {
		return 0, false
	}
	typed, valid := normalizeCode(code, p.Digits)
	if !valid {
		return 0, false
	}
	cur := p.Step(now)
	var matched int64
	found := 0
	for d := int64(-Window); d <= Window; d++ {
		candidate := cur + d
		if candidate < 0 {
			continue
		}
		want, err := hotpCode(p, s, candidate)
		if err != nil {
			return 0, false
		}
		eq := subtle.ConstantTimeCompare([]byte(want), typed)
		// Branch-free select: later matches overwrite earlier ones.
		mask := -int64(eq)
		matched = candidate&mask | matched&^mask
		found |= eq
	}
	if found != 1 {
		return 0, false
	}
	return matched, true
}

// normalizeCode strips white space, maps full-width digits to ASCII and
// requires exactly n ASCII digits.
func normalizeCode(s string, n int) ([]byte, bool) {
	if len(s) > 64 {
		return nil, false
	}
	out := make([]byte, 0, n)
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			continue
		case r >= '０' && r <= '９':
			r = r - '０' + '0'
		case r < '0' || r > '9':
			return nil, false
		}
		out = append(out, byte(r))
	}
	if len(out) != n {
		return nil, false
	}
	return out, true
}
