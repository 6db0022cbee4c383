package idp

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/idp/web"
	"github.com/latchkey/latchkey/mfa"
	"github.com/latchkey/latchkey/mfa/passkey"
)

// mfaPage is the data of templates/pages/mfa.html: one factor's form and
// the "try another way" list built from the engine's decision, so the user
// is never stuck on a factor they cannot use.
type mfaPage struct {
	web.Page
	TxID        string
	Action      string
	Factor      string
	ErrorKey    string
	ErrorArg    string
	Others      []factorLink
	CanRemember bool
	ClientName  string
	// Passkey holds the assertion options when Factor is "passkey".
	Passkey *passkeyOptions
	// Phone is the SMS or voice state when Factor is "sms" or "voice".
	Phone *phoneView
	// Push is the number and status URL when Factor is "push".
	Push *pushView
}

type factorLink struct {
	Factor string
	URL    string
}

// mfaStep is the state every /mfa request starts from.
type mfaStep struct {
	tx   storage.LoginTx
	sess *storage.Session
	user storage.User
	d    mfa.Decision
	pol  mfa.Policy
}

// loadMFAStep loads a second-factor step (see loadStep).
func (p *Provider) loadMFAStep(w http.ResponseWriter, r *http.Request) (mfaStep, bool, error) {
	return p.loadStep(w, r, mfa.Challenge)
}

// loadStep loads the transaction, checks the browser is the one signing in
// for it, and asks the engine what is needed now. done is true when the
// engine's outcome is not want and the browser was sent back to the
// dispatcher: a step page is never a way around the decision (enrolment,
// for instance, only while the engine allows first-time set-up).
func (p *Provider) loadStep(w http.ResponseWriter, r *http.Request, want mfa.Outcome) (mfaStep, bool, error) {
	var st mfaStep
	tx, err := p.loadTx(r)
	if err != nil {
		return st, false, err
	}
	sess, err := p.sessions.current(r)
	if err != nil {
		return st, false, err
	}
	if sess == nil || (tx.SessionID != "" && tx.SessionID != sess.ID) {
		return st, false, web.Errorf(http.StatusBadRequest, "error.login_expired", "step without the transaction's session")
	}
	user, err := p.store.GetUser(r.Context(), sess.UserID)
	if err != nil {
		return st, false, web.NewError(http.StatusBadRequest, "error.login_expired", err)
	}
	form, err := url.ParseQuery(tx.AuthorizeQuery)
	if err != nil {
		return st, false, fmt.Errorf("parse stored request: %w", err)
	}
	d, pol, err := p.decide(r, tx, form, sess, user)
	if err != nil {
		return st, false, err
	}
	st = mfaStep{tx: tx, sess: sess, user: user, d: d, pol: pol}
	if d.Outcome != want {
		return st, true, p.toResume(w, r, tx)
	}
	return st, false, nil
}

// pick returns the factor the user chose if the decision offers it, else
// the decision's start.
func (st mfaStep) pick(choice string) mfa.Factor {
	if f := mfa.Factor(choice); slices.Contains(st.d.Offer, f) && slices.Contains(pageFactors, f) {
		return f
	}
	for _, f := range st.d.Offer {
		if slices.Contains(pageFactors, f) {
			return f
		}
	}
	return st.d.Start
}

func (p *Provider) mfaForm(w http.ResponseWriter, r *http.Request) error {
	st, done, err := p.loadMFAStep(w, r)
	if err != nil || done {
		return err
	}
	if answered, err := p.pushApproved(w, r, st); answered || err != nil {
		return err
	}
	f := st.pick(r.FormValue("factor"))
	if f != mfa.Push {
		// Another way was chosen (or started): the push on its way must
		// not count if approved later.
		if err := p.endPushFor(r.Context(), st.tx.ID); err != nil {
			return err
		}
		p.notePushBudget(r, st)
	}
	p.audit(r, "mfa.offered", st.user.ID, st.tx.ClientID, map[string]string{"factor": string(f), "offer": joinFactors(st.d.Offer)})
	if (f == mfa.SMS || f == mfa.Voice) && pushWasSkipped(st.d) {
		// Push cannot work right now and the user expected to do nothing
		// but approve: the code goes out without another click.
		return p.startFactor(w, r, st, f, "")
	}
	return p.renderMFA(w, r, st, f, http.StatusOK, "", "")
}

