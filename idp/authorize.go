package idp

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/token/jwt"

	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/idp/web"
)

// authorize handles GET and POST /authorize: it validates the request with
// fosite, persists it as a login transaction and dispatches.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	ar, err := p.oauth.NewAuthorizeRequest(ctx, r)
	if err != nil {
		return p.authorizeError(w, r, ar, err)
	}
	if err := p.precheck(ar); err != nil {
		return p.authorizeError(w, r, ar, err)
	}
	now := p.now().UTC()
	tx := storage.LoginTx{
		ID:             randomID(),
		ClientID:       ar.GetClient().GetID(),
		AuthorizeQuery: ar.GetRequestForm().Encode(),
		CreatedAt:      now,
		ExpiresAt:      now.Add(p.life.Login),
	}
	if err := p.store.CreateLoginTx(ctx, tx); err != nil {
		return fmt.Errorf("create login transaction: %w", err)
	}
	return p.dispatch(w, r, tx, ar)
}

// resume is where every step returns.
func (p *Provider) resume(w http.ResponseWriter, r *http.Request) error {
	tx, err := p.loadTx(r)
	if err != nil {
		return err
	}
	if tx.ClientID == "" {
		return p.dispatchInternal(w, r, tx)
	}
	ar, err := p.reparse(r.Context(), tx)
	if err != nil {
		return p.authorizeError(w, r, ar, err)
	}
	return p.dispatch(w, r, tx, ar)
}

// promptValues are the prompt values the dispatcher implements (and
// discovery advertises).
var promptValues = []string{"none", "login", "consent"}

// precheck refuses early what fosite would refuse only after the user signed
// in: PKCE other than S256, and prompt values we do not support.
func (p *Provider) precheck(ar fosite.AuthorizeRequester) error {
	form := ar.GetRequestForm()
	if m := form.Get("code_challenge_method"); m != "" && m != "S256" {
		return fosite.ErrInvalidRequest.WithHint("Only the S256 code_challenge_method is supported.")
	}
	if form.Get("code_challenge") != "" && form.Get("code_challenge_method") == "" {
		return fosite.ErrInvalidRequest.WithHint("code_challenge_method must be S256.")
	}
	if ar.GetClient().IsPublic() && form.Get("code_challenge") == "" {
		return fosite.ErrInvalidRequest.WithHint("Public clients must use PKCE (S256).")
	}
	prompts := strings.Fields(form.Get("prompt"))
	for _, v := range prompts {
		if !slices.Contains(promptValues, v) {
			return fosite.ErrInvalidRequest.WithHint("The prompt parameter has an unsupported value.")
		}
	}
	if slices.Contains(prompts, "none") && len(prompts) > 1 {
		return fosite.ErrInvalidRequest.WithHint("prompt=none cannot be combined with other values.")
	}
	if !ar.GetResponseTypes().ExactOne("code") {
		return fosite.ErrUnsupportedResponseType.WithHint("Only response_type=code is supported.")
	}
	if rm := form.Get("response_mode"); rm != "" && rm != "query" {
		return fosite.ErrUnsupportedResponseMode.WithHint("Only response_mode=query is supported.")
	}
	if form.Get("request") != "" || form.Get("request_uri") != "" {
		return fosite.ErrRequestNotSupported.WithHint("Request objects are not supported.")
	}
	if _, err := parseACRRequest(form, time.Time{}); err != nil {
		return fosite.ErrInvalidRequest.WithHint(err.Error())
	}
	return nil
}

// reparse rebuilds the fosite request from the stored query. fosite's
// parsing is cheap and stateless, so nothing but the query is persisted.
func (p *Provider) reparse(ctx context.Context, tx storage.LoginTx) (fosite.AuthorizeRequester, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url("/authorize")+"?"+tx.AuthorizeQuery, nil)
	if err != nil {
		return nil, fmt.Errorf("rebuild authorize request: %w", err)
	}
	return p.oauth.NewAuthorizeRequest(ctx, req)
}

