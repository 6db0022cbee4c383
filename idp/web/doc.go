// Package web is the HTTP plumbing shared by the OpenID Provider (package idp) and the
// admin console: handlers that return errors and the one place that maps them to a
// status, a log line and a page ([Handle]); request ids; security headers and a strict
// Content-Security-Policy; CSRF protection for hosted forms ([CSRF]); the English and
// Japanese message catalogs ([Catalog]); and the per-page template renderer ([Renderer]).
//
// The package knows nothing about OAuth or users. It holds no global state: every
// value (keys, loggers, template file systems) is passed to a constructor.
//
// A typical route table composes it like this:
//
//	errPages := web.NewErrorPages(renderer, catalog, issuer)
//	h := func(f web.HandlerFunc) http.Handler { return web.Handle(logger, errPages, f) }
//	csrf := web.NewCSRF(csrfKey, secure).WithFailureHandler(
//		web.ErrorHandler(errPages, http.StatusForbidden, web.MsgCSRF))
//	mux.Handle("GET /login", web.Chain(h(s.loginPage), web.NoStore))
//	mux.Handle("POST /login", web.Chain(h(s.login), web.NoStore, web.LimitBody(64<<10), csrf.Protect))
//	root := web.Chain(mux, web.RequestID, web.SecurityHeaders(secure))
package web
