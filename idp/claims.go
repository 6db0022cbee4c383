package idp

import (
	"slices"
	"time"

	"github.com/ory/fosite/token/jwt"

	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/mfa"
)

// ACRPassword is the acr of a one-factor sign-in.
const ACRPassword = string(mfa.LevelPwd)

// claimsSupported is advertised in discovery; userClaims never emits others.
var claimsSupported = []string{
	"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "at_hash", "sid",
	"name", "email", "email_verified",
}

// newUserSession builds the fosite session of a grant: id_token claims and
// the claims of the JWT access token. Both carry acr, amr and auth_time so
// an API can check assurance without calling back.
//
// acr, amr and auth_time come from the policy engine's decision, not from
// the session: the decision knows which proofs satisfied this request (a
// session may hold stale ones that max_age excluded).
func (p *Provider) newUserSession(u storage.User, bs storage.Session, d mfa.Decision, scopes []string, requestedAt time.Time, clientID string) *Session {
	s := newSession()
	s.Subject = u.ID
	s.Username = u.Email
	authTime := d.AuthTime.UTC().Truncate(time.Second)
	c := s.DefaultSession.Claims
	c.Issuer = p.issuer
	c.Subject = u.ID
	c.AuthTime = authTime
	c.RequestedAt = requestedAt.UTC().Truncate(time.Second)
	c.AuthenticationContextClassReference = d.ACR
	c.AuthenticationMethodsReferences = d.AMR
	c.Extra = map[string]interface{}{"sid": bs.ID}
	for k, v := range userClaims(u, scopes) {
		if k != "sub" {
			c.Extra[k] = v
		}
	}
	s.AccessClaims = &jwt.JWTClaims{
		Subject: u.ID,
		Issuer:  p.issuer,
		Extra: map[string]interface{}{
			"client_id": clientID,
			"auth_time": authTime.Unix(),
			"acr":       d.ACR,
			"amr":       d.AMR,
			"sid":       bs.ID,
		},
	}
	// RFC 9068 section 2.1: the media type of JWT access tokens.
	s.AccessHeader = &jwt.Headers{Extra: map[string]interface{}{"typ": "at+jwt"}}
	return s
}

// newClientSession is the session of a client_credentials grant: the client
// is its own subject (RFC 9068 section 2.2).
func (p *Provider) newClientSession(clientID string) *Session {
	s := newSession()
	s.Subject = clientID
	s.AccessClaims = &jwt.JWTClaims{
		Subject: clientID,
		Issuer:  p.issuer,
		Extra:   map[string]interface{}{"client_id": clientID},
	}
	s.AccessHeader = &jwt.Headers{Extra: map[string]interface{}{"typ": "at+jwt"}}
	return s
}

// userClaims returns the standard claims a set of scopes releases
// (OIDC Core 5.4).
func userClaims(u storage.User, scopes []string) map[string]interface{} {
	out := map[string]interface{}{"sub": u.ID}
	if slices.Contains(scopes, "profile") && u.DisplayName != "" {
		out["name"] = u.DisplayName
	}
	if slices.Contains(scopes, "email") {
		out["email"] = u.Email
		out["email_verified"] = u.EmailVerified
	}
	return out
}
