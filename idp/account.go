package idp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/idp/web"
	"github.com/latchkey/latchkey/mfa"
)

// The account page (/account): the user's factors and their state, TOTP
// enrolment and removal, recovery codes, remembered browsers, connected
// apps and recent security events. Changing a factor needs a fresh
// step-up: proofs within reauthWindow that reach mfa (pwd for a user with
// no second factor yet), run through the same dispatcher and steps as any
// sign-in.

// reauthWindow is how recent the proofs must be to change factors.
const reauthWindow = 10 * time.Minute

// recentEvents is how many security events the page lists.
const recentEvents = 20

type accountPage struct {
	web.Page
	Email         string
	Name          string
	ACR           string
	TOTP          []totpRow
	CodesLeft     int
	CodesTotal    int
	CodesLow      bool
	Browsers      []browserRow
	RememberOn    bool
	Consents      []consentRow
	Events        []eventRow
	Flash         string
	FlashArg      string
	Logout        string
	AddTOTP       string
	HasSecondStep bool
	// Base is the issuer's path prefix for form actions.
	Base string
	// Passkeys, and where to add one (empty when passkeys are off).
	Passkeys   []passkeyRow
	AddPasskey string
	// Phones for SMS and voice codes, and where to add one (empty when
	// phone codes are off).
	Phones   []phoneRow
	AddPhone string
	// Push devices, and where to add one (empty when push is off).
	PushDevices []pushRow
	AddPush     string
	// DeviceBound: the user's passkeys are all tied to one device and
	// nothing else could bring them back in.
	DeviceBound bool
}

type passkeyRow struct {
	ID, Name        string
	Added, LastUsed string
	Synced          bool
}

type totpRow struct {
	ID, Name        string
	Added, LastUsed string
}

type browserRow struct {
	ID, Label       string
	Added, LastUsed string
	Current         bool
}

type consentRow struct {
	ClientID, Name, Scopes, Granted string
}

type eventRow struct {
	Time, Type, TypeKey, IP string
}

// accountSession returns the signed-in user, or starts a sign-in that
// returns to the account page.
func (p *Provider) accountSession(w http.ResponseWriter, r *http.Request) (*storage.Session, storage.User, bool, error) {
	sess, err := p.sessions.current(r)
	if err != nil {
		return nil, storage.User{}, false, err
	}
	if sess != nil {
		u, err := p.store.GetUser(r.Context(), sess.UserID)
		if err == nil && !u.Disabled {
			return sess, u, true, nil
		}
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return nil, storage.User{}, false, fmt.Errorf("load account user: %w", err)
		}
	}
	return nil, storage.User{}, false, p.startStepUp(w, r, p.path("/account"), mfa.LevelNone, 0)
}

// stepUpLevel is what changing factors needs: mfa once the user has a
// second factor, else a fresh password.
func (p *Provider) stepUpLevel(ctx context.Context, userID string) (mfa.Level, error) {
	n, err := p.secondFactors(ctx, userID)
	if err != nil {
		return mfa.LevelNone, err
	}
	if n > 0 {
		return mfa.LevelMFA, nil
	}
	return mfa.LevelPwd, nil
}

// secondFactors counts the user's authenticator apps, passkeys, push
// devices and (where they count) phones.
func (p *Provider) secondFactors(ctx context.Context, userID string) (int, error) {
	creds, err := p.store.ListTOTP(ctx, userID)
	if err != nil {
		return 0, fmt.Errorf("list totp: %w", err)
	}
	keys, err := p.store.ListPasskeys(ctx, userID)
	if err != nil {
		return 0, fmt.Errorf("list passkeys: %w", err)
	}
	n := confirmedTOTP(creds) + len(keys)
	if p.push != nil {
		devices, err := p.store.ListPushDevices(ctx, userID)
		if err != nil {
			return 0, fmt.Errorf("list push devices: %w", err)
		}
		n += len(devices)
	}
	// A phone counts only where the policy lets it complete mfa; otherwise
	// asking for mfa would lock out a user whose only extra factor it is.
	if pol, err := p.policies.get(ctx); err != nil {
		return 0, err
	} else if pol.PhoneSatisfiesMFA && p.phone != nil {
		phones, err := p.store.ListPhones(ctx, userID)
		if err != nil {
			return 0, fmt.Errorf("list phones: %w", err)
		}
		if _, ok := usablePhone(phones); ok {
			n++
		}
	}
	return n, nil
}

