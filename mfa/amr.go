package mfa

import "slices"

// amrValues maps a proof to its RFC 8176 (section 2) method references.
func amrValues(p Proof) []string {
	switch p.Factor {
	case Password:
		return []string{"pwd"}
	case Passkey:
		// "hwk": proof of possession of a hardware-secured key; a synced
		// (backed-up) passkey lives in software that can leave the device,
		// which is "swk". "user": the authenticator verified the user.
		v := "hwk"
		if p.Synced {
			v = "swk"
		}
		if p.UserVerified {
			return []string{v, "user"}
		}
		return []string{v}
	case Push:
		// The companion app signs with a software-held device key.
		return []string{"swk"}
	case TOTP, RecoveryCode:
		return []string{"otp"}
	case SMS:
		return []string{"sms"}
	case Voice:
		return []string{"tel"}
	case RememberedBrowser:
		// "rba": risk-based authentication, the closest RFC 8176 value to
		// a device recognised by a cookie.
		return []string{"rba"}
	}
	return nil
}

// AMR returns the RFC 8176 authentication method references for proofs:
// each value once, in the order the proofs first produce it, followed by
// "mfa" when the proofs come from two or more different factors or include
// a passkey that verified the user. Unknown factors add nothing.
func AMR(proofs []Proof) []string {
	var out []string
	var kinds kindSet
	multi := false
	for _, p := range proofs {
		for _, v := range amrValues(p) {
			if !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
		if b := kindBit(p.Factor); b != 0 {
			if kinds != 0 && kinds&b == 0 {
				multi = true
			}
			kinds |= b
		}
		if p.Factor == Passkey && p.UserVerified {
			multi = true
		}
	}
	if multi {
		out = append(out, "mfa")
	}
	return out
}
