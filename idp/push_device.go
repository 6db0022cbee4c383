package idp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/mfa/push"
)

// The device API (docs/push-protocol.md): every request is a compact JWS
// signed by the device's key, every answer JSON. These routes are not
// browser forms: no cookies, no CSRF token; the signature is the
// authentication.

// maxDeviceRequest bounds a request body: a JWS with a Web Push
// subscription is under 3 KiB.
const maxDeviceRequest = 16 << 10

// deviceHandler parses the signed request of one kind and answers with
// what handle returns, or the protocol's error body.
func (p *Provider) deviceHandler(kind push.Kind, handle func(*http.Request, push.Request) (int, any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		status, body, err := p.serveDevice(r, kind, handle)
		if err != nil {
			var eb push.ErrorBody
			status, eb = push.ErrorResponse(err)
			var left *attemptsLeft
			if errors.As(err, &left) {
				eb.AttemptsLeft = &left.n
			}
			if status == http.StatusInternalServerError {
				p.log.ErrorContext(r.Context(), "push device request failed", "kind", kind, "err", err)
			}
			body = eb
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(body)
	}
}

// attemptsLeft carries how many wrong numbers a challenge still takes.
type attemptsLeft struct {
	n   int
	err error
}

func (a *attemptsLeft) Error() string { return a.err.Error() }
func (a *attemptsLeft) Unwrap() error { return a.err }

func (p *Provider) serveDevice(r *http.Request, kind push.Kind, handle func(*http.Request, push.Request) (int, any, error)) (int, any, error) {
	if p.push == nil {
		return 0, nil, fmt.Errorf("%w: push approval is off", push.ErrUnknownDevice)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxDeviceRequest+1))
	if err != nil || len(body) > maxDeviceRequest {
		return 0, nil, fmt.Errorf("%w: body unreadable or too large", push.ErrMalformed)
	}
	req, err := push.ParseRequest(string(body), p.issuer, p.now(), kind)
	if err != nil {
		return 0, nil, err
	}
	// Each request is accepted once: its jti is charged to a budget of one
	// for as long as its iat can pass the time check, on every node.
	err = p.store.SpendBudgets(r.Context(), []storage.BudgetCharge{{
		Key: "push-jti:" + req.DeviceID + ":" + req.ID, Cost: 1, Limit: 1, Window: 2 * push.MaxSkew,
	}}, p.now().UTC())
	if errors.Is(err, storage.ErrConflict) {
		return 0, nil, push.ErrReplayed
	}
	if err != nil {
		return 0, nil, fmt.Errorf("record jti: %w", err)
	}
	return handle(r, req)
}

// knownDevice finds the signing device; its id is the key's thumbprint,
// so a found device also fixes the key.
func (p *Provider) knownDevice(r *http.Request, req push.Request) (storage.PushDevice, error) {
	d, err := p.store.GetPushDevice(r.Context(), req.DeviceID)
	if errors.Is(err, storage.ErrNotFound) {
		return d, push.ErrUnknownDevice
	}
	if err != nil {
		return d, fmt.Errorf("get push device: %w", err)
	}
	return d, nil
}

func (p *Provider) deviceStatus(d storage.PushDevice) push.DeviceStatus {
	ok, reason := p.deviceReady(d)
	st := push.DeviceStatus{Device: d.ID, PushReady: ok, Reason: reason}
	if p.push.opts.MaxSilence > 0 {
		st.HeartbeatWithin = int64(p.push.opts.MaxSilence / time.Second)
	}
	return st
}

// pushEnrol adds a device with a one-time token from the account page.
func (p *Provider) pushEnrol(r *http.Request, req push.Request) (int, any, error) {
	ctx := r.Context()
	e := req.Enrol
	if err := p.checkPushToken(e.Channel, e.PushToken); err != nil {
		return 0, nil, err
	}
	now := p.now().UTC()
	en, err := p.store.UsePushEnrolment(ctx, push.HashToken(e.Token), now)
	if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrConflict) {
		return 0, nil, push.ErrInvalidToken
	}
	if err != nil {
		return 0, nil, fmt.Errorf("use push enrolment: %w", err)
	}
	key, err := json.Marshal(req.Key)
	if err != nil {
		return 0, nil, fmt.Errorf("encode device key: %w", err)
	}
	d := storage.PushDevice{
		ID: req.DeviceID, UserID: en.UserID, PublicKey: key, Name: e.Name, Platform: e.Platform,
		Channel: e.Channel, Token: e.PushToken, Permission: e.Permission, TokenValid: e.PushToken != "",
		CreatedAt: now, LastSeenAt: now,
	}
	if err := p.store.CreatePushDevice(ctx, d); errors.Is(err, storage.ErrConflict) {
		return 0, nil, push.ErrDeviceExists
	} else if err != nil {
		return 0, nil, fmt.Errorf("create push device: %w", err)
	}
	p.auditDevice(r, "mfa.enrolled", en.UserID, map[string]string{"factor": "push", "credential": d.ID, "platform": d.Platform})
	return http.StatusCreated, p.deviceStatus(d), nil
}

