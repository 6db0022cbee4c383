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
	TxID     string // set during a sign-in's enrolment step
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

// phoneFlow is where a number is being added: the account page, or a
// sign-in's first-time enrolment step. The pages and checks are the same;
// what the codes are bound to and where the forms go differ.
type phoneFlow struct {
	tx     storage.LoginTx // the sign-in; zero on the account page
	codeTx string          // what the verification code is bound to
	add    string
	verify string
	cancel string
}

// accountPhoneFlow binds account-page codes to the browser session, as a
// sign-in's codes are bound to its transaction.
func (p *Provider) accountPhoneFlow(sess *storage.Session) phoneFlow {
	return phoneFlow{codeTx: "account:" + sess.ID, add: p.path("/account/phone"),
		verify: p.path("/account/phone/verify"), cancel: p.path("/account")}
}

// accountPhoneStep starts every account-page phone request: a signed-in
// browser, phone codes on, and (unless verifying a number added moments
// ago) a fresh step-up. ok is false when the response is written.
func (p *Provider) accountPhoneStep(w http.ResponseWriter, r *http.Request, stepUp bool) (phoneFlow, storage.User, bool, error) {
	sess, u, ok, err := p.accountSession(w, r)
	if err != nil || !ok {
		return phoneFlow{}, u, false, err
	}
	if p.phone == nil {
		return phoneFlow{}, u, false, web.Errorf(http.StatusNotFound, "error.not_found", "phone codes are off")
	}
	if stepUp {
		if fresh, err := p.freshStepUp(w, r, sess, u, p.path("/account/phone")); err != nil || !fresh {
			return phoneFlow{}, u, false, err
		}
	}
	return p.accountPhoneFlow(sess), u, true, nil
}

func (p *Provider) accountPhoneForm(w http.ResponseWriter, r *http.Request) error {
	fl, _, ok, err := p.accountPhoneStep(w, r, true)
	if err != nil || !ok {
		return err
	}
	return p.renderPhone(w, r, fl, phonePage{}, http.StatusOK)
}

