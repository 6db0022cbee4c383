package idp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/idp/web"
	"github.com/latchkey/latchkey/mfa"
	"github.com/latchkey/latchkey/mfa/phone"
)

// phonePage is the data of templates/pages/phone.html: adding a number,
// then proving it with a code.
type phonePage struct {
	web.Page
	Action   string
	Cancel   string
	Number   string // as typed, to show again after an error
	ErrorKey string
	ErrorArg string
	// Verify: the number was added; the page asks for the code sent to it.
	Verify  bool
	PhoneID string
	Masked  string
	Voice   bool // the code went by voice (a landline)
	Resent  bool
}

// phoneRow is one phone on the account page.
type phoneRow struct {
	ID, Masked, Added, LastUsed string
	Verified                    bool
	StatusKey                   string
}

// accountPhoneTx binds account-page codes to the browser session, as a
// sign-in's codes are bound to its transaction.
func accountPhoneTx(sess *storage.Session) string { return "account:" + sess.ID }

func (p *Provider) accountPhoneForm(w http.ResponseWriter, r *http.Request) error {
	sess, u, ok, err := p.accountSession(w, r)
	if err != nil || !ok {
		return err
	}
	if p.phone == nil {
		return web.Errorf(http.StatusNotFound, "error.not_found", "phone codes are off")
	}
	if fresh, err := p.freshStepUp(w, r, sess, u, p.path("/account/phone")); err != nil || !fresh {
		return err
	}
	return p.renderPhone(w, r, phonePage{}, http.StatusOK)
}

func (p *Provider) renderPhone(w http.ResponseWriter, r *http.Request, d phonePage, status int) error {
	d.Page = p.page(w, r, storage.LoginTx{}, "phone.title")
	d.Action, d.Cancel = p.path("/account/phone"), p.path("/account")
	if d.Verify {
		d.Action = p.path("/account/phone/verify")
	}
	return p.renderer.Render(w, r, status, "phone", d)
}

// enrolError is a number the user must change, with the message to show.
type enrolError struct{ key, arg string }

func (e *enrolError) Error() string { return e.key }

// accountPhoneSubmit adds a number: it must parse, be of a kind that can
// receive codes, be in an allowed country and be new to the account; then
// a code goes to it and the page asks for it.
func (p *Provider) accountPhoneSubmit(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	sess, u, ok, err := p.accountSession(w, r)
	if err != nil || !ok {
		return err
	}
	if p.phone == nil {
		return web.Errorf(http.StatusNotFound, "error.not_found", "phone codes are off")
	}
	if fresh, err := p.freshStepUp(w, r, sess, u, p.path("/account/phone")); err != nil || !fresh {
		return err
	}
	typed := strings.TrimSpace(r.PostFormValue("number"))
	form := phonePage{Number: typed}
	if r.PostFormValue("consent") != "on" {
		form.ErrorKey = "phone.error.consent"
		return p.renderPhone(w, r, form, http.StatusBadRequest)
	}
	ph, err := p.newPhone(ctx, u.ID, typed)
	var bad *enrolError
	if errors.As(err, &bad) {
		p.audit(r, "phone.refused", u.ID, "", map[string]string{"reason": bad.key})
		form.ErrorKey, form.ErrorArg = bad.key, bad.arg
		return p.renderPhone(w, r, form, http.StatusBadRequest)
	}
	if err != nil {
		return err
	}
	return p.sendVerification(w, r, sess, u, ph, false)
}

