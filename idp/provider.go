// Package idp is Latchkey's OpenID Provider: the fosite composition and its
// storage adapter, the OIDC endpoints, the browser session and the login
// state machine behind /authorize, and the hosted pages.
//
// The login flow is a dispatcher over a persisted login transaction
// (storage.LoginTx), after Dex's authflow:
//
//	GET|POST /authorize            parse with fosite, persist a transaction, dispatch
//	GET  /authorize/resume?tx=ID   dispatch again after a step
//	GET|POST /login?tx=ID          first factor (password)
//	GET|POST /mfa?tx=ID            second factor the policy engine chose
//	GET|POST /mfa/enrol?tx=ID      first-time enrolment of a second factor
//	GET|POST /consent?tx=ID        consent for third-party clients
//
// The dispatcher decides the next step from stored state only (browser
// session and its proofs, transaction, consent) and the policy engine
// (package mfa): sign in, a second factor, enrolment, consent, or the
// response. Every step returns to it, so step-up is not a special case: a
// session that is not strong or fresh enough for a request gets the missing
// step.
package idp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"
	"github.com/ory/fosite/token/hmac"
	"github.com/ory/fosite/token/jwt"

	"github.com/latchkey/latchkey/idp/clientsecret"
	"github.com/latchkey/latchkey/idp/keys"
	"github.com/latchkey/latchkey/idp/password"
	"github.com/latchkey/latchkey/idp/secretbox"
	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/idp/web"
	"github.com/latchkey/latchkey/mfa"
	"github.com/latchkey/latchkey/mfa/passkey"
	"github.com/latchkey/latchkey/mfa/recovery"
	"github.com/latchkey/latchkey/static"
	"github.com/latchkey/latchkey/templates"
)

// Lifetimes of what the provider issues.
type Lifetimes struct {
	AccessToken   time.Duration
	IDToken       time.Duration
	RefreshToken  time.Duration
	AuthorizeCode time.Duration
	Session       time.Duration
	SessionIdle   time.Duration
	Login         time.Duration // how long a login transaction may take
}

// Throttle is the back-off policy for failed sign-ins.
type Throttle struct {
	AccountFreeAttempts int
	IPFreeAttempts      int
	BaseDelay           time.Duration
	MaxDelay            time.Duration
	ResetAfter          time.Duration
}

// Options are what New needs; cmd/latchkey builds them from the config.
type Options struct {
	Issuer    string
	Store     storage.Store
	Keys      *keys.Manager
	Passwords *password.Hasher
	// SecretKey is the master key; cookie, CSRF and token HMAC keys are
	// derived from it, so every node with the same key agrees.
	SecretKey      []byte
	DefaultAlg     string
	Lifetimes      Lifetimes
	Throttle       Throttle
	TrustedProxies []netip.Prefix
	// Dev allows cookies without Secure on an http issuer and re-reads
	// templates from TemplatesDir on every render.
	Dev          bool
	TemplatesDir string
	// Policy is the MFA policy's default; a policy saved in the store
	// overrides it field by field.
	Policy mfa.Policy
	// AppName names the service in authenticator apps and to passkey
	// authenticators ("Latchkey" if empty).
	AppName string
	// PasskeyOrigins are origins besides the issuer's allowed to use the
	// issuer host's passkeys (subdomains of it only).
	PasskeyOrigins []string
	// PasskeyUserVerification is "preferred" (default) or "required".
	PasskeyUserVerification string
	// Phone configures SMS and voice codes (off without a Telephony).
	Phone PhoneOptions
	// Push configures push approval (off without Senders).
	Push    PushOptions
	Logger  *slog.Logger
	Metrics *Metrics
	Now     func() time.Time
}