// dispatch decides the next step of a transaction: authenticate (first
// factor, second factor, enrolment, as the policy engine decides), consent,
// then the response.
func (p *Provider) dispatch(w http.ResponseWriter, r *http.Request, tx storage.LoginTx, ar fosite.AuthorizeRequester) error {
	ctx := r.Context()
	form := ar.GetRequestForm()
	prompts := strings.Fields(form.Get("prompt"))
	promptNone := slices.Contains(prompts, "none")

	auth, done, err := p.authenticate(w, r, tx, form, promptNone, func(e error) error { return p.authorizeError(w, r, ar, e) })
	if err != nil || !done {
		return err
	}
	sess, user, d := auth.sess, auth.user, auth.decision

	c, err := p.store.GetClient(ctx, tx.ClientID)
	if err != nil {
		return fmt.Errorf("load client: %w", err)
	}
	scopes := grantableScopes(ar)
	if !c.FirstParty {
		need, err := p.needsConsent(ctx, sess, c.ID, scopes, tx, prompts)
		if err != nil {
			return err
		}
		if need {
			if promptNone {
				return p.authorizeError(w, r, ar, fosite.ErrConsentRequired.WithHint("The user must consent to this client."))
			}
			http.Redirect(w, r, p.path("/consent?tx="+url.QueryEscape(tx.ID)), http.StatusSeeOther)
			return nil
		}
	}

	// Single use: a transaction issues at most one response, even if the
	// browser submits twice.
	if err := p.store.CompleteLoginTx(ctx, tx.ID, p.now()); err != nil {
		if errors.Is(err, storage.ErrConflict) || errors.Is(err, storage.ErrNotFound) {
			return web.NewError(http.StatusBadRequest, "error.login_expired", err)
		}
		return fmt.Errorf("complete login transaction: %w", err)
	}
	for _, s := range scopes {
		ar.GrantScope(s)
	}
	for _, a := range ar.GetRequestedAudience() {
		ar.GrantAudience(a)
	}
	if len(ar.GetGrantedAudience()) == 0 {
		ar.GrantAudience(c.ID)
	}
	session := p.newUserSession(user, *sess, d, ar.GetGrantedScopes(), tx.CreatedAt, ar.GetClient().GetID())
	resp, err := p.oauth.NewAuthorizeResponse(withAlg(ctx, c.IDTokenSigningAlg), ar, session)
	if err != nil {
		return p.authorizeError(w, r, ar, err)
	}
	resp.AddParameter("iss", p.issuer) // RFC 9207
	p.audit(r, "authorize.granted", user.ID, c.ID, map[string]string{
		"scope": strings.Join(ar.GetGrantedScopes(), " "), "acr": d.ACR, "amr": strings.Join(d.AMR, " "),
	})
	p.oauth.WriteAuthorizeResponse(ctx, w, ar, resp)
	return nil
}

// hintSubject returns the subject of an id_token we signed (expired ones
// included, as OIDC Core allows), or "".
func (p *Provider) hintSubject(hint string) string {
	tok, err := p.signer.Decode(context.Background(), hint)
	if err != nil && !isOnlyExpired(err) {
		return ""
	}
	if tok == nil || tok.Claims["iss"] != p.issuer {
		return ""
	}
	sub, _ := tok.Claims["sub"].(string)
	return sub
}

// isOnlyExpired: the signature verified and the token is merely past exp.
func isOnlyExpired(err error) bool {
	var ve *jwt.ValidationError
	return errors.As(err, &ve) && ve.Errors == jwt.ValidationErrorExpired
}

