package idp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/mfa"
	"github.com/latchkey/latchkey/mfa/passkey"
)

// Passkeys: the ceremony state stays on the server (storage.Ceremony:
// single use, short-lived, bound to the login transaction); the page gets
// the options as JSON and posts the browser's answer back in an ordinary
// form, so every passkey step is CSRF-protected like the other forms.

// Ceremony kinds.
const (
	ceremonyLogin    = "login"    // discoverable sign-in, no user yet
	ceremonyAssert   = "assert"   // a known user's passkey as a second factor
	ceremonyRegister = "register" // adding a passkey
)

// ceremonyLife bounds how long a page's options stay usable.
const ceremonyLife = 5 * time.Minute

// maxCredentialJSON bounds what a page may post back; real responses are a
// few kilobytes.
const maxCredentialJSON = 64 << 10

// errCeremony: the ceremony is missing, expired, used, or not this page's.
var errCeremony = errors.New("passkey ceremony missing, expired or not for this request")

// passkeyOptions is what a page embeds: the options JSON (safe inside a
// <script type="application/json">) and the ceremony id for the form.
type passkeyOptions struct {
	JSON     template.JS
	Ceremony string
}

func toCredential(k storage.Passkey) passkey.Credential {
	return passkey.Credential{
		ID: k.CredentialID, PublicKey: k.PublicKey, AttestationType: k.AttestationType, AAGUID: k.AAGUID,
		SignCount: k.SignCount, Transports: k.Transports, UserPresent: true, UserVerified: k.UserVerified,
		BackupEligible: k.BackupEligible, BackedUp: k.BackedUp,
	}
}

// passkeyUser is the WebAuthn view of a user: the opaque random user id as
// handle, never the email.
func (p *Provider) passkeyUser(ctx context.Context, u storage.User) (passkey.User, []storage.Passkey, error) {
	keys, err := p.store.ListPasskeys(ctx, u.ID)
	if err != nil {
		return passkey.User{}, nil, fmt.Errorf("list passkeys: %w", err)
	}
	pu := passkey.User{ID: []byte(u.ID), Name: u.Email, DisplayName: u.DisplayName}
	if pu.DisplayName == "" {
		pu.DisplayName = u.Email
	}
	for _, k := range keys {
		pu.Credentials = append(pu.Credentials, toCredential(k))
	}
	return pu, keys, nil
}

// newCeremony stores the library's session data and returns what the page
// embeds.
func (p *Provider) newCeremony(ctx context.Context, kind, userID, txID string, options, session []byte) (passkeyOptions, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, options); err != nil {
		return passkeyOptions{}, fmt.Errorf("passkey options: %w", err)
	}
	var safe bytes.Buffer
	json.HTMLEscape(&safe, buf.Bytes()) // no "</script>" can end the element early
	now := p.now().UTC()
	expires := now.Add(ceremonyLife)
	if t, err := passkey.SessionExpiry(session); err == nil && t.Before(expires) {
		expires = t
	}
	c := storage.Ceremony{ID: randomID(), Kind: kind, UserID: userID, TxID: txID, Data: session,
		CreatedAt: now, ExpiresAt: expires}
	if err := p.store.CreateCeremony(ctx, c); err != nil {
		return passkeyOptions{}, fmt.Errorf("store passkey ceremony: %w", err)
	}
	return passkeyOptions{JSON: template.JS(safe.String()), Ceremony: c.ID}, nil //nolint:gosec // JSON we encoded, HTML-escaped
}

// takeCeremony consumes a ceremony posted by a page and checks it belongs
// to this step.
func (p *Provider) takeCeremony(ctx context.Context, id, kind, userID, txID string) (storage.Ceremony, error) {
	if id == "" || len(id) > 64 {
		return storage.Ceremony{}, errCeremony
	}
	c, err := p.store.TakeCeremony(ctx, id, p.now())
	if errors.Is(err, storage.ErrNotFound) {
		return c, errCeremony
	}
	if err != nil {
		return c, fmt.Errorf("take passkey ceremony: %w", err)
	}
	if c.Kind != kind || c.UserID != userID || c.TxID != txID {
		return c, errCeremony
	}
	return c, nil
}

// passkeyAssertion is a verified passkey use.
type passkeyAssertion struct {
	user  storage.User
	key   storage.Passkey
	proof mfa.Proof
}

