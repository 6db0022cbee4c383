package passkey

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// Errors callers branch on with errors.Is. Every error a Finish function
// returns for a response or session it refuses wraps exactly one of them;
// other errors (a failing lookup, say) may be wrapped alongside.
var (
	// ErrInvalidResponse: the browser's response is malformed or fails
	// verification (signature, challenge, origin, RP ID hash, flags...).
	ErrInvalidResponse = errors.New("passkey: invalid response")
	// ErrUnknownCredential: the credential is not known, or not the user's,
	// or was not offered for this ceremony. The page should offer another
	// way in (and may signal the browser that the credential is gone).
	ErrUnknownCredential = errors.New("passkey: unknown credential")
	// ErrUserVerification: the configuration requires user verification
	// (PIN, biometric) and the authenticator did not perform it; the
	// response is otherwise valid.
	ErrUserVerification = errors.New("passkey: user verification required but not performed")
	// ErrExpired: the session is past its timeout; start a new ceremony.
	ErrExpired = errors.New("passkey: ceremony expired")
	// ErrCloned: the authenticator's signature counter did not move forward,
	// which may mean the credential's key was copied. FinishLogin returns it
	// together with a Result for the audit log; the sign-in must be refused.
	ErrCloned = errors.New("passkey: signature counter did not increase (possible cloned authenticator)")
	// ErrAlreadyRegistered: FinishRegistration got a credential the user
	// already has (an authenticator that ignored excludeCredentials).
	ErrAlreadyRegistered = errors.New("passkey: credential already registered")
	// ErrNoCredentials: BeginLogin for a user without passkeys.
	ErrNoCredentials = errors.New("passkey: user has no passkeys")
	// ErrInvalidSession: the session bytes are not a session of the right
	// kind made by this package (a caller bug or corrupted storage).
	ErrInvalidSession = errors.New("passkey: invalid session")
)

// User is the WebAuthn view of an account.
type User struct {
	// ID is the WebAuthn user handle, 1 to 64 bytes: the user's opaque random
	// id, never an email (authenticators store it and return it at sign-in,
	// and it must not identify the person to anyone who reads it).
	ID []byte
	// Name is shown in the authenticator's account chooser, e.g. an email.
	Name string
	// DisplayName is a friendlier name; Name is used when it is empty.
	DisplayName string
	// Credentials are the user's registered passkeys.
	Credentials []Credential
}

// Credential is what the caller stores for one passkey.
type Credential struct {
	ID []byte
	// PublicKey is the COSE_Key of the credential (RFC 9052 §7).
	PublicKey []byte
	// AttestationType is "none" unless attestation is ever asked for.
	AttestationType string
	AAGUID          []byte
	SignCount       uint32
	Transports      []string
	// UserPresent and UserVerified are the UP and UV flags; UserVerified,
	// once true, stays true (the spec's uvInitialized).
	UserPresent, UserVerified bool
	// BackupEligible (BE) says the passkey can be synced; BackedUp (BS) says
	// it currently is. A user whose only passkey has BE=0 should add a
	// recovery path.
	BackupEligible, BackedUp bool
}

// Service runs ceremonies for one relying party. It is safe for concurrent
// use.
type Service struct {
	wa      *webauthn.WebAuthn
	uv      protocol.UserVerificationRequirement
	timeout time.Duration
	now     func() time.Time
}

// New validates cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	uv := protocol.UserVerificationRequirement(cfg.UserVerification)
	wa, err := webauthn.New(&webauthn.Config{
		RPID:          cfg.RPID,
		RPDisplayName: cfg.RPName,
		RPOrigins:     cfg.Origins,
		// "none": Latchkey does not check authenticator models, and asking
		// for attestation makes some browsers show an extra privacy prompt.
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification:   uv,
		},
		Timeouts: webauthn.TimeoutsConfig{
			// Expiry is enforced here, with the configured clock, rather
			// than by the library's time.Now (see checkExpiry).
			Login:        webauthn.TimeoutConfig{Timeout: cfg.Timeout, TimeoutUVD: cfg.Timeout},
			Registration: webauthn.TimeoutConfig{Timeout: cfg.Timeout, TimeoutUVD: cfg.Timeout},
		},
		// Latchkey requests no extensions and reads no outputs, and some
		// password managers add outputs nobody asked for (credProps): that
		// is no reason to fail a user's ceremony.
		ExtensionsUnsolicitedOutputPolicy: protocol.UnsolicitedOutputPolicyIgnore,
	})
	if err != nil {
		return nil, fmt.Errorf("passkey: configure webauthn: %w", err)
	}
	return &Service{wa: wa, uv: uv, timeout: cfg.Timeout, now: cfg.Now}, nil
}

