package idp

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/idp/web"
	"github.com/latchkey/latchkey/mfa"
	"github.com/latchkey/latchkey/mfa/otp"
)

// phoneView is the SMS/voice part of the /mfa page.
type phoneView struct {
	Masked string
	// Sent: a live code exists; the page asks for it.
	Sent    bool
	Channel string // of the last send
	// WaitSeconds until a resend is allowed (0: now).
	WaitSeconds int
	// Undelivered: the carrier reported the last SMS or call failed.
	Undelivered bool
	// CanCall / CanText: the other channel is offered.
	CanCall, CanText bool
}

// phoneFor finds the phone a sign-in's codes go to.
func (p *Provider) phoneFor(r *http.Request, userID string) (storage.Phone, bool, error) {
	phones, err := p.store.ListPhones(r.Context(), userID)
	if err != nil {
		return storage.Phone{}, false, fmt.Errorf("list phones: %w", err)
	}
	ph, ok := usablePhone(phones)
	return ph, ok, nil
}

// phoneData fills the page's phone part from the live code and what the
// carrier last reported about it.
func (p *Provider) phoneData(r *http.Request, st mfaStep, f mfa.Factor) (*phoneView, storage.Phone, error) {
	ctx := r.Context()
	ph, ok, err := p.phoneFor(r, st.user.ID)
	if err != nil || !ok {
		return nil, ph, err
	}
	v := &phoneView{
		Masked:  ph.Masked,
		CanCall: f == mfa.SMS && slices.Contains(st.d.Offer, mfa.Voice),
		CanText: f == mfa.Voice && slices.Contains(st.d.Offer, mfa.SMS),
	}
	now := p.now().UTC()
	code, err := p.store.FindPhoneCode(ctx, st.tx.ID, ph.ID, now)
	if errors.Is(err, storage.ErrNotFound) {
		return v, ph, nil
	}
	if err != nil {
		return nil, ph, fmt.Errorf("find phone code: %w", err)
	}
	if code.Sends == 0 || code.Attempts >= otp.MaxAttempts {
		return v, ph, nil
	}
	msgs, err := p.store.ListPhoneMessages(ctx, code.ID)
	if err != nil {
		return nil, ph, fmt.Errorf("list phone messages: %w", err)
	}
	if len(msgs) == 0 {
		// Every send failed at the carrier: nothing was sent, and the
		// page offers to send at once.
		return v, ph, nil
	}
	v.Sent, v.Channel = true, code.Channel
	if next := code.LastSentAt.Add(otp.ResendWait(code.Sends)); next.After(now) {
		v.WaitSeconds = int(next.Sub(now).Round(time.Second).Seconds())
	}
	if n := len(msgs); n > 0 && failedDelivery(msgs[n-1].Channel, msgs[n-1].Status) {
		v.Undelivered = true
		// A code that never arrived may be sent the other way at once.
		v.WaitSeconds = 0
		v.CanCall = msgs[n-1].Channel == channelSMS && slices.Contains(st.d.Offer, mfa.Voice)
	}
	return v, ph, nil
}

// mfaPhone answers the SMS and voice forms of /mfa: "send" sends (or
// re-sends) the code by the chosen channel; otherwise the typed code is
// checked.
func (p *Provider) mfaPhone(w http.ResponseWriter, r *http.Request, st mfaStep, f mfa.Factor) error {
	if r.PostFormValue("op") == "send" {
		return p.mfaSendCode(w, r, st, f)
	}
	ph, ok, err := p.phoneFor(r, st.user.ID)
	if err != nil {
		return err
	}
	if !ok {
		return p.renderMFA(w, r, st, st.pick(""), http.StatusBadRequest, "mfa.error.unavailable", "")
	}
	return p.mfaCheckPhoneCode(w, r, st, f, ph)
}

// mfaSendCode sends (or re-sends) the sign-in's code by f's channel.
func (p *Provider) mfaSendCode(w http.ResponseWriter, r *http.Request, st mfaStep, f mfa.Factor) error {
	v, ph, err := p.phoneData(r, st, f)
	if err != nil {
		return err
	}
	if v == nil {
		return p.renderMFA(w, r, st, st.pick(""), http.StatusBadRequest, "mfa.error.unavailable", "")
	}
	allowed, err := p.spendAttempt(r.Context(), st.user.ID, st.tx.ID, f, st.pol)
	if err != nil {
		return err
	}
	if !allowed {
		return p.mfaFailed(w, r, st, f, false, "mfa.error.too_many")
	}
	channel := factorChannel(f)
	// No resend wait when the last code did not arrive or never left.
	now := v.Undelivered || !v.Sent
	_, err = p.sendPhoneCode(r, sendRequest{
		user: st.user, phone: ph, txID: st.tx.ID, purpose: purposeSignIn, channel: channel,
		lang: p.page(w, r, st.tx, "").Lang, ip: web.ClientIP(r, p.proxies), now: now,
	})
	var wait *resendWaitError
	switch {
	case err == nil:
		p.audit(r, "mfa.offered", st.user.ID, st.tx.ClientID, map[string]string{"factor": string(f), "sent": channel})
		return p.renderMFA(w, r, st, f, http.StatusOK, "", "")
	case errors.As(err, &wait):
		return p.renderMFA(w, r, st, f, http.StatusTooManyRequests, "phone.error.wait", strconv.Itoa(int(wait.wait.Seconds())))
	case errors.Is(err, errPhoneBudget), errors.Is(err, errPhoneUnavailable), errors.Is(err, errPhoneCountry), errors.Is(err, errSIMSwapped):
		return p.phoneRefused(w, r, st, f, err)
	}
	return err
}