// finishAssertion verifies a posted assertion (discoverable when
// wantUser is empty) and applies the store's clone check. The errors are
// passkey's sentinels, errCeremony, or errors to log.
func (p *Provider) finishAssertion(ctx context.Context, c storage.Ceremony, response []byte, wantUser string) (passkeyAssertion, error) {
	var found storage.User
	var foundKey storage.Passkey
	lookup := func(userHandle, credentialID []byte) (passkey.User, error) {
		k, err := p.store.GetPasskey(ctx, credentialID)
		if err != nil {
			return passkey.User{}, passkey.ErrUnknownCredential
		}
		if string(userHandle) != "" && string(userHandle) != k.UserID {
			return passkey.User{}, passkey.ErrUnknownCredential
		}
		if wantUser != "" && k.UserID != wantUser {
			return passkey.User{}, passkey.ErrUnknownCredential
		}
		u, err := p.store.GetUser(ctx, k.UserID)
		if err != nil || u.Disabled {
			return passkey.User{}, passkey.ErrUnknownCredential
		}
		pu, _, err := p.passkeyUser(ctx, u)
		if err != nil {
			return passkey.User{}, err
		}
		found, foundKey = u, k
		return pu, nil
	}
	res, err := p.passkeys.FinishLogin(c.Data, response, lookup)
	if err != nil && !errors.Is(err, passkey.ErrCloned) {
		return passkeyAssertion{}, err
	}
	if found.ID == "" {
		return passkeyAssertion{}, passkey.ErrUnknownCredential
	}
	a := passkeyAssertion{user: found, key: foundKey}
	if errors.Is(err, passkey.ErrCloned) {
		return a, err
	}
	// The store's check is the one every node agrees on: a counter that
	// does not move forward is a possible clone.
	switch err := p.store.UsePasskey(ctx, found.ID, foundKey.CredentialID, res.Credential.SignCount, res.Credential.BackedUp, p.now().UTC()); {
	case errors.Is(err, storage.ErrConflict):
		return a, passkey.ErrCloned
	case err != nil:
		return a, fmt.Errorf("record passkey use: %w", err)
	}
	a.proof = mfa.Proof{Factor: mfa.Passkey, At: p.now().UTC(), UserVerified: res.UserVerified,
		Synced: res.Credential.BackedUp, Credential: shortID(foundKey.CredentialID)}
	return a, nil
}

// shortID names a credential in logs and proofs without its full id.
func shortID(id []byte) string {
	const n = 8
	s := fmt.Sprintf("%x", id)
	if len(s) > n*2 {
		s = s[:n*2]
	}
	return s
}

// passkeyFailure maps a failed assertion to the page's message key and
// writes the audit event; a suspected clone is a security event of its own.
func (p *Provider) passkeyFailure(r *http.Request, clientID string, a passkeyAssertion, err error) string {
	switch {
	case errors.Is(err, passkey.ErrCloned):
		p.audit(r, "passkey.clone_suspected", a.user.ID, clientID, map[string]string{"credential": shortID(a.key.CredentialID)})
		return "passkey.error.cloned"
	case errors.Is(err, errCeremony), errors.Is(err, passkey.ErrExpired), errors.Is(err, passkey.ErrInvalidSession):
		return "passkey.error.expired"
	case errors.Is(err, passkey.ErrUserVerification):
		p.audit(r, "mfa.failed", a.user.ID, clientID, map[string]string{"factor": string(mfa.Passkey), "reason": "user verification"})
		return "passkey.error.uv"
	default:
		p.audit(r, "mfa.failed", a.user.ID, clientID, map[string]string{"factor": string(mfa.Passkey)})
		return "passkey.error.failed"
	}
}

// isUnexpected tells errors to log and answer with 500 from the ones a
// user or a hostile page can cause.
func isUnexpected(err error) bool {
	for _, known := range []error{errCeremony, passkey.ErrCloned, passkey.ErrExpired, passkey.ErrUserVerification,
		passkey.ErrInvalidResponse, passkey.ErrUnknownCredential, passkey.ErrInvalidSession,
		passkey.ErrAlreadyRegistered, passkey.ErrNoCredentials} {
		if errors.Is(err, known) {
			return false
		}
	}
	return true
}

// readCredential reads the posted browser response.
func readCredential(r *http.Request) ([]byte, bool) {
	v := r.PostFormValue("credential")
	if v == "" || len(v) > maxCredentialJSON || !json.Valid([]byte(v)) {
		return nil, false
	}
	return []byte(v), true
}
