package idp

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/latchkey/latchkey/mfa"
)

// A phone as the factor set up at a sign-in's first-time enrolment step,
// when the policy lists sms or voice as enrollable. The pages and checks
// are the account page's; the codes are bound to the transaction, and the
// verified code is the session's second factor.

// enrolPhoneFlow is the enrolment step's phone flow for a transaction.
func (p *Provider) enrolPhoneFlow(st mfaStep) phoneFlow {
	fl := phoneFlow{tx: st.tx, codeTx: st.tx.ID, add: p.path("/mfa/enrol/phone"), verify: p.path("/mfa/enrol/phone/verify")}
	for _, f := range st.d.Enrol {
		if f == mfa.Passkey || f == mfa.TOTP {
			fl.cancel = p.path("/mfa/enrol?tx=" + url.QueryEscape(st.tx.ID) + "&factor=" + string(f))
			break
		}
	}
	return fl
}

// phoneEnrollable reports whether the step may set up a phone.
func (p *Provider) phoneEnrollable(st mfaStep) bool {
	return p.phone != nil && (slices.Contains(st.d.Enrol, mfa.SMS) || slices.Contains(st.d.Enrol, mfa.Voice))
}

func (p *Provider) enrolPhoneForm(w http.ResponseWriter, r *http.Request, st mfaStep) error {
	return p.renderPhone(w, r, p.enrolPhoneFlow(st), phonePage{}, http.StatusOK)
}

func (p *Provider) enrolPhoneSubmit(w http.ResponseWriter, r *http.Request) error {
	st, done, err := p.enrolStep(w, r)
	if err != nil || done {
		return err
	}
	if !p.phoneEnrollable(st) {
		return p.toResume(w, r, st.tx)
	}
	return p.addPhone(w, r, p.enrolPhoneFlow(st), st.user)
}

// enrolPhoneVerify proves the new number; the code then counts as the
// sign-in's second factor (amr sms or tel), and the recovery codes are
// shown once, as after any first-time set-up.
func (p *Provider) enrolPhoneVerify(w http.ResponseWriter, r *http.Request) error {
	st, done, err := p.enrolStep(w, r)
	if err != nil || done {
		return err
	}
	if !p.phoneEnrollable(st) {
		return p.toResume(w, r, st.tx)
	}
	code, verified, err := p.verifyNewPhone(w, r, p.enrolPhoneFlow(st), st.user)
	if err != nil || !verified {
		return err
	}
	if code.ID == "" {
		return p.toResume(w, r, st.tx)
	}
	proof := mfa.Proof{Factor: channelFactor(code.Channel), At: p.now().UTC(), Credential: code.PhoneID}
	if _, err := p.addProof(w, r, &st.tx, st.sess, proof); err != nil {
		return err
	}
	return p.showEnrolRecoveryCodes(w, r, st, "recovery.intro_phone")
}

// showEnrolRecoveryCodes ends a first-time set-up: new recovery codes,
// shown once, then back to the sign-in.
func (p *Provider) showEnrolRecoveryCodes(w http.ResponseWriter, r *http.Request, st mfaStep, body string) error {
	codes, err := p.newRecoveryCodes(r.Context(), st.user.ID)
	if err != nil {
		return err
	}
	p.audit(r, "recovery_codes.generated", st.user.ID, st.tx.ClientID, nil)
	return p.renderer.Render(w, r, http.StatusOK, "notice", noticePage{
		Page: p.page(w, r, st.tx, "recovery.title"), HeadingKey: "recovery.title", BodyKey: body,
		Codes: codes, Continue: p.path("/authorize/resume?tx=" + url.QueryEscape(st.tx.ID)),
	})
}