// phoneRefused moves a sign-in whose code cannot be sent to the next
// factor the engine offers, with the reason.
func (p *Provider) phoneRefused(w http.ResponseWriter, r *http.Request, st mfaStep, f mfa.Factor, cause error) error {
	key := "phone.error.unavailable"
	switch {
	case errors.Is(cause, errPhoneBudget):
		key = "phone.error.budget"
	case errors.Is(cause, errPhoneCountry):
		key = "phone.error.country"
	case errors.Is(cause, errSIMSwapped):
		key = "phone.error.sim_swapped"
	}
	p.audit(r, "mfa.skipped", st.user.ID, st.tx.ClientID, map[string]string{"factor": string(f), "reason": cause.Error()})
	d, _, err := p.decide(r, st.tx, storedForm(st.tx), st.sess, st.user)
	if err != nil {
		return err
	}
	st.d = d
	if d.Outcome != mfa.Challenge {
		p.auditDecision(r, st.tx, st.user.ID, d)
		return p.toResume(w, r, st.tx)
	}
	next := st.pick("")
	if next == f || (errors.Is(cause, errSIMSwapped) && (next == mfa.SMS || next == mfa.Voice)) {
		// The engine still offers the phone (its facts lag the refusal):
		// show the reason on another factor if there is one.
		for _, o := range d.Offer {
			if o != mfa.SMS && o != mfa.Voice && slices.Contains(pageFactors, o) {
				next = o
				break
			}
		}
	}
	return p.renderMFA(w, r, st, next, http.StatusServiceUnavailable, key, "")
}

func (p *Provider) mfaCheckPhoneCode(w http.ResponseWriter, r *http.Request, st mfaStep, f mfa.Factor, ph storage.Phone) error {
	ctx := r.Context()
	if code := r.PostFormValue("code"); code == "" || len(code) > 64 {
		return p.renderMFA(w, r, st, f, http.StatusBadRequest, "mfa.error.missing", "")
	}
	allowed, err := p.spendAttempt(ctx, st.user.ID, st.tx.ID, f, st.pol)
	if err != nil {
		return err
	}
	if !allowed {
		return p.mfaFailed(w, r, st, f, false, "mfa.error.too_many")
	}
	code, ok, err := p.verifyPhoneCode(ctx, st.tx.ID, ph.ID, r.PostFormValue("code"))
	if err != nil {
		return err
	}
	if !ok {
		return p.mfaFailed(w, r, st, f, true, "mfa.error.wrong_code")
	}
	if err := p.passAttempt(ctx, st.user.ID, st.tx.ID, f); err != nil {
		return err
	}
	now := p.now().UTC()
	ph.LastUsedAt = now
	if err := p.store.UpdatePhone(ctx, ph); err != nil {
		return fmt.Errorf("update phone: %w", err)
	}
	// The proof names the channel that carried the code: amr "sms" or
	// "tel" (RFC 8176).
	used := channelFactor(code.Channel)
	if _, err := p.addProof(w, r, &st.tx, st.sess, mfa.Proof{Factor: used, At: now, Credential: ph.ID}); err != nil {
		return err
	}
	p.audit(r, "mfa.passed", st.user.ID, st.tx.ClientID, map[string]string{"factor": string(used), "credential": ph.ID})
	if r.PostFormValue("remember") == "on" && st.pol.Remember.Enabled && st.d.Target != mfa.LevelPHR {
		if err := p.rememberBrowser(w, r, st.user.ID, st.pol); err != nil {
			return err
		}
	}
	return p.toResume(w, r, st.tx)
}

// storedForm is the transaction's authorization request; it was parsed when
// stored, so an error cannot happen here and yields an empty request.
func storedForm(tx storage.LoginTx) url.Values {
	form, _ := url.ParseQuery(tx.AuthorizeQuery)
	return form
}
