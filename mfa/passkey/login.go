package passkey

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// Result is a verified assertion.
type Result struct {
	// UserHandle is the user's WebAuthn user handle (User.ID).
	UserHandle []byte
	// Credential is the stored credential with this assertion applied: the
	// new SignCount (unchanged when CloneWarning), the BackedUp flag as the
	// authenticator reports it now, and UserVerified set once any assertion
	// verified the user.
	Credential Credential
	// UserVerified: this assertion verified the user (PIN, biometric).
	UserVerified bool
	// CloneWarning: the sign count was not above the stored one, and not
	// both zero. FinishLogin then also returns ErrCloned.
	CloneWarning bool
}

// BeginDiscoverableLogin starts a sign-in without a username: no
// allowCredentials, so the browser offers every passkey it holds for the RP
// ID, in a modal prompt or, when the page asks for mediation "conditional",
// in the username field's autofill. Browsers ignore the timeout of a
// conditional request, so a page that keeps one open past the session's
// expiry must begin a new one.
func (s *Service) BeginDiscoverableLogin() (options, session []byte, err error) {
	assertion, sd, err := s.wa.BeginDiscoverableLogin()
	if err != nil {
		return nil, nil, fmt.Errorf("begin discoverable login: %w", err)
	}
	return s.loginOutput("begin discoverable login", assertion, sd)
}

// BeginLogin starts an assertion by a known user, e.g. a passkey as a second
// factor after a password: allowCredentials lists u.Credentials.
func (s *Service) BeginLogin(u User) (options, session []byte, err error) {
	if len(u.Credentials) == 0 {
		return nil, nil, fmt.Errorf("begin login: %w", ErrNoCredentials)
	}
	if err := checkUser(u); err != nil {
		return nil, nil, fmt.Errorf("begin login: %w", err)
	}
	assertion, sd, err := s.wa.BeginLogin(newWAUser(u))
	if err != nil {
		return nil, nil, fmt.Errorf("begin login: %w", err)
	}
	return s.loginOutput("begin login", assertion, sd)
}

func (s *Service) loginOutput(op string, a *protocol.CredentialAssertion, sd *webauthn.SessionData) (options, session []byte, err error) {
	if options, err = json.Marshal(a.Response); err != nil {
		return nil, nil, fmt.Errorf("%s: encode options: %w", op, err)
	}
	if session, err = s.encodeSession(sd); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	return options, session, nil
}

// FinishLogin verifies the browser's response to the options of
// BeginDiscoverableLogin or BeginLogin.
//
// lookup returns the user owning the credential, with all of their
// credentials. For a discoverable session it gets the response's userHandle;
// for a BeginLogin session it gets the session's user id (a userHandle in
// the response must then equal it). Its error is wrapped together with
// ErrUnknownCredential, so errors.Is sees both.
//
// On ErrCloned the Result is filled in for the audit log, but the sign-in
// must be refused. The caller must use each session once (the store's
// TakeCeremony): FinishLogin cannot tell a replayed session from a fresh one.
func (s *Service) FinishLogin(session, response []byte, lookup func(userHandle, credentialID []byte) (User, error)) (Result, error) {
	const op = "finish login"
	if lookup == nil {
		return Result{}, fmt.Errorf("%s: nil lookup", op)
	}
	sd, err := decodeSession(session)
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", op, err)
	}
	if len(sd.CredParams) != 0 {
		return Result{}, fmt.Errorf("%s: %w: a registration session", op, ErrInvalidSession)
	}
	if err := s.checkExpiry(&sd); err != nil {
		return Result{}, fmt.Errorf("%s: %w", op, err)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return Result{}, invalid(op, err)
	}

	discoverable := len(sd.UserID) == 0
	handle := sd.UserID
	if discoverable {
		handle = parsed.Response.UserHandle
		if len(handle) == 0 {
			return Result{}, fmt.Errorf("%s: %w: no user handle (not a discoverable credential)", op, ErrInvalidResponse)
		}
	} else if !slices.ContainsFunc(sd.AllowedCredentialIDs, func(id []byte) bool { return bytes.Equal(id, parsed.RawID) }) {
		return Result{}, fmt.Errorf("%s: %w: credential not offered for this sign-in", op, ErrUnknownCredential)
	}
	u, err := lookup(handle, parsed.RawID)
	if err != nil {
		return Result{}, fmt.Errorf("%s: look up credential: %w: %w", op, ErrUnknownCredential, err)
	}
	if !bytes.Equal(u.ID, handle) {
		return Result{}, fmt.Errorf("%s: %w: lookup returned another user", op, ErrUnknownCredential)
	}
	i := slices.IndexFunc(u.Credentials, func(c Credential) bool { return bytes.Equal(c.ID, parsed.RawID) })
	if i < 0 {
		return Result{}, fmt.Errorf("%s: %w: not the user's credential", op, ErrUnknownCredential)
	}
	stored := u.Credentials[i]

	wu := newWAUser(u)
	validate := func(sd webauthn.SessionData) (*webauthn.Credential, error) {
		if discoverable {
			_, c, err := s.wa.ValidatePasskeyLogin(func(_, _ []byte) (webauthn.User, error) { return wu, nil }, sd, parsed)
			return c, err
		}
		return s.wa.ValidateLogin(wu, sd, parsed)
	}
	flags := parsed.Response.AuthenticatorData.Flags

	if sd.UserVerification == protocol.VerificationRequired && !flags.HasUserVerified() {
		// As in FinishRegistration: name the missing verification only for
		// an otherwise valid assertion.
		relaxed := sd
		relaxed.UserVerification = protocol.VerificationPreferred
		if _, err := validate(relaxed); err != nil {
			return Result{}, loginError(op, err)
		}
		return Result{}, fmt.Errorf("%s: %w", op, ErrUserVerification)
	}

	c, err := validate(sd)
	if err != nil {
		return Result{}, loginError(op, err)
	}
	updated := stored
	updated.SignCount = c.Authenticator.SignCount
	updated.UserPresent = flags.HasUserPresent()
	updated.UserVerified = stored.UserVerified || flags.HasUserVerified()
	updated.BackupEligible = flags.HasBackupEligible()
	updated.BackedUp = flags.HasBackupState()
	res := Result{
		UserHandle:   u.ID,
		Credential:   updated,
		UserVerified: flags.HasUserVerified(),
		CloneWarning: c.Authenticator.CloneWarning,
	}
	if res.CloneWarning {
		return res, fmt.Errorf("%s: %w: stored %d, received %d", op, ErrCloned,
			stored.SignCount, parsed.Response.AuthenticatorData.Counter)
	}
	return res, nil
}

func loginError(op string, err error) error {
	var unknown *protocol.ErrorUnknownCredential
	if errors.As(err, &unknown) {
		return fmt.Errorf("%s: %w: %s", op, ErrUnknownCredential, describe(err))
	}
	return invalid(op, err)
}
