package idp

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/mfa"
	"github.com/latchkey/latchkey/mfa/otp"
	"github.com/latchkey/latchkey/mfa/phone"
)

// Telephony carries codes to phones: Twilio in production (TwilioTelephony),
// the dev outbox in `latchkey dev`. Errors that say something about the
// number wrap ErrNumberInvalid, ErrNumberUnsubscribed or ErrNotMobile;
// ErrTelephonyConfig is an operator's problem (bad credentials); anything
// else is a delivery failure the sender has already retried.
type Telephony interface {
	SendSMS(ctx context.Context, m OutboundSMS) (Sent, error)
	Call(ctx context.Context, c OutboundCall) (Sent, error)
	Lookup(ctx context.Context, e164 string, simSwap bool) (LineInfo, error)
	// ParseCallback authenticates a delivery report posted to
	// publicURL; an error means it is not from the carrier.
	ParseCallback(r *http.Request, publicURL string) (DeliveryReport, error)
}

// OutboundSMS is one text message.
type OutboundSMS struct {
	To, Body, StatusCallback string
	// ValidityPeriod: the carrier drops the message rather than deliver a
	// code that has expired.
	ValidityPeriod time.Duration
}

// OutboundCall is one voice call reading a code.
type OutboundCall struct {
	To             string
	Script         otp.Script
	StatusCallback string
}

// Sent is the carrier's receipt.
type Sent struct {
	SID, Status string
	Segments    int
}

// LineInfo is what a carrier lookup says about a number.
type LineInfo struct {
	Valid    bool
	LineType string // Twilio's names: mobile, landline, fixedVoip, nonFixedVoip, premium, ...
	Carrier  string
	// SIMSwappedAt: the last SIM change reported (zero: none known);
	// SIMChecked says the lookup asked.
	SIMSwappedAt time.Time
	SIMChecked   bool
}

// DeliveryReport is an authenticated status callback.
type DeliveryReport struct {
	SID       string
	Status    string
	ErrorCode int
	Price     string
	PriceUnit string
	Segments  int
}

// Errors a Telephony wraps.
var (
	ErrNumberInvalid      = errors.New("phone number cannot be reached")
	ErrNumberUnsubscribed = errors.New("phone number replied STOP to SMS")
	ErrNotMobile          = errors.New("phone number cannot receive SMS")
	ErrTelephonyConfig    = errors.New("telephony is misconfigured")
)

// PhoneOptions configure SMS and voice codes; a nil Telephony turns them
// off.
type PhoneOptions struct {
	Telephony Telephony
	// PublicURL is the base URL the carrier posts delivery reports to (and
	// signs them for); empty: the issuer.
	PublicURL      string
	DefaultRegion  string
	Countries      []string // allowlist; empty: every country
	VoiceFallback  string   // "offer" or "call"
	AllowVoIP      bool
	LineTypeLookup bool
	SIMSwapLookup  bool
	Budgets        PhoneBudgets
}

// PhoneBudgets limit what codes may leave, per hour and per day.
type PhoneBudgets struct {
	PerUser, PerNumber, PerPrefix, PerCountry, PerIP int
	DailySpend, SMSCost, VoiceCost                   float64
	KillSwitch                                       bool
}

// Channels of a phone code.
const (
	channelSMS   = "sms"
	channelVoice = "voice"
)

// factorChannel is the channel that carries f's codes.
func factorChannel(f mfa.Factor) string {
	if f == mfa.Voice {
		return channelVoice
	}
	return channelSMS
}

func channelFactor(channel string) mfa.Factor {
	if channel == channelVoice {
		return mfa.Voice
	}
	return mfa.SMS
}

// phoneCodes is the phone factor's machinery, nil when it is off.
type phoneCodes struct {
	opts     PhoneOptions
	hasher   *otp.Hasher
	codeKey  []byte // derives each code from its id
	numbers  []byte // keys the number hash
	callback string // the full status callback URL
	host     string // the issuer's host, for domain-bound codes
}

