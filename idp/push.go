package idp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/idp/web"
	"github.com/latchkey/latchkey/mfa"
	"github.com/latchkey/latchkey/mfa/push"
)

// PushOptions configure push approval; no Senders turns it off.
type PushOptions struct {
	// Senders by channel (push.ChannelWebPush, ChannelFCM, ChannelAPNs).
	Senders map[string]push.Sender
	// VAPIDPublicKey is the Web Push application server key the companion
	// app subscribes with (base64url); empty when Web Push is off.
	VAPIDPublicKey string
	// AckTimeout: a push not acknowledged (fetched by the device) within
	// it gives way to the next factor. Default 15 s.
	AckTimeout time.Duration
	// ChallengeTTL: how long a push may be approved. Default 2 minutes.
	ChallengeTTL time.Duration
	// MaxSilence: a device not heard from for longer is not push-ready.
	// Default 30 days; negative: no limit.
	MaxSilence time.Duration
	// PerWindow pushes per user per Window at most (push bombing). Default
	// 5 per 15 minutes.
	PerWindow int
	Window    time.Duration
	// NotMeLock: how long "this wasn't me" locks push for the user.
	// Default 1 hour.
	NotMeLock time.Duration
	// SendTimeout bounds one push service call. Default 5 s.
	SendTimeout time.Duration
}

func (o PushOptions) withDefaults() PushOptions {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.AckTimeout, 15*time.Second)
	def(&o.ChallengeTTL, 2*time.Minute)
	def(&o.MaxSilence, 30*24*time.Hour)
	def(&o.Window, 15*time.Minute)
	def(&o.NotMeLock, time.Hour)
	def(&o.SendTimeout, 5*time.Second)
	if o.PerWindow == 0 {
		o.PerWindow = 5
	}
	return o
}

// pushApproval is the push factor's machinery, nil when it is off.
type pushApproval struct {
	opts PushOptions
}

func newPushApproval(o PushOptions) *pushApproval {
	if len(o.Senders) == 0 {
		return nil
	}
	return &pushApproval{opts: o.withDefaults()}
}

func pushBudgetKey(userID string) string { return "push-user:" + userID }
func pushNotMeKey(userID string) string  { return "push-notme:" + userID }

// Why a push did not go out; each sends the sign-in to the next factor.
var (
	errPushBudget      = errors.New("push budget exhausted")
	errPushUnavailable = errors.New("push could not be sent")
	errPushNoDevice    = errors.New("no push-ready device")
)

// pushContext is what the device shows about the sign-in, stored with the
// challenge (with the choices: a second fetch must show the same ones).
type pushContext struct {
	Account string   `json:"account"`
	App     string   `json:"app"`
	Browser string   `json:"browser,omitempty"`
	IP      string   `json:"ip,omitempty"`
	Choices []string `json:"choices"`
}

// deviceReady applies the protocol's readiness rule to a stored device.
func (p *Provider) deviceReady(d storage.PushDevice) (bool, string) {
	if _, ok := p.push.opts.Senders[d.Channel]; !ok {
		return false, push.ReasonToken
	}
	seen := d.LastSeenAt
	if seen.IsZero() {
		seen = d.CreatedAt
	}
	return push.Ready(push.DeviceState{Permission: d.Permission, TokenValid: d.TokenValid, LastSeen: seen}, p.now(), p.push.opts.MaxSilence)
}

