package chrome

import (
	"bytes"
	"fmt"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// PlatformAuthenticator is the virtual authenticator of a phone or laptop
// with a biometric: CTAP2 over the internal transport, discoverable
// credentials (passkeys), and user verification that succeeds.
//
// AutomaticPresenceSimulation is set explicitly: without it the
// authenticator waits for a touch that never comes and every ceremony
// hangs until its timeout.
func PlatformAuthenticator() webauthn.VirtualAuthenticatorOptions {
	return webauthn.VirtualAuthenticatorOptions{
		Protocol:                    webauthn.AuthenticatorProtocolCtap2,
		Ctap2version:                webauthn.Ctap2versionCtap21,
		Transport:                   webauthn.AuthenticatorTransportInternal,
		HasResidentKey:              true,
		HasUserVerification:         true,
		IsUserVerified:              true,
		AutomaticPresenceSimulation: true,
	}
}

// Authenticator is a virtual authenticator attached to the browser's tab.
// Its methods fail the test when the browser refuses.
type Authenticator struct {
	ID webauthn.AuthenticatorID
	b  *Browser
}

// AddAuthenticator attaches a virtual authenticator to the tab;
// nil means PlatformAuthenticator(). It enables the WebAuthn domain first,
// which replaces the real authenticators: from then on the page sees only
// the virtual ones, and with none a ceremony waits until its timeout.
func (b *Browser) AddAuthenticator(opts *webauthn.VirtualAuthenticatorOptions) *Authenticator {
	b.t.Helper()
	if opts == nil {
		o := PlatformAuthenticator()
		opts = &o
	}
	var enableErr error
	b.webauthn.Do(func() {
		noUI := false // the browser's own dialogs would wait for a click
		_, enableErr = chromedp.Call(b.ctx, webauthn.Enable, webauthn.EnableParams{EnableUI: &noUI})
	})
	if enableErr != nil {
		b.t.Fatalf("browser: enable WebAuthn domain: %v", enableErr)
	}
	res, err := chromedp.Call(b.ctx, webauthn.AddVirtualAuthenticator,
		webauthn.AddVirtualAuthenticatorParams{Options: opts})
	if err != nil {
		b.t.Fatalf("browser: add virtual authenticator: %v", err)
	}
	return &Authenticator{ID: res.AuthenticatorID, b: b}
}

func (a *Authenticator) call(what string, err error) {
	a.b.t.Helper()
	if err != nil {
		a.b.t.Fatalf("browser: authenticator %s: %s: %v", a.ID, what, err)
	}
}

// Credentials lists the credentials the authenticator holds, private keys
// and sign counts included.
func (a *Authenticator) Credentials() []*webauthn.Credential {
	a.b.t.Helper()
	res, err := chromedp.Call(a.b.ctx, webauthn.GetCredentials,
		webauthn.GetCredentialsParams{AuthenticatorID: a.ID})
	a.call("list credentials", err)
	return res.Credentials
}

// Credential returns the credential with the given ID, failing the test when
// the authenticator does not hold it.
func (a *Authenticator) Credential(id []byte) *webauthn.Credential {
	a.b.t.Helper()
	for _, c := range a.Credentials() {
		if bytes.Equal(c.CredentialID, id) {
			return c
		}
	}
	a.b.t.Fatalf("browser: authenticator %s holds no credential %x", a.ID, id)
	return nil
}

// AddCredential puts a credential on the authenticator, as if it had been
// registered earlier. CredentialID, RpID and PrivateKey (PKCS#8, P-256) are
// required; a credential from Credentials can be put back as it is.
func (a *Authenticator) AddCredential(c *webauthn.Credential) {
	a.b.t.Helper()
	_, err := chromedp.Call(a.b.ctx, addCredential, addCredentialParams{
		AuthenticatorID: a.ID,
		Credential: credentialParams{
			CredentialID:         c.CredentialID,
			IsResidentCredential: c.IsResidentCredential,
			RpID:                 c.RpID,
			PrivateKey:           c.PrivateKey,
			UserHandle:           c.UserHandle,
			SignCount:            c.SignCount,
			LargeBlob:            c.LargeBlob,
			BackupEligibility:    c.BackupEligibility,
			BackupState:          c.BackupState,
			UserName:             c.UserName,
			UserDisplayName:      c.UserDisplayName,
		},
	})
	a.call("add credential", err)
}

// addCredential is WebAuthn.addCredential with a credential that leaves out
// the CMTG fields: cdproto's Credential always sends
// generateCmtgKeyOnNextOperation, and Chromium refuses any CMTG field on an
// authenticator without the extension ("CMTG is not supported by this
// authenticator").
var addCredential = cdp.Command[addCredentialParams, cdp.Empty]{Method: webauthn.CommandAddCredential}

type addCredentialParams struct {
	AuthenticatorID webauthn.AuthenticatorID `json:"authenticatorId"`
	Credential      credentialParams         `json:"credential"`
}

type credentialParams struct {
	CredentialID         []byte  `json:"credentialId"`
	IsResidentCredential bool    `json:"isResidentCredential"`
	RpID                 string  `json:"rpId,omitempty"`
	PrivateKey           []byte  `json:"privateKey"`
	UserHandle           []byte  `json:"userHandle,omitempty"`
	SignCount            float64 `json:"signCount"`
	LargeBlob            []byte  `json:"largeBlob,omitempty"`
	BackupEligibility    bool    `json:"backupEligibility"`
	BackupState          bool    `json:"backupState"`
	UserName             string  `json:"userName,omitempty"`
	UserDisplayName      string  `json:"userDisplayName,omitempty"`
}

// RemoveCredential deletes one credential: the user's passkey is gone (a
// lost or wiped phone), so an assertion finds nothing to sign with.
func (a *Authenticator) RemoveCredential(id []byte) {
	a.b.t.Helper()
	_, err := chromedp.Call(a.b.ctx, webauthn.RemoveCredential,
		webauthn.RemoveCredentialParams{AuthenticatorID: a.ID, CredentialID: id})
	a.call("remove credential", err)
}

// ClearCredentials deletes every credential: all passkeys lost.
func (a *Authenticator) ClearCredentials() {
	a.b.t.Helper()
	_, err := chromedp.Call(a.b.ctx, webauthn.ClearCredentials,
		webauthn.ClearCredentialsParams{AuthenticatorID: a.ID})
	a.call("clear credentials", err)
}

// SetUserVerified makes user verification succeed or fail, as a matching or
// a wrong fingerprint (or PIN) would. With false, a ceremony whose
// userVerification is "required" or "preferred" rejects at once with
// NotAllowedError (Chromium tries UV whenever the authenticator has it);
// one with "discouraged" still succeeds, with the UV flag clear.
func (a *Authenticator) SetUserVerified(ok bool) {
	a.b.t.Helper()
	_, err := chromedp.Call(a.b.ctx, webauthn.SetUserVerified,
		webauthn.SetUserVerifiedParams{AuthenticatorID: a.ID, IsUserVerified: ok})
	a.call("set user verified", err)
}

// SetPresence turns the simulated touch on or off. Off is the user who
// ignores or dismisses the browser's prompt: the ceremony rejects with
// NotAllowedError when the page's own timeout runs out (WebAuthn reports a
// cancel and a timeout the same way, by design). Chromium honours short
// timeouts with a virtual authenticator, so pair this with
// Browser.LimitWebAuthnTimeout for a quick "cancelled prompt". Removing
// the authenticator does not end a pending ceremony; it too waits for the
// timeout.
func (a *Authenticator) SetPresence(on bool) {
	a.b.t.Helper()
	_, err := chromedp.Call(a.b.ctx, webauthn.SetAutomaticPresenceSimulation,
		webauthn.SetAutomaticPresenceSimulationParams{AuthenticatorID: a.ID, Enabled: on})
	a.call("set presence simulation", err)
}

// SetSignCount rewrites a credential's signature counter, for example to a
// lower value than the relying party has seen, as a cloned authenticator
// would report. The authenticator increments the counter before signing,
// so the next assertion reports n+1.
//
// It uses WebAuthn.setCredentialProperties; a Chromium without it gets the
// credential removed and added back with the same ID, key and user handle
// and the new count, which the RP cannot tell apart.
func (a *Authenticator) SetSignCount(id []byte, n uint32) {
	a.b.t.Helper()
	count := float64(n)
	_, err := chromedp.Call(a.b.ctx, webauthn.SetCredentialProperties, webauthn.SetCredentialPropertiesParams{
		AuthenticatorID: a.ID, CredentialID: id, SignCount: &count,
	})
	if err != nil {
		c := *a.Credential(id)
		c.SignCount = count
		a.RemoveCredential(id)
		a.AddCredential(&c)
	}
	if got := a.Credential(id).SignCount; got != count {
		a.b.t.Fatalf("browser: authenticator %s: sign count of %x is %v after setting %d", a.ID, id, got, n)
	}
}

// SetResponseOverrides makes the authenticator's answers defective, for
// relying-party tests that must refuse them: a zeroed signature, or the
// user-verified (UV) or user-present (UP) flag cleared although the
// ceremony succeeded. The browser passes such answers on to the page.
// All false restores honest answers.
func (a *Authenticator) SetResponseOverrides(bogusSignature, badUV, badUP bool) {
	a.b.t.Helper()
	_, err := chromedp.Call(a.b.ctx, webauthn.SetResponseOverrideBits, webauthn.SetResponseOverrideBitsParams{
		AuthenticatorID: a.ID, IsBogusSignature: &bogusSignature, IsBadUV: &badUV, IsBadUP: &badUP,
	})
	a.call("set response overrides", err)
}

// Remove detaches the authenticator from the tab.
func (a *Authenticator) Remove() {
	a.b.t.Helper()
	_, err := chromedp.Call(a.b.ctx, webauthn.RemoveVirtualAuthenticator,
		webauthn.RemoveVirtualAuthenticatorParams{AuthenticatorID: a.ID})
	a.call("remove", err)
}

func (a *Authenticator) String() string { return fmt.Sprintf("authenticator %s", a.ID) }

// limitTimeoutJS caps the timeout of every WebAuthn ceremony the page starts.
const limitTimeoutJS = `(() => {
	const ms = %d;
	const c = navigator.credentials;
	if (!c) return;
	for (const name of ["create", "get"]) {
		const orig = c[name].bind(c);
		c[name] = (opts) => {
			if (opts && opts.publicKey) {
				opts = Object.assign({}, opts, {publicKey: Object.assign({}, opts.publicKey, {timeout: ms})});
			}
			return orig(opts);
		};
	}
})();`

// LimitWebAuthnTimeout makes every navigator.credentials.create and .get
// that pages of this tab start from now on (the current page included) use
// timeout d, whatever the page asked for, so a test of an unanswered or
// cancelled prompt (Authenticator.SetPresence(false)) takes d, not the
// minutes a real page allows. The page sees the same NotAllowedError.
func (b *Browser) LimitWebAuthnTimeout(d time.Duration) {
	b.t.Helper()
	now := true
	_, err := chromedp.Call(b.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source:         fmt.Sprintf(limitTimeoutJS, d.Milliseconds()),
		RunImmediately: &now,
	})
	if err != nil {
		b.t.Fatalf("browser: limit WebAuthn timeout: %v", err)
	}
}
