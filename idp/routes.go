package idp

import (
	"context"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/idp/web"
	"github.com/latchkey/latchkey/mfa/push"
	"github.com/latchkey/latchkey/static"
)

// Handler returns every route of the provider with its guards. The table is
// the one place to see which middleware applies to which route:
//
//	protocol  OIDC/OAuth endpoints called by relying parties: no CSRF (they
//	          are cross-site by design), CORS for browser-based clients.
//	page      hosted pages: no-store, language cookie, error pages.
//	form      page + CSRF check (POST forms of the hosted pages).
func (p *Provider) Handler(extra ...Route) http.Handler {
	mux := http.NewServeMux()
	page := func(h web.HandlerFunc) http.Handler {
		return web.Chain(web.Handle(p.log, p.errPages, h), web.NoStore, p.catalog.RememberLang(p.secure))
	}
	form := func(h web.HandlerFunc) http.Handler { return p.csrf.Protect(page(h)) }
	protocol := func(h http.HandlerFunc) http.Handler { return web.Chain(h, cors, web.NoStore) }
	public := func(h http.Handler) http.Handler { return web.Chain(h, cors) }

	routes := []Route{
		{"GET /.well-known/openid-configuration", public(http.HandlerFunc(p.serveDiscovery))},
		{"GET /jwks.json", public(web.Handle(p.log, p.errPages, p.serveJWKS))},
		{"GET /authorize", page(p.authorize)},
		{"POST /authorize", page(p.authorize)},
		{"GET /authorize/resume", page(p.resume)},
		{"GET /login", page(p.loginForm)},
		{"POST /login", form(p.login)},
		{"POST /login/passkey", form(p.loginPasskey)},
		{"GET /mfa", page(p.mfaForm)},
		{"POST /mfa", form(p.mfaSubmit)},
		{"GET /mfa/enrol", page(p.enrolForm)},
		{"POST /mfa/enrol", form(p.enrolSubmit)},
		{"POST /mfa/enrol/passkey", form(p.enrolPasskeySubmit)},
		{"POST /mfa/enrol/phone", form(p.enrolPhoneSubmit)},
		{"POST /mfa/enrol/phone/verify", form(p.enrolPhoneVerify)},
		{"GET /account", page(p.account)},
		{"GET /account/totp", page(p.accountTOTPForm)},
		{"POST /account/totp", form(p.accountTOTPSubmit)},
		{"POST /account/totp/remove", form(p.accountTOTPRemove)},
		{"GET /account/passkey", page(p.accountPasskeyForm)},
		{"POST /account/passkey", form(p.accountPasskeySubmit)},
		{"POST /account/passkey/remove", form(p.accountPasskeyRemove)},
		{"GET /account/phone", page(p.accountPhoneForm)},
		{"POST /account/phone", form(p.accountPhoneSubmit)},
		{"POST /account/phone/verify", form(p.accountPhoneVerify)},
		{"POST /account/phone/remove", form(p.accountPhoneRemove)},
		{"POST /account/recovery", form(p.accountRecoveryCodes)},
		{"POST /account/browsers/forget", form(p.accountForgetBrowser)},
		{"POST /account/apps/revoke", form(p.accountRevokeConsent)},
		{"GET /consent", page(p.consentForm)},
		{"POST /consent", form(p.consent)},
		{"GET /logout", page(p.endSession)},
		{"POST /logout", page(p.endSession)},
		{"POST /logout/confirm", form(p.confirmLogout)},
		{"POST " + phoneStatusPath, http.HandlerFunc(p.phoneStatus)},
		{"GET /mfa/push/status", page(p.pushStatus)},
		{"POST /push/enrol", protocol(p.deviceHandler(push.KindEnrol, p.pushEnrol))},
		{"POST /push/heartbeat", protocol(p.deviceHandler(push.KindHeartbeat, p.pushHeartbeat))},
		{"POST /push/challenge", protocol(p.deviceHandler(push.KindFetch, p.pushFetch))},
		{"POST /push/answer", protocol(p.deviceHandler(push.KindAnswer, p.pushAnswer))},
		{"GET /account/push", page(p.accountPushForm)},
		{"POST /account/push/remove", form(p.accountPushRemove)},
		{"POST /token", protocol(p.token)},
		{"POST /revoke", protocol(p.revoke)},
		{"POST /introspect", protocol(p.introspect)},
		{"GET /userinfo", protocol(p.userinfo)},
		{"POST /userinfo", protocol(p.userinfo)},
		{"OPTIONS /", public(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))},
		{"GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })},
		{"GET /readyz", http.HandlerFunc(p.ready)},
		{"GET /static/", http.StripPrefix(p.path("/static"), web.Static(static.FS))},
		{"GET /{$}", page(p.home)},
	}
	routes = append(routes, p.authenticatorRoutes()...)
	routes = append(routes, extra...)
	for _, rt := range routes {
		method, path := splitPattern(rt.Pattern)
		mux.Handle(method+" "+p.path(path), p.metrics.instrument(rt.Pattern, rt.Handler))
	}
	mux.Handle("/", p.metrics.instrument("not_found", web.Handle(p.log, p.errPages, func(http.ResponseWriter, *http.Request) error {
		return web.Errorf(http.StatusNotFound, "error.not_found", "no route")
	})))
	return mux
}

// Route is an extra route mounted by the binary (the /demo app in dev
// mode, /metrics), under the same instrumentation.
type Route struct {
	Pattern string
	Handler http.Handler
}

func splitPattern(p string) (string, string) {
	for i := 0; i < len(p); i++ {
		if p[i] == ' ' {
			return p[:i], p[i+1:]
		}
	}
	return "", p
}

// ready reports whether the store answers, for load balancers.
func (p *Provider) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := p.store.Ping(ctx); err != nil {
		p.log.WarnContext(ctx, "not ready", "err", err)
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// home: there is nothing to show at the root but the way to an app.
func (p *Provider) home(w http.ResponseWriter, r *http.Request) error {
	return web.Errorf(http.StatusNotFound, "error.not_found", "no page at the root")
}

// cors lets browser-based clients (SPAs using PKCE) call the protocol
// endpoints. No credentials are allowed: these endpoints authenticate by
// token or client secret, never by cookie.
func cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Origin") != "" {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", "*")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			h.Set("Access-Control-Max-Age", "600")
		}
		next.ServeHTTP(w, r)
	})
}