// Provider serves the OpenID Provider's routes.
type Provider struct {
	issuer    string
	store     storage.Store
	keys      *keys.Manager
	passwords *password.Hasher
	oauth     fosite.OAuth2Provider
	config    *fosite.Config
	signer    *signer
	life      Lifetimes
	throttle  Throttle
	proxies   []netip.Prefix
	secure    bool
	log       *slog.Logger
	metrics   *Metrics
	now       func() time.Time

	sessions  *browserSessions
	csrf      *web.CSRF
	catalog   *web.Catalog
	renderer  *web.Renderer
	errPages  web.ErrorRenderer
	discovery []byte
	basePath  string

	policies     *policySource
	secrets      *secretbox.Box
	recoveryHash *recovery.Hasher
	appName      string
	// passkeys is nil when the issuer cannot be a WebAuthn relying party
	// (an IP-address host, as in some tests).
	passkeys *passkey.Service
	// phone is nil when SMS and voice codes are off; push when push
	// approval is.
	phone *phoneCodes
	push  *pushApproval
}

// New composes the provider.
func New(ctx context.Context, o Options) (*Provider, error) {
	if err := validateOptions(o); err != nil {
		return nil, err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	issuerURL, err := url.Parse(o.Issuer)
	if err != nil {
		return nil, fmt.Errorf("new provider: issuer: %w", err)
	}
	derive := func(purpose string) ([]byte, error) { return secretbox.DeriveKey(o.SecretKey, purpose) }
	hmacSecret, err := derive("token-hmac")
	if err != nil {
		return nil, err
	}
	cookieHash, err := derive("cookie-hash")
	if err != nil {
		return nil, err
	}
	cookieBlock, err := derive("cookie-block")
	if err != nil {
		return nil, err
	}
	csrfKey, err := derive("csrf")
	if err != nil {
		return nil, err
	}
	factorKey, err := derive("factor-secrets")
	if err != nil {
		return nil, err
	}
	recoveryKey, err := derive("recovery-codes")
	if err != nil {
		return nil, err
	}

	p := &Provider{
		issuer: strings.TrimSuffix(o.Issuer, "/"), store: o.Store, keys: o.Keys, passwords: o.Passwords,
		life: o.Lifetimes, throttle: o.Throttle, proxies: o.TrustedProxies,
		secure: issuerURL.Scheme == "https" || !o.Dev, log: o.Logger, metrics: o.Metrics, now: o.Now,
		basePath: strings.TrimSuffix(issuerURL.Path, "/"),
	}
	p.signer = &signer{keys: o.Keys, defaultAlg: o.DefaultAlg}
	p.policies = &policySource{store: o.Store, defaults: o.Policy, now: o.Now}
	if p.secrets, err = secretbox.New(factorKey); err != nil {
		return nil, fmt.Errorf("new provider: %w", err)
	}
	if p.recoveryHash, err = recovery.NewHasher(recoveryKey); err != nil {
		return nil, fmt.Errorf("new provider: %w", err)
	}
	p.appName = o.AppName
	if p.appName == "" {
		p.appName = "Latchkey"
	}
	if p.passkeys, err = newPasskeys(o, p.appName, issuerURL); err != nil {
		return nil, fmt.Errorf("new provider: %w", err)
	}
	if p.phone, err = newPhoneCodes(o.Phone, p.issuer, derive); err != nil {
		return nil, fmt.Errorf("new provider: %w", err)
	}
	p.push = newPushApproval(o.Push)
	if p.passkeys == nil {
		o.Logger.WarnContext(ctx, "passkeys disabled: the issuer's host is an IP address, which WebAuthn refuses as a relying-party id; use a name such as localhost")
	}
	p.config, p.oauth = compose(p, hmacSecret)
	p.sessions = newBrowserSessions(o.Store, cookieHash, cookieBlock, p.secure, o.Lifetimes, o.Now, p.basePath)
	p.csrf = web.NewCSRF(csrfKey, p.secure)

	p.catalog, err = web.LoadCatalog(templates.FS)
	if err != nil {
		return nil, fmt.Errorf("new provider: %w", err)
	}
	devDir := ""
	if o.Dev {
		devDir = o.TemplatesDir
	}
	p.renderer, err = web.NewRenderer(templates.FS, p.catalog, []string{"login", "consent", "logout", "error", "mfa", "enrol_totp", "notice", "account", "passkey_register", "phone", "outbox", "push_enrol"}, devDir)
	if err != nil {
		return nil, fmt.Errorf("new provider: %w", err)
	}
	p.errPages = web.NewErrorPages(p.renderer, p.catalog, p.issuer)
	p.csrf = p.csrf.WithFailureHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.errPages.RenderError(w, r, http.StatusForbidden, "error.csrf")
	}))
	if p.discovery, err = p.buildDiscovery(); err != nil {
		return nil, err
	}
	if err := o.Keys.EnsureKeys(ctx); err != nil {
		return nil, fmt.Errorf("new provider: %w", err)
	}
	_ = static.FS
	return p, nil
}