// freshStepUp reports whether the session proved the needed level within
// reauthWindow; if not, it starts that step-up (returning to returnTo) and
// reports false.
func (p *Provider) freshStepUp(w http.ResponseWriter, r *http.Request, sess *storage.Session, u storage.User, returnTo string) (bool, error) {
	ctx := r.Context()
	need, err := p.stepUpLevel(ctx, u.ID)
	if err != nil {
		return false, err
	}
	pol, err := p.policies.get(ctx)
	if err != nil {
		return false, err
	}
	now := p.now()
	var fresh []mfa.Proof
	for _, pr := range sessionProofs(*sess) {
		if pr.Factor != mfa.RememberedBrowser && now.Sub(pr.At) <= reauthWindow {
			fresh = append(fresh, pr)
		}
	}
	if mfa.Achieved(pol, fresh).AtLeast(need) {
		return true, nil
	}
	p.audit(r, "account.step_up_required", u.ID, "", map[string]string{"level": string(need)})
	return false, p.startStepUp(w, r, returnTo, need, reauthWindow)
}

func (p *Provider) account(w http.ResponseWriter, r *http.Request) error {
	sess, u, ok, err := p.accountSession(w, r)
	if err != nil || !ok {
		return err
	}
	data, err := p.accountData(w, r, sess, u)
	if err != nil {
		return err
	}
	data.Flash = r.URL.Query().Get("done")
	if data.Flash != "" && !slices.Contains(accountFlashes, data.Flash) {
		data.Flash = ""
	}
	return p.renderer.Render(w, r, http.StatusOK, "account", data)
}

// userEvents are the audit events the account page lists.
var userEvents = []string{
	"login.succeeded", "login.failed", "login.throttled", "mfa.failed", "mfa.locked", "mfa.enrolled",
	"mfa.removed", "mfa.replay_refused", "passkey.clone_suspected", "recovery_code.used", "recovery_codes.generated",
	"remembered_browser.created", "remembered_browser.revoked", "consent.granted", "consent.revoked",
	"token.code_reuse", "token.refresh_reuse", "phone.code_sent", "phone.undelivered", "phone.sim_swapped",
	"phone.budget_exceeded", "push.reported", "push.denied", "push.budget_exceeded",
}

// accountFlashes are the confirmations the page can show after an action.
var accountFlashes = []string{"totp_added", "totp_removed", "phone_added", "phone_removed", "push_removed", "passkey_added", "passkey_removed", "browser_forgotten", "browsers_forgotten", "consent_revoked"}