// checkPushToken refuses a token the channel could never deliver to, when
// the device reports it rather than at the first sign-in.
func (p *Provider) checkPushToken(channel, token string) error {
	if _, ok := p.push.opts.Senders[channel]; !ok {
		return fmt.Errorf("%w: channel %q is not enabled here", push.ErrMalformed, channel)
	}
	if token == "" {
		return nil
	}
	if err := push.CheckPushToken(channel, token); err != nil {
		return err
	}
	if c, ok := p.push.opts.Senders[channel].(interface{ CheckSubscription(string) error }); ok {
		if err := c.CheckSubscription(token); err != nil {
			return fmt.Errorf("%w: %w", push.ErrMalformed, err)
		}
	}
	return nil
}

// pushHeartbeat records the device's permission and token.
func (p *Provider) pushHeartbeat(r *http.Request, req push.Request) (int, any, error) {
	ctx := r.Context()
	d, err := p.knownDevice(r, req)
	if err != nil {
		return 0, nil, err
	}
	h := req.Heartbeat
	channel := h.Channel
	if channel == "" {
		channel = d.Channel
	}
	if h.PushToken != "" {
		if err := p.checkPushToken(channel, h.PushToken); err != nil {
			return 0, nil, err
		}
	}
	if err := p.store.UpdatePushDeviceState(ctx, d.ID, h.Permission, h.PushToken, channel, p.now().UTC()); err != nil {
		return 0, nil, fmt.Errorf("update push device: %w", err)
	}
	if d, err = p.store.GetPushDevice(ctx, d.ID); err != nil {
		return 0, nil, fmt.Errorf("get push device: %w", err)
	}
	return http.StatusOK, p.deviceStatus(d), nil
}

// pushFetch gives the device a challenge's details; it is the delivery
// acknowledgement that keeps the sign-in page waiting for the answer.
func (p *Provider) pushFetch(r *http.Request, req push.Request) (int, any, error) {
	ctx := r.Context()
	if _, err := p.knownDevice(r, req); err != nil {
		return 0, nil, err
	}
	// The stores keep microseconds: DeliveredAt reads back equal to now
	// only for the fetch that acknowledged the push.
	now := p.now().UTC().Truncate(time.Microsecond)
	ch, err := p.store.MarkPushDelivered(ctx, req.DeviceID, req.Fetch.ChallengeID, now)
	if errors.Is(err, storage.ErrNotFound) {
		return 0, nil, push.ErrUnknownChallenge
	}
	if err != nil {
		return 0, nil, fmt.Errorf("mark push delivered: %w", err)
	}
	if !ch.Open(now) {
		return 0, nil, endedError(ch)
	}
	if ch.DeliveredAt.Equal(now) {
		p.metrics.pushes.WithLabelValues("delivered").Inc()
	}
	var info pushContext
	if err := json.Unmarshal(ch.Context, &info); err != nil {
		return 0, nil, fmt.Errorf("push context: %w", err)
	}
	return http.StatusOK, push.ChallengeDetails{
		Challenge: ch.ID, Nonce: ch.Nonce, Account: info.Account, App: info.App, Browser: info.Browser,
		IP: info.IP, ExpiresIn: int64(ch.ExpiresAt.Sub(now).Seconds()), Choices: info.Choices,
	}, nil
}

