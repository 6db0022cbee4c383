// Package storage defines the one persistence contract Latchkey has: the Store
// interface, its record types and its sentinel errors. It imports only the
// standard library so that every backend (sqlite, postgres) and every consumer
// can depend on it without pulling a driver.
//
// Every single-use rule (authorization codes, refresh-token rotation, login
// transactions, ...) is expressed as one atomic method here, so a backend
// implements it as one conditional UPDATE and the conformance suite in
// storagetest proves that exactly one of many concurrent callers wins.
package storage

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Backends wrap them (fmt.Errorf("...: %w", ErrNotFound));
// driver errors never escape a backend.
var (
	// ErrNotFound: the record does not exist (or has expired, where noted).
	ErrNotFound = errors.New("storage: not found")
	// ErrConflict: a unique key is taken, or a single-use record was already
	// consumed by another caller.
	ErrConflict = errors.New("storage: conflict")
)

// Store is the whole persistence contract. It is one interface, not many
// small ones, because two backends implement all of it and one conformance
// suite checks all of it; consumers declare the narrow interfaces they use.
type Store interface {
	// Ping checks that the backend answers (used by /readyz).
	Ping(ctx context.Context) error
	// Close releases the backend's resources.
	Close() error

	// Clients.
	CreateClient(ctx context.Context, c Client) error // ErrConflict if the id exists
	GetClient(ctx context.Context, id string) (Client, error)
	ListClients(ctx context.Context) ([]Client, error) // ordered by id
	DeleteClient(ctx context.Context, id string) error // ErrNotFound if absent

	// Users. Emails are stored as given; callers normalise them (lower case,
	// trimmed) before every call, and the store enforces uniqueness.
	CreateUser(ctx context.Context, u User) error // ErrConflict if the id or email exists
	GetUser(ctx context.Context, id string) (User, error)
	GetUserByEmail(ctx context.Context, email string) (User, error)
	ListUsers(ctx context.Context) ([]User, error) // ordered by email
	DeleteUser(ctx context.Context, id string) error
	// SetPasswordHash replaces a user's password hash (rehash on sign-in,
	// password change). ErrNotFound if the user is absent.
	SetPasswordHash(ctx context.Context, userID, hash string, now time.Time) error

	// Signing keys, shared by every node.
	CreateSigningKey(ctx context.Context, k SigningKey) error // ErrConflict if the kid exists
	// RotateSigningKey atomically retires every active key of k.Algorithm
	// (RetiredAt = k.CreatedAt, RemoveAfter = removeOldAfter) and inserts k
	// as the new active key.
	RotateSigningKey(ctx context.Context, k SigningKey, removeOldAfter time.Time) error
	// ListSigningKeys returns every key, newest first.
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	// DeleteRemovedSigningKeys deletes retired keys whose RemoveAfter is
	// before now, and returns how many went.
	DeleteRemovedSigningKeys(ctx context.Context, now time.Time) (int64, error)

	// OAuth 2.0 token state (authorization codes, access and refresh
	// tokens, PKCE and OpenID Connect request sessions), keyed by kind and
	// signature. The signature is what the token strategy derives from the
	// token; the token itself is never stored.
	CreateToken(ctx context.Context, t Token) error // ErrConflict if (kind, signature) exists
	GetToken(ctx context.Context, kind TokenKind, signature string) (Token, error)
	// DeleteToken removes one record; ErrNotFound if absent.
	DeleteToken(ctx context.Context, kind TokenKind, signature string) error
	// DeactivateToken is the single-use rule: it flips an active record to
	// inactive. Of many concurrent callers exactly one gets nil; the others
	// get ErrConflict. ErrNotFound if the record does not exist.
	DeactivateToken(ctx context.Context, kind TokenKind, signature string) error
	// DeactivateTokensByRequestID deactivates every record of a kind that
	// belongs to one grant (fosite's request id: a refresh-token family or
	// the tokens issued from one authorization code).
	DeactivateTokensByRequestID(ctx context.Context, kind TokenKind, requestID string) (int64, error)
	// DeactivateTokensByGrant deactivates every access and refresh token
	// that a client holds for a subject (consent revoked, user deleted).
	DeactivateTokensByGrant(ctx context.Context, subject, clientID string) (int64, error)
	// DeleteExpiredTokens removes records whose ExpiresAt is before now.
	DeleteExpiredTokens(ctx context.Context, now time.Time) (int64, error)

	// Browser sessions. The ID given to the store is already a hash of the
	// cookie value, so a copy of the database cannot be replayed as cookies.
	CreateSession(ctx context.Context, s Session) error // ErrConflict if the id exists
	// GetSession returns ErrNotFound for a missing or expired session.
	GetSession(ctx context.Context, id string, now time.Time) (Session, error)
	// UpdateSession replaces AuthTime, AMR, ACR, Factors, LastSeenAt and
	// ExpiresAt.
	UpdateSession(ctx context.Context, s Session) error
	DeleteSession(ctx context.Context, id string) error // ErrNotFound if absent
	// DeleteUserSessions ends every session of a user.
	DeleteUserSessions(ctx context.Context, userID string) (int64, error)
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error)

	// Login transactions: the persisted state behind /authorize.
	CreateLoginTx(ctx context.Context, tx LoginTx) error // ErrConflict if the id exists
	// GetLoginTx returns ErrNotFound for a missing or expired transaction.
	GetLoginTx(ctx context.Context, id string, now time.Time) (LoginTx, error)
	// UpdateLoginTx replaces UserID, SessionID, AuthenticatedAt, ConsentedAt
	// and State of a transaction that is not completed. It fails with
	// ErrConflict if the transaction was completed meanwhile.
	UpdateLoginTx(ctx context.Context, tx LoginTx) error
	// CompleteLoginTx marks a transaction completed; exactly one of many
	// concurrent callers gets nil, the others ErrConflict.
	CompleteLoginTx(ctx context.Context, id string, now time.Time) error
	DeleteExpiredLoginTxs(ctx context.Context, now time.Time) (int64, error)

	// Consent, remembered per user, client and scope.
	GetConsent(ctx context.Context, userID, clientID string) (Consent, error)
	// SaveConsent inserts or replaces the consent of (UserID, ClientID).
	SaveConsent(ctx context.Context, c Consent) error
	ListConsents(ctx context.Context, userID string) ([]Consent, error) // ordered by client id
	DeleteConsent(ctx context.Context, userID, clientID string) error   // ErrNotFound if absent

	// Throttling counters for failed attempts, shared by every node. Keys
	// are opaque ("login-account:<hash>", "login-ip:<ip>").
	// RecordFailure atomically counts one failure at now. If the previous
	// failure is older than resetAfter the count starts again at 1. It
	// returns the counter after the update.
	RecordFailure(ctx context.Context, key string, now time.Time, resetAfter time.Duration) (Throttle, error)
	// GetThrottle returns the counter; a missing key is a zero Throttle
	// with the Key set, not an error.
	GetThrottle(ctx context.Context, key string) (Throttle, error)
	ResetThrottle(ctx context.Context, key string) error

	// TOTP credentials. Secret is sealed by the caller. A credential is
	// pending until confirmed with a first code; only confirmed ones count.
	CreateTOTP(ctx context.Context, c TOTPCredential) error // ErrConflict if the id exists
	// ListTOTP returns a user's credentials, pending ones included, oldest
	// first.
	ListTOTP(ctx context.Context, userID string) ([]TOTPCredential, error)
	// UseTOTPStep is the replay rule: it records step as used on the
	// user's credential id if step is greater than every step used before
	// (LastStep), setting LastUsedAt = now, and for a pending credential
	// also ConfirmedAt = now. Of many concurrent callers with the same step
	// exactly one gets nil; the others, and any caller with a step not
	// above LastStep, get ErrConflict. ErrNotFound if the credential does
	// not exist for that user.
	UseTOTPStep(ctx context.Context, userID, id string, step int64, now time.Time) error
	// DeleteTOTP removes a credential; ErrNotFound if absent.
	DeleteTOTP(ctx context.Context, userID, id string) error
	// DeletePendingTOTP removes unconfirmed credentials created before
	// olderThan, and returns how many went.
	DeletePendingTOTP(ctx context.Context, olderThan time.Time) (int64, error)

	// Recovery codes, stored as keyed hashes.
	// ReplaceRecoveryCodes atomically deletes every code of the user and
	// inserts hashes as the new set.
	ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []string, now time.Time) error
	// ListRecoveryCodes returns the user's codes, used ones included.
	ListRecoveryCodes(ctx context.Context, userID string) ([]RecoveryCode, error)
	// UseRecoveryCode marks the user's unused code with this hash used.
	// Of many concurrent callers exactly one gets nil; the others get
	// ErrConflict. ErrNotFound if the user has no such code (used or not).
	UseRecoveryCode(ctx context.Context, userID, hash string, now time.Time) error

	// Passkeys (WebAuthn credentials). Credential ids are unique across all
	// users.
	CreatePasskey(ctx context.Context, c Passkey) error // ErrConflict if the credential id exists
	// ListPasskeys returns a user's passkeys, oldest first.
	ListPasskeys(ctx context.Context, userID string) ([]Passkey, error)
	// GetPasskey finds a passkey by credential id (discoverable sign-in
	// learns the user from it). ErrNotFound if absent.
	GetPasskey(ctx context.Context, credentialID []byte) (Passkey, error)
	// UsePasskey records a verified assertion of the user's credential:
	// SignCount = signCount, BackedUp = backedUp, LastUsedAt = now. It is
	// the clone check: when either the stored count or signCount is
	// non-zero, signCount must be greater than the stored count, else the
	// record is left unchanged and the result is ErrConflict (of many
	// concurrent callers with the same count exactly one gets nil).
	// Authenticators that never count (both zero) always pass. ErrNotFound
	// if the credential does not exist for that user.
	UsePasskey(ctx context.Context, userID string, credentialID []byte, signCount uint32, backedUp bool, now time.Time) error
	// RenamePasskey sets the user-given name; ErrNotFound if absent.
	RenamePasskey(ctx context.Context, userID string, credentialID []byte, name string) error
	// DeletePasskey removes one of the user's passkeys; ErrNotFound if
	// absent.
	DeletePasskey(ctx context.Context, userID string, credentialID []byte) error

	// WebAuthn ceremony state, kept on the server: single use, short-lived.
	CreateCeremony(ctx context.Context, c Ceremony) error // ErrConflict if the id exists
	// TakeCeremony returns the ceremony and deletes it in one step: of many
	// concurrent callers exactly one gets it, the others ErrNotFound.
	// Expired ceremonies are ErrNotFound.
	TakeCeremony(ctx context.Context, id string, now time.Time) (Ceremony, error)
	DeleteExpiredCeremonies(ctx context.Context, now time.Time) (int64, error)

	// Remembered browsers: a cookie that stands in for the second factor.
	// The ID given to the store is a hash of the cookie value.
	CreateRememberedBrowser(ctx context.Context, b RememberedBrowser) error // ErrConflict if the id exists
	// GetRememberedBrowser returns ErrNotFound for a missing or expired
	// record.
	GetRememberedBrowser(ctx context.Context, id string, now time.Time) (RememberedBrowser, error)
	// ListRememberedBrowsers returns a user's live records, newest first.
	ListRememberedBrowsers(ctx context.Context, userID string, now time.Time) ([]RememberedBrowser, error)
	// TouchRememberedBrowser sets LastUsedAt; ErrNotFound if absent.
	TouchRememberedBrowser(ctx context.Context, id string, now time.Time) error
	// DeleteRememberedBrowser removes one of the user's records;
	// ErrNotFound if absent.
	DeleteRememberedBrowser(ctx context.Context, userID, id string) error
	// DeleteUserRememberedBrowsers forgets every browser of a user.
	DeleteUserRememberedBrowsers(ctx context.Context, userID string) (int64, error)
	DeleteExpiredRememberedBrowsers(ctx context.Context, now time.Time) (int64, error)

	// The MFA policy, one document (JSON, opaque to the store).
	// GetPolicy returns ErrNotFound when none was saved (the config's
	// defaults apply).
	GetPolicy(ctx context.Context) (Policy, error)
	// SavePolicy inserts or replaces the document.
	SavePolicy(ctx context.Context, p Policy) error

	// Audit log of security events, append-only.
	AppendAudit(ctx context.Context, e AuditEvent) error
	// ListAudit returns events newest first.
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEvent, error)

	// Phones, SMS and voice codes, their messages and send budgets (see
	// phones.go).
	PhoneStore
	// Push approval: devices, enrolment tokens and challenges (see push.go).
	PushStore
}