// newPhoneCodes sets up the phone factor; nil when there is no sender.
func newPhoneCodes(o PhoneOptions, issuer string, derive func(string) ([]byte, error)) (*phoneCodes, error) {
	if o.Telephony == nil {
		return nil, nil
	}
	pc := &phoneCodes{opts: o}
	hashKey, err := derive("phone-code-hash")
	if err != nil {
		return nil, err
	}
	if pc.hasher, err = otp.NewHasher(hashKey); err != nil {
		return nil, fmt.Errorf("phone codes: %w", err)
	}
	if pc.codeKey, err = derive("phone-code-derive"); err != nil {
		return nil, err
	}
	if pc.numbers, err = derive("phone-number-hash"); err != nil {
		return nil, err
	}
	u, err := url.Parse(issuer)
	if err != nil {
		return nil, fmt.Errorf("phone codes: issuer: %w", err)
	}
	pc.host = u.Hostname()
	base := strings.TrimSuffix(o.PublicURL, "/")
	if base == "" {
		base = issuer
	}
	pc.callback = base + phoneStatusPath
	if o.VoiceFallback != "call" {
		pc.opts.VoiceFallback = "offer"
	}
	return pc, nil
}

// Purposes of a phone code.
const (
	purposeSignIn = "sign-in"
	purposeVerify = "verify"
)

// Why a code did not leave; each becomes a message on the page.
var (
	errPhoneUnavailable = errors.New("phone codes are unavailable")
	errPhoneBudget      = errors.New("phone code budget exhausted")
	errPhoneCountry     = errors.New("country not allowed")
	errSIMSwapped       = errors.New("sim swapped recently")
)

// resendWaitError: the last code went out too recently.
type resendWaitError struct{ wait time.Duration }

func (e *resendWaitError) Error() string { return fmt.Sprintf("resend in %s", e.wait) }

// codeFor derives a code from its id under a server key. The store keeps
// only an HMAC of the code, yet a resend can repeat the same code: it is
// recomputed, never read back. A copy of the database alone yields no code.
func (pc *phoneCodes) codeFor(id string) string {
	m := hmac.New(sha256.New, pc.codeKey)
	m.Write([]byte("phone-code:" + id))
	n := binary.BigEndian.Uint64(m.Sum(nil)[:8])
	// 2^64 is not a multiple of 10^6; the bias is below one part in 10^13.
	return fmt.Sprintf("%06d", n%1_000_000)
}

// numberHash keys look-ups and budgets by number without the number.
func (pc *phoneCodes) numberHash(e164 string) string {
	m := hmac.New(sha256.New, pc.numbers)
	m.Write([]byte(e164))
	return hex.EncodeToString(m.Sum(nil))
}

func phoneAAD(id string) []byte { return []byte("phone-number:" + id) }

// phoneNumber opens a stored phone's number.
func (p *Provider) phoneNumber(ph storage.Phone) (phone.Number, error) {
	raw, err := p.secrets.Open(ph.Number, phoneAAD(ph.ID))
	if err != nil {
		return phone.Number{}, fmt.Errorf("open phone number %s: %w", ph.ID, err)
	}
	n, err := phone.Parse(string(raw), "")
	if err != nil {
		return phone.Number{}, fmt.Errorf("stored phone number %s: %w", ph.ID, err)
	}
	return n, nil
}

// usablePhone is the phone codes go to: the first verified phone that can
// still be reached, preferring one that takes SMS.
func usablePhone(phones []storage.Phone) (storage.Phone, bool) {
	var voiceOnly *storage.Phone
	for i, ph := range phones {
		if !ph.Verified() || ph.Status == storage.PhoneInvalid {
			continue
		}
		if ph.Status == storage.PhoneActive && !strings.EqualFold(ph.LineType, "landline") {
			return ph, true
		}
		if voiceOnly == nil {
			voiceOnly = &phones[i]
		}
	}
	if voiceOnly != nil {
		return *voiceOnly, true
	}
	return storage.Phone{}, false
}

