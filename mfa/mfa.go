// Package mfa is Latchkey's policy engine: a pure function from what is
// known about a sign-in (the facts) to what must happen next (the
// decision), with a trace of every rule that fired.
//
// It knows nothing of HTTP, storage or OIDC parameters' wire format: the
// caller (idp) gathers the facts, calls Decide, acts on the decision and
// writes the trace to the audit log. Keeping it pure is what lets the
// admin console replay a decision in a simulator and lets the rules be
// table-tested exhaustively.
//
// mfa never imports idp (see DESIGN.md); the factor packages under it
// (totp, recovery, and later passkey, push, otp, twilio) are equally free of
// it.
package mfa

import (
	"time"
)

// Level is an assurance level, published as an acr value.
type Level string

// The assurance levels, weakest first.
const (
	// LevelNone: nothing proven (no session).
	LevelNone Level = ""
	// LevelPwd: one factor (a password, or a passkey without user
	// verification).
	LevelPwd Level = "urn:latchkey:acr:pwd"
	// LevelMFA: two independent factors. SMS and voice count only when the
	// policy says so.
	LevelMFA Level = "urn:latchkey:acr:mfa"
	// LevelPHR: phishing-resistant: a passkey took part, and the sign-in is
	// multi-factor (the passkey verified the user, or another factor did).
	LevelPHR Level = "urn:latchkey:acr:phr"
)

// Levels lists the levels a client can ask for, weakest first.
var Levels = []Level{LevelPwd, LevelMFA, LevelPHR}

// Rank orders levels: 0 for none or unknown, then 1, 2, 3.
func (l Level) Rank() int {
	switch l {
	case LevelPwd:
		return 1
	case LevelMFA:
		return 2
	case LevelPHR:
		return 3
	}
	return 0
}

// AtLeast reports whether l is as strong as other.
func (l Level) AtLeast(other Level) bool { return l.Rank() >= other.Rank() }

// Factor names a kind of authentication factor.
type Factor string

// The factors. Password and Passkey can start a sign-in (first factors);
// every other one only adds to a session that has a first factor.
const (
	Password     Factor = "password"
	Passkey      Factor = "passkey"
	Push         Factor = "push"
	TOTP         Factor = "totp"
	SMS          Factor = "sms"
	Voice        Factor = "voice"
	RecoveryCode Factor = "recovery_code"
	// RememberedBrowser is a browser the user asked Latchkey to remember
	// after a second factor: it stands in for the second factor at LevelMFA
	// when the policy allows, never at LevelPHR.
	RememberedBrowser Factor = "remembered_browser"
)

// Factors lists every factor, in the default preference order for second
// factors followed by the rest.
var Factors = []Factor{Passkey, Push, TOTP, SMS, Voice, RecoveryCode, Password, RememberedBrowser}

// IsFirst reports whether f can start a sign-in on its own.
func (f Factor) IsFirst() bool { return f == Password || f == Passkey }

// Proof is one factor the browser session completed.
type Proof struct {
	Factor Factor    `json:"factor"`
	At     time.Time `json:"at"`
	// UserVerified: a passkey assertion with the UV flag (PIN or biometric),
	// which makes the passkey multi-factor on its own.
	UserVerified bool `json:"uv,omitempty"`
	// Synced: the passkey is backed up (BS flag): a software key in a sync
	// fabric, not bound to one device.
	Synced bool `json:"synced,omitempty"`
	// Credential identifies the credential used (TOTP id, passkey id,
	// device id); for the audit log, never a secret.
	Credential string `json:"credential,omitempty"`
}

// FactorState is what is known about one of the user's factors right now.
// One entry per factor kind; Enrolled false (or no entry) means the user
// cannot use it.
type FactorState struct {
	Factor   Factor
	Enrolled bool
	// LockedUntil: too many failures; the factor is refused until then.
	LockedUntil time.Time
	// BudgetLeft is how many more challenges (sends, pushes, attempts) the
	// user may start in the current period; -1 means no budget applies.
	BudgetLeft int

	// Passkey health.
	// BackedUp: at least one of the user's passkeys is synced (BS=1).
	BackedUp bool

	// Push health.
	// PushReady: a device has notifications permitted, a valid push token,
	// and was heard from recently.
	PushReady bool
	// NotificationsDisabled: the device said it cannot display
	// notifications.
	NotificationsDisabled bool
	// Unregistered: the push service answered that the token is gone.
	Unregistered bool

	// Phone health (SMS and voice).
	PhoneVerified bool
	// LineType from the carrier lookup ("mobile", "landline", "nonFixedVoip",
	// ...); empty when unknown.
	LineType string
	// SIMSwappedAt: when the carrier last reported a SIM change; zero when
	// unknown or never.
	SIMSwappedAt time.Time

	// Recovery codes.
	// Remaining unused recovery codes.
	Remaining int
}