func (p *Provider) renderMFA(w http.ResponseWriter, r *http.Request, st mfaStep, f mfa.Factor, status int, errKey, errArg string) error {
	if !slices.Contains(pageFactors, f) {
		// Offered factors this build cannot ask for (none today: the
		// engine only offers available ones) would be a bug, not a user
		// error.
		return fmt.Errorf("mfa step: no page for factor %q", f)
	}
	data := mfaPage{
		Page: p.stepPage(w, r, st.tx, "mfa.title", url.Values{"factor": {string(f)}}), TxID: st.tx.ID, Action: p.path("/mfa"), Factor: string(f),
		ErrorKey: errKey, ErrorArg: errArg, ClientName: p.clientName(r, st.tx),
		CanRemember: st.pol.Remember.Enabled && st.d.Target != mfa.LevelPHR && f != mfa.RecoveryCode,
	}
	if f == mfa.Passkey {
		pu, _, err := p.passkeyUser(r.Context(), st.user)
		if err != nil {
			return err
		}
		options, session, err := p.passkeys.BeginLogin(pu)
		if err != nil {
			return fmt.Errorf("begin passkey assertion: %w", err)
		}
		po, err := p.newCeremony(r.Context(), ceremonyAssert, st.user.ID, st.tx.ID, options, session)
		if err != nil {
			return err
		}
		data.Passkey = &po
	}
	if f == mfa.Push {
		v, answered, err := p.pushPage(w, r, st)
		if err != nil || answered {
			return err
		}
		data.Push = v
	}
	if f == mfa.SMS || f == mfa.Voice {
		v, _, err := p.phoneData(r, st, f)
		if err != nil {
			return err
		}
		if v == nil {
			return fmt.Errorf("mfa step: %s offered without a usable phone", f)
		}
		data.Phone = v
	}
	for _, o := range st.d.Offer {
		if o != f && slices.Contains(pageFactors, o) {
			data.Others = append(data.Others, factorLink{
				Factor: string(o),
				URL:    p.path("/mfa?tx=" + url.QueryEscape(st.tx.ID) + "&factor=" + url.QueryEscape(string(o))),
			})
		}
	}
	return p.renderer.Render(w, r, status, "mfa", data)
}

func (p *Provider) clientName(r *http.Request, tx storage.LoginTx) string {
	if tx.ClientID == "" {
		return ""
	}
	if c, err := p.store.GetClient(r.Context(), tx.ClientID); err == nil && c.Name != "" {
		return c.Name
	}
	return tx.ClientID
}

// mfaSubmit checks a code. Wrong codes count per challenge, per user and
// factor (lockout) and per hour (budget), all in the store; a factor that
// runs out drops from the decision and the page moves to the next one.
func (p *Provider) mfaSubmit(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st, done, err := p.loadMFAStep(w, r)
	if err != nil || done {
		return err
	}
	f := mfa.Factor(r.PostFormValue("factor"))
	if !slices.Contains(st.d.Offer, f) || !slices.Contains(pageFactors, f) {
		return p.renderMFA(w, r, st, st.pick(""), http.StatusBadRequest, "mfa.error.unavailable", "")
	}
	if f == mfa.Passkey {
		return p.mfaPasskey(w, r, st)
	}
	if f == mfa.SMS || f == mfa.Voice {
		return p.mfaPhone(w, r, st, f)
	}
	if f == mfa.Push {
		// Push is answered on the phone; a form post just shows the page.
		return p.renderMFA(w, r, st, f, http.StatusOK, "", "")
	}
	code := r.PostFormValue("code")
	if code == "" || len(code) > 64 {
		return p.renderMFA(w, r, st, f, http.StatusBadRequest, "mfa.error.missing", "")
	}
	allowed, err := p.spendAttempt(ctx, st.user.ID, st.tx.ID, f, st.pol)
	if err != nil {
		return err
	}
	ok, credential := false, ""
	if allowed {
		switch f {
		case mfa.TOTP:
			credential, err = p.verifyTOTP(ctx, st.user.ID, code)
			if errors.Is(err, errReplay) {
				p.audit(r, "mfa.replay_refused", st.user.ID, st.tx.ClientID, map[string]string{"factor": string(f)})
				err = nil
			}
			ok = credential != ""
		case mfa.RecoveryCode:
			ok, err = p.useRecoveryCode(ctx, st.user.ID, code)
		}
		if err != nil {
			return err
		}
	}
	if !ok {
		key := "mfa.error.wrong_code"
		if !allowed {
			key = "mfa.error.too_many"
		}
		return p.mfaFailed(w, r, st, f, allowed, key)
	}
	if err := p.passAttempt(ctx, st.user.ID, st.tx.ID, f); err != nil {
		return err
	}
	now := p.now().UTC()
	if _, err := p.addProof(w, r, &st.tx, st.sess, mfa.Proof{Factor: f, At: now, Credential: credential}); err != nil {
		return err
	}
	p.audit(r, "mfa.passed", st.user.ID, st.tx.ClientID, map[string]string{"factor": string(f)})
	if r.PostFormValue("remember") == "on" && st.pol.Remember.Enabled && st.d.Target != mfa.LevelPHR && f != mfa.RecoveryCode {
		if err := p.rememberBrowser(w, r, st.user.ID, st.pol); err != nil {
			return err
		}
	}
	if f == mfa.RecoveryCode {
		return p.recoveryCodeUsed(w, r, st)
	}
	return p.toResume(w, r, st.tx)
}

