package idp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/idp/web"
)

// logoutPage is the data of templates/pages/logout.html.
type logoutPage struct {
	web.Page
	Action     string
	Hidden     []HiddenField
	Done       bool
	ClientName string
}

// HiddenField is a form field carried through the confirmation page.
type HiddenField struct{ Name, Value string }

// logoutRequest is a validated RP-initiated logout request (OpenID Connect
// RP-Initiated Logout 1.0).
type logoutRequest struct {
	hintSub, hintSID string
	client           *storage.Client
	redirect         string // registered post_logout_redirect_uri with state, or ""
	form             url.Values
}

func (p *Provider) parseLogout(ctx context.Context, r *http.Request) (logoutRequest, error) {
	if err := r.ParseForm(); err != nil {
		return logoutRequest{}, web.NewError(http.StatusBadRequest, "error.bad_request", err)
	}
	lr := logoutRequest{form: r.Form}
	clientID := r.Form.Get("client_id")
	if hint := r.Form.Get("id_token_hint"); hint != "" {
		tok, err := p.signer.Decode(ctx, hint)
		if (err != nil && !isOnlyExpired(err)) || tok == nil || tok.Claims["iss"] != p.issuer {
			return logoutRequest{}, web.Errorf(http.StatusBadRequest, "error.bad_request", "invalid id_token_hint")
		}
		lr.hintSub, _ = tok.Claims["sub"].(string)
		lr.hintSID, _ = tok.Claims["sid"].(string)
		aud := audiences(tok.Claims["aud"])
		if clientID == "" && len(aud) == 1 {
			clientID = aud[0]
		}
		if clientID != "" && !slices.Contains(aud, clientID) {
			return logoutRequest{}, web.Errorf(http.StatusBadRequest, "error.bad_request", "client_id does not match id_token_hint")
		}
	}
	if clientID != "" {
		c, err := p.store.GetClient(ctx, clientID)
		if errors.Is(err, storage.ErrNotFound) {
			return logoutRequest{}, web.NewError(http.StatusBadRequest, "error.unknown_client", err)
		} else if err != nil {
			return logoutRequest{}, fmt.Errorf("load client: %w", err)
		}
		lr.client = &c
	}
	if target := r.Form.Get("post_logout_redirect_uri"); target != "" {
		// Only a registered URI, matched exactly, and only for a known
		// client: anything else would be an open redirector.
		if lr.client == nil || !slices.Contains(lr.client.PostLogoutRedirectURIs, target) {
			return logoutRequest{}, web.Errorf(http.StatusBadRequest, "error.invalid_redirect_uri", "post_logout_redirect_uri not registered")
		}
		u, err := url.Parse(target)
		if err != nil {
			return logoutRequest{}, web.NewError(http.StatusBadRequest, "error.invalid_redirect_uri", err)
		}
		if st := r.Form.Get("state"); st != "" {
			q := u.Query()
			q.Set("state", st)
			u.RawQuery = q.Encode()
		}
		lr.redirect = u.String()
	}
	return lr, nil
}

// endSession is the end_session_endpoint, by GET or POST. With an
// id_token_hint for the signed-in user it signs out at once; otherwise it
// asks the user to confirm, so a third party cannot sign users out.
func (p *Provider) endSession(w http.ResponseWriter, r *http.Request) error {
	lr, err := p.parseLogout(r.Context(), r)
	if err != nil {
		return err
	}
	sess, err := p.sessions.current(r)
	if err != nil {
		return err
	}
	if lr.hintSub != "" && (sess == nil || sess.UserID == lr.hintSub) {
		return p.finishLogout(w, r, sess, lr)
	}
	if sess == nil {
		return p.finishLogout(w, r, nil, lr)
	}
	var hidden []HiddenField
	for _, k := range []string{"id_token_hint", "post_logout_redirect_uri", "state", "client_id"} {
		if v := lr.form.Get(k); v != "" {
			hidden = append(hidden, HiddenField{k, v})
		}
	}
	return p.renderer.Render(w, r, http.StatusOK, "logout", logoutPage{
		Page: p.page(w, r, storage.LoginTx{}, "logout.title"), Action: p.path("/logout/confirm"),
		Hidden: hidden, ClientName: clientName(lr.client),
	})
}

// confirmLogout handles the confirmation form (CSRF-protected route).
func (p *Provider) confirmLogout(w http.ResponseWriter, r *http.Request) error {
	lr, err := p.parseLogout(r.Context(), r)
	if err != nil {
		return err
	}
	sess, err := p.sessions.current(r)
	if err != nil {
		return err
	}
	return p.finishLogout(w, r, sess, lr)
}

func (p *Provider) finishLogout(w http.ResponseWriter, r *http.Request, sess *storage.Session, lr logoutRequest) error {
	if err := p.sessions.end(w, r, sess); err != nil {
		return err
	}
	// A cross-site POST from the relying party carries no SameSite=Lax
	// cookie: the id_token's sid still names the session to end.
	if lr.hintSID != "" && (sess == nil || sess.ID != lr.hintSID) {
		if err := p.store.DeleteSession(r.Context(), lr.hintSID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("end hinted session: %w", err)
		}
	}
	userID := lr.hintSub
	if sess != nil {
		userID = sess.UserID
	}
	clientID := ""
	if lr.client != nil {
		clientID = lr.client.ID
	}
	p.audit(r, "logout", userID, clientID, nil)
	if lr.redirect != "" {
		http.Redirect(w, r, lr.redirect, http.StatusSeeOther)
		return nil
	}
	return p.renderer.Render(w, r, http.StatusOK, "logout", logoutPage{
		Page: p.page(w, r, storage.LoginTx{}, "logout.done_title"), Done: true, ClientName: clientName(lr.client),
	})
}

func clientName(c *storage.Client) string {
	if c == nil {
		return ""
	}
	if c.Name != "" {
		return c.Name
	}
	return c.ID
}

func audiences(v any) []string {
	switch a := v.(type) {
	case string:
		return []string{a}
	case []any:
		var out []string
		for _, x := range a {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return a
	}
	return nil
}
