package passkey

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// BeginRegistration starts adding a passkey to u. options is the JSON of the
// publicKey member of PublicKeyCredentialCreationOptions (for
// parseCreationOptionsFromJSON); session is for the caller to store and pass
// to FinishRegistration.
//
// The credential is discoverable (residentKey "required"), attestation is
// "none", user verification is as configured, and excludeCredentials lists
// u.Credentials so an authenticator that already holds one of them refuses
// (WebAuthn §5.4, excludeCredentials).
func (s *Service) BeginRegistration(u User) (options, session []byte, err error) {
	if err := checkUser(u); err != nil {
		return nil, nil, fmt.Errorf("begin registration: %w", err)
	}
	wu := newWAUser(u)
	exclude := webauthn.Credentials(wu.creds).CredentialDescriptors()
	creation, sd, err := s.wa.BeginRegistration(wu, webauthn.WithExclusions(exclude))
	if err != nil {
		return nil, nil, fmt.Errorf("begin registration: %w", err)
	}
	if options, err = json.Marshal(creation.Response); err != nil {
		return nil, nil, fmt.Errorf("begin registration: encode options: %w", err)
	}
	if session, err = s.encodeSession(sd); err != nil {
		return nil, nil, fmt.Errorf("begin registration: %w", err)
	}
	return options, session, nil
}

func checkUser(u User) error {
	if n := len(u.ID); n < protocol.MinimumUserHandleLength || n > protocol.MaximumUserHandleLength {
		return fmt.Errorf("user handle is %d bytes, want %d to %d", n, protocol.MinimumUserHandleLength, protocol.MaximumUserHandleLength)
	}
	if u.Name == "" {
		return errors.New("user name is empty")
	}
	return nil
}

// FinishRegistration verifies the browser's response to the options of
// BeginRegistration (credential.toJSON(), or a fallback encoder producing
// the same shape: base64url byte fields) and returns the credential to
// store. u must be the user the session was begun for.
func (s *Service) FinishRegistration(u User, session, response []byte) (Credential, error) {
	const op = "finish registration"
	sd, err := decodeSession(session)
	if err != nil {
		return Credential{}, fmt.Errorf("%s: %w", op, err)
	}
	// Only a registration session records the credential parameters offered.
	if len(sd.CredParams) == 0 {
		return Credential{}, fmt.Errorf("%s: %w: not a registration session", op, ErrInvalidSession)
	}
	if !bytes.Equal(sd.UserID, u.ID) {
		return Credential{}, fmt.Errorf("%s: %w: the session belongs to another user", op, ErrInvalidSession)
	}
	if err := s.checkExpiry(&sd); err != nil {
		return Credential{}, fmt.Errorf("%s: %w", op, err)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return Credential{}, invalid(op, err)
	}
	wu := newWAUser(u)

	if sd.UserVerification == protocol.VerificationRequired && !parsed.Response.AttestationObject.AuthData.Flags.HasUserVerified() {
		// Tell "no PIN or biometric" apart from a bad response: verify
		// everything else, and refuse either way.
		relaxed := sd
		relaxed.UserVerification = protocol.VerificationPreferred
		if _, err := s.wa.CreateCredential(wu, relaxed, parsed); err != nil {
			return Credential{}, invalid(op, err)
		}
		return Credential{}, fmt.Errorf("%s: %w", op, ErrUserVerification)
	}

	cred, err := s.wa.CreateCredential(wu, sd, parsed)
	if err != nil {
		return Credential{}, invalid(op, err)
	}
	for _, c := range u.Credentials {
		if bytes.Equal(c.ID, cred.ID) {
			return Credential{}, fmt.Errorf("%s: %w", op, ErrAlreadyRegistered)
		}
	}
	return fromLibCredential(cred), nil
}