// mfaPasskey checks a passkey assertion as a second factor (or as the
// phishing-resistant step of phr).
func (p *Provider) mfaPasskey(w http.ResponseWriter, r *http.Request, st mfaStep) error {
	ctx := r.Context()
	allowed, err := p.spendAttempt(ctx, st.user.ID, st.tx.ID, mfa.Passkey, st.pol)
	if err != nil {
		return err
	}
	if !allowed {
		return p.mfaFailed(w, r, st, mfa.Passkey, false, "mfa.error.too_many")
	}
	response, ok := readCredential(r)
	var a passkeyAssertion
	err = passkey.ErrInvalidResponse
	if ok {
		var c storage.Ceremony
		if c, err = p.takeCeremony(ctx, r.PostFormValue("ceremony"), ceremonyAssert, st.user.ID, st.tx.ID); err == nil {
			a, err = p.finishAssertion(ctx, c, response, st.user.ID)
		}
	}
	if err != nil {
		if isUnexpected(err) {
			return err
		}
		return p.mfaFailed(w, r, st, mfa.Passkey, true, p.passkeyFailure(r, st.tx.ClientID, a, err))
	}
	if err := p.passAttempt(ctx, st.user.ID, st.tx.ID, mfa.Passkey); err != nil {
		return err
	}
	if _, err := p.addProof(w, r, &st.tx, st.sess, a.proof); err != nil {
		return err
	}
	p.audit(r, "mfa.passed", st.user.ID, st.tx.ClientID, map[string]string{"factor": string(mfa.Passkey), "credential": a.proof.Credential})
	return p.toResume(w, r, st.tx)
}

// mfaFailed answers a wrong (or refused) code: the same factor again while
// it has attempts left, else the next factor the engine offers.
func (p *Provider) mfaFailed(w http.ResponseWriter, r *http.Request, st mfaStep, f mfa.Factor, counted bool, msgKey string) error {
	ctx := r.Context()
	if counted {
		until, err := p.failAttempt(ctx, st.user.ID, st.tx.ID, f, st.pol)
		if err != nil {
			return err
		}
		if f != mfa.Passkey { // passkeyFailure audited it with its reason
			p.audit(r, "mfa.failed", st.user.ID, st.tx.ClientID, map[string]string{"factor": string(f)})
		}
		if !until.IsZero() && until.After(p.now()) {
			p.audit(r, "mfa.locked", st.user.ID, st.tx.ClientID, map[string]string{
				"factor": string(f), "until": until.UTC().Format("2006-01-02T15:04:05Z"),
			})
		}
	}
	// Ask again with the counters as they are now.
	form, _ := url.ParseQuery(st.tx.AuthorizeQuery)
	d, _, err := p.decide(r, st.tx, form, st.sess, st.user)
	if err != nil {
		return err
	}
	st.d = d
	if d.Outcome != mfa.Challenge {
		p.auditDecision(r, st.tx, st.user.ID, d)
		return p.toResume(w, r, st.tx)
	}
	if slices.Contains(d.Offer, f) {
		return p.renderMFA(w, r, st, f, http.StatusUnauthorized, msgKey, "")
	}
	p.audit(r, "mfa.skipped", st.user.ID, st.tx.ClientID, map[string]string{"factor": string(f), "reason": "attempts exhausted"})
	return p.renderMFA(w, r, st, st.pick(""), http.StatusUnauthorized, "mfa.error.try_another", "")
}

// noticePage is the data of templates/pages/notice.html: a message to read
// before the sign-in goes on.
type noticePage struct {
	web.Page
	HeadingKey string
	BodyKey    string
	BodyArg    string
	Continue   string
	Codes      []string
}

// recoveryCodeUsed tells the user a recovery code was spent and how many
// remain, records it for the account page, then continues.
func (p *Provider) recoveryCodeUsed(w http.ResponseWriter, r *http.Request, st mfaStep) error {
	codes, err := p.store.ListRecoveryCodes(r.Context(), st.user.ID)
	if err != nil {
		return fmt.Errorf("list recovery codes: %w", err)
	}
	left := unusedCodes(codes)
	p.audit(r, "recovery_code.used", st.user.ID, st.tx.ClientID, map[string]string{"remaining": strconv.Itoa(left)})
	key := "notice.recovery_used"
	if left <= lowRecoveryCodes {
		key = "notice.recovery_low"
	}
	return p.renderer.Render(w, r, http.StatusOK, "notice", noticePage{
		Page: p.page(w, r, st.tx, "notice.recovery_title"), HeadingKey: "notice.recovery_title",
		BodyKey: key, BodyArg: strconv.Itoa(left),
		Continue: p.path("/authorize/resume?tx=" + url.QueryEscape(st.tx.ID)),
	})
}

// lowRecoveryCodes or fewer unused codes earn a warning.
const lowRecoveryCodes = 3