// pushState is the engine's facts about push for a user and sign-in.
func (p *Provider) pushState(ctx context.Context, userID, txID string) (mfa.FactorState, bool, error) {
	if p.push == nil {
		return mfa.FactorState{}, false, nil
	}
	devices, err := p.store.ListPushDevices(ctx, userID)
	if err != nil {
		return mfa.FactorState{}, false, fmt.Errorf("list push devices: %w", err)
	}
	st := mfa.FactorState{Factor: mfa.Push, Enrolled: len(devices) > 0, BudgetLeft: -1}
	if !st.Enrolled {
		return st, true, nil
	}
	denied, gone := true, true
	for _, d := range devices {
		ok, reason := p.deviceReady(d)
		st.PushReady = st.PushReady || ok
		denied = denied && reason == push.ReasonPermission
		gone = gone && reason == push.ReasonToken
	}
	if !st.PushReady {
		st.NotificationsDisabled, st.Unregistered = denied, gone
	}
	now := p.now()
	lock, err := p.store.GetThrottle(ctx, pushNotMeKey(userID))
	if err != nil {
		return st, false, fmt.Errorf("read push lock: %w", err)
	}
	if lock.Failures > 0 {
		if until := lock.LastFailureAt.Add(p.push.opts.NotMeLock); until.After(now) {
			st.LockedUntil = until
		}
	}
	b, err := p.store.GetBudget(ctx, pushBudgetKey(userID))
	if err != nil {
		return st, false, fmt.Errorf("read push budget: %w", err)
	}
	if !b.WindowStart.IsZero() && now.Before(b.WindowStart.Add(p.push.opts.Window)) {
		st.BudgetLeft = max(p.push.opts.PerWindow-int(b.Used), 0)
	}
	if txID != "" {
		// A push this sign-in already tried and that ended without an
		// approval (denied, failed, unanswered) is not tried again: the
		// user moves on to the next factor.
		ch, err := p.store.LatestPushChallenge(ctx, txID)
		switch {
		case errors.Is(err, storage.ErrNotFound):
		case err != nil:
			return st, false, fmt.Errorf("latest push challenge: %w", err)
		case p.pushGaveUp(ch, now):
			if until := now.Add(p.life.Login); until.After(st.LockedUntil) {
				st.LockedUntil = until
			}
		case ch.Open(now) && st.BudgetLeft == 0:
			// The push on its way is not a new one: the budget must not
			// hide it.
			st.BudgetLeft = -1
		}
	}
	return st, true, nil
}

// pushGaveUp reports whether a sign-in's push ended without an approval,
// or has waited for its acknowledgement longer than the policy allows.
func (p *Provider) pushGaveUp(ch storage.PushChallenge, now time.Time) bool {
	switch ch.Status {
	case storage.PushDenied, storage.PushFailed, storage.PushExpired, storage.PushNotMe:
		return true
	case storage.PushPending:
		return !now.Before(ch.CreatedAt.Add(p.push.opts.AckTimeout)) || !now.Before(ch.ExpiresAt)
	case storage.PushDelivered:
		return !now.Before(ch.ExpiresAt)
	}
	return false
}

// livePush returns the sign-in's push that is still worth waiting for.
func (p *Provider) livePush(ctx context.Context, txID string) (storage.PushChallenge, bool, error) {
	ch, err := p.store.LatestPushChallenge(ctx, txID)
	if errors.Is(err, storage.ErrNotFound) {
		return ch, false, nil
	}
	if err != nil {
		return ch, false, fmt.Errorf("latest push challenge: %w", err)
	}
	now := p.now()
	return ch, ch.Open(now) && !p.pushGaveUp(ch, now), nil
}

// startPush sends a push for the sign-in to the user's most recently seen
// ready device, or returns the one already on its way. A push that cannot
// go out (budget, no device, a permanent error from the push service) is
// an error the caller answers with the next factor, at once.
func (p *Provider) startPush(r *http.Request, st mfaStep) (storage.PushChallenge, error) {
	ctx := r.Context()
	if ch, live, err := p.livePush(ctx, st.tx.ID); err != nil || live {
		return ch, err
	}
	devices, err := p.store.ListPushDevices(ctx, st.user.ID)
	if err != nil {
		return storage.PushChallenge{}, fmt.Errorf("list push devices: %w", err)
	}
	var device *storage.PushDevice
	for i, d := range devices {
		if ok, _ := p.deviceReady(d); ok && (device == nil || d.LastSeenAt.After(device.LastSeenAt)) {
			device = &devices[i]
		}
	}
	if device == nil {
		return storage.PushChallenge{}, errPushNoDevice
	}
	now := p.now().UTC()
	err = p.store.SpendBudgets(ctx, []storage.BudgetCharge{{
		Key: pushBudgetKey(st.user.ID), Cost: 1, Limit: int64(p.push.opts.PerWindow), Window: p.push.opts.Window,
	}}, now)
	if errors.Is(err, storage.ErrConflict) {
		p.metrics.pushes.WithLabelValues("budget").Inc()
		p.audit(r, "push.budget_exceeded", st.user.ID, st.tx.ClientID, nil)
		return storage.PushChallenge{}, errPushBudget
	}
	if err != nil {
		return storage.PushChallenge{}, fmt.Errorf("spend push budget: %w", err)
	}
	ch, err := push.NewChallenge(now, p.push.opts.ChallengeTTL)
	if err != nil {
		return storage.PushChallenge{}, err
	}
	info, err := json.Marshal(pushContext{
		Account: st.user.Email, App: p.appDisplayName(r, st.tx), Browser: browserName(r.UserAgent()),
		IP: web.ClientIP(r, p.proxies), Choices: ch.Choices,
	})
	if err != nil {
		return storage.PushChallenge{}, fmt.Errorf("push context: %w", err)
	}
	number, _ := strconv.Atoi(ch.Number)
	rec := storage.PushChallenge{
		ID: ch.ID, TxID: st.tx.ID, UserID: st.user.ID, DeviceID: device.ID, Number: number, Nonce: ch.Nonce,
		Status: storage.PushPending, Context: info, CreatedAt: now, ExpiresAt: ch.Expires,
	}
	if err := p.store.CreatePushChallenge(ctx, rec); err != nil {
		return storage.PushChallenge{}, fmt.Errorf("create push challenge: %w", err)
	}
	if _, err := p.store.SupersedePushChallenges(ctx, st.tx.ID, rec.ID, now); err != nil {
		return storage.PushChallenge{}, fmt.Errorf("supersede push challenges: %w", err)
	}
	sendCtx, cancel := context.WithTimeout(ctx, p.push.opts.SendTimeout)
	defer cancel()
	err = p.push.opts.Senders[device.Channel].Send(sendCtx, push.Target{Channel: device.Channel, Token: device.Token},
		push.Message{Issuer: p.issuer, ChallengeID: rec.ID, TTL: p.push.opts.ChallengeTTL})
	if err != nil {
		return rec, p.pushSendFailed(r, st, *device, rec, err)
	}
	p.metrics.pushes.WithLabelValues("sent").Inc()
	p.audit(r, "push.sent", st.user.ID, st.tx.ClientID, map[string]string{"device": device.ID, "channel": device.Channel})
	return rec, nil
}

