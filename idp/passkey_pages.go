package idp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/idp/web"
	"github.com/latchkey/latchkey/mfa"
	"github.com/latchkey/latchkey/mfa/passkey"
)

// registerPage is the data of templates/pages/passkey_register.html.
type registerPage struct {
	web.Page
	Action   string
	TxID     string
	Name     string
	ErrorKey string
	Cancel   string
	// Other leads to the authenticator-app set-up during sign-in.
	Other   string
	Passkey passkeyOptions
}

const maxPasskeyName = 64

// beginRegistration renders the page that creates a passkey for u.
func (p *Provider) beginRegistration(w http.ResponseWriter, r *http.Request, tx storage.LoginTx, u storage.User, status int, data registerPage) error {
	pu, _, err := p.passkeyUser(r.Context(), u)
	if err != nil {
		return err
	}
	options, session, err := p.passkeys.BeginRegistration(pu)
	if err != nil {
		return fmt.Errorf("begin passkey registration: %w", err)
	}
	po, err := p.newCeremony(r.Context(), ceremonyRegister, u.ID, tx.ID, options, session)
	if err != nil {
		return err
	}
	data.Page, data.Passkey, data.TxID = p.page(w, r, tx, "passkey.register_title"), po, tx.ID
	return p.renderer.Render(w, r, status, "passkey_register", data)
}

// finishRegistration checks the posted registration and stores the passkey.
// It returns a message key for the user when the registration failed.
func (p *Provider) finishRegistration(r *http.Request, tx storage.LoginTx, u storage.User) (storage.Passkey, string, error) {
	ctx := r.Context()
	name := strings.TrimSpace(r.PostFormValue("name"))
	if name == "" {
		name = browserLabel(r.UserAgent())
	}
	if utf8.RuneCountInString(name) > maxPasskeyName || !utf8.ValidString(name) {
		return storage.Passkey{}, "passkey.error.name", nil
	}
	response, ok := readCredential(r)
	if !ok {
		return storage.Passkey{}, "passkey.error.failed", nil
	}
	c, err := p.takeCeremony(ctx, r.PostFormValue("ceremony"), ceremonyRegister, u.ID, tx.ID)
	if err != nil {
		if isUnexpected(err) {
			return storage.Passkey{}, "", err
		}
		return storage.Passkey{}, "passkey.error.expired", nil
	}
	pu, _, err := p.passkeyUser(ctx, u)
	if err != nil {
		return storage.Passkey{}, "", err
	}
	cred, err := p.passkeys.FinishRegistration(pu, c.Data, response)
	if err != nil {
		if isUnexpected(err) {
			return storage.Passkey{}, "", fmt.Errorf("finish passkey registration: %w", err)
		}
		p.audit(r, "mfa.enrol_failed", u.ID, tx.ClientID, map[string]string{"factor": string(mfa.Passkey)})
		if errors.Is(err, passkey.ErrUserVerification) {
			return storage.Passkey{}, "passkey.error.uv", nil
		}
		if errors.Is(err, passkey.ErrAlreadyRegistered) {
			return storage.Passkey{}, "passkey.error.exists", nil
		}
		return storage.Passkey{}, "passkey.error.failed", nil
	}
	now := p.now().UTC()
	k := storage.Passkey{
		CredentialID: cred.ID, UserID: u.ID, Name: name, PublicKey: cred.PublicKey, AttestationType: cred.AttestationType,
		AAGUID: cred.AAGUID, SignCount: cred.SignCount, Transports: cred.Transports, UserVerified: cred.UserVerified,
		BackupEligible: cred.BackupEligible, BackedUp: cred.BackedUp, CreatedAt: now, LastUsedAt: now,
	}
	if err := p.store.CreatePasskey(ctx, k); errors.Is(err, storage.ErrConflict) {
		return storage.Passkey{}, "passkey.error.exists", nil
	} else if err != nil {
		return storage.Passkey{}, "", fmt.Errorf("store passkey: %w", err)
	}
	p.audit(r, "mfa.enrolled", u.ID, tx.ClientID, map[string]string{
		"factor": string(mfa.Passkey), "credential": shortID(k.CredentialID), "synced": fmt.Sprint(k.BackedUp),
	})
	return k, "", nil
}

// needsRecoveryPath: a user whose passkeys are all device-bound (BS=0) and
// who has no other second factor loses the account with the device.
func (p *Provider) needsRecoveryPath(r *http.Request, userID string) (bool, error) {
	keys, err := p.store.ListPasskeys(r.Context(), userID)
	if err != nil {
		return false, fmt.Errorf("list passkeys: %w", err)
	}
	for _, k := range keys {
		if k.BackedUp {
			return false, nil
		}
	}
	creds, err := p.store.ListTOTP(r.Context(), userID)
	if err != nil {
		return false, fmt.Errorf("list totp: %w", err)
	}
	return len(keys) > 0 && confirmedTOTP(creds) == 0, nil
}

// Account page.