// Risk holds risk signals about the sign-in. Any signal raises the target
// to at least LevelMFA when the policy says so, and disables the
// remembered-browser shortcut.
type Risk struct {
	// NewDevice: this browser was never seen for this user.
	NewDevice bool `json:"new_device,omitempty"`
	// NewNetwork: the network differs from the user's usual ones.
	NewNetwork bool `json:"new_network,omitempty"`
	// Velocity: recent failed attempts against the account.
	Velocity bool `json:"velocity,omitempty"`
}

// Any reports whether any signal is raised.
func (r Risk) Any() bool { return r.NewDevice || r.NewNetwork || r.Velocity }

// Facts is everything Decide knows about one sign-in step.
type Facts struct {
	Now      time.Time
	ClientID string
	// RequestedACR: the acr_values parameter, in preference order, as sent
	// (aliases are resolved by Decide). Treated as required: Latchkey never
	// silently downgrades an acr the client asked for.
	RequestedACR []string
	// ClaimsACR: values of the acr claim in the claims parameter;
	// ClaimsACREssential says it was marked essential (then they are
	// required; otherwise they are a wish).
	ClaimsACR          []string
	ClaimsACREssential bool
	// FreshSince: proofs made before this instant do not count (max_age,
	// prompt=login). Zero: any proof of the live session counts.
	FreshSince time.Time
	// Session: the factors the browser session completed, oldest first.
	Session []Proof
	// User: the state of each of the user's factors.
	User []FactorState
	// Available: the factors this deployment can run (built and
	// configured: no SMS without a sender). Others are never offered or
	// enrolled.
	Available []Factor
	// RememberedAt: when this browser was remembered for this user by a
	// live remembered-browser record; zero if it is not.
	RememberedAt time.Time
	Risk         Risk
}

// Outcome is the kind of a decision.
type Outcome string

// The outcomes.
const (
	// Satisfied: the session meets the target; issue the response.
	Satisfied Outcome = "satisfied"
	// NeedFirstFactor: the session has no fresh first factor; sign in
	// (password or passkey) first.
	NeedFirstFactor Outcome = "need_first_factor"
	// Challenge: ask for one of Offer, starting with Start.
	Challenge Outcome = "challenge"
	// Enrol: the user must enrol one of Enrol before going on.
	Enrol Outcome = "enrol"
	// Denied: the target cannot be reached now; Reason says why.
	Denied Outcome = "denied"
)

// Denial reasons.
const (
	// ReasonUnreachable: no factor the user has (or may enrol now) can reach
	// the target. OIDC: unmet_authentication_requirements.
	ReasonUnreachable = "unreachable"
	// ReasonUnknownACR: every acr the client required is unknown.
	ReasonUnknownACR = "unknown_acr"
	// ReasonLocked: the factors that could reach the target are all locked
	// or out of budget for now; RetryAt says until when.
	ReasonLocked = "locked"
)

// Decision is what Decide returns.
type Decision struct {
	Outcome Outcome
	// Target is the level the sign-in must reach; ACR is the value to
	// publish for it (the alias or URN the client asked for, when it asked).
	Target Level
	ACR    string
	// Achieved is the level the session's fresh proofs reach already.
	Achieved Level
	// Offer: the factors to offer, best first (Challenge); Start is the one
	// to begin with. Factors skipped as unusable are not in Offer; the trace
	// says why.
	Offer []Factor
	Start Factor
	// Enrol: the factors the user may enrol now (Enrol outcome).
	Enrol []Factor
	// Reason (Denied) and, for ReasonLocked, when a retry may succeed.
	Reason  string
	RetryAt time.Time
	// Satisfied only: the proofs that establish the level, the amr values
	// they publish (RFC 8176) and auth_time, which is the oldest of those
	// proofs, so an RP checking auth_time against max_age reaches the same
	// verdict as the engine.
	Used     []Proof
	AMR      []string
	AuthTime time.Time
	// Trace explains the decision, rule by rule.
	Trace []Step
}

// Step is one line of a decision's trace.
type Step struct {
	// Rule names the rule that fired (stable identifiers, for filtering
	// audit logs and for the admin simulator).
	Rule string `json:"rule"`
	// Factor the rule concerned, if any.
	Factor Factor `json:"factor,omitempty"`
	// Detail is a short human-readable explanation.
	Detail string `json:"detail"`
}