// phoneStates are the engine's facts about SMS and voice, for the
// sign-in txID ("" outside one).
func (p *Provider) phoneStates(ctx context.Context, userID, txID string) ([]mfa.FactorState, error) {
	if p.phone == nil {
		return nil, nil
	}
	phones, err := p.store.ListPhones(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("list phones: %w", err)
	}
	ph, ok := usablePhone(phones)
	if !ok {
		return []mfa.FactorState{{Factor: mfa.SMS}, {Factor: mfa.Voice}}, nil
	}
	left := -1
	b, err := p.store.GetBudget(ctx, phoneUserBudget(userID))
	if err != nil {
		return nil, fmt.Errorf("read phone budget: %w", err)
	}
	if p.phone.opts.Budgets.KillSwitch {
		left = 0
	} else if !b.WindowStart.IsZero() && p.now().Before(b.WindowStart.Add(time.Hour)) {
		left = max(p.phone.opts.Budgets.PerUser-int(b.Used), 0)
	}
	if left == 0 && txID != "" {
		// The budgets limit sends, not the entry of a code already sent:
		// without this the last code the budget allows could not be typed.
		code, err := p.store.FindPhoneCode(ctx, txID, ph.ID, p.now().UTC())
		switch {
		case err == nil && code.Sends > 0 && code.Attempts < otp.MaxAttempts:
			left = -1
		case err != nil && !errors.Is(err, storage.ErrNotFound):
			return nil, fmt.Errorf("find phone code: %w", err)
		}
	}
	state := func(f mfa.Factor, enrolled bool) mfa.FactorState {
		return mfa.FactorState{Factor: f, Enrolled: enrolled, PhoneVerified: true, LineType: ph.LineType,
			SIMSwappedAt: ph.SIMSwappedAt, BudgetLeft: left}
	}
	return []mfa.FactorState{
		state(mfa.SMS, ph.Status == storage.PhoneActive),
		state(mfa.Voice, true),
	}, nil
}

func phoneUserBudget(userID string) string { return "phone-user:" + userID }

// sendRequest is one code to send.
type sendRequest struct {
	user    storage.User
	phone   storage.Phone
	txID    string
	purpose string
	channel string
	lang    string
	// ip is the client's address, charged to its budget; empty for sends
	// the carrier's callback triggers.
	ip string
	// now skips the resend wait: a voice call after an SMS that was not
	// delivered.
	now bool
}

// sendPhoneCode sends (or re-sends) the transaction's code for a phone. It
// reuses a live code, so a resend or a switch to voice carries the same
// digits, and waits 30 s, 60 s, then 120 s between sends. Every send is
// charged to the budgets first; a send the budgets refuse never reaches
// the carrier.
func (p *Provider) sendPhoneCode(r *http.Request, req sendRequest) (storage.PhoneCode, error) {
	ctx := r.Context()
	pc := p.phone
	if pc == nil || pc.opts.Budgets.KillSwitch {
		return storage.PhoneCode{}, errPhoneUnavailable
	}
	num, err := p.phoneNumber(req.phone)
	if err != nil {
		return storage.PhoneCode{}, err
	}
	if len(pc.opts.Countries) > 0 && !slices.Contains(pc.opts.Countries, num.Region) {
		p.audit(r, "phone.country_refused", req.user.ID, "", map[string]string{"country": num.Region})
		return storage.PhoneCode{}, errPhoneCountry
	}
	if req.purpose == purposeSignIn {
		if err := p.checkSIMSwap(r, req.user.ID, &req.phone, num); err != nil {
			return storage.PhoneCode{}, err
		}
	}
	now := p.now().UTC()
	code, err := p.store.FindPhoneCode(ctx, req.txID, req.phone.ID, now)
	if err == nil && code.Attempts >= otp.MaxAttempts {
		// Out of attempts: sending it again would only waste a message.
		err = storage.ErrNotFound
	}
	if errors.Is(err, storage.ErrNotFound) {
		code = storage.PhoneCode{
			ID: randomID(), UserID: req.user.ID, PhoneID: req.phone.ID, TxID: req.txID, Purpose: req.purpose,
			Channel: req.channel, Lang: req.lang, CreatedAt: now, ExpiresAt: now.Add(otp.Lifetime),
		}
		code.Hash = pc.hasher.Hash(pc.codeFor(code.ID), code.ID)
		err = p.store.CreatePhoneCode(ctx, code)
	}
	if err != nil {
		return storage.PhoneCode{}, fmt.Errorf("phone code: %w", err)
	}
	notBefore := now
	if code.Sends > 0 && !req.now {
		wait := otp.ResendWait(code.Sends)
		if next := code.LastSentAt.Add(wait); next.After(now) {
			return code, &resendWaitError{wait: next.Sub(now).Round(time.Second)}
		}
		notBefore = now.Add(-wait)
	}
	if err := p.spendPhoneBudgets(r, req, num); err != nil {
		return code, err
	}
	if err := p.store.RecordPhoneCodeSend(ctx, code.ID, req.channel, code.Sends, notBefore, now); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			// Another request sent it a moment ago.
			return code, &resendWaitError{wait: otp.ResendWait(code.Sends + 1)}
		}
		return code, fmt.Errorf("record phone code send: %w", err)
	}
	code.Sends++
	code.LastSentAt, code.Channel = now, req.channel
	sent, err := p.deliver(ctx, req, num, pc.codeFor(code.ID))
	if err != nil {
		p.metrics.phoneSent.WithLabelValues(req.channel, num.Region, "failed").Inc()
		return code, p.deliveryFailed(r, req, err)
	}
	p.metrics.phoneSent.WithLabelValues(req.channel, num.Region, "sent").Inc()
	msg := storage.PhoneMessage{
		SID: sent.SID, CodeID: code.ID, UserID: req.user.ID, PhoneID: req.phone.ID, Channel: req.channel,
		Country: num.Region, Status: sent.Status, Segments: sent.Segments, CreatedAt: now, UpdatedAt: now,
	}
	if err := p.store.CreatePhoneMessage(ctx, msg); err != nil {
		return code, fmt.Errorf("record phone message: %w", err)
	}
	p.audit(r, "phone.code_sent", req.user.ID, "", map[string]string{
		"channel": req.channel, "phone": req.phone.ID, "country": num.Region, "purpose": req.purpose,
	})
	return code, nil
}