func (p *Provider) accountData(w http.ResponseWriter, r *http.Request, sess *storage.Session, u storage.User) (accountPage, error) {
	ctx := r.Context()
	page := p.page(w, r, storage.LoginTx{}, "account.title")
	d := accountPage{
		Page: page, Email: u.Email, Name: u.DisplayName, ACR: sess.ACR,
		Logout: p.path("/logout"), AddTOTP: p.path("/account/totp"), CodesTotal: 10, Base: p.basePath,
	}
	date := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	}
	creds, err := p.store.ListTOTP(ctx, u.ID)
	if err != nil {
		return d, fmt.Errorf("list totp: %w", err)
	}
	for _, c := range creds {
		if c.Confirmed() {
			d.TOTP = append(d.TOTP, totpRow{ID: c.ID, Name: c.Name, Added: date(c.ConfirmedAt), LastUsed: date(c.LastUsedAt)})
		}
	}
	codes, err := p.store.ListRecoveryCodes(ctx, u.ID)
	if err != nil {
		return d, fmt.Errorf("list recovery codes: %w", err)
	}
	d.CodesLeft = unusedCodes(codes)
	if len(codes) > 0 {
		d.CodesTotal = len(codes)
	}
	d.CodesLow = len(codes) > 0 && d.CodesLeft <= lowRecoveryCodes
	keys, err := p.store.ListPasskeys(ctx, u.ID)
	if err != nil {
		return d, fmt.Errorf("list passkeys: %w", err)
	}
	for _, k := range keys {
		d.Passkeys = append(d.Passkeys, passkeyRow{ID: fmt.Sprintf("%x", k.CredentialID), Name: k.Name,
			Added: date(k.CreatedAt), LastUsed: date(k.LastUsedAt), Synced: k.BackedUp})
	}
	if p.passkeys != nil {
		d.AddPasskey = p.path("/account/passkey")
	}
	if d.Phones, err = p.phoneRows(ctx, u.ID, date); err != nil {
		return d, err
	}
	if p.phone != nil {
		d.AddPhone = p.path("/account/phone")
	}
	if d.PushDevices, err = p.pushRows(ctx, u.ID, date); err != nil {
		return d, err
	}
	if p.push != nil {
		d.AddPush = p.path("/account/push")
	}
	if d.DeviceBound, err = p.needsRecoveryPath(r, u.ID); err != nil {
		return d, err
	}
	d.HasSecondStep = len(d.TOTP) > 0 || len(d.Passkeys) > 0
	pol, err := p.policies.get(ctx)
	if err != nil {
		return d, err
	}
	d.RememberOn = pol.Remember.Enabled
	browsers, err := p.store.ListRememberedBrowsers(ctx, u.ID, p.now())
	if err != nil {
		return d, fmt.Errorf("list remembered browsers: %w", err)
	}
	current := ""
	if rb := p.remembered(r, u.ID); rb != nil {
		current = rb.ID
	}
	for _, b := range browsers {
		d.Browsers = append(d.Browsers, browserRow{ID: b.ID, Label: b.Label, Added: date(b.CreatedAt),
			LastUsed: date(b.LastUsedAt), Current: b.ID == current})
	}
	consents, err := p.store.ListConsents(ctx, u.ID)
	if err != nil {
		return d, fmt.Errorf("list consents: %w", err)
	}
	for _, c := range consents {
		name := c.ClientID
		if cl, err := p.store.GetClient(ctx, c.ClientID); err == nil && cl.Name != "" {
			name = cl.Name
		}
		d.Consents = append(d.Consents, consentRow{ClientID: c.ClientID, Name: name,
			Scopes: joinScopes(c.Scopes), Granted: date(c.GrantedAt)})
	}
	// The audit log also holds engine decisions and offers; the page shows
	// what a user recognises as security events.
	events, err := p.store.ListAudit(ctx, storage.AuditFilter{UserID: u.ID, Limit: 5 * recentEvents})
	if err != nil {
		return d, fmt.Errorf("list security events: %w", err)
	}
	for _, e := range events {
		key := "event." + e.Type
		if !slices.Contains(userEvents, e.Type) || !page.L.Has(key) {
			continue
		}
		d.Events = append(d.Events, eventRow{Time: date(e.Time), Type: e.Type, TypeKey: key, IP: e.IP})
		if len(d.Events) == recentEvents {
			break
		}
	}
	return d, nil
}

func joinScopes(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += " "
		}
		out += v
	}
	return out
}

// accountTOTPForm shows the enrolment of a new authenticator app.
func (p *Provider) accountTOTPForm(w http.ResponseWriter, r *http.Request) error {
	sess, u, ok, err := p.accountSession(w, r)
	if err != nil || !ok {
		return err
	}
	if fresh, err := p.freshStepUp(w, r, sess, u, p.path("/account/totp")); err != nil || !fresh {
		return err
	}
	_, secret, err := p.pendingTOTP(r.Context(), u)
	if err != nil {
		return err
	}
	data, err := p.enrolData(w, r, storage.LoginTx{}, u, secret)
	if err != nil {
		return err
	}
	data.Action, data.Cancel = p.path("/account/totp"), p.path("/account")
	return p.renderer.Render(w, r, http.StatusOK, "enrol_totp", data)
}

