package idp

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/idp/web"
	"github.com/latchkey/latchkey/mfa"
)

// authResult is a session that satisfies a transaction, with the decision
// that says so (its acr, amr and auth_time are what tokens publish).
type authResult struct {
	sess     *storage.Session
	user     storage.User
	decision mfa.Decision
}

// errUnmetAuthn is OpenID Connect's error for a requested acr the provider
// cannot reach (OpenID Connect Core errata / RFC 9470 section 4); fosite has
// no constant for it.
var errUnmetAuthn = &fosite.RFC6749Error{
	ErrorField:       "unmet_authentication_requirements",
	DescriptionField: "The authorization server is unable to meet the requested authentication requirements.",
	CodeField:        http.StatusBadRequest,
}

// authenticate runs the authentication part of a transaction. With done
// false the browser has been sent to the next step (sign-in, second factor,
// enrolment) or fail has answered; with done true the session satisfies the
// request. Under prompt=none every needed interaction is answered through
// fail with the OIDC error instead.
func (p *Provider) authenticate(w http.ResponseWriter, r *http.Request, tx storage.LoginTx, form url.Values, promptNone bool, fail func(error) error) (authResult, bool, error) {
	ctx := r.Context()
	sess, err := p.sessions.current(r)
	if err != nil {
		return authResult{}, false, err
	}
	var user storage.User
	if sess != nil {
		user, err = p.store.GetUser(ctx, sess.UserID)
		if errors.Is(err, storage.ErrNotFound) || (err == nil && user.Disabled) {
			if err := p.sessions.end(w, r, sess); err != nil {
				return authResult{}, false, err
			}
			sess = nil
		} else if err != nil {
			return authResult{}, false, fmt.Errorf("load session user: %w", err)
		}
	}
	firstFactor := func(reason string) (authResult, bool, error) {
		if promptNone {
			return authResult{}, false, fail(fosite.ErrLoginRequired.WithHintf("The user must sign in (%s).", reason))
		}
		http.Redirect(w, r, p.path("/login?tx="+url.QueryEscape(tx.ID)), http.StatusSeeOther)
		return authResult{}, false, nil
	}
	if sess == nil {
		return firstFactor("no session")
	}
	if hint := form.Get("id_token_hint"); hint != "" {
		if sub := p.hintSubject(hint); sub != "" && sub != sess.UserID {
			return firstFactor("id_token_hint names another user")
		}
	}

	d, _, err := p.decide(r, tx, form, sess, user)
	if err != nil {
		return authResult{}, false, err
	}
	p.auditDecision(r, tx, user.ID, d)
	switch d.Outcome {
	case mfa.NeedFirstFactor:
		return firstFactor("no fresh first factor")
	case mfa.Satisfied:
		// A remembered browser the engine counted becomes a proof of the
		// session, so later requests and the account page see it.
		for _, u := range d.Used {
			if u.Factor == mfa.RememberedBrowser && !hasFactor(sessionProofs(*sess), mfa.RememberedBrowser) {
				ns, err := p.addProof(w, r, &tx, sess, u)
				if err != nil {
					return authResult{}, false, err
				}
				sess = &ns
				p.touchRemembered(r)
				p.audit(r, "mfa.passed", user.ID, tx.ClientID, map[string]string{"factor": string(mfa.RememberedBrowser)})
			}
		}
		return authResult{sess: sess, user: user, decision: d}, true, nil
	case mfa.Challenge, mfa.Enrol:
		if promptNone {
			return authResult{}, false, fail(fosite.ErrInteractionRequired.WithHint("The user must complete another authentication step."))
		}
		step := "/mfa"
		if d.Outcome == mfa.Enrol {
			step = "/mfa/enrol"
		}
		http.Redirect(w, r, p.path(step+"?tx="+url.QueryEscape(tx.ID)), http.StatusSeeOther)
		return authResult{}, false, nil
	default: // mfa.Denied
		hint := "No authentication method available to this user reaches the requested level."
		switch d.Reason {
		case mfa.ReasonUnknownACR:
			hint = "None of the requested acr values is supported."
		case mfa.ReasonLocked:
			hint = "The authentication methods that reach the requested level are temporarily locked."
		}
		return authResult{}, false, fail(errUnmetAuthn.WithHint(hint))
	}
}

func hasFactor(proofs []mfa.Proof, f mfa.Factor) bool {
	for _, p := range proofs {
		if p.Factor == f {
			return true
		}
	}
	return false
}

// Internal transactions: Latchkey's own pages (the account page) need
// step-up too. They run through the same dispatcher and steps as an OIDC
// request, without a client: ClientID is empty and the stored query holds
// only acr_values and max_age.

// startStepUp begins an internal transaction that must reach level with
// proofs no older than maxAge, then returns to returnTo (a path under the
// issuer).
func (p *Provider) startStepUp(w http.ResponseWriter, r *http.Request, returnTo string, level mfa.Level, maxAge time.Duration) error {
	now := p.now().UTC()
	q := url.Values{}
	if level != mfa.LevelNone {
		q.Set("acr_values", string(level))
	}
	if maxAge > 0 {
		q.Set("max_age", strconv.FormatInt(int64(maxAge/time.Second), 10))
	}
	tx := storage.LoginTx{
		ID: randomID(), AuthorizeQuery: q.Encode(), State: txState{Return: returnTo}.encode(),
		CreatedAt: now, ExpiresAt: now.Add(p.life.Login),
	}
	if err := p.store.CreateLoginTx(r.Context(), tx); err != nil {
		return fmt.Errorf("create step-up transaction: %w", err)
	}
	return p.dispatchInternal(w, r, tx)
}

// dispatchInternal is dispatch for an internal transaction.
func (p *Provider) dispatchInternal(w http.ResponseWriter, r *http.Request, tx storage.LoginTx) error {
	form, err := url.ParseQuery(tx.AuthorizeQuery)
	if err != nil {
		return fmt.Errorf("parse step-up transaction: %w", err)
	}
	_, done, err := p.authenticate(w, r, tx, form, false, func(e error) error {
		return web.NewError(http.StatusForbidden, "error.step_up_unavailable", e)
	})
	if err != nil || !done {
		return err
	}
	if err := p.store.CompleteLoginTx(r.Context(), tx.ID, p.now()); err != nil {
		if errors.Is(err, storage.ErrConflict) || errors.Is(err, storage.ErrNotFound) {
			return web.NewError(http.StatusBadRequest, "error.login_expired", err)
		}
		return fmt.Errorf("complete step-up transaction: %w", err)
	}
	http.Redirect(w, r, p.safeReturn(decodeTxState(tx).Return), http.StatusSeeOther)
	return nil
}

// safeReturn keeps an internal return address on this provider's own
// account pages.
func (p *Provider) safeReturn(to string) string {
	base := p.path("/account")
	if to == base || strings.HasPrefix(to, base+"/") || strings.HasPrefix(to, base+"?") {
		if !strings.Contains(to, "//") && !strings.Contains(to, "\\") {
			return to
		}
	}
	return base
}
