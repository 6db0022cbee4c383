package idp

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/mohae/deepcopy"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"

	"github.com/latchkey/latchkey/idp/keys"
	"github.com/latchkey/latchkey/idp/storage"
)

// Session is what fosite persists with every grant: the id_token claims
// (openid.DefaultSession) plus the claims of the JWT access token (RFC 9068).
// It is serialised to JSON in the token table.
type Session struct {
	*openid.DefaultSession `json:"oidc"`
	AccessClaims           *jwt.JWTClaims `json:"access_claims"`
	AccessHeader           *jwt.Headers   `json:"access_header"`
}

var (
	_ openid.Session                     = (*Session)(nil)
	_ oauth2.JWTSessionContainer         = (*Session)(nil)
	_ fosite.ExtraClaimsSession          = (*Session)(nil)
	_ fosite.Client                      = (*client)(nil)
	_ jwt.Signer                         = (*signer)(nil)
	_ openid.OpenIDConnectRequestStorage = (*fositeStore)(nil)
)

func newSession() *Session {
	return &Session{
		DefaultSession: &openid.DefaultSession{Claims: &jwt.IDTokenClaims{}, Headers: &jwt.Headers{}},
		AccessClaims:   &jwt.JWTClaims{},
		AccessHeader:   &jwt.Headers{},
	}
}

// GetJWTClaims implements oauth2.JWTSessionContainer.
//
// A session read back from the store has its numbers as float64 (JSON), and
// go-jose's encoder writes large floats in exponent form (1.7e+09), which
// RFC 7519 NumericDate readers expecting integers refuse; whole numbers go
// back to int64 before signing.
func (s *Session) GetJWTClaims() jwt.JWTClaimsContainer {
	if s.AccessClaims == nil {
		s.AccessClaims = &jwt.JWTClaims{}
	}
	for k, v := range s.AccessClaims.Extra {
		if f, ok := v.(float64); ok && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			s.AccessClaims.Extra[k] = int64(f)
		}
	}
	return s.AccessClaims
}

// GetJWTHeader implements oauth2.JWTSessionContainer.
func (s *Session) GetJWTHeader() *jwt.Headers {
	if s.AccessHeader == nil {
		s.AccessHeader = &jwt.Headers{}
	}
	return s.AccessHeader
}

// Clone must return our type: the embedded DefaultSession.Clone would drop
// the access-token claims.
func (s *Session) Clone() fosite.Session {
	if s == nil {
		return nil
	}
	return deepcopy.Copy(s).(*Session)
}

// GetExtraClaims feeds the introspection response (RFC 7662): the assurance
// claims an API needs, not the profile claims that the id_token carries.
func (s *Session) GetExtraClaims() map[string]interface{} {
	out := map[string]interface{}{}
	if s.AccessClaims == nil {
		return out
	}
	for _, k := range []string{"iss", "acr", "amr", "auth_time", "sid", "token_use"} {
		if v, ok := s.AccessClaims.Extra[k]; ok {
			out[k] = v
		}
	}
	if s.AccessClaims.Issuer != "" {
		out["iss"] = s.AccessClaims.Issuer
	}
	return out
}

// client adapts a stored client to fosite. It deliberately does not implement
// fosite.OpenIDConnectClient: that interface pins one token endpoint auth
// method per client, and Latchkey accepts both client_secret_basic and
// client_secret_post from confidential clients.
type client struct {
	c storage.Client
}

func (c *client) GetID() string                   { return c.c.ID }
func (c *client) GetHashedSecret() []byte         { return []byte(c.c.SecretHash) }
func (c *client) GetRedirectURIs() []string       { return c.c.RedirectURIs }
func (c *client) GetGrantTypes() fosite.Arguments { return c.c.GrantTypes }
func (c *client) GetResponseTypes() fosite.Arguments {
	if len(c.c.ResponseTypes) == 0 {
		return fosite.Arguments{"code"}
	}
	return c.c.ResponseTypes
}
func (c *client) GetScopes() fosite.Arguments { return c.c.Scopes }
func (c *client) IsPublic() bool              { return c.c.Public }

// GetAudience: an access token's aud is the client itself unless an
// audience was requested (RFC 9068 requires aud).
func (c *client) GetAudience() fosite.Arguments { return fosite.Arguments{c.c.ID} }

// algKey carries the signing algorithm of the client being served, so one
// signer can sign RS256 id_tokens for clients whose libraries need it.
type algKey struct{}

func withAlg(ctx context.Context, alg string) context.Context {
	if alg == "" {
		return ctx
	}
	return context.WithValue(ctx, algKey{}, alg)
}

// signer implements fosite's jwt.Signer over the shared key manager.
type signer struct {
	keys       *keys.Manager
	defaultAlg string
}

func (s *signer) alg(ctx context.Context) string {
	if a, ok := ctx.Value(algKey{}).(string); ok && a != "" {
		return a
	}
	return s.defaultAlg
}

func (s *signer) Generate(ctx context.Context, claims jwt.MapClaims, header jwt.Mapper) (string, string, error) {
	k, err := s.keys.Signing(ctx, s.alg(ctx))
	if err != nil {
		return "", "", fmt.Errorf("sign token: %w", err)
	}
	if header == nil || claims == nil {
		return "", "", errors.New("sign token: claims or header missing")
	}
	tok := jwt.NewWithClaims(jose.SignatureAlgorithm(k.Algorithm), claims)
	for name, v := range header.ToMap() {
		tok.Header[name] = v
	}
	jwk := &jose.JSONWebKey{Key: k.Private, KeyID: k.ID, Algorithm: k.Algorithm, Use: "sig"}
	raw, err := tok.SignedString(jwk)
	if err != nil {
		return "", "", fmt.Errorf("sign token: %w", err)
	}
	sig, err := s.GetSignature(ctx, raw)
	return raw, sig, err
}

// keyFunc resolves the verification key from the token's kid; a token whose
// alg does not match the key's is refused (no algorithm confusion).
func (s *signer) keyFunc(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (interface{}, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("token has no kid")
		}
		k, err := s.keys.Verification(ctx, kid)
		if err != nil {
			return nil, err
		}
		if string(t.Method) != k.Algorithm {
			return nil, fmt.Errorf("token alg %s does not match key %s", t.Method, k.Algorithm)
		}
		return k.Public, nil
	}
}

func (s *signer) Decode(ctx context.Context, token string) (*jwt.Token, error) {
	return jwt.ParseWithClaims(token, jwt.MapClaims{}, s.keyFunc(ctx))
}

func (s *signer) Validate(ctx context.Context, token string) (string, error) {
	if _, err := s.Decode(ctx, token); err != nil {
		return "", err
	}
	return s.GetSignature(ctx, token)
}

func (s *signer) Hash(ctx context.Context, in []byte) ([]byte, error) {
	return (&jwt.DefaultSigner{}).Hash(ctx, in)
}

func (s *signer) GetSignature(ctx context.Context, token string) (string, error) {
	return (&jwt.DefaultSigner{}).GetSignature(ctx, token)
}

// GetSigningMethodLength is the hash size behind at_hash: SHA-256 for both
// ES256 and RS256.
func (s *signer) GetSigningMethodLength(context.Context) int { return jwt.SHA256HashSize }

// unixOrZero helps the session claims: time.Time zero stays absent.
func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}
