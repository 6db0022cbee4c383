package idp

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/idp/web"
)

// page fills the part every hosted page shares. The language follows the
// switcher, then the authorization request's ui_locales, then the browser.
func (p *Provider) page(w http.ResponseWriter, r *http.Request, tx storage.LoginTx, title string) web.Page {
	return p.stepPage(w, r, tx, title, nil)
}

// stepPage is page for a page whose URL does not say all it shows: shown are
// the query parameters that choose it (the factor a second-factor page asks
// for, which a wrong code may have moved on), for the language switcher.
func (p *Provider) stepPage(w http.ResponseWriter, r *http.Request, tx storage.LoginTx, title string, shown url.Values) web.Page {
	uiLocales := ""
	if tx.AuthorizeQuery != "" {
		if q, err := url.ParseQuery(tx.AuthorizeQuery); err == nil {
			uiLocales = q.Get("ui_locales")
		}
	}
	lang := p.catalog.Negotiate(r, uiLocales)
	return web.Page{
		L:         p.catalog.Localizer(lang),
		Lang:      lang,
		Title:     title,
		CSRFToken: p.csrf.Token(w, r),
		Langs:     p.langLinks(r, tx, title, lang, shown),
		Issuer:    p.issuer,
	}
}

// langLinks builds the language switcher. A page got by GET links to its own
// URL. A page answering a form POST has no URL of its own: the form's fields,
// the transaction among them, travelled in the body, so its path with ?lang=
// would be no page (/login without tx, /logout/confirm). It links to the GET
// that shows the same step instead, with the same transaction. A POST
// answered with a page no GET shows again (recovery codes, shown once) gets
// no switcher: following it would lose the page.
func (p *Provider) langLinks(r *http.Request, tx storage.LoginTx, title, lang string, shown url.Values) []web.LangLink {
	var u url.URL
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		u = url.URL{Path: r.URL.Path, RawQuery: r.URL.RawQuery}
	} else {
		step, ok := postPages[postPage{strings.TrimPrefix(r.URL.Path, p.basePath), title}]
		if !ok {
			return nil
		}
		q, _ := url.ParseQuery(step.query) // constants below
		for _, k := range step.carry {
			if v := r.FormValue(k); v != "" {
				q.Set(k, v)
			}
		}
		if tx.ID != "" {
			q.Set("tx", tx.ID)
		}
		u = url.URL{Path: p.path(step.path), RawQuery: q.Encode()}
	}
	if len(shown) > 0 {
		q := u.Query()
		for k, v := range shown {
			q[k] = v
		}
		u.RawQuery = q.Encode()
	}
	return p.catalog.LangLinksAt(&u, lang)
}

// postPage is a page answering a POST: the route and the page's title key,
// as one route can answer with different pages (the step again after a
// wrong code, or recovery codes after a right one).
type postPage struct{ route, title string }

// stepGET is the GET that shows a step's page again.
type stepGET struct {
	path  string
	query string   // fixed parameters, such as the factor a POST route is for
	carry []string // form fields of the POST the GET needs too
}

// logoutFields are the RP-initiated logout parameters the confirmation
// page carries.
var logoutFields = []string{"id_token_hint", "post_logout_redirect_uri", "state", "client_id"}

// postPages lists the pages a POST answers with that a GET shows again.
// Anything else (recovery codes, the notice after a recovery code) has no
// language switcher.
var postPages = map[postPage]stepGET{
	{"/login", "login.title"}:                        {path: "/login"},
	{"/login/passkey", "login.title"}:                {path: "/login"},
	{"/mfa", "mfa.title"}:                            {path: "/mfa"}, // the factor: see renderMFA
	{"/mfa/enrol", "enrol.title"}:                    {path: "/mfa/enrol", query: "factor=totp"},
	{"/mfa/enrol/passkey", "passkey.register_title"}: {path: "/mfa/enrol", query: "factor=passkey"},
	{"/account/totp", "enrol.title"}:                 {path: "/account/totp"},
	{"/account/passkey", "passkey.register_title"}:   {path: "/account/passkey"},
	// A number's form and its verification step share a title, and a POST
	// to either route can answer with either. The GET of the form is the
	// only page there is: after the number was added it is where the user
	// starts again (typing the number again restarts its verification). At
	// sign-in the form is the enrolment step's phone choice.
	{"/account/phone", "phone.title"}:          {path: "/account/phone"},
	{"/account/phone/verify", "phone.title"}:   {path: "/account/phone"},
	{"/mfa/enrol/phone", "phone.title"}:        {path: "/mfa/enrol", query: "factor=sms"},
	{"/mfa/enrol/phone/verify", "phone.title"}: {path: "/mfa/enrol", query: "factor=sms"},
	// The end_session_endpoint by POST shows what a GET with the same
	// parameters shows. After a confirmed sign-out, GET /logout without a
	// session shows the signed-out page; the client's id keeps its name on
	// it, and no id_token_hint goes along: by GET it would sign the user out
	// again without asking, should they have signed in since.
	{"/logout", "logout.title"}:              {path: "/logout", carry: logoutFields},
	{"/logout", "logout.done_title"}:         {path: "/logout", carry: []string{"client_id"}},
	{"/logout/confirm", "logout.done_title"}: {path: "/logout", carry: []string{"client_id"}},
}