func (p *Provider) renderPhone(w http.ResponseWriter, r *http.Request, fl phoneFlow, d phonePage, status int) error {
	d.Page = p.page(w, r, fl.tx, "phone.title")
	d.TxID, d.Action, d.Cancel = fl.tx.ID, fl.add, fl.cancel
	if d.Verify {
		d.Action = fl.verify
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
	fl, u, ok, err := p.accountPhoneStep(w, r, true)
	if err != nil || !ok {
		return err
	}
	return p.addPhone(w, r, fl, u)
}

// addPhone checks the typed number, stores it unverified and sends the
// code that proves it.
func (p *Provider) addPhone(w http.ResponseWriter, r *http.Request, fl phoneFlow, u storage.User) error {
	typed := strings.TrimSpace(r.PostFormValue("number"))
	form := phonePage{Number: typed}
	if r.PostFormValue("consent") != "on" {
		form.ErrorKey = "phone.error.consent"
		return p.renderPhone(w, r, fl, form, http.StatusBadRequest)
	}
	ph, err := p.newPhone(r.Context(), u.ID, typed)
	var bad *enrolError
	if errors.As(err, &bad) {
		p.audit(r, "phone.refused", u.ID, fl.tx.ClientID, map[string]string{"reason": bad.key})
		form.ErrorKey, form.ErrorArg = bad.key, bad.arg
		return p.renderPhone(w, r, fl, form, http.StatusBadRequest)
	}
	if err != nil {
		return err
	}
	return p.sendVerification(w, r, fl, u, ph, false)
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
func (p *Provider) sendVerification(w http.ResponseWriter, r *http.Request, fl phoneFlow, u storage.User, ph storage.Phone, resend bool) error {
	channel := channelSMS
	if strings.EqualFold(ph.LineType, "landline") || r.PostFormValue("channel") == channelVoice {
		channel = channelVoice
	}
	d := phonePage{Verify: true, PhoneID: ph.ID, Masked: ph.Masked, Voice: channel == channelVoice, Resent: resend}
	_, err := p.sendPhoneCode(r, sendRequest{
		user: u, phone: ph, txID: fl.codeTx, purpose: purposeVerify, channel: channel,
		lang: p.page(w, r, fl.tx, "").Lang, ip: web.ClientIP(r, p.proxies),
	})
	var wait *resendWaitError
	switch {
	case err == nil:
		return p.renderPhone(w, r, fl, d, http.StatusOK)
	case errors.As(err, &wait):
		d.Resent, d.ErrorKey, d.ErrorArg = false, "phone.error.wait", strconv.Itoa(int(wait.wait.Seconds()))
		return p.renderPhone(w, r, fl, d, http.StatusTooManyRequests)
	case errors.Is(err, errPhoneBudget):
		d.ErrorKey = "phone.error.budget"
	case errors.Is(err, errPhoneCountry):
		d.ErrorKey = "phone.error.country"
	case errors.Is(err, errPhoneUnavailable):
		d.ErrorKey = "phone.error.unavailable"
	default:
		return err
	}
	return p.renderPhone(w, r, fl, d, http.StatusServiceUnavailable)
}

// accountPhoneVerify checks the code sent to a new number (or re-sends
// it).
func (p *Provider) accountPhoneVerify(w http.ResponseWriter, r *http.Request) error {
	fl, u, ok, err := p.accountPhoneStep(w, r, false)
	if err != nil || !ok {
		return err
	}
	if _, done, err := p.verifyNewPhone(w, r, fl, u); err != nil || !done {
		return err
	}
	return p.accountDone(w, r, "phone_added")
}

// phoneEnrolCounter is the factor name wrong codes for a new number are
// counted under: the same limits as sign-in, but mistakes while adding a
// number must not lock the user's phone codes for sign-in.
const phoneEnrolCounter mfa.Factor = "phone_enrolment"

// verifyNewPhone answers the verification form: a resend, or the code.
// done is true once the number is verified; otherwise the page has been
// written.
func (p *Provider) verifyNewPhone(w http.ResponseWriter, r *http.Request, fl phoneFlow, u storage.User) (storage.PhoneCode, bool, error) {
	ctx := r.Context()
	ph, err := p.store.GetPhone(ctx, u.ID, r.PostFormValue("phone"))
	if errors.Is(err, storage.ErrNotFound) {
		return storage.PhoneCode{}, false, web.NewError(http.StatusNotFound, "error.not_found", err)
	}
	if err != nil {
		return storage.PhoneCode{}, false, fmt.Errorf("get phone: %w", err)
	}
	if ph.Verified() {
		// A second submit of the same form: nothing left to prove here.
		return storage.PhoneCode{}, true, nil
	}
	if r.PostFormValue("op") == "send" {
		return storage.PhoneCode{}, false, p.sendVerification(w, r, fl, u, ph, true)
	}
	d := phonePage{Verify: true, PhoneID: ph.ID, Masked: ph.Masked, Voice: strings.EqualFold(ph.LineType, "landline")}
	pol, err := p.policies.get(ctx)
	if err != nil {
		return storage.PhoneCode{}, false, err
	}
	allowed, err := p.spendAttempt(ctx, u.ID, fl.tx.ID, phoneEnrolCounter, pol)
	if err != nil {
		return storage.PhoneCode{}, false, err
	}
	if !allowed {
		d.ErrorKey = "mfa.error.too_many"
		return storage.PhoneCode{}, false, p.renderPhone(w, r, fl, d, http.StatusTooManyRequests)
	}
	code, ok, err := p.verifyPhoneCode(ctx, fl.codeTx, ph.ID, r.PostFormValue("code"))
	if err != nil {
		return storage.PhoneCode{}, false, err
	}
	if !ok {
		if _, err := p.failAttempt(ctx, u.ID, fl.tx.ID, phoneEnrolCounter, pol); err != nil {
			return storage.PhoneCode{}, false, err
		}
		d.ErrorKey = "mfa.error.wrong_code"
		return storage.PhoneCode{}, false, p.renderPhone(w, r, fl, d, http.StatusUnauthorized)
	}
	if err := p.passAttempt(ctx, u.ID, fl.tx.ID, phoneEnrolCounter); err != nil {
		return storage.PhoneCode{}, false, err
	}
	now := p.now().UTC()
	ph.VerifiedAt, ph.LastUsedAt = now, now
	if err := p.store.UpdatePhone(ctx, ph); err != nil {
		return storage.PhoneCode{}, false, fmt.Errorf("verify phone: %w", err)
	}
	p.audit(r, "mfa.enrolled", u.ID, fl.tx.ClientID, map[string]string{"factor": "phone", "credential": ph.ID, "country": ph.Country})
	return code, true, nil
}

func (p *Provider) accountPhoneRemove(w http.ResponseWriter, r *http.Request) error {
	return p.removeFactor(w, r, "phone", "phone_removed", func(ctx context.Context, userID, id string) (string, error) {
		return id, p.store.DeletePhone(ctx, userID, id)
	})
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