// accountTOTPSubmit confirms a new authenticator app. A user's first
// second factor comes with recovery codes, shown once.
func (p *Provider) accountTOTPSubmit(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	sess, u, ok, err := p.accountSession(w, r)
	if err != nil || !ok {
		return err
	}
	if fresh, err := p.freshStepUp(w, r, sess, u, p.path("/account/totp")); err != nil || !fresh {
		return err
	}
	pol, err := p.policies.get(ctx)
	if err != nil {
		return err
	}
	c, secret, err := p.pendingTOTP(ctx, u)
	if err != nil {
		return err
	}
	errKey, err := p.confirmTOTP(ctx, u.ID, "", c, r.PostFormValue("code"), pol)
	if err != nil {
		return err
	}
	if errKey != "" {
		data, err := p.enrolData(w, r, storage.LoginTx{}, u, secret)
		if err != nil {
			return err
		}
		data.Action, data.Cancel, data.ErrorKey = p.path("/account/totp"), p.path("/account"), errKey
		return p.renderer.Render(w, r, http.StatusUnauthorized, "enrol_totp", data)
	}
	p.audit(r, "mfa.enrolled", u.ID, "", map[string]string{"factor": string(mfa.TOTP), "credential": c.ID})
	codes, err := p.store.ListRecoveryCodes(ctx, u.ID)
	if err != nil {
		return fmt.Errorf("list recovery codes: %w", err)
	}
	if unusedCodes(codes) == 0 {
		return p.showNewRecoveryCodes(w, r, u, "recovery.intro")
	}
	return p.accountDone(w, r, "totp_added")
}

// accountTOTPRemove removes an authenticator app. Removing the last second
// factor also voids the recovery codes, which only make sense beside one.
func (p *Provider) accountTOTPRemove(w http.ResponseWriter, r *http.Request) error {
	return p.removeFactor(w, r, "totp", "totp_removed", func(ctx context.Context, userID, id string) (string, error) {
		return id, p.store.DeleteTOTP(ctx, userID, id)
	})
}

// removeFactor is every "remove" button of the account page: a fresh
// step-up, the deletion (del returns the credential's name for the audit
// log), the audit event, and the recovery codes' fate when it was the last
// second factor.
func (p *Provider) removeFactor(w http.ResponseWriter, r *http.Request, factor, flash string, del func(ctx context.Context, userID, id string) (string, error)) error {
	sess, u, ok, err := p.accountSession(w, r)
	if err != nil || !ok {
		return err
	}
	if fresh, err := p.freshStepUp(w, r, sess, u, p.path("/account")); err != nil || !fresh {
		return err
	}
	credential, err := del(r.Context(), u.ID, r.PostFormValue("id"))
	if errors.Is(err, storage.ErrNotFound) {
		return web.NewError(http.StatusNotFound, "error.not_found", err)
	}
	if err != nil {
		return fmt.Errorf("remove %s: %w", factor, err)
	}
	p.audit(r, "mfa.removed", u.ID, "", map[string]string{"factor": factor, "credential": credential})
	if err := p.afterFactorRemoved(r, u.ID); err != nil {
		return err
	}
	return p.accountDone(w, r, flash)
}

// afterFactorRemoved: once the last second factor is gone, the recovery
// codes and remembered browsers that stood beside it go too.
func (p *Provider) afterFactorRemoved(r *http.Request, userID string) error {
	ctx := r.Context()
	left, err := p.secondFactors(ctx, userID)
	if err != nil || left > 0 {
		return err
	}
	if err := p.store.ReplaceRecoveryCodes(ctx, userID, nil, p.now().UTC()); err != nil {
		return fmt.Errorf("void recovery codes: %w", err)
	}
	if _, err := p.store.DeleteUserRememberedBrowsers(ctx, userID); err != nil {
		return fmt.Errorf("forget browsers: %w", err)
	}
	return nil
}

