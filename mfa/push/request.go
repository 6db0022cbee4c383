package push

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Kind says what a device request asks for; it is the "kind" claim and
// each endpoint accepts exactly one.
type Kind string

// The request kinds, one per endpoint (docs/push-protocol.md).
const (
	KindEnrol     Kind = "enrol"     // POST {issuer}/push/enrol
	KindHeartbeat Kind = "heartbeat" // POST {issuer}/push/heartbeat
	KindFetch     Kind = "fetch"     // POST {issuer}/push/challenge
	KindAnswer    Kind = "answer"    // POST {issuer}/push/answer
)

// Notification permission as the device reports it. "default" is what the
// browser Notifications API says before the user has been asked; "prompt"
// is the Permissions API's word for the same state (native apps: not
// determined). Only "granted" makes a device push-ready.
const (
	PermissionGranted = "granted"
	PermissionDenied  = "denied"
	PermissionDefault = "default"
	PermissionPrompt  = "prompt"
)

// Decisions a device can sign.
const (
	DecisionApprove = "approve" // the user picked or typed the number: completes the factor
	DecisionDeny    = "deny"    // ends this push attempt; the sign-in page offers another way
	DecisionNotMe   = "not_me"  // "this wasn't me": ends the sign-in and locks push for a while
)

// MaxSkew is how far a request's iat may be from the server's clock either
// way. Requests carry no exp: the window is the server's to choose.
const MaxSkew = 5 * time.Minute

// Request is a device request whose signature, type, audience, time and
// claims have been checked. Exactly one of Enrol, Heartbeat, Fetch and
// Answer is set, as Kind says.
type Request struct {
	Kind Kind
	// Key is the device's public key from the JOSE header, and DeviceID its
	// RFC 7638 thumbprint. For every kind but enrol, the sub claim equals
	// DeviceID; the caller looks the device up by DeviceID, which fixes the
	// key too (a different key has a different thumbprint).
	Key      JWK
	DeviceID string
	IssuedAt time.Time
	// ID is the jti claim. The caller refuses a jti it has seen for this
	// device (ErrReplayed) and remembers it until ReplayUntil.
	ID string

	Enrol     *Enrol
	Heartbeat *Heartbeat
	Fetch     *Fetch
	Answer    *Answer
}

// ReplayUntil is when a request with this jti can no longer pass the time
// check, so the caller may forget the jti.
func (r Request) ReplayUntil() time.Time { return r.IssuedAt.Add(MaxSkew) }

// Enrol is the body of an enrolment request.
type Enrol struct {
	Token      string // the one-time enrolment token from the QR code (a secret: never log it)
	Channel    string // ChannelWebPush, ChannelFCM or ChannelAPNs
	PushToken  string // see Target.Token; "" when the device has none (permission not granted)
	Permission string // Permission*
	Name       string // what the user calls the device, shown on the account page
	Platform   string // e.g. "web", "android", "ios"
	AppVersion string // optional
}

// Heartbeat is the body of a heartbeat: the device's current state.
type Heartbeat struct {
	Channel    string // the channel PushToken belongs to
	PushToken  string // the current token; "": unchanged since the last one sent
	Permission string
	AppVersion string
}

// Fetch asks for a challenge's details; answering it is the delivery
// acknowledgement.
type Fetch struct {
	ChallengeID string
}

// Answer is the device's signed decision on a challenge.
type Answer struct {
	ChallengeID string
	Nonce       string
	Decision    string // Decision*
	Number      string // two digits; required to approve, "" or ignored otherwise
}

// Limits on claim values: enough for every real value, small enough that
// a stored row stays small.
const (
	maxIDLen      = 128 // jti, challenge id, nonce, enrolment token
	minIDLen      = 16
	maxNameLen    = 64 // runes
	maxShortLen   = 32 // platform, app version
	maxPushToken  = 4096
	maxNumericDay = 1e10 // seconds since 1970: year 2286
)

// ParseRequest verifies a device request (a compact JWS, see
// docs/push-protocol.md) and returns its claims. It checks, in order: the
// ES256 signature with the key in the header (ErrBadSignature,
// ErrMalformed), typ, that the kind is want (ErrWrongKind), that aud is
// issuer (ErrWrongAudience), that iat is within MaxSkew of now (ErrStale),
// that sub is the key's thumbprint (ErrKeyMismatch; optional for enrol),
// and the kind's claims (ErrMalformed). Claims it does not know are
// ignored. Replay (jti), the enrolment token, the device and the challenge
// are the caller's to check against the store.
func ParseRequest(compact, issuer string, now time.Time, want Kind) (Request, error) {
	switch want {
	case KindEnrol, KindHeartbeat, KindFetch, KindAnswer:
	default:
		return Request{}, fmt.Errorf("%w: parse request: unknown kind %q wanted", ErrWrongKind, want)
	}
	j, err := parseJWS(compact)
	if err != nil {
		return Request{}, err
	}
	typ, err := stringMember(j.header, "typ", true)
	if err != nil {
		return Request{}, fmt.Errorf("%w: header: %w", ErrMalformed, err)
	}
	// Media types compare case-insensitively, and RFC 7515 §4.1.9 lets
	// "application/" be left out.
	if t := strings.ToLower(typ); t != Type && t != "application/"+Type {
		return Request{}, fmt.Errorf("%w: typ %q is not %s", ErrMalformed, typ, Type)
	}
	return parseClaims(j.payload, j.key, issuer, now, want)
}