// deliver hands the code to the carrier in the user's language.
func (p *Provider) deliver(ctx context.Context, req sendRequest, num phone.Number, code string) (Sent, error) {
	pc := p.phone
	if req.channel == channelVoice {
		return pc.opts.Telephony.Call(ctx, OutboundCall{
			To: num.E164, Script: otp.VoiceScript(req.lang, p.appName, code), StatusCallback: pc.callback,
		})
	}
	return pc.opts.Telephony.SendSMS(ctx, OutboundSMS{
		To: num.E164, Body: otp.SMSText(req.lang, p.appName, pc.host, code),
		StatusCallback: pc.callback, ValidityPeriod: otp.Lifetime,
	})
}

// deliveryFailed records what a failed send says about the number.
func (p *Provider) deliveryFailed(r *http.Request, req sendRequest, err error) error {
	ctx := r.Context()
	ph := req.phone
	details := map[string]string{"channel": req.channel, "phone": ph.ID}
	changed := true
	switch {
	case errors.Is(err, ErrNumberInvalid):
		ph.Status = storage.PhoneInvalid
	case errors.Is(err, ErrNumberUnsubscribed) && req.channel == channelSMS:
		ph.Status = storage.PhoneStopped
	case errors.Is(err, ErrNotMobile) && req.channel == channelSMS:
		ph.LineType = "landline"
	case errors.Is(err, ErrTelephonyConfig):
		changed = false
		p.log.ErrorContext(ctx, "telephony configuration alarm: the carrier refused our credentials; phone codes are failing for everyone", "err", err)
	default:
		changed = false
		p.log.WarnContext(ctx, "phone code not sent", "channel", req.channel, "err", err)
	}
	if changed {
		if uerr := p.store.UpdatePhone(ctx, ph); uerr != nil {
			return fmt.Errorf("update phone after failed send: %w", uerr)
		}
		details["status"], details["line_type"] = ph.Status, ph.LineType
	}
	p.audit(r, "phone.send_failed", req.user.ID, "", details)
	return errPhoneUnavailable
}