// pushSendFailed ends a challenge whose push did not go out and, for a
// permanent error, marks the device's token gone so it is skipped from now
// on.
func (p *Provider) pushSendFailed(r *http.Request, st mfaStep, d storage.PushDevice, ch storage.PushChallenge, cause error) error {
	ctx := r.Context()
	now := p.now().UTC()
	reason := "send failed"
	if errors.Is(cause, push.ErrUnregistered) {
		reason = "unregistered"
		if err := p.store.MarkPushDeviceUnregistered(ctx, d.ID, d.Token, now); err != nil && !errors.Is(err, storage.ErrConflict) {
			return fmt.Errorf("mark push device unregistered: %w", err)
		}
	}
	if err := p.store.EndPushChallenge(ctx, ch.ID, storage.PushFailed, reason, now); err != nil && !errors.Is(err, storage.ErrConflict) {
		return fmt.Errorf("end push challenge: %w", err)
	}
	p.metrics.pushes.WithLabelValues("failed").Inc()
	p.log.WarnContext(ctx, "push not sent", "device", d.ID, "channel", d.Channel, "err", cause)
	p.audit(r, "push.send_failed", st.user.ID, st.tx.ClientID, map[string]string{"device": d.ID, "reason": reason})
	// pushFallback counts the fallback, with this reason.
	return sendFailure(reason)
}

// sendFailure is errPushUnavailable saying why ("unregistered", "send
// failed"): the reason of the fallback it causes.
type sendFailure string

func (e sendFailure) Error() string        { return string(e) }
func (e sendFailure) Is(target error) bool { return target == errPushUnavailable }

// notePushBudget records a push the budget refused before it was tried:
// the engine left push out of this decision for its budget, which is what
// push bombing looks like (startPush records the same when the budget runs
// out between the decision and the send).
func (p *Provider) notePushBudget(r *http.Request, st mfaStep) {
	if p.push == nil || !slices.ContainsFunc(st.d.Trace, func(s mfa.Step) bool {
		return s.Factor == mfa.Push && s.Rule == "factor.budget_exhausted"
	}) {
		return
	}
	p.metrics.pushes.WithLabelValues("budget").Inc()
	p.metrics.pushFallbacks.WithLabelValues(errPushBudget.Error()).Inc()
	p.audit(r, "push.budget_exceeded", st.user.ID, st.tx.ClientID, nil)
}

// appDisplayName is the relying party's name, or Latchkey's own for the
// account page's step-ups.
func (p *Provider) appDisplayName(r *http.Request, tx storage.LoginTx) string {
	if name := p.clientName(r, tx); name != "" {
		return name
	}
	return p.appName
}

// pushWasSkipped reports whether the engine passed over push for this
// decision because it cannot work right now (not merely because the user
// has none): then the next factor starts at once, without a click.
func pushWasSkipped(d mfa.Decision) bool {
	return slices.ContainsFunc(d.Trace, func(s mfa.Step) bool {
		return s.Factor == mfa.Push && s.Rule != "factor.not_enrolled" && s.Rule != "factor.not_available" &&
			s.Rule != "factor.cannot_satisfy" && s.Rule != "factor.not_second"
	})
}