// parseClaims checks the payload of a request whose signature by key has
// been verified.
func parseClaims(payload []byte, key JWK, issuer string, now time.Time, want Kind) (Request, error) {
	c, err := decodeObject(payload)
	if err != nil {
		return Request{}, fmt.Errorf("%w: payload: %w", ErrMalformed, err)
	}
	kind, err := stringMember(c, "kind", true)
	if err != nil {
		return Request{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if Kind(kind) != want {
		return Request{}, fmt.Errorf("%w: %q request sent where %q is expected", ErrWrongKind, kind, want)
	}
	if err := checkAudience(c, issuer); err != nil {
		return Request{}, err
	}
	iat, err := issuedAt(c, now)
	if err != nil {
		return Request{}, err
	}
	r := Request{Kind: want, Key: key, DeviceID: key.Thumbprint(), IssuedAt: iat}
	sub, err := stringMember(c, "sub", want != KindEnrol)
	if err != nil {
		return Request{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if (sub != "" || want != KindEnrol) && sub != r.DeviceID {
		return Request{}, fmt.Errorf("%w: sub is not the thumbprint of the header's jwk", ErrKeyMismatch)
	}
	if r.ID, err = idClaim(c, "jti", true); err != nil {
		return Request{}, err
	}
	switch want {
	case KindEnrol:
		r.Enrol, err = enrolClaims(c)
	case KindHeartbeat:
		r.Heartbeat, err = heartbeatClaims(c)
	case KindFetch:
		var f Fetch
		f.ChallengeID, err = idClaim(c, "challenge", true)
		r.Fetch = &f
	case KindAnswer:
		r.Answer, err = answerClaims(c)
	}
	if err != nil {
		return Request{}, err
	}
	return r, nil
}

// checkAudience accepts aud as the issuer string or a one-element array
// holding it (RFC 7519 §4.1.3 allows both); a request meant for several
// audiences could be replayed at the others.
func checkAudience(c map[string]json.RawMessage, issuer string) error {
	raw, ok := c["aud"]
	if !ok {
		return fmt.Errorf("%w: \"aud\" is missing", ErrMalformed)
	}
	var aud string
	if err := json.Unmarshal(raw, &aud); err != nil || raw[0] != '"' {
		var list []string
		if err := json.Unmarshal(raw, &list); err != nil || raw[0] != '[' || len(list) != 1 {
			return fmt.Errorf("%w: \"aud\" must be a string", ErrMalformed)
		}
		aud = list[0]
	}
	if issuer == "" || aud != issuer {
		return fmt.Errorf("%w: aud is not this issuer", ErrWrongAudience)
	}
	return nil
}

// issuedAt reads iat, a NumericDate (RFC 7519 §2: seconds, possibly with
// a fraction), and checks it against now.
func issuedAt(c map[string]json.RawMessage, now time.Time) (time.Time, error) {
	raw, ok := c["iat"]
	if !ok {
		return time.Time{}, fmt.Errorf("%w: \"iat\" is missing", ErrMalformed)
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || raw[0] == '"' || math.IsNaN(f) || f <= 0 || f > maxNumericDay {
		return time.Time{}, fmt.Errorf("%w: \"iat\" must be a NumericDate", ErrMalformed)
	}
	sec, frac := math.Modf(f)
	iat := time.Unix(int64(sec), int64(frac*1e9))
	if d := now.Sub(iat); d > MaxSkew {
		return time.Time{}, fmt.Errorf("%w: issued %s before the server's time (at most %s)", ErrStale, d.Round(time.Second), MaxSkew)
	} else if d < -MaxSkew {
		return time.Time{}, fmt.Errorf("%w: issued %s after the server's time (at most %s)", ErrStale, (-d).Round(time.Second), MaxSkew)
	}
	return iat, nil
}

func enrolClaims(c map[string]json.RawMessage) (*Enrol, error) {
	var e Enrol
	var err error
	if e.Token, err = idClaim(c, "token", true); err != nil {
		return nil, err
	}
	if e.Channel, e.PushToken, err = channelClaims(c); err != nil {
		return nil, err
	}
	if e.Permission, err = permissionClaim(c); err != nil {
		return nil, err
	}
	if e.Name, err = nameClaim(c); err != nil {
		return nil, err
	}
	if e.Platform, err = shortClaim(c, "platform", true); err != nil {
		return nil, err
	}
	if e.AppVersion, err = shortClaim(c, "app_version", false); err != nil {
		return nil, err
	}
	return &e, nil
}

func heartbeatClaims(c map[string]json.RawMessage) (*Heartbeat, error) {
	var h Heartbeat
	var err error
	if h.Channel, h.PushToken, err = channelClaims(c); err != nil {
		return nil, err
	}
	if h.Permission, err = permissionClaim(c); err != nil {
		return nil, err
	}
	if h.AppVersion, err = shortClaim(c, "app_version", false); err != nil {
		return nil, err
	}
	return &h, nil
}

func answerClaims(c map[string]json.RawMessage) (*Answer, error) {
	var a Answer
	var err error
	if a.ChallengeID, err = idClaim(c, "challenge", true); err != nil {
		return nil, err
	}
	if a.Nonce, err = idClaim(c, "nonce", true); err != nil {
		return nil, err
	}
	if a.Decision, err = stringMember(c, "decision", true); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	switch a.Decision {
	case DecisionApprove, DecisionDeny, DecisionNotMe:
	default:
		return nil, fmt.Errorf("%w: decision must be approve, deny or not_me", ErrMalformed)
	}
	raw, ok := c["number"]
	if !ok || string(raw) == "null" {
		if a.Decision == DecisionApprove {
			return nil, fmt.Errorf("%w: an approval needs the number", ErrMalformed)
		}
		return &a, nil
	}
	if a.Number, err = parseNumber(raw); err != nil {
		return nil, err
	}
	return &a, nil
}

// parseNumber reads the number the user picked or typed: two digits, as a
// JSON string ("42") or integer (42). Values 10 to 99 only, like
// NewChallenge's; "07" or 7 are refused rather than guessed at.
func parseNumber(raw json.RawMessage) (string, error) {
	s := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("%w: number must be two digits", ErrMalformed)
		}
	}
	if len(s) != 2 || s[0] < '1' || s[0] > '9' || s[1] < '0' || s[1] > '9' {
		return "", fmt.Errorf("%w: number must be two digits, 10 to 99", ErrMalformed)
	}
	return s, nil
}

func channelClaims(c map[string]json.RawMessage) (channel, token string, err error) {
	if channel, err = stringMember(c, "channel", true); err != nil {
		return "", "", fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if token, err = stringMember(c, "push_token", false); err != nil {
		return "", "", fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if err := CheckPushToken(channel, token); err != nil {
		return "", "", err
	}
	return channel, token, nil
}

func permissionClaim(c map[string]json.RawMessage) (string, error) {
	p, err := stringMember(c, "permission", true)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	switch p {
	case PermissionGranted, PermissionDenied, PermissionDefault, PermissionPrompt:
		return p, nil
	}
	return "", fmt.Errorf("%w: permission must be granted, denied, default or prompt", ErrMalformed)
}

// idClaim reads an identifier-like claim: 16 to 128 characters of the
// base64url alphabet, which covers random ids however a device makes them
// (UUIDs included) and keeps anything odd out of logs and the store.
func idClaim(c map[string]json.RawMessage, name string, required bool) (string, error) {
	s, err := stringMember(c, name, required)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if s == "" && !required {
		return "", nil
	}
	if len(s) < minIDLen || len(s) > maxIDLen || strings.TrimLeft(s, b64Alphabet) != "" {
		return "", fmt.Errorf("%w: %q must be %d to %d characters of A-Z a-z 0-9 - _", ErrMalformed, name, minIDLen, maxIDLen)
	}
	return s, nil
}

const b64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// nameClaim reads the device name: printable text the account page shows,
// so no control or format characters (no bidi overrides that would make
// one device's name read like another's); any space separator is fine
// (an ideographic space in a Japanese name).
func nameClaim(c map[string]json.RawMessage) (string, error) {
	s, err := stringMember(c, "name", true)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	s = strings.TrimSpace(s)
	if s == "" || utf8.RuneCountInString(s) > maxNameLen {
		return "", fmt.Errorf("%w: name must be 1 to %d characters", ErrMalformed, maxNameLen)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) && !unicode.Is(unicode.Zs, r) {
			return "", fmt.Errorf("%w: name has a control or format character", ErrMalformed)
		}
	}
	return s, nil
}

// shortClaim reads a short ASCII label (platform, app version).
func shortClaim(c map[string]json.RawMessage, name string, required bool) (string, error) {
	s, err := stringMember(c, name, required)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if s == "" {
		if required {
			return "", fmt.Errorf("%w: %q is empty", ErrMalformed, name)
		}
		return "", nil
	}
	if len(s) > maxShortLen {
		return "", fmt.Errorf("%w: %q longer than %d characters", ErrMalformed, name, maxShortLen)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return "", fmt.Errorf("%w: %q must be printable ASCII without spaces", ErrMalformed, name)
		}
	}
	return s, nil
}
