package idp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/latchkey/latchkey/idp/storage"
)

// phoneStatusPath receives the carrier's delivery reports.
const phoneStatusPath = "/phone/status"

// failedDelivery reports whether a status means the code did not arrive:
// an SMS undelivered or failed (Twilio 30003-30008 and friends), or a
// call nobody answered.
func failedDelivery(channel, status string) bool {
	switch status {
	case "undelivered", "failed":
		return true
	case "busy", "no-answer", "canceled":
		return channel == channelVoice
	}
	return false
}

// statusRank orders delivery statuses so a late "sent" never overwrites
// "delivered": callbacks can arrive out of order.
func statusRank(s string) int {
	switch s {
	case "accepted", "scheduled", "queued", "initiated":
		return 1
	case "sending", "ringing":
		return 2
	case "sent", "in-progress":
		return 3
	}
	return 4 // final: delivered, undelivered, failed, read, completed, busy, no-answer, canceled
}

// phoneStatus records a delivery report. Only a report signed for our
// public URL is believed: anyone can POST here, and a forged "undelivered"
// must not be able to make Latchkey place calls. An unknown message is
// acknowledged (the carrier would retry a failure forever) and ignored.
func (p *Provider) phoneStatus(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if p.phone == nil {
		http.NotFound(w, r)
		return
	}
	rep, err := p.phone.opts.Telephony.ParseCallback(r, p.phone.callback)
	if err != nil {
		p.log.WarnContext(ctx, "delivery report refused", "err", err)
		p.metrics.phoneCallbacks.WithLabelValues("forged").Inc()
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	if err := p.recordDelivery(r, rep); err != nil {
		p.log.ErrorContext(ctx, "delivery report not recorded", "sid", rep.SID, "err", err)
		http.Error(w, "try again", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (p *Provider) recordDelivery(r *http.Request, rep DeliveryReport) error {
	ctx := r.Context()
	m, err := p.store.GetPhoneMessage(ctx, rep.SID)
	if errors.Is(err, storage.ErrNotFound) {
		p.metrics.phoneCallbacks.WithLabelValues("unknown").Inc()
		return nil
	}
	if err != nil {
		return fmt.Errorf("get phone message: %w", err)
	}
	p.metrics.phoneCallbacks.WithLabelValues("ok").Inc()
	if statusRank(rep.Status) < statusRank(m.Status) {
		return nil
	}
	wasFinal := statusRank(m.Status) == 4
	m.Status, m.ErrorCode, m.UpdatedAt = rep.Status, rep.ErrorCode, p.now().UTC()
	if rep.Price != "" {
		m.Price, m.PriceUnit = rep.Price, rep.PriceUnit
		if f, err := strconv.ParseFloat(rep.Price, 64); err == nil && f < 0 {
			p.metrics.phoneSpend.WithLabelValues(m.Channel, rep.PriceUnit).Add(-f)
		}
	}
	if rep.Segments > 0 {
		m.Segments = rep.Segments
	}
	if err := p.store.UpdatePhoneMessage(ctx, m); err != nil {
		return fmt.Errorf("update phone message: %w", err)
	}
	if wasFinal || statusRank(rep.Status) < 4 {
		return nil
	}
	p.metrics.phoneDelivered.WithLabelValues(m.Channel, m.Country, rep.Status).Inc()
	if !failedDelivery(m.Channel, rep.Status) {
		return nil
	}
	p.audit(r, "phone.undelivered", m.UserID, "", map[string]string{
		"channel": m.Channel, "phone": m.PhoneID, "status": rep.Status, "error_code": strconv.Itoa(rep.ErrorCode),
	})
	if err := p.numberFacts(ctx, m, rep.ErrorCode); err != nil {
		return err
	}
	if m.Channel == channelSMS && p.phone.opts.VoiceFallback == "call" {
		return p.callInstead(r, m)
	}
	return nil
}

// Twilio error codes that say something lasting about a number.
const (
	twilioInvalidNumber = 21211
	twilioUnsubscribed  = 21610
	twilioLandline      = 30006 // "Landline or unreachable carrier"
)

// numberFacts keeps what an error code says about the number, so the
// engine stops offering a channel that cannot work.
func (p *Provider) numberFacts(ctx context.Context, m storage.PhoneMessage, code int) error {
	ph, err := p.store.GetPhone(ctx, m.UserID, m.PhoneID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get phone: %w", err)
	}
	switch code {
	case twilioInvalidNumber:
		ph.Status = storage.PhoneInvalid
	case twilioUnsubscribed:
		ph.Status = storage.PhoneStopped
	case twilioLandline:
		ph.LineType = "landline"
	default:
		return nil
	}
	if err := p.store.UpdatePhone(ctx, ph); err != nil {
		return fmt.Errorf("update phone: %w", err)
	}
	return nil
}

// callInstead places the voice call for a code whose SMS was not
// delivered, at once and with the same code (policy voice_fallback =
// "call"). The user's page shows the call on its next render.
func (p *Provider) callInstead(r *http.Request, m storage.PhoneMessage) error {
	ctx := r.Context()
	now := p.now().UTC()
	code, err := p.store.GetPhoneCode(ctx, m.CodeID, now)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && !code.UsedAt.IsZero()) {
		return nil // expired or already entered: nothing to rescue
	}
	if err != nil {
		return fmt.Errorf("get phone code: %w", err)
	}
	user, err := p.store.GetUser(ctx, m.UserID)
	if err != nil {
		return fmt.Errorf("get user: %w", err)
	}
	ph, err := p.store.GetPhone(ctx, m.UserID, m.PhoneID)
	if err != nil {
		return fmt.Errorf("get phone: %w", err)
	}
	if ph.Status == storage.PhoneInvalid {
		return nil
	}
	_, err = p.sendPhoneCode(r, sendRequest{
		user: user, phone: ph, txID: code.TxID, purpose: code.Purpose, channel: channelVoice, lang: code.Lang, now: true,
	})
	var wait *resendWaitError
	switch {
	case errors.As(err, &wait):
		return nil // a call for this code went out already
	case errors.Is(err, errPhoneBudget), errors.Is(err, errPhoneUnavailable), errors.Is(err, errSIMSwapped), errors.Is(err, errPhoneCountry):
		return nil // audited; the page offers the other factors
	}
	return err
}