// Client is a registered OAuth 2.0 client (relying party).
type Client struct {
	ID   string
	Name string
	// SecretHash is empty for public clients. Latchkey mints secrets with
	// 256 bits of entropy, so a fast keyed hash is enough (see idp).
	SecretHash             string
	Public                 bool
	FirstParty             bool
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	GrantTypes             []string
	ResponseTypes          []string
	Scopes                 []string
	// TokenEndpointAuthMethod: client_secret_basic, client_secret_post or none.
	TokenEndpointAuthMethod string
	// IDTokenSigningAlg: ES256 (default) or RS256 for old libraries.
	IDTokenSigningAlg string
	CreatedAt         time.Time
}

// User is an end user who signs in on the hosted pages.
type User struct {
	ID            string
	Email         string
	EmailVerified bool
	DisplayName   string
	PasswordHash  string // PHC string ($argon2id$v=19$m=...,t=...,p=...$salt$hash)
	Disabled      bool
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// SigningKey is one JWT signing key.
type SigningKey struct {
	ID        string // kid
	Algorithm string // ES256 or RS256
	// PrivateKey is encrypted by the caller (AES-GCM); opaque to the store.
	PrivateKey []byte
	// PublicJWK is the public key as a JSON Web Key.
	PublicJWK []byte
	CreatedAt time.Time
	// RetiredAt is zero while the key is the active signer of its algorithm.
	RetiredAt time.Time
	// RemoveAfter is when a retired key leaves the JWKS: after every token
	// it signed has expired. Zero while active.
	RemoveAfter time.Time
}

// Active reports whether the key still signs new tokens.
func (k SigningKey) Active() bool { return k.RetiredAt.IsZero() }

// TokenKind names what a Token record holds.
type TokenKind string

// The kinds of token state fosite persists.
const (
	KindAuthorizeCode TokenKind = "authorize_code"
	KindAccessToken   TokenKind = "access_token"
	KindRefreshToken  TokenKind = "refresh_token"
	KindPKCE          TokenKind = "pkce"
	KindOIDC          TokenKind = "oidc"
)

// Token is the stored state of one OAuth 2.0 artefact.
type Token struct {
	Kind      TokenKind
	Signature string
	RequestID string
	ClientID  string
	Subject   string
	Active    bool
	// RequestedAt is when the grant was made; ExpiresAt is when the record
	// may be garbage-collected.
	RequestedAt time.Time
	ExpiresAt   time.Time
	// Data is the serialised request and session; opaque to the store.
	Data []byte
}

// Session is a browser session.
type Session struct {
	ID       string // hash of the cookie value
	UserID   string
	AuthTime time.Time
	AMR      []string
	ACR      string
	// Factors are the proofs the session holds (JSON of the policy
	// engine's proofs; opaque to the store). AuthTime, AMR and ACR are
	// derived from them and kept for reading without decoding.
	Factors []byte
	// CreatedAt, LastSeenAt and ExpiresAt bound the session's life.
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
}

// LoginTx is one authorization request on its way through the hosted steps.
type LoginTx struct {
	ID       string
	ClientID string
	// AuthorizeQuery is the original authorization request, URL-encoded.
	AuthorizeQuery string
	UserID         string
	SessionID      string
	// AuthenticatedAt is when the user last proved a factor within this
	// transaction (zero if not yet): prompt=login and max_age need a proof
	// made after the request arrived.
	AuthenticatedAt time.Time
	ConsentedAt     time.Time
	// State holds step data (JSON) that later steps add without a schema
	// change; opaque to the store.
	State     []byte
	Completed bool
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Consent is what a user allowed a third-party client.
type Consent struct {
	UserID    string
	ClientID  string
	Scopes    []string
	GrantedAt time.Time
}

// Throttle counts failed attempts for one key.
type Throttle struct {
	Key           string
	Failures      int
	LastFailureAt time.Time
}

// AuditEvent is one security event.
type AuditEvent struct {
	ID        int64 // assigned by the store
	Time      time.Time
	Type      string // e.g. "login.succeeded", "token.reuse_detected"
	UserID    string
	ClientID  string
	IP        string
	RequestID string
	Details   map[string]string
}

// AuditFilter narrows ListAudit. Zero values match everything; Limit 0 means
// 100.
type AuditFilter struct {
	UserID string
	Type   string
	Limit  int
}

// TOTPCredential is one authenticator app a user enrolled.
type TOTPCredential struct {
	ID     string
	UserID string
	Name   string
	// Secret is sealed by the caller (AES-GCM); opaque to the store.
	Secret []byte
	// LastStep is the highest time step ever accepted (0: none): a code for
	// it or any earlier step is a replay.
	LastStep    int64
	CreatedAt   time.Time
	ConfirmedAt time.Time // zero while pending
	LastUsedAt  time.Time
}

// Confirmed reports whether the credential counts as a factor.
func (c TOTPCredential) Confirmed() bool { return !c.ConfirmedAt.IsZero() }

// RecoveryCode is one single-use recovery code, stored as a keyed hash.
type RecoveryCode struct {
	UserID    string
	Hash      string
	CreatedAt time.Time
	UsedAt    time.Time // zero while unused
}

// RememberedBrowser is a browser a user asked to remember after a second
// factor.
type RememberedBrowser struct {
	ID     string // hash of the cookie value
	UserID string
	// Label describes the browser for the account page ("Firefox on
	// Linux"); never used for decisions.
	Label      string
	CreatedAt  time.Time
	LastUsedAt time.Time
	ExpiresAt  time.Time
}

// Policy is the stored MFA policy document.
type Policy struct {
	Data      []byte // JSON, opaque to the store
	UpdatedAt time.Time
}

// Passkey is one WebAuthn credential of a user.
type Passkey struct {
	CredentialID []byte
	UserID       string
	// Name is what the user called it ("Work laptop").
	Name string
	// PublicKey is the COSE-encoded credential public key.
	PublicKey       []byte
	AttestationType string
	AAGUID          []byte
	SignCount       uint32
	Transports      []string
	// UserVerified: the registration verified the user (PIN, biometric).
	UserVerified bool
	// BackupEligible (BE) and BackedUp (BS) flags: a synced passkey can
	// survive the loss of a device; a device-bound one cannot.
	BackupEligible bool
	BackedUp       bool
	CreatedAt      time.Time
	LastUsedAt     time.Time
}

// Ceremony is the server-side state of one WebAuthn registration or
// assertion.
type Ceremony struct {
	ID string
	// Kind: "register", "login" (discoverable, no user yet) or "assert"
	// (a known user's second factor).
	Kind string
	// UserID is empty for a discoverable sign-in.
	UserID string
	// TxID binds the ceremony to a login transaction (empty on the account
	// page).
	TxID string
	// Data is the WebAuthn library's session data (JSON); opaque to the
	// store.
	Data      []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}
