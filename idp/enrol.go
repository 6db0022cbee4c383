package idp

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/idp/web"
	"github.com/latchkey/latchkey/mfa"
	"github.com/latchkey/latchkey/mfa/totp"
)

// enrolPage is the data of templates/pages/enrol_totp.html.
type enrolPage struct {
	web.Page
	TxID     string
	Action   string
	QR       template.HTML
	Secret   string
	Link     template.URL
	ErrorKey string
	// Cancel, on the account page, leads back without enrolling.
	Cancel string
	// Alternative leads to the passkey set-up when the policy offers it;
	// PhoneAlternative to adding a phone number.
	Alternative      string
	PhoneAlternative string
}

// pendingTOTPLife: an enrolment not confirmed within this time is dropped.
const pendingTOTPLife = 15 * time.Minute

// pendingTOTP returns the user's newest unconfirmed authenticator, creating
// one if there is none, so reloading the page keeps the same QR code.
func (p *Provider) pendingTOTP(ctx context.Context, u storage.User) (storage.TOTPCredential, string, error) {
	creds, err := p.store.ListTOTP(ctx, u.ID)
	if err != nil {
		return storage.TOTPCredential{}, "", fmt.Errorf("list totp: %w", err)
	}
	now := p.now()
	for i := len(creds) - 1; i >= 0; i-- {
		c := creds[i]
		if !c.Confirmed() && now.Sub(c.CreatedAt) < pendingTOTPLife {
			secret, err := p.secrets.Open(c.Secret, totpAAD(c.ID))
			if err != nil {
				return storage.TOTPCredential{}, "", fmt.Errorf("open totp secret %s: %w", c.ID, err)
			}
			return c, string(secret), nil
		}
	}
	key, err := totp.Generate(strings.ReplaceAll(p.appName, ":", " "), strings.ReplaceAll(u.Email, ":", " "))
	if err != nil {
		return storage.TOTPCredential{}, "", fmt.Errorf("enrol totp: %w", err)
	}
	// No name: the account page shows a default name in the page's language, which a
	// name stored here would fix in the language of the day it was set up.
	c := storage.TOTPCredential{ID: randomID(), UserID: u.ID, CreatedAt: now.UTC()}
	if c.Secret, err = p.secrets.Seal([]byte(key.Secret), totpAAD(c.ID)); err != nil {
		return storage.TOTPCredential{}, "", fmt.Errorf("seal totp secret: %w", err)
	}
	if err := p.store.CreateTOTP(ctx, c); err != nil {
		return storage.TOTPCredential{}, "", fmt.Errorf("store totp: %w", err)
	}
	return c, key.Secret, nil
}

// enrolData fills the TOTP enrolment form for a pending credential.
func (p *Provider) enrolData(w http.ResponseWriter, r *http.Request, tx storage.LoginTx, u storage.User, secret string) (enrolPage, error) {
	key := totp.KeyFromSecret(p.appName, u.Email, secret)
	page := p.page(w, r, tx, "enrol.title")
	qr, err := totp.QRCodeSVG(key.URL, page.L.T("enrol.qr_label"))
	if err != nil {
		return enrolPage{}, fmt.Errorf("render qr code: %w", err)
	}
	return enrolPage{
		Page: page, TxID: tx.ID, Action: p.path("/mfa/enrol"),
		QR:     template.HTML(qr),                              //nolint:gosec // SVG built by our encoder from a bit matrix, no user text
		Secret: key.ManualEntry(), Link: template.URL(key.URL), //nolint:gosec // otpauth URL we built
	}, nil
}

// enrolStep loads a first-time enrolment step (see loadStep).
func (p *Provider) enrolStep(w http.ResponseWriter, r *http.Request) (mfaStep, bool, error) {
	return p.loadStep(w, r, mfa.Enrol)
}