// newPhone checks and stores an unverified phone.
func (p *Provider) newPhone(ctx context.Context, userID, typed string) (storage.Phone, error) {
	opts := p.phone.opts
	num, err := phone.Parse(typed, opts.DefaultRegion)
	if err != nil {
		return storage.Phone{}, &enrolError{key: parseErrorKey(err)}
	}
	if len(opts.Countries) > 0 && !slices.Contains(opts.Countries, num.Region) {
		return storage.Phone{}, &enrolError{key: "phone.error.country"}
	}
	lineType := ""
	switch num.Type {
	case phone.TypePremiumRate, phone.TypeSharedCost, phone.TypePager:
		return storage.Phone{}, &enrolError{key: "phone.error.line_type"}
	case phone.TypeVoIP:
		if !opts.AllowVoIP {
			return storage.Phone{}, &enrolError{key: "phone.error.voip"}
		}
	case phone.TypeFixedLine:
		lineType = "landline"
	}
	if opts.LineTypeLookup {
		info, err := opts.Telephony.Lookup(ctx, num.E164, false)
		switch {
		case err != nil:
			// The code we send next proves the number works; a lookup
			// outage must not stop enrolment.
			p.log.WarnContext(ctx, "line type lookup failed", "err", err)
		case !info.Valid:
			return storage.Phone{}, &enrolError{key: "phone.error.invalid"}
		default:
			switch info.LineType {
			case "premium", "sharedCost", "pager", "uan", "voicemail":
				return storage.Phone{}, &enrolError{key: "phone.error.line_type"}
			case "nonFixedVoip":
				if !opts.AllowVoIP {
					return storage.Phone{}, &enrolError{key: "phone.error.voip"}
				}
			case "landline", "fixedVoip", "tollFree":
				lineType = "landline"
			default:
				lineType = info.LineType
			}
		}
	}
	now := p.now().UTC()
	ph := storage.Phone{
		ID: randomID(), UserID: userID, NumberHash: p.phone.numberHash(num.E164), Country: num.Region,
		Masked: phone.Mask(num), LineType: lineType, Status: storage.PhoneActive, ConsentAt: now, CreatedAt: now,
	}
	if ph.Number, err = p.secrets.Seal([]byte(num.E164), phoneAAD(ph.ID)); err != nil {
		return storage.Phone{}, fmt.Errorf("seal phone number: %w", err)
	}
	existing, err := p.store.ListPhones(ctx, userID)
	if err != nil {
		return storage.Phone{}, fmt.Errorf("list phones: %w", err)
	}
	for _, e := range existing {
		if e.NumberHash != ph.NumberHash {
			continue
		}
		if e.Verified() {
			return storage.Phone{}, &enrolError{key: "phone.error.duplicate"}
		}
		// Typed again before it was verified: start over with this one.
		if err := p.store.DeletePhone(ctx, userID, e.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return storage.Phone{}, fmt.Errorf("delete unverified phone: %w", err)
		}
	}
	if err := p.store.CreatePhone(ctx, ph); errors.Is(err, storage.ErrConflict) {
		return storage.Phone{}, &enrolError{key: "phone.error.duplicate"}
	} else if err != nil {
		return storage.Phone{}, fmt.Errorf("create phone: %w", err)
	}
	return ph, nil
}

func parseErrorKey(err error) string {
	switch {
	case errors.Is(err, phone.ErrEmpty):
		return "phone.error.empty"
	case errors.Is(err, phone.ErrCharacters):
		return "phone.error.characters"
	case errors.Is(err, phone.ErrCountryCode):
		return "phone.error.country_code"
	case errors.Is(err, phone.ErrTooShort):
		return "phone.error.too_short"
	case errors.Is(err, phone.ErrTooLong):
		return "phone.error.too_long"
	}
	return "phone.error.invalid"
}

// sendVerification sends the code that proves a new number (by voice to a
// landline) and shows the page that asks for it.
func (p *Provider) sendVerification(w http.ResponseWriter, r *http.Request, sess *storage.Session, u storage.User, ph storage.Phone, resend bool) error {
	channel := channelSMS
	if strings.EqualFold(ph.LineType, "landline") || r.PostFormValue("channel") == channelVoice {
		channel = channelVoice
	}
	d := phonePage{Verify: true, PhoneID: ph.ID, Masked: ph.Masked, Voice: channel == channelVoice, Resent: resend}
	_, err := p.sendPhoneCode(r, sendRequest{
		user: u, phone: ph, txID: accountPhoneTx(sess), purpose: purposeVerify, channel: channel,
		lang: p.page(w, r, storage.LoginTx{}, "").Lang, ip: web.ClientIP(r, p.proxies),
	})
	var wait *resendWaitError
	switch {
	case err == nil:
		return p.renderPhone(w, r, d, http.StatusOK)
	case errors.As(err, &wait):
		d.Resent, d.ErrorKey, d.ErrorArg = false, "phone.error.wait", strconv.Itoa(int(wait.wait.Seconds()))
		return p.renderPhone(w, r, d, http.StatusTooManyRequests)
	case errors.Is(err, errPhoneBudget):
		d.ErrorKey = "phone.error.budget"
	case errors.Is(err, errPhoneCountry):
		d.ErrorKey = "phone.error.country"
	case errors.Is(err, errPhoneUnavailable):
		d.ErrorKey = "phone.error.unavailable"
	default:
		return err
	}
	return p.renderPhone(w, r, d, http.StatusServiceUnavailable)
}

