package config

import (
	"errors"
	"net/netip"
	"net/url"
	"strings"

	"github.com/latchkey/latchkey/mfa/passkey"
)

// Passkeys is the [passkeys] section. The relying-party id is always the
// issuer's host; these keys only widen where a ceremony may run and how
// strictly the user is verified.
type Passkeys struct {
	// Origins are origins besides the issuer's (subdomains of its host
	// only) whose pages may run WebAuthn ceremonies, such as a hosted
	// sign-in page at https://login.example.com for issuer
	// https://example.com.
	Origins []string `toml:"origins"`
	// UserVerification is "preferred" or "required". With "required" an
	// authenticator that cannot verify the user (PIN, biometric) is refused
	// outright instead of being accepted as a weaker factor.
	UserVerification string `toml:"user_verification"`
}

func defaultPasskeys() Passkeys {
	return Passkeys{Origins: []string{}, UserVerification: passkey.UVPreferred}
}

// validate checks the section against the issuer the same way start-up
// will, so a bad origin is reported with its TOML path rather than as a
// failed start.
func (p Passkeys) validate(v *validator, issuer string) {
	v.oneOf("passkeys.user_verification", p.UserVerification, passkey.UVPreferred, passkey.UVRequired)
	if len(p.Origins) == 0 {
		return
	}
	u, err := url.Parse(issuer)
	if err != nil || checkIssuer(issuer) != nil {
		return // reported under issuer
	}
	if _, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil {
		v.problem("passkeys.origins", "passkeys are off for an IP-address issuer (WebAuthn refuses IP relying-party ids); use a host name or remove the origins")
		return
	}
	if _, err := passkey.ConfigFromIssuer(issuer, "Latchkey", p.Origins); err != nil {
		v.check("passkeys.origins", unwrapAll(err))
	}
}

// unwrapAll drops the package prefix of a joined error's lines, which would
// repeat the path the validator already writes.
func unwrapAll(err error) error {
	return errors.New(strings.ReplaceAll(err.Error(), "passkey config: ", ""))
}
