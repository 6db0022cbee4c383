package idp

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/idp/web"
)

// consentPage is the data of templates/pages/consent.html.
type consentPage struct {
	web.Page
	TxID       string
	ClientName string
	Scopes     []string
	Action     string
}

// consentTx loads the transaction of a consent step and checks that the
// browser has a session, and that it is the session the transaction was
// signed in with when the sign-in happened in this transaction.
func (p *Provider) consentTx(r *http.Request) (storage.LoginTx, *storage.Session, fosite.AuthorizeRequester, storage.Client, error) {
	tx, err := p.loadTx(r)
	if err != nil {
		return tx, nil, nil, storage.Client{}, err
	}
	sess, err := p.sessions.current(r)
	if err != nil {
		return tx, nil, nil, storage.Client{}, err
	}
	if sess == nil {
		return tx, nil, nil, storage.Client{}, web.Errorf(http.StatusBadRequest, "error.login_expired", "consent without a session")
	}
	if tx.SessionID != "" && tx.SessionID != sess.ID {
		return tx, nil, nil, storage.Client{}, web.Errorf(http.StatusBadRequest, "error.login_expired", "consent from another session than the transaction's")
	}
	ar, err := p.reparse(r.Context(), tx)
	if err != nil {
		return tx, nil, nil, storage.Client{}, web.NewError(http.StatusBadRequest, "error.login_expired", err)
	}
	c, err := p.store.GetClient(r.Context(), tx.ClientID)
	if err != nil {
		return tx, nil, nil, storage.Client{}, fmt.Errorf("load client: %w", err)
	}
	return tx, sess, ar, c, nil
}

func (p *Provider) consentForm(w http.ResponseWriter, r *http.Request) error {
	tx, _, ar, c, err := p.consentTx(r)
	if err != nil {
		return err
	}
	name := c.Name
	if name == "" {
		name = c.ID
	}
	return p.renderer.Render(w, r, http.StatusOK, "consent", consentPage{
		Page: p.page(w, r, tx, "consent.title"), TxID: tx.ID, ClientName: name,
		Scopes: grantableScopes(ar), Action: p.path("/consent"),
	})
}

func (p *Provider) consent(w http.ResponseWriter, r *http.Request) error {
	tx, sess, ar, c, err := p.consentTx(r)
	if err != nil {
		return err
	}
	switch r.PostFormValue("decision") {
	case "allow":
	case "deny":
		if err := p.store.CompleteLoginTx(r.Context(), tx.ID, p.now()); err != nil && !errors.Is(err, storage.ErrConflict) {
			return fmt.Errorf("complete login transaction: %w", err)
		}
		p.audit(r, "consent.denied", sess.UserID, c.ID, nil)
		return p.authorizeError(w, r, ar, fosite.ErrAccessDenied.WithHint("The user denied the request."))
	default:
		return web.Errorf(http.StatusBadRequest, "error.bad_request", "consent decision missing")
	}
	scopes := grantableScopes(ar)
	if prev, err := p.store.GetConsent(r.Context(), sess.UserID, c.ID); err == nil {
		for _, s := range prev.Scopes {
			if !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
	} else if !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("load consent: %w", err)
	}
	now := p.now().UTC()
	if err := p.store.SaveConsent(r.Context(), storage.Consent{UserID: sess.UserID, ClientID: c.ID, Scopes: scopes, GrantedAt: now}); err != nil {
		return fmt.Errorf("save consent: %w", err)
	}
	// The consent belongs to this session: if another user signs in in
	// this browser before the transaction resumes, it does not carry over.
	tx.ConsentedAt, tx.SessionID = now, sess.ID
	if err := p.store.UpdateLoginTx(r.Context(), tx); err != nil {
		return web.NewError(http.StatusBadRequest, "error.login_expired", err)
	}
	p.audit(r, "consent.granted", sess.UserID, c.ID, map[string]string{"scope": fmt.Sprint(scopes)})
	http.Redirect(w, r, p.path("/authorize/resume?tx="+url.QueryEscape(tx.ID)), http.StatusSeeOther)
	return nil
}
