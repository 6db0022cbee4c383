// Package passkey runs WebAuthn ceremonies for Latchkey on top of
// github.com/go-webauthn/webauthn, which no other package imports.
//
// The package holds no state and does no storage. Each ceremony has two
// halves, and the caller keeps what lies between them:
//
//	BeginRegistration(user)      -> options (JSON for the page), session (bytes)
//	FinishRegistration(user, session, browser response) -> Credential to store
//
//	BeginDiscoverableLogin()     -> options, session  (no username: button or autofill)
//	BeginLogin(user)             -> options, session  (a known user's second factor)
//	FinishLogin(session, browser response, lookup) -> Result
//
// options is the JSON of the inner publicKey object, which the page hands to
// PublicKeyCredential.parseCreationOptionsFromJSON / parseRequestOptionsFromJSON.
// session is the JSON of the library's SessionData (challenge, user handle,
// allowed credentials, user verification requirement, expiry); the caller
// stores it server-side, single use, and passes it back unchanged. Sessions
// can be replayed only if the caller lets them: FinishLogin cannot tell a
// second use of a session from the first, it can only refuse a sign count
// that did not move forward (ErrCloned), and authenticators that never count
// (always 0, most synced passkeys) give it nothing to compare.
//
// Policy decided here, per the design: credentials are discoverable
// (residentKey "required"), attestation is "none", user verification is
// "preferred" or "required" by configuration, authenticatorAttachment is
// unset so both platform and roaming authenticators (and phones over hybrid)
// can be used, and excludeCredentials lists the user's passkeys so one
// authenticator is not registered twice.
//
// The relying-party ID and origins are checked once, in New: WebAuthn
// refuses IP addresses as RP IDs (use http://localhost, never 127.0.0.1), and
// browsers allow plain http only on localhost.
package passkey
