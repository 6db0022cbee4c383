package idp

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/mfa/twilio"
)

// TwilioTelephony carries codes through Twilio: SMS by the Messages API,
// calls by the Calls API, lookups by Lookup v2, delivery reports checked
// against the X-Twilio-Signature.
func TwilioTelephony(c *twilio.Client, now func() time.Time) Telephony {
	if now == nil {
		now = time.Now
	}
	return twilioTelephony{c: c, now: now}
}

type twilioTelephony struct {
	c   *twilio.Client
	now func() time.Time
}

func (t twilioTelephony) SendSMS(ctx context.Context, m OutboundSMS) (Sent, error) {
	res, err := t.c.SendSMS(ctx, twilio.SMS{To: m.To, Body: m.Body, StatusCallback: m.StatusCallback, ValidityPeriod: m.ValidityPeriod})
	if err != nil {
		return Sent{}, classify(err)
	}
	return Sent{SID: res.SID, Status: res.Status, Segments: res.Segments}, nil
}

func (t twilioTelephony) Call(ctx context.Context, c OutboundCall) (Sent, error) {
	res, err := t.c.Call(ctx, twilio.Call{
		To: c.To, Script: twilio.Script{Language: c.Script.Language, Parts: c.Script.Parts}, StatusCallback: c.StatusCallback,
	})
	if err != nil {
		return Sent{}, classify(err)
	}
	return Sent{SID: res.SID, Status: res.Status}, nil
}

func (t twilioTelephony) Lookup(ctx context.Context, e164 string, simSwap bool) (LineInfo, error) {
	info, err := t.c.Lookup(ctx, e164, simSwap)
	if err != nil {
		return LineInfo{}, classify(err)
	}
	out := LineInfo{Valid: info.Valid, LineType: string(info.LineType), Carrier: info.Carrier}
	if s := info.SIMSwap; s != nil && s.ErrorCode == 0 {
		out.SIMChecked = true
		switch {
		case !s.LastSwap.IsZero():
			out.SIMSwappedAt = s.LastSwap
		case s.SwappedInPeriod:
			// Only "within the period" is known: assume the worst, a swap
			// just now.
			out.SIMSwappedAt = t.now().UTC()
		}
	} else if simSwap {
		return out, fmt.Errorf("sim swap status unknown for this number")
	}
	return out, nil
}

func (t twilioTelephony) ParseCallback(r *http.Request, publicURL string) (DeliveryReport, error) {
	cb, err := t.c.ParseCallback(r, publicURL)
	if err != nil {
		return DeliveryReport{}, err
	}
	sid := cb.MessageSID
	if sid == "" {
		sid = cb.CallSID
	}
	return DeliveryReport{SID: sid, Status: cb.Status, ErrorCode: cb.ErrorCode, Price: cb.Price,
		PriceUnit: cb.PriceUnit, Segments: cb.Segments}, nil
}

// classify maps Twilio's error codes onto what the phone factor acts on.
func classify(err error) error {
	switch {
	case twilio.IsInvalidNumber(err):
		return fmt.Errorf("%w: %w", ErrNumberInvalid, err)
	case twilio.IsUnsubscribed(err):
		return fmt.Errorf("%w: %w", ErrNumberUnsubscribed, err)
	case twilio.IsNotMobile(err):
		return fmt.Errorf("%w: %w", ErrNotMobile, err)
	case twilio.IsConfigError(err):
		return fmt.Errorf("%w: %w", ErrTelephonyConfig, err)
	}
	return err
}