// accountPhoneVerify checks the code sent to a new number (or re-sends
// it). Wrong codes count toward the same limits as at sign-in.
func (p *Provider) accountPhoneVerify(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	sess, u, ok, err := p.accountSession(w, r)
	if err != nil || !ok {
		return err
	}
	if p.phone == nil {
		return web.Errorf(http.StatusNotFound, "error.not_found", "phone codes are off")
	}
	ph, err := p.store.GetPhone(ctx, u.ID, r.PostFormValue("phone"))
	if errors.Is(err, storage.ErrNotFound) {
		return web.NewError(http.StatusNotFound, "error.not_found", err)
	}
	if err != nil {
		return fmt.Errorf("get phone: %w", err)
	}
	if ph.Verified() {
		return p.accountDone(w, r, "phone_added")
	}
	if r.PostFormValue("op") == "send" {
		return p.sendVerification(w, r, sess, u, ph, true)
	}
	d := phonePage{Verify: true, PhoneID: ph.ID, Masked: ph.Masked, Voice: strings.EqualFold(ph.LineType, "landline")}
	pol, err := p.policies.get(ctx)
	if err != nil {
		return err
	}
	allowed, err := p.spendAttempt(ctx, u.ID, "", mfa.SMS, pol)
	if err != nil {
		return err
	}
	if !allowed {
		d.ErrorKey = "mfa.error.too_many"
		return p.renderPhone(w, r, d, http.StatusTooManyRequests)
	}
	_, ok, err = p.verifyPhoneCode(ctx, accountPhoneTx(sess), ph.ID, r.PostFormValue("code"))
	if err != nil {
		return err
	}
	if !ok {
		if _, err := p.failAttempt(ctx, u.ID, "", mfa.SMS, pol); err != nil {
			return err
		}
		d.ErrorKey = "mfa.error.wrong_code"
		return p.renderPhone(w, r, d, http.StatusUnauthorized)
	}
	if err := p.passAttempt(ctx, u.ID, "", mfa.SMS); err != nil {
		return err
	}
	now := p.now().UTC()
	ph.VerifiedAt, ph.LastUsedAt = now, now
	if err := p.store.UpdatePhone(ctx, ph); err != nil {
		return fmt.Errorf("verify phone: %w", err)
	}
	p.audit(r, "mfa.enrolled", u.ID, "", map[string]string{"factor": "phone", "credential": ph.ID, "country": ph.Country})
	return p.accountDone(w, r, "phone_added")
}

func (p *Provider) accountPhoneRemove(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	sess, u, ok, err := p.accountSession(w, r)
	if err != nil || !ok {
		return err
	}
	if fresh, err := p.freshStepUp(w, r, sess, u, p.path("/account")); err != nil || !fresh {
		return err
	}
	id := r.PostFormValue("id")
	if err := p.store.DeletePhone(ctx, u.ID, id); errors.Is(err, storage.ErrNotFound) {
		return web.NewError(http.StatusNotFound, "error.not_found", err)
	} else if err != nil {
		return fmt.Errorf("delete phone: %w", err)
	}
	p.audit(r, "mfa.removed", u.ID, "", map[string]string{"factor": "phone", "credential": id})
	if err := p.afterFactorRemoved(r, u.ID); err != nil {
		return err
	}
	return p.accountDone(w, r, "phone_removed")
}

// phoneRows lists the user's phones for the account page.
func (p *Provider) phoneRows(ctx context.Context, userID string, date func(time.Time) string) ([]phoneRow, error) {
	phones, err := p.store.ListPhones(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("list phones: %w", err)
	}
	var rows []phoneRow
	for _, ph := range phones {
		key := "account.phone.status." + ph.Status
		if !ph.Verified() {
			key = "account.phone.status.unverified"
		} else if ph.Status == storage.PhoneActive && strings.EqualFold(ph.LineType, "landline") {
			key = "account.phone.status.voice_only"
		}
		rows = append(rows, phoneRow{ID: ph.ID, Masked: ph.Masked, Added: date(ph.CreatedAt), LastUsed: date(ph.LastUsedAt),
			Verified: ph.Verified(), StatusKey: key})
	}
	return rows, nil
}
