package idp

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/idp/storage"
)

// codeUsedHint is fosite's hint for a reused authorization code.
const codeUsedHint = "The authorization code has already been used."

// grantTypes are the grants the token endpoint implements.
var grantTypes = []string{"authorization_code", "refresh_token", "client_credentials"}

// token is the token endpoint (RFC 6749 section 3.2).
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	session := newSession()
	ar, err := p.oauth.NewAccessRequest(ctx, r, session)
	if err != nil {
		p.tokenError(w, r, ar, err)
		return
	}
	grant := strings.Join(ar.GetGrantTypes(), " ")
	// fosite has loaded the client already; reading it again would cost a
	// store round trip per token request.
	alg := ""
	if c, ok := ar.GetClient().(*client); ok {
		alg = c.c.IDTokenSigningAlg
	}
	if ar.GetGrantTypes().ExactOne("client_credentials") {
		// fosite checked the scopes against the client; granting is ours.
		for _, s := range ar.GetRequestedScopes() {
			ar.GrantScope(s)
		}
		for _, a := range ar.GetRequestedAudience() {
			ar.GrantAudience(a)
		}
		if len(ar.GetGrantedAudience()) == 0 {
			ar.GrantAudience(ar.GetClient().GetID())
		}
		// The grant handler already set the token's expiry on the session
		// it was given; the replacement must keep it, or the JWT has no exp.
		cs := p.newClientSession(ar.GetClient().GetID())
		cs.SetExpiresAt(fosite.AccessToken, session.GetExpiresAt(fosite.AccessToken))
		ar.SetSession(cs)
	}
	resp, err := p.oauth.NewAccessResponse(withAlg(ctx, alg), ar)
	if err != nil {
		p.tokenError(w, r, ar, err)
		return
	}
	p.metrics.tokens.WithLabelValues(grant).Inc()
	p.oauth.WriteAccessResponse(ctx, w, ar, resp)
}

func (p *Provider) tokenError(w http.ResponseWriter, r *http.Request, ar fosite.AccessRequester, err error) {
	ctx := r.Context()
	// The loser of two concurrent redemptions of one code is a reuse, not
	// a server fault: either its invalidation lost (errCodeRace), or fosite
	// re-read the code after the winner had invalidated it and wrapped
	// that in server_error.
	if errors.Is(err, errCodeRace) || errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
		err = fosite.ErrInvalidGrant.WithHint(codeUsedHint)
	}
	// fosite answers a grant type that no handler takes with
	// invalid_request; RFC 6749 section 5.2 calls it unsupported_grant_type.
	// (fosite has parsed the form by then.)
	if errors.Is(err, fosite.ErrInvalidRequest) {
		if gt := r.PostForm.Get("grant_type"); gt != "" && !slices.Contains(grantTypes, gt) {
			err = fosite.ErrUnsupportedGrantType
		}
	}
	rfc := fosite.ErrorToRFC6749Error(err)
	if rfc.CodeField >= 500 {
		p.log.ErrorContext(ctx, "token request failed", "err", err)
	} else {
		p.log.InfoContext(ctx, "token request refused", "error", rfc.ErrorField, "hint", rfc.HintField)
		subject, clientID := "", ""
		if ar != nil && ar.GetClient() != nil {
			clientID = ar.GetClient().GetID()
			if ar.GetSession() != nil {
				subject = ar.GetSession().GetSubject()
			}
		}
		// A reused code or refresh token may be a stolen one: fosite has
		// revoked the grant, the audit log must show it. fosite reports a
		// sequential code reuse only by this hint.
		switch {
		case strings.HasPrefix(rfc.HintField, codeUsedHint):
			p.audit(r, "token.code_reuse", subject, clientID, nil)
		case errors.Is(err, fosite.ErrInactiveToken) || strings.Contains(rfc.DebugField, "re-use"):
			p.audit(r, "token.refresh_reuse", subject, clientID, nil)
		}
	}
	p.metrics.tokenErrors.WithLabelValues(rfc.ErrorField).Inc()
	p.oauth.WriteAccessError(ctx, w, ar, err)
}

// revoke is RFC 7009 token revocation.
func (p *Provider) revoke(w http.ResponseWriter, r *http.Request) {
	err := p.oauth.NewRevocationRequest(r.Context(), r)
	p.oauth.WriteRevocationResponse(r.Context(), w, err)
}

// introspect is RFC 7662 token introspection; the caller must authenticate
// as a client.
func (p *Provider) introspect(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ir, err := p.oauth.NewIntrospectionRequest(ctx, r, newSession())
	if err != nil {
		// fosite answers {"active":false} for unknown, expired and revoked
		// tokens, and 401 only when the caller failed to authenticate.
		p.oauth.WriteIntrospectionError(ctx, w, err)
		return
	}
	p.oauth.WriteIntrospectionResponse(ctx, w, ir)
}

// userinfo is OIDC Core 5.3, by GET and POST, with the bearer token in the
// Authorization header or (POST) the form (RFC 6750 section 2.2).
func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tok := fosite.AccessTokenFromRequest(r)
	if tok == "" {
		bearerError(w, http.StatusUnauthorized, "", "")
		return
	}
	_, ar, err := p.oauth.IntrospectToken(ctx, tok, fosite.AccessToken, newSession())
	if err != nil {
		bearerError(w, http.StatusUnauthorized, "invalid_token", "The access token is invalid, expired or revoked.")
		return
	}
	if !ar.GetGrantedScopes().Has("openid") {
		bearerError(w, http.StatusForbidden, "insufficient_scope", "The access token lacks the openid scope.")
		return
	}
	sub := ar.GetSession().GetSubject()
	u, err := p.store.GetUser(ctx, sub)
	if errors.Is(err, storage.ErrNotFound) {
		bearerError(w, http.StatusUnauthorized, "invalid_token", "The user no longer exists.")
		return
	}
	if err != nil {
		p.log.ErrorContext(ctx, "userinfo failed", "err", fmt.Errorf("load user: %w", err))
		http.Error(w, `{"error":"server_error"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(userClaims(u, ar.GetGrantedScopes()))
}

// bearerError answers as RFC 6750 section 3 says.
func bearerError(w http.ResponseWriter, status int, code, desc string) {
	v := `Bearer realm="latchkey"`
	if code != "" {
		v += fmt.Sprintf(`, error=%q, error_description=%q`, code, desc)
	}
	w.Header().Set("WWW-Authenticate", v)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if code != "" {
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
	}
}
