package idp

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/pkce"

	"github.com/latchkey/latchkey/idp/storage"
)

// fositeStore adapts storage.Store to the storage interfaces of the fosite
// handlers that Latchkey composes. Single-use rules map to the store's atomic
// DeactivateToken, so no transaction is needed for one winner.
type fositeStore struct {
	store storage.Store
	now   func() time.Time
}

var (
	_ fosite.ClientManager          = (*fositeStore)(nil)
	_ oauth2.CoreStorage            = (*fositeStore)(nil)
	_ oauth2.TokenRevocationStorage = (*fositeStore)(nil)
	_ pkce.PKCERequestStorage       = (*fositeStore)(nil)
)

// errCodeRace marks the loser of two concurrent redemptions of one code, so
// the token endpoint can answer invalid_grant rather than server_error.
var errCodeRace = errors.New("authorization code redeemed concurrently")

// storedRequest is the serialised form of a fosite.Requester.
type storedRequest struct {
	ID                string          `json:"id"`
	RequestedAt       time.Time       `json:"requested_at"`
	ClientID          string          `json:"client_id"`
	RequestedScope    []string        `json:"requested_scope"`
	GrantedScope      []string        `json:"granted_scope"`
	RequestedAudience []string        `json:"requested_audience"`
	GrantedAudience   []string        `json:"granted_audience"`
	Form              url.Values      `json:"form"`
	Session           json.RawMessage `json:"session"`
}

func (s *fositeStore) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	c, err := s.store.GetClient(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fosite.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get client: %w", err)
	}
	return &client{c: c}, nil
}

// ClientAssertionJWTValid and SetClientAssertionJWT serve private_key_jwt
// client authentication, which Latchkey does not offer: no client can be
// registered with it, so fosite refuses such assertions before reaching
// here. Refusing loudly keeps it that way if that ever changes by accident.
func (s *fositeStore) ClientAssertionJWTValid(context.Context, string) error {
	return fosite.ErrJTIKnown.WithHint("Client assertions are not supported.")
}

func (s *fositeStore) SetClientAssertionJWT(context.Context, string, time.Time) error {
	return fosite.ErrServerError.WithHint("Client assertions are not supported.")
}

func (s *fositeStore) create(ctx context.Context, kind storage.TokenKind, signature string, r fosite.Requester, exp fosite.TokenType) error {
	sess, err := json.Marshal(r.GetSession())
	if err != nil {
		return fmt.Errorf("store %s: encode session: %w", kind, err)
	}
	data, err := json.Marshal(storedRequest{
		ID:                r.GetID(),
		RequestedAt:       r.GetRequestedAt(),
		ClientID:          r.GetClient().GetID(),
		RequestedScope:    r.GetRequestedScopes(),
		GrantedScope:      r.GetGrantedScopes(),
		RequestedAudience: r.GetRequestedAudience(),
		GrantedAudience:   r.GetGrantedAudience(),
		Form:              r.GetRequestForm(),
		Session:           sess,
	})
	if err != nil {
		return fmt.Errorf("store %s: encode request: %w", kind, err)
	}
	expires := r.GetSession().GetExpiresAt(exp)
	if expires.IsZero() {
		// Records without their own expiry (refresh tokens that never
		// expire by config) are still collected eventually.
		expires = s.now().Add(365 * 24 * time.Hour)
	}
	subject := ""
	if r.GetSession() != nil {
		subject = r.GetSession().GetSubject()
	}
	t := storage.Token{
		Kind: kind, Signature: signature, RequestID: r.GetID(), ClientID: r.GetClient().GetID(),
		Subject: subject, Active: true, RequestedAt: r.GetRequestedAt(), ExpiresAt: expires, Data: data,
	}
	if err := s.store.CreateToken(ctx, t); err != nil {
		return fmt.Errorf("store %s: %w", kind, err)
	}
	return nil
}

// get loads a record into a fosite.Request. It returns the request together
// with errInactive for deactivated records, as fosite's reuse detection
// needs the request of a used code or refresh token.
func (s *fositeStore) get(ctx context.Context, kind storage.TokenKind, signature string, session fosite.Session, errInactive error) (fosite.Requester, error) {
	t, err := s.store.GetToken(ctx, kind, signature)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fosite.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", kind, err)
	}
	var sr storedRequest
	if err := json.Unmarshal(t.Data, &sr); err != nil {
		return nil, fmt.Errorf("load %s: decode: %w", kind, err)
	}
	if session == nil {
		session = newSession()
	}
	if err := json.Unmarshal(sr.Session, session); err != nil {
		return nil, fmt.Errorf("load %s: decode session: %w", kind, err)
	}
	c, err := s.GetClient(ctx, sr.ClientID)
	if err != nil {
		// A deleted client's tokens are as good as revoked.
		return nil, fosite.ErrNotFound
	}
	req := &fosite.Request{
		ID: sr.ID, RequestedAt: sr.RequestedAt, Client: c,
		RequestedScope: sr.RequestedScope, GrantedScope: sr.GrantedScope,
		RequestedAudience: sr.RequestedAudience, GrantedAudience: sr.GrantedAudience,
		Form: sr.Form, Session: session,
	}
	if req.Form == nil {
		req.Form = url.Values{}
	}
	if !t.Active && errInactive != nil {
		return req, errInactive
	}
	return req, nil
}

func (s *fositeStore) delete(ctx context.Context, kind storage.TokenKind, signature string) error {
	err := s.store.DeleteToken(ctx, kind, signature)
	if errors.Is(err, storage.ErrNotFound) {
		return fosite.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("delete %s: %w", kind, err)
	}
	return nil
}

// Authorization codes.