// accountRecoveryCodes replaces the recovery codes and shows the new ones.
func (p *Provider) accountRecoveryCodes(w http.ResponseWriter, r *http.Request) error {
	sess, u, ok, err := p.accountSession(w, r)
	if err != nil || !ok {
		return err
	}
	if fresh, err := p.freshStepUp(w, r, sess, u, p.path("/account")); err != nil || !fresh {
		return err
	}
	level, err := p.stepUpLevel(r.Context(), u.ID)
	if err != nil {
		return err
	}
	if level != mfa.LevelMFA {
		return web.Errorf(http.StatusBadRequest, "account.error.no_second_factor", "recovery codes without a second factor")
	}
	return p.showNewRecoveryCodes(w, r, u, "recovery.intro_general")
}

// showNewRecoveryCodes makes and shows a new set of recovery codes; body
// says what they stand in for.
func (p *Provider) showNewRecoveryCodes(w http.ResponseWriter, r *http.Request, u storage.User, body string) error {
	codes, err := p.newRecoveryCodes(r.Context(), u.ID)
	if err != nil {
		return err
	}
	p.audit(r, "recovery_codes.generated", u.ID, "", map[string]string{"count": strconv.Itoa(len(codes))})
	return p.renderer.Render(w, r, http.StatusOK, "notice", noticePage{
		Page: p.page(w, r, storage.LoginTx{}, "recovery.title"), HeadingKey: "recovery.title", BodyKey: body,
		Codes: codes, Continue: p.path("/account"),
	})
}

// accountForgetBrowser forgets one remembered browser, or all with id
// "all". Taking trust away needs no step-up.
func (p *Provider) accountForgetBrowser(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	_, u, ok, err := p.accountSession(w, r)
	if err != nil || !ok {
		return err
	}
	id := r.PostFormValue("id")
	if id == "all" {
		if _, err := p.store.DeleteUserRememberedBrowsers(ctx, u.ID); err != nil {
			return fmt.Errorf("forget browsers: %w", err)
		}
		p.audit(r, "remembered_browser.revoked", u.ID, "", map[string]string{"which": "all"})
		return p.accountDone(w, r, "browsers_forgotten")
	}
	if err := p.store.DeleteRememberedBrowser(ctx, u.ID, id); errors.Is(err, storage.ErrNotFound) {
		return web.NewError(http.StatusNotFound, "error.not_found", err)
	} else if err != nil {
		return fmt.Errorf("forget browser: %w", err)
	}
	p.audit(r, "remembered_browser.revoked", u.ID, "", nil)
	return p.accountDone(w, r, "browser_forgotten")
}

// accountRevokeConsent withdraws an app's access: the consent and every
// token the app holds for the user.
func (p *Provider) accountRevokeConsent(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	_, u, ok, err := p.accountSession(w, r)
	if err != nil || !ok {
		return err
	}
	clientID := r.PostFormValue("client")
	if err := p.store.DeleteConsent(ctx, u.ID, clientID); errors.Is(err, storage.ErrNotFound) {
		return web.NewError(http.StatusNotFound, "error.not_found", err)
	} else if err != nil {
		return fmt.Errorf("revoke consent: %w", err)
	}
	n, err := p.store.DeactivateTokensByGrant(ctx, u.ID, clientID)
	if err != nil {
		return fmt.Errorf("revoke tokens: %w", err)
	}
	p.audit(r, "consent.revoked", u.ID, clientID, map[string]string{"tokens": strconv.FormatInt(n, 10), "by": "user"})
	return p.accountDone(w, r, "consent_revoked")
}

func (p *Provider) accountDone(w http.ResponseWriter, r *http.Request, flash string) error {
	http.Redirect(w, r, p.path("/account?done="+flash), http.StatusSeeOther)
	return nil
}