func validateOptions(o Options) error {
	var errs []error
	if o.Issuer == "" {
		errs = append(errs, errors.New("issuer is required"))
	}
	if o.Store == nil || o.Keys == nil || o.Passwords == nil {
		errs = append(errs, errors.New("store, keys and password hasher are required"))
	}
	if len(o.SecretKey) < secretbox.KeySize {
		errs = append(errs, fmt.Errorf("secret key must be at least %d bytes", secretbox.KeySize))
	}
	l := o.Lifetimes
	if l.AccessToken <= 0 || l.IDToken <= 0 || l.AuthorizeCode <= 0 || l.Session <= 0 || l.Login <= 0 {
		errs = append(errs, errors.New("every lifetime must be positive"))
	}
	if err := o.Policy.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("mfa policy: %w", err))
	}
	if o.DefaultAlg != keys.ES256 && o.DefaultAlg != keys.RS256 {
		errs = append(errs, fmt.Errorf("default algorithm %q: want ES256 or RS256", o.DefaultAlg))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("new provider: %w", err)
	}
	return nil
}

// newPasskeys sets up WebAuthn from the issuer: the relying-party id is its
// host, the allowed origin its origin, plus the configured extra origins.
// Passkeys are switched off (nil) only for an IP-address issuer; any other
// problem stops start-up.
func newPasskeys(o Options, appName string, issuer *url.URL) (*passkey.Service, error) {
	if _, err := netip.ParseAddr(strings.Trim(issuer.Hostname(), "[]")); err == nil {
		if len(o.PasskeyOrigins) > 0 {
			return nil, errors.New("passkey origins are configured but the issuer's host is an IP address")
		}
		return nil, nil
	}
	cfg, err := passkey.ConfigFromIssuer(o.Issuer, appName, o.PasskeyOrigins)
	if err != nil {
		return nil, fmt.Errorf("passkeys: %w", err)
	}
	if o.PasskeyUserVerification != "" {
		cfg.UserVerification = o.PasskeyUserVerification
	}
	cfg.Now = o.Now
	svc, err := passkey.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("passkeys: %w", err)
	}
	return svc, nil
}