func (s *fositeStore) CreateAuthorizeCodeSession(ctx context.Context, code string, r fosite.Requester) error {
	return s.create(ctx, storage.KindAuthorizeCode, code, r, fosite.AuthorizeCode)
}

func (s *fositeStore) GetAuthorizeCodeSession(ctx context.Context, code string, session fosite.Session) (fosite.Requester, error) {
	return s.get(ctx, storage.KindAuthorizeCode, code, session, fosite.ErrInvalidatedAuthorizeCode)
}

// InvalidateAuthorizeCodeSession is the single-use rule for codes: of two
// concurrent redemptions exactly one deactivates the code.
func (s *fositeStore) InvalidateAuthorizeCodeSession(ctx context.Context, code string) error {
	err := s.store.DeactivateToken(ctx, storage.KindAuthorizeCode, code)
	if errors.Is(err, storage.ErrConflict) {
		return errCodeRace
	}
	if errors.Is(err, storage.ErrNotFound) {
		return fosite.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("invalidate code: %w", err)
	}
	return nil
}

// Access tokens.

func (s *fositeStore) CreateAccessTokenSession(ctx context.Context, signature string, r fosite.Requester) error {
	return s.create(ctx, storage.KindAccessToken, signature, r, fosite.AccessToken)
}

func (s *fositeStore) GetAccessTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	return s.get(ctx, storage.KindAccessToken, signature, session, fosite.ErrInactiveToken)
}

func (s *fositeStore) DeleteAccessTokenSession(ctx context.Context, signature string) error {
	return s.delete(ctx, storage.KindAccessToken, signature)
}

// Refresh tokens.

func (s *fositeStore) CreateRefreshTokenSession(ctx context.Context, signature, _ string, r fosite.Requester) error {
	return s.create(ctx, storage.KindRefreshToken, signature, r, fosite.RefreshToken)
}

func (s *fositeStore) GetRefreshTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	return s.get(ctx, storage.KindRefreshToken, signature, session, fosite.ErrInactiveToken)
}

func (s *fositeStore) DeleteRefreshTokenSession(ctx context.Context, signature string) error {
	return s.delete(ctx, storage.KindRefreshToken, signature)
}

// RotateRefreshToken is the single-use rule for refresh tokens: the old token
// is deactivated (kept, so a later reuse is recognised and revokes the
// family) and the access tokens of the grant are revoked with it. A
// concurrent loser gets ErrInactiveToken, which fosite answers with
// invalid_request ("retry").
func (s *fositeStore) RotateRefreshToken(ctx context.Context, requestID, signature string) error {
	err := s.store.DeactivateToken(ctx, storage.KindRefreshToken, signature)
	if errors.Is(err, storage.ErrConflict) {
		return fosite.ErrInactiveToken
	}
	if errors.Is(err, storage.ErrNotFound) {
		return fosite.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("rotate refresh token: %w", err)
	}
	if _, err := s.store.DeactivateTokensByRequestID(ctx, storage.KindAccessToken, requestID); err != nil {
		return fmt.Errorf("rotate refresh token: revoke access tokens: %w", err)
	}
	return nil
}

// Revocation (RFC 7009) covers the whole grant: every refresh or access
// token issued under one request id.

func (s *fositeStore) RevokeRefreshToken(ctx context.Context, requestID string) error {
	if _, err := s.store.DeactivateTokensByRequestID(ctx, storage.KindRefreshToken, requestID); err != nil {
		return fmt.Errorf("revoke refresh tokens: %w", err)
	}
	return nil
}

func (s *fositeStore) RevokeAccessToken(ctx context.Context, requestID string) error {
	if _, err := s.store.DeactivateTokensByRequestID(ctx, storage.KindAccessToken, requestID); err != nil {
		return fmt.Errorf("revoke access tokens: %w", err)
	}
	return nil
}

// PKCE.

func (s *fositeStore) CreatePKCERequestSession(ctx context.Context, signature string, r fosite.Requester) error {
	return s.create(ctx, storage.KindPKCE, signature, r, fosite.AuthorizeCode)
}

func (s *fositeStore) GetPKCERequestSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	return s.get(ctx, storage.KindPKCE, signature, session, nil)
}

// DeletePKCERequestSession runs for every concurrent redemption of one code
// before the code itself is invalidated; the losers would find the record
// gone and fosite would answer them with server_error. The code's single
// use (InvalidateAuthorizeCodeSession) is what decides the winner, so a
// missing record is not an error here.
func (s *fositeStore) DeletePKCERequestSession(ctx context.Context, signature string) error {
	if err := s.delete(ctx, storage.KindPKCE, signature); err != nil && !errors.Is(err, fosite.ErrNotFound) {
		return err
	}
	return nil
}

// OpenID Connect request sessions (nonce, auth_time for the id_token).

// fosite hands these methods the authorization code itself, not its
// signature; the store keys them by a hash so that no usable code is ever
// written to the database.

func (s *fositeStore) CreateOpenIDConnectSession(ctx context.Context, code string, r fosite.Requester) error {
	return s.create(ctx, storage.KindOIDC, codeKey(code), r, fosite.AuthorizeCode)
}

func (s *fositeStore) GetOpenIDConnectSession(ctx context.Context, code string, r fosite.Requester) (fosite.Requester, error) {
	return s.get(ctx, storage.KindOIDC, codeKey(code), r.GetSession(), nil)
}

func (s *fositeStore) DeleteOpenIDConnectSession(ctx context.Context, code string) error {
	return s.delete(ctx, storage.KindOIDC, codeKey(code))
}

func codeKey(code string) string {
	sum := sha256.Sum256([]byte(code))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