func (p *Provider) accountPasskeyForm(w http.ResponseWriter, r *http.Request) error {
	sess, u, ok, err := p.accountSession(w, r)
	if err != nil || !ok {
		return err
	}
	if p.passkeys == nil {
		return web.Errorf(http.StatusNotFound, "error.not_found", "passkeys are not configured")
	}
	if fresh, err := p.freshStepUp(w, r, sess, u, p.path("/account/passkey")); err != nil || !fresh {
		return err
	}
	return p.beginRegistration(w, r, storage.LoginTx{}, u, http.StatusOK,
		registerPage{Action: p.path("/account/passkey"), Cancel: p.path("/account")})
}

func (p *Provider) accountPasskeySubmit(w http.ResponseWriter, r *http.Request) error {
	sess, u, ok, err := p.accountSession(w, r)
	if err != nil || !ok {
		return err
	}
	if p.passkeys == nil {
		return web.Errorf(http.StatusNotFound, "error.not_found", "passkeys are not configured")
	}
	if fresh, err := p.freshStepUp(w, r, sess, u, p.path("/account/passkey")); err != nil || !fresh {
		return err
	}
	key, errKey, err := p.finishRegistration(r, storage.LoginTx{}, u)
	if err != nil {
		return err
	}
	if errKey != "" {
		return p.beginRegistration(w, r, storage.LoginTx{}, u, http.StatusBadRequest, registerPage{
			Action: p.path("/account/passkey"), Cancel: p.path("/account"), ErrorKey: errKey,
			Name: r.PostFormValue("name"),
		})
	}
	codes, err := p.store.ListRecoveryCodes(r.Context(), u.ID)
	if err != nil {
		return fmt.Errorf("list recovery codes: %w", err)
	}
	if unusedCodes(codes) == 0 {
		body := "recovery.intro_passkey"
		if !key.BackedUp {
			body = "recovery.intro_device_bound"
		}
		return p.showNewRecoveryCodes(w, r, u, body)
	}
	return p.accountDone(w, r, "passkey_added")
}

func (p *Provider) accountPasskeyRemove(w http.ResponseWriter, r *http.Request) error {
	return p.removeFactor(w, r, string(mfa.Passkey), "passkey_removed", func(ctx context.Context, userID, hexID string) (string, error) {
		id, err := decodeHexID(hexID)
		if err != nil {
			return "", web.NewError(http.StatusBadRequest, "error.bad_request", err)
		}
		return shortID(id), p.store.DeletePasskey(ctx, userID, id)
	})
}

// Enrolment during sign-in (first-time set-up when the policy offers it).

func (p *Provider) enrolPasskeyForm(w http.ResponseWriter, r *http.Request, st mfaStep) error {
	return p.beginRegistration(w, r, st.tx, st.user, http.StatusOK, registerPage{
		Action: p.path("/mfa/enrol/passkey"),
		Other:  p.otherEnrolment(st),
	})
}

// otherEnrolment links to the authenticator-app set-up when the policy
// offers it too.
func (p *Provider) otherEnrolment(st mfaStep) string {
	if slices.Contains(st.d.Enrol, mfa.TOTP) {
		return p.path("/mfa/enrol?tx=" + url.QueryEscape(st.tx.ID) + "&factor=totp")
	}
	return ""
}

func (p *Provider) enrolPasskeySubmit(w http.ResponseWriter, r *http.Request) error {
	st, done, err := p.enrolStep(w, r)
	if err != nil || done {
		return err
	}
	if !slices.Contains(st.d.Enrol, mfa.Passkey) {
		return p.toResume(w, r, st.tx)
	}
	k, errKey, err := p.finishRegistration(r, st.tx, st.user)
	if err != nil {
		return err
	}
	if errKey != "" {
		return p.beginRegistration(w, r, st.tx, st.user, http.StatusBadRequest, registerPage{
			Action: p.path("/mfa/enrol/passkey"), Other: p.otherEnrolment(st), ErrorKey: errKey,
			Name: r.PostFormValue("name"),
		})
	}
	// Creating the credential in this browser just now proves possession
	// (and user verification when the authenticator did it).
	proof := mfa.Proof{Factor: mfa.Passkey, At: p.now().UTC(), UserVerified: k.UserVerified, Synced: k.BackedUp,
		Credential: shortID(k.CredentialID)}
	if _, err := p.addProof(w, r, &st.tx, st.sess, proof); err != nil {
		return err
	}
	codes, err := p.newRecoveryCodes(r.Context(), st.user.ID)
	if err != nil {
		return err
	}
	p.audit(r, "recovery_codes.generated", st.user.ID, st.tx.ClientID, nil)
	body := "recovery.intro"
	if !k.BackedUp {
		body = "recovery.intro_device_bound"
	}
	return p.renderer.Render(w, r, http.StatusOK, "notice", noticePage{
		Page: p.page(w, r, st.tx, "recovery.title"), HeadingKey: "recovery.title", BodyKey: body,
		Codes: codes, Continue: p.path("/authorize/resume?tx=" + url.QueryEscape(st.tx.ID)),
	})
}

func decodeHexID(s string) ([]byte, error) {
	if s == "" || len(s) > 2048 {
		return nil, errors.New("missing or oversized credential id")
	}
	var out []byte
	if _, err := fmt.Sscanf(s, "%x", &out); err != nil {
		return nil, fmt.Errorf("credential id: %w", err)
	}
	return out, nil
}