// enrolForm shows the set-up of the factor the user chose, or of the
// policy's first enrollable one.
func (p *Provider) enrolForm(w http.ResponseWriter, r *http.Request) error {
	st, done, err := p.enrolStep(w, r)
	if err != nil || done {
		return err
	}
	choice := mfa.Factor(r.FormValue("factor"))
	if !slices.Contains(st.d.Enrol, choice) {
		choice = ""
		for _, f := range st.d.Enrol {
			if f == mfa.Passkey || f == mfa.TOTP || ((f == mfa.SMS || f == mfa.Voice) && p.phone != nil) {
				choice = f
				break
			}
		}
	}
	switch choice {
	case mfa.Passkey:
		return p.enrolPasskeyForm(w, r, st)
	case mfa.SMS, mfa.Voice:
		if p.phone != nil {
			return p.enrolPhoneForm(w, r, st)
		}
		return fmt.Errorf("enrolment: the policy offers %s but phone codes are off", choice)
	case mfa.TOTP:
	default:
		return fmt.Errorf("enrolment: no page for the policy's factors %v", st.d.Enrol)
	}
	_, secret, err := p.pendingTOTP(r.Context(), st.user)
	if err != nil {
		return err
	}
	data, err := p.enrolData(w, r, st.tx, st.user, secret)
	if err != nil {
		return err
	}
	if slices.Contains(st.d.Enrol, mfa.Passkey) {
		data.Alternative = p.path("/mfa/enrol?tx=" + url.QueryEscape(st.tx.ID) + "&factor=passkey")
	}
	if p.phoneEnrollable(st) {
		phoneFactor := mfa.SMS
		if !slices.Contains(st.d.Enrol, mfa.SMS) {
			phoneFactor = mfa.Voice
		}
		data.PhoneAlternative = p.path("/mfa/enrol?tx=" + url.QueryEscape(st.tx.ID) + "&factor=" + string(phoneFactor))
	}
	return p.renderer.Render(w, r, http.StatusOK, "enrol_totp", data)
}

// enrolSubmit confirms the new authenticator with its first code, records
// it as the session's second factor, and shows the recovery codes once.
func (p *Provider) enrolSubmit(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st, done, err := p.enrolStep(w, r)
	if err != nil || done {
		return err
	}
	if !slices.Contains(st.d.Enrol, mfa.TOTP) {
		return p.toResume(w, r, st.tx)
	}
	c, secret, err := p.pendingTOTP(ctx, st.user)
	if err != nil {
		return err
	}
	errKey, err := p.confirmTOTP(ctx, st.user.ID, st.tx.ID, c, r.PostFormValue("code"), st.pol)
	if err != nil {
		return err
	}
	if errKey != "" {
		data, err := p.enrolData(w, r, st.tx, st.user, secret)
		if err != nil {
			return err
		}
		data.ErrorKey = errKey
		return p.renderer.Render(w, r, http.StatusUnauthorized, "enrol_totp", data)
	}
	if _, err := p.addProof(w, r, &st.tx, st.sess, mfa.Proof{Factor: mfa.TOTP, At: p.now().UTC(), Credential: c.ID}); err != nil {
		return err
	}
	p.audit(r, "mfa.enrolled", st.user.ID, st.tx.ClientID, map[string]string{"factor": string(mfa.TOTP), "credential": c.ID})
	return p.showEnrolRecoveryCodes(w, r, st, "recovery.intro")
}

// enrolCounter is the factor name enrolment attempts are counted under:
// the same limits as sign-in codes, but wrong codes while adding an app
// must not lock the user's existing app for sign-in.
const enrolCounter mfa.Factor = "totp_enrolment"

// confirmTOTP checks the first code of a pending authenticator under the
// same attempt limits as sign-in codes. It returns "" when the code is
// right, else the message key to show.
func (p *Provider) confirmTOTP(ctx context.Context, userID, txID string, c storage.TOTPCredential, code string, pol mfa.Policy) (string, error) {
	if code == "" || len(code) > 64 {
		return "mfa.error.missing", nil
	}
	allowed, err := p.spendAttempt(ctx, userID, txID, enrolCounter, pol)
	if err != nil {
		return "", err
	}
	if !allowed {
		return "mfa.error.too_many", nil
	}
	ok, err := p.useTOTP(ctx, c, code)
	if err != nil && !errors.Is(err, errReplay) {
		return "", err
	}
	if !ok {
		_, err := p.failAttempt(ctx, userID, txID, enrolCounter, pol)
		return "enrol.error.wrong_code", err
	}
	return "", p.passAttempt(ctx, userID, txID, enrolCounter)
}