// pushAnswer takes the device's decision: approve (with the right number)
// completes the factor, deny ends this push, "this wasn't me" ends the
// sign-in and locks push for the user.
func (p *Provider) pushAnswer(r *http.Request, req push.Request) (int, any, error) {
	ctx := r.Context()
	if _, err := p.knownDevice(r, req); err != nil {
		return 0, nil, err
	}
	rec, err := p.store.GetPushChallenge(ctx, req.Answer.ChallengeID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && rec.DeviceID != req.DeviceID) {
		return 0, nil, push.ErrUnknownChallenge
	}
	if err != nil {
		return 0, nil, fmt.Errorf("get push challenge: %w", err)
	}
	var info pushContext
	if err := json.Unmarshal(rec.Context, &info); err != nil {
		return 0, nil, fmt.Errorf("push context: %w", err)
	}
	now := p.now().UTC()
	ch := push.Challenge{ID: rec.ID, Nonce: rec.Nonce, Number: strconv.Itoa(rec.Number), Choices: info.Choices,
		Created: rec.CreatedAt, Expires: rec.ExpiresAt}
	if req.Answer.Decision == push.DecisionApprove && !rec.Open(now) {
		return 0, nil, endedError(rec)
	}
	switch err := push.CheckAnswer(ch, *req.Answer, now); {
	case errors.Is(err, push.ErrDecoyPicked):
		if err := p.store.EndPushChallenge(ctx, rec.ID, storage.PushFailed, "decoy picked", now); err != nil && !errors.Is(err, storage.ErrConflict) {
			return 0, nil, fmt.Errorf("end push challenge: %w", err)
		}
		p.metrics.pushes.WithLabelValues("wrong_number").Inc()
		p.auditDevice(r, "push.wrong_number", rec.UserID, map[string]string{"device": rec.DeviceID, "ended": "decoy"})
		return 0, nil, err
	case errors.Is(err, push.ErrWrongNumber):
		after, rerr := p.store.RecordWrongNumber(ctx, req.DeviceID, rec.ID, push.MaxWrongNumbers, now)
		if errors.Is(rerr, storage.ErrConflict) || errors.Is(rerr, storage.ErrNotFound) {
			return 0, nil, push.ErrChallengeEnded
		}
		if rerr != nil {
			return 0, nil, fmt.Errorf("record wrong number: %w", rerr)
		}
		p.metrics.pushes.WithLabelValues("wrong_number").Inc()
		p.auditDevice(r, "push.wrong_number", rec.UserID, map[string]string{"device": rec.DeviceID, "wrong": strconv.Itoa(after.WrongNumbers)})
		if after.Status == storage.PushFailed {
			return 0, nil, push.ErrChallengeEnded
		}
		return 0, nil, &attemptsLeft{n: push.MaxWrongNumbers - after.WrongNumbers, err: err}
	case err != nil:
		return 0, nil, err
	}
	status, result := storage.PushApproved, push.ResultApproved
	switch req.Answer.Decision {
	case push.DecisionDeny:
		status, result = storage.PushDenied, push.ResultDenied
	case push.DecisionNotMe:
		status, result = storage.PushNotMe, push.ResultReported
	}
	err = p.store.AnswerPushChallenge(ctx, req.DeviceID, rec.ID, status, now)
	switch {
	case errors.Is(err, storage.ErrConflict) && status != storage.PushNotMe:
		// Answered, superseded by another factor, or expired meanwhile: a
		// late approval must not complete anything, and a late deny has
		// nothing left to end.
		if status == storage.PushApproved {
			return 0, nil, push.ErrAnswered
		}
		return 0, nil, endedError(rec)
	case errors.Is(err, storage.ErrConflict):
		// A "this wasn't me" for a push that has ended still reports a
		// stolen password: it is acted on below.
	case err != nil:
		return 0, nil, fmt.Errorf("answer push challenge: %w", err)
	}
	p.metrics.pushes.WithLabelValues(status).Inc()
	p.auditDevice(r, "push."+status, rec.UserID, map[string]string{"device": rec.DeviceID})
	if status == storage.PushNotMe {
		if err := p.pushNotMe(r, rec); err != nil {
			return 0, nil, err
		}
	}
	return http.StatusOK, push.AnswerResult{Result: result}, nil
}

// endedError is the protocol's answer (docs/push-protocol.md) to a fetch
// or an approval of a challenge that is no longer open: answered, ended by
// a decoy or wrong numbers, or expired and superseded (the sign-in moved
// on).
func endedError(ch storage.PushChallenge) error {
	switch ch.Status {
	case storage.PushApproved, storage.PushDenied, storage.PushNotMe:
		return push.ErrAnswered
	case storage.PushFailed:
		return push.ErrChallengeEnded
	}
	return push.ErrExpired
}

// pushNotMe acts on "this wasn't me": someone has the user's password. Push
// is locked for the user for a while (so the attacker cannot keep asking),
// the sign-in it named ends, and the user sees a security event on the
// account page.
func (p *Provider) pushNotMe(r *http.Request, rec storage.PushChallenge) error {
	ctx := r.Context()
	now := p.now().UTC()
	if _, err := p.store.RecordFailure(ctx, pushNotMeKey(rec.UserID), now, p.push.opts.NotMeLock); err != nil {
		return fmt.Errorf("lock push: %w", err)
	}
	if rec.TxID != "" {
		if _, err := p.store.SupersedePushChallenges(ctx, rec.TxID, "", now); err != nil {
			return fmt.Errorf("end push challenges: %w", err)
		}
		// Completing the transaction makes it unusable, and ending its
		// browser session drops the password proof it holds: the
		// attacker's browser can only start over, and push is locked.
		tx, err := p.store.GetLoginTx(ctx, rec.TxID, now)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("get login transaction: %w", err)
		}
		if err := p.store.CompleteLoginTx(ctx, rec.TxID, now); err != nil && !errors.Is(err, storage.ErrConflict) && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("end login transaction: %w", err)
		}
		if tx.SessionID != "" {
			if err := p.store.DeleteSession(ctx, tx.SessionID); err != nil && !errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("end the reported session: %w", err)
			}
		}
	}
	p.auditDevice(r, "push.reported", rec.UserID, map[string]string{"device": rec.DeviceID, "locked_for": p.push.opts.NotMeLock.String()})
	return nil
}

// auditDevice writes an audit event for a device request; the device's
// address is not the sign-in's, so it is recorded as the request's.
func (p *Provider) auditDevice(r *http.Request, typ, userID string, details map[string]string) {
	p.audit(r, typ, userID, "", details)
}