// compose builds fosite with exactly the flows Latchkey offers: the
// authorization code flow with PKCE (S256 only) and OpenID Connect, refresh
// tokens, client credentials, introspection and revocation. No implicit or
// hybrid flow, no password grant, no PAR (yet).
func compose(p *Provider, hmacSecret []byte) (*fosite.Config, fosite.OAuth2Provider) {
	cfg := &fosite.Config{
		AccessTokenLifespan:            p.life.AccessToken,
		RefreshTokenLifespan:           p.life.RefreshToken,
		AuthorizeCodeLifespan:          p.life.AuthorizeCode,
		IDTokenLifespan:                p.life.IDToken,
		IDTokenIssuer:                  p.issuer,
		AccessTokenIssuer:              p.issuer,
		TokenURL:                       p.issuer + "/token",
		ScopeStrategy:                  fosite.ExactScopeStrategy,
		AudienceMatchingStrategy:       fosite.DefaultAudienceMatchingStrategy,
		EnforcePKCEForPublicClients:    true,
		EnablePKCEPlainChallengeMethod: false,
		RefreshTokenScopes:             []string{"offline_access"},
		JWTScopeClaimKey:               jwt.JWTScopeFieldString,
		ClientSecretsHasher:            clientsecret.Hasher{},
		GlobalSecret:                   hmacSecret,
		SendDebugMessagesToClients:     false,
		OmitRedirectScopeParam:         true,
		AllowedPromptValues:            promptValues,
	}
	store := &fositeStore{store: p.store, now: p.now}
	hmacStrategy := oauth2.NewHMACSHAStrategy(&hmac.HMACStrategy{Config: cfg}, cfg)
	// Access tokens are JWTs (RFC 9068); codes and refresh tokens stay
	// opaque HMAC tokens that only the store can resolve.
	coreStrategy := &oauth2.DefaultJWTStrategy{Signer: p.signer, HMACSHAStrategy: hmacStrategy, Config: cfg}
	idStrategy := &openid.DefaultStrategy{Signer: p.signer, Config: cfg}
	validator := openid.NewOpenIDConnectRequestValidator(p.signer, cfg)

	codeHandler := &oauth2.AuthorizeExplicitGrantHandler{
		AccessTokenStrategy: coreStrategy, RefreshTokenStrategy: coreStrategy, AuthorizeCodeStrategy: coreStrategy,
		CoreStorage: store, TokenRevocationStorage: store, Config: cfg,
	}
	refreshHandler := &oauth2.RefreshTokenGrantHandler{
		AccessTokenStrategy: coreStrategy, RefreshTokenStrategy: coreStrategy, TokenRevocationStorage: store, Config: cfg,
	}
	ccHandler := &oauth2.ClientCredentialsGrantHandler{
		HandleHelper: &oauth2.HandleHelper{AccessTokenStrategy: coreStrategy, AccessTokenStorage: store, Config: cfg},
		Config:       cfg,
	}
	oidcHandler := &openid.OpenIDConnectExplicitHandler{
		OpenIDConnectRequestStorage:   store,
		IDTokenHandleHelper:           &openid.IDTokenHandleHelper{IDTokenStrategy: idStrategy},
		OpenIDConnectRequestValidator: validator,
		Config:                        cfg,
	}
	oidcRefresh := &openid.OpenIDConnectRefreshHandler{
		IDTokenHandleHelper: &openid.IDTokenHandleHelper{IDTokenStrategy: idStrategy},
		Config:              cfg,
	}
	pkceHandler := &pkce.Handler{AuthorizeCodeStrategy: coreStrategy, Storage: store, Config: cfg}
	introspector := &oauth2.CoreValidator{CoreStrategy: coreStrategy, CoreStorage: store, Config: cfg}
	revoker := &oauth2.TokenRevocationHandler{
		TokenRevocationStorage: store, AccessTokenStrategy: coreStrategy, RefreshTokenStrategy: coreStrategy,
	}

	cfg.AuthorizeEndpointHandlers = fosite.AuthorizeEndpointHandlers{codeHandler, oidcHandler, pkceHandler}
	cfg.TokenEndpointHandlers = fosite.TokenEndpointHandlers{codeHandler, refreshHandler, ccHandler, oidcHandler, oidcRefresh, pkceHandler}
	cfg.TokenIntrospectionHandlers = fosite.TokenIntrospectionHandlers{introspector}
	cfg.RevocationHandlers = fosite.RevocationHandlers{revoker}
	return cfg, fosite.NewOAuth2Provider(store, cfg)
}

// url returns an absolute URL under the issuer.
func (p *Provider) url(path string) string { return p.issuer + path }

// path returns a path under the issuer's base path (for an issuer with a
// path component, e.g. https://example.com/idp).
func (p *Provider) path(path string) string { return p.basePath + path }