// SessionExpiry returns when a session returned by a Begin function stops
// being accepted, for the caller to store alongside it.
func SessionExpiry(session []byte) (time.Time, error) {
	sd, err := decodeSession(session)
	if err != nil {
		return time.Time{}, err
	}
	return sd.Expires, nil
}

// waUser adapts User to the library's interface.
type waUser struct {
	u     User
	creds []webauthn.Credential
}

var _ webauthn.User = waUser{}

func newWAUser(u User) waUser {
	creds := make([]webauthn.Credential, len(u.Credentials))
	for i, c := range u.Credentials {
		creds[i] = toLibCredential(c)
	}
	return waUser{u: u, creds: creds}
}

func (w waUser) WebAuthnID() []byte   { return w.u.ID }
func (w waUser) WebAuthnName() string { return w.u.Name }
func (w waUser) WebAuthnDisplayName() string {
	if w.u.DisplayName == "" {
		return w.u.Name
	}
	return w.u.DisplayName
}
func (w waUser) WebAuthnCredentials() []webauthn.Credential { return w.creds }

func toLibCredential(c Credential) webauthn.Credential {
	var f protocol.AuthenticatorFlags
	set := func(on bool, bit protocol.AuthenticatorFlags) {
		if on {
			f |= bit
		}
	}
	set(c.UserPresent, protocol.FlagUserPresent)
	set(c.UserVerified, protocol.FlagUserVerified)
	set(c.BackupEligible, protocol.FlagBackupEligible)
	set(c.BackedUp, protocol.FlagBackupState)
	transports := make([]protocol.AuthenticatorTransport, len(c.Transports))
	for i, t := range c.Transports {
		transports[i] = protocol.AuthenticatorTransport(t)
	}
	return webauthn.Credential{
		ID:              c.ID,
		PublicKey:       c.PublicKey,
		AttestationType: c.AttestationType,
		Transport:       transports,
		Flags:           webauthn.NewCredentialFlags(f),
		Authenticator: webauthn.Authenticator{
			AAGUID:    c.AAGUID,
			SignCount: c.SignCount,
		},
	}
}

func fromLibCredential(c *webauthn.Credential) Credential {
	var transports []string
	for _, t := range c.Transport {
		transports = append(transports, string(t))
	}
	return Credential{
		ID:              c.ID,
		PublicKey:       c.PublicKey,
		AttestationType: c.AttestationType,
		AAGUID:          c.Authenticator.AAGUID,
		SignCount:       c.Authenticator.SignCount,
		Transports:      transports,
		UserPresent:     c.Flags.UserPresent,
		UserVerified:    c.Flags.UserVerified,
		BackupEligible:  c.Flags.BackupEligible,
		BackedUp:        c.Flags.BackupState,
	}
}

// encodeSession stamps the expiry with the service's clock and serialises
// the library's SessionData as JSON.
func (s *Service) encodeSession(sd *webauthn.SessionData) ([]byte, error) {
	sd.Expires = s.now().Add(s.timeout + sessionGrace).UTC()
	b, err := json.Marshal(sd)
	if err != nil {
		return nil, fmt.Errorf("encode session: %w", err)
	}
	return b, nil
}

func decodeSession(b []byte) (webauthn.SessionData, error) {
	var sd webauthn.SessionData
	if err := json.Unmarshal(b, &sd); err != nil {
		return webauthn.SessionData{}, fmt.Errorf("decode session: %w: %w", ErrInvalidSession, err)
	}
	if sd.Challenge == "" || sd.Expires.IsZero() {
		return webauthn.SessionData{}, fmt.Errorf("decode session: %w: no challenge or expiry", ErrInvalidSession)
	}
	return sd, nil
}

// checkExpiry refuses an expired session, then clears the expiry so the
// library does not check it again against its own time.Now: one clock, the
// configured one, decides.
func (s *Service) checkExpiry(sd *webauthn.SessionData) error {
	if !s.now().Before(sd.Expires) {
		return ErrExpired
	}
	sd.Expires = time.Time{}
	return nil
}

// describe renders a library error with its debugging detail, which names
// what did not match (origin, RP ID hash, challenge). It carries no secrets:
// challenges are single use and the rest is public.
func describe(err error) string {
	msg := err.Error()
	var pe *protocol.Error
	if errors.As(err, &pe) {
		msg = pe.Details
		if info := strings.TrimSpace(pe.DevInfo); info != "" {
			msg += " (" + info + ")"
		}
	}
	// One line per error in the log.
	return strings.Join(strings.Fields(msg), " ")
}

// invalid wraps a library verification error as ErrInvalidResponse.
func invalid(op string, err error) error {
	return fmt.Errorf("%s: %w: %s", op, ErrInvalidResponse, describe(err))
}