func (p *Provider) needsConsent(ctx context.Context, sess *storage.Session, clientID string, scopes []string, tx storage.LoginTx, prompts []string) (bool, error) {
	if !tx.ConsentedAt.IsZero() && tx.SessionID == sess.ID {
		return false, nil
	}
	userID := sess.UserID
	if slices.Contains(prompts, "consent") {
		return true, nil
	}
	c, err := p.store.GetConsent(ctx, userID, clientID)
	if errors.Is(err, storage.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("load consent: %w", err)
	}
	for _, s := range scopes {
		if !slices.Contains(c.Scopes, s) {
			return true, nil
		}
	}
	return false, nil
}

// grantableScopes is what the request asks for and the client may have.
func grantableScopes(ar fosite.AuthorizeRequester) []string {
	var out []string
	for _, s := range ar.GetRequestedScopes() {
		if slices.Contains(ar.GetClient().GetScopes(), s) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// authorizeError answers a failed authorization request: to the client's
// redirect_uri when it is registered (RFC 6749 4.1.2.1, with RFC 9207 iss),
// otherwise with an error page and never a redirect.
func (p *Provider) authorizeError(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, err error) error {
	rfc := fosite.ErrorToRFC6749Error(err)
	if rfc.CodeField >= 500 {
		p.log.ErrorContext(r.Context(), "authorize failed", "err", err, "request_id", web.RequestIDFrom(r.Context()))
	} else {
		p.log.InfoContext(r.Context(), "authorize refused", "error", rfc.ErrorField, "hint", rfc.HintField,
			"request_id", web.RequestIDFrom(r.Context()))
	}
	if ar == nil || !ar.IsRedirectURIValid() {
		key := "error.bad_request"
		switch {
		case errors.Is(err, fosite.ErrInvalidClient):
			key = "error.unknown_client"
		case ar != nil && ar.GetClient() != nil && !redirectRegistered(ar):
			key = "error.invalid_redirect_uri"
		case rfc.ErrorField == fosite.ErrInvalidClient.ErrorField:
			key = "error.unknown_client"
		}
		status := http.StatusBadRequest
		if rfc.CodeField >= 500 {
			status = http.StatusInternalServerError
		}
		return web.NewError(status, key, err)
	}
	redirect := ar.GetRedirectURI()
	q := redirect.Query()
	q.Set("error", rfc.ErrorField)
	if d := rfc.GetDescription(); d != "" {
		q.Set("error_description", d)
	}
	if s := ar.GetState(); s != "" {
		q.Set("state", s)
	}
	q.Set("iss", p.issuer)
	redirect.RawQuery = q.Encode()
	redirect.Fragment = ""
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, redirect.String(), http.StatusSeeOther)
	return nil
}

// redirectRegistered: fosite may refuse a request (a request object, say)
// before it checks the redirect_uri, so an invalid-redirect page must check
// for itself that the address is the culprit.
func redirectRegistered(ar fosite.AuthorizeRequester) bool {
	_, err := fosite.MatchRedirectURIWithClientRedirectURIs(ar.GetRequestForm().Get("redirect_uri"), ar.GetClient())
	return err == nil
}

// loadTx reads the tx parameter and its live transaction.
func (p *Provider) loadTx(r *http.Request) (storage.LoginTx, error) {
	id := r.FormValue("tx")
	if id == "" || len(id) > 64 {
		return storage.LoginTx{}, web.Errorf(http.StatusBadRequest, "error.login_expired", "missing or malformed tx")
	}
	tx, err := p.store.GetLoginTx(r.Context(), id, p.now())
	if errors.Is(err, storage.ErrNotFound) {
		return storage.LoginTx{}, web.NewError(http.StatusBadRequest, "error.login_expired", err)
	}
	if err != nil {
		return storage.LoginTx{}, fmt.Errorf("load login transaction: %w", err)
	}
	if tx.Completed {
		return storage.LoginTx{}, web.Errorf(http.StatusBadRequest, "error.login_expired", "transaction already completed")
	}
	return tx, nil
}

// randomID returns 128 random bits as text (crypto/rand.Text cannot fail).
func randomID() string { return rand.Text() }
