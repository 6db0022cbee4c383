package push

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// EnrolmentTTL is how long an enrolment token (a QR code on the account
// page) stays usable: long enough to install the app or open the web app,
// short enough that a photo of the screen soon stops mattering.
const EnrolmentTTL = 5 * time.Minute

// URIScheme is the custom scheme of the enrolment link a native app
// registers for.
const URIScheme = "latchkey-push"

// AuthenticatorPath is where the issuer serves the companion web app.
const AuthenticatorPath = "/authenticator"

// NewEnrolmentToken returns a fresh one-time enrolment token (256 random
// bits, base64url) for the QR code, and its HashToken for the store: the
// store never holds a token a database reader could enrol with.
func NewEnrolmentToken() (token, hash string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails since Go 1.24
	token = b64.EncodeToString(b)
	return token, HashToken(token)
}

// HashToken is the SHA-256 of an enrolment token, base64url: the key the
// store finds the pending enrolment by. The token has 256 random bits, so
// an unkeyed hash is enough (nothing to guess offline).
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return b64.EncodeToString(sum[:])
}

// EnrolmentURI is the enrolment link for native apps:
// latchkey-push://enrol?iss=<issuer>&token=<token>.
func EnrolmentURI(issuer, token string) string {
	q := url.Values{"iss": {issuer}, "token": {token}}
	return URIScheme + "://enrol?" + q.Encode()
}

// EnrolmentURL is the enrolment link for the companion web app:
// <issuer>/authenticator#enrol=<token>. The QR code carries this form, so
// any phone's camera opens it. The token sits in the fragment, which a
// browser never sends, so it stays out of server and proxy logs; the web
// app reads it from location.hash. issuer has no trailing slash (the
// configuration strips it).
func EnrolmentURL(issuer, token string) string {
	return issuer + AuthenticatorPath + "#enrol=" + url.QueryEscape(token)
}

// ParseEnrolmentLink reads either form of enrolment link and returns the
// issuer (the aud of the device's requests) and the token. A native app
// that scans the QR code meets the https form.
func ParseEnrolmentLink(link string) (issuer, token string, err error) {
	u, err := url.Parse(link)
	if err != nil {
		return "", "", fmt.Errorf("parse enrolment link: %w", err)
	}
	switch {
	case u.Scheme == URIScheme && u.Host == "enrol":
		q := u.Query()
		issuer, token = q.Get("iss"), q.Get("token")
	case (u.Scheme == "https" || u.Scheme == "http") && strings.HasSuffix(u.Path, AuthenticatorPath) && u.RawQuery == "":
		f, ferr := url.ParseQuery(u.Fragment)
		if ferr != nil {
			return "", "", fmt.Errorf("parse enrolment link: fragment: %w", ferr)
		}
		token = f.Get("enrol")
		base := *u
		base.Path = strings.TrimSuffix(u.Path, AuthenticatorPath)
		base.RawPath, base.Fragment, base.RawFragment = "", "", ""
		issuer = base.String()
	default:
		return "", "", fmt.Errorf("parse enrolment link: not a %s://enrol or %s link", URIScheme, AuthenticatorPath)
	}
	if issuer == "" || token == "" {
		return "", "", fmt.Errorf("parse enrolment link: issuer or token missing")
	}
	return issuer, token, nil
}