// spendPhoneBudgets charges one send to every budget at once: the user,
// the number, its range, its country, the client's IP and the day's spend.
func (p *Provider) spendPhoneBudgets(r *http.Request, req sendRequest, num phone.Number) error {
	b := p.phone.opts.Budgets
	cost := b.SMSCost
	if req.channel == channelVoice {
		cost = b.VoiceCost
	}
	const micro = 1e6
	charges := []storage.BudgetCharge{
		{Key: phoneUserBudget(req.user.ID), Cost: 1, Limit: int64(b.PerUser), Window: time.Hour},
		{Key: "phone-number:" + req.phone.NumberHash, Cost: 1, Limit: int64(b.PerNumber), Window: time.Hour},
		{Key: "phone-prefix:" + phone.Prefix(num, 3), Cost: 1, Limit: int64(b.PerPrefix), Window: time.Hour},
		{Key: "phone-country:" + num.Region, Cost: 1, Limit: int64(b.PerCountry), Window: time.Hour},
		{Key: "phone-spend:day", Cost: int64(cost * micro), Limit: int64(b.DailySpend * micro), Window: 24 * time.Hour},
	}
	if req.ip != "" {
		charges = append(charges, storage.BudgetCharge{Key: "phone-ip:" + req.ip, Cost: 1, Limit: int64(b.PerIP), Window: time.Hour})
	}
	err := p.store.SpendBudgets(r.Context(), charges, p.now().UTC())
	var over *storage.BudgetExceededError
	if errors.As(err, &over) {
		kind, _, _ := strings.Cut(over.Key, ":")
		p.metrics.phoneSent.WithLabelValues(req.channel, num.Region, "budget").Inc()
		p.audit(r, "phone.budget_exceeded", req.user.ID, "", map[string]string{"budget": kind, "channel": req.channel})
		if kind == "phone-spend" {
			p.log.ErrorContext(r.Context(), "daily phone spend cap reached: no SMS or call leaves until the window ends", "cap", b.DailySpend)
		}
		return errPhoneBudget
	}
	if err != nil {
		return fmt.Errorf("spend phone budgets: %w", err)
	}
	return nil
}

// simCheckEvery spaces the paid SIM-swap lookups of one phone.
const simCheckEvery = time.Hour

// checkSIMSwap asks the carrier when the phone's SIM last changed, at most
// once an hour, and refuses a code to a SIM that changed within the
// policy's window: a swapped SIM is how phone codes are stolen.
func (p *Provider) checkSIMSwap(r *http.Request, userID string, ph *storage.Phone, num phone.Number) error {
	ctx := r.Context()
	pol, err := p.policies.get(ctx)
	if err != nil {
		return err
	}
	window := time.Duration(pol.SIMSwapWindow)
	if !p.phone.opts.SIMSwapLookup || window <= 0 {
		return nil
	}
	now := p.now().UTC()
	if now.Sub(ph.SIMCheckedAt) >= simCheckEvery {
		info, err := p.phone.opts.Telephony.Lookup(ctx, num.E164, true)
		if err != nil {
			// Unknown is not safe: without the check the phone is not
			// trusted for this send.
			p.log.WarnContext(ctx, "sim swap lookup failed", "phone", ph.ID, "err", err)
			return errPhoneUnavailable
		}
		ph.SIMCheckedAt, ph.SIMSwappedAt = now, info.SIMSwappedAt
		if err := p.store.UpdatePhone(ctx, *ph); err != nil {
			return fmt.Errorf("record sim swap check: %w", err)
		}
	}
	if !ph.SIMSwappedAt.IsZero() && now.Sub(ph.SIMSwappedAt) < window {
		p.audit(r, "phone.sim_swapped", userID, "", map[string]string{
			"phone": ph.ID, "swapped_at": ph.SIMSwappedAt.Format(time.RFC3339),
		})
		return errSIMSwapped
	}
	return nil
}

// verifyPhoneCode checks a typed code against the transaction's live code
// for the phone. Attempts are counted before the comparison, so parallel
// guesses cannot pass the limit; a right code is used exactly once.
func (p *Provider) verifyPhoneCode(ctx context.Context, txID, phoneID, input string) (storage.PhoneCode, bool, error) {
	now := p.now().UTC()
	code, err := p.store.FindPhoneCode(ctx, txID, phoneID, now)
	if errors.Is(err, storage.ErrNotFound) {
		return code, false, nil
	}
	if err != nil {
		return code, false, fmt.Errorf("find phone code: %w", err)
	}
	typed, ok := otp.Normalize(input)
	code, err = p.store.AttemptPhoneCode(ctx, code.ID, otp.MaxAttempts, now)
	switch {
	case errors.Is(err, storage.ErrConflict), errors.Is(err, storage.ErrNotFound):
		return code, false, nil
	case err != nil:
		return code, false, fmt.Errorf("count phone code attempt: %w", err)
	}
	if !ok || !p.phone.hasher.Equal(typed, code.ID, code.Hash) {
		return code, false, nil
	}
	switch err := p.store.UsePhoneCode(ctx, code.ID, now); {
	case errors.Is(err, storage.ErrConflict), errors.Is(err, storage.ErrNotFound):
		return code, false, nil
	case err != nil:
		return code, false, fmt.Errorf("use phone code: %w", err)
	}
	p.metrics.phoneVerified.WithLabelValues(code.Channel).Inc()
	return code, true, nil
}
