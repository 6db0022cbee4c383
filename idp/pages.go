package idp

import (
	"net/http"
	"net/url"

	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/idp/web"
)

// page fills the part every hosted page shares. The language follows the
// switcher, then the authorization request's ui_locales, then the browser.
func (p *Provider) page(w http.ResponseWriter, r *http.Request, tx storage.LoginTx, title string) web.Page {
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
		Langs:     p.catalog.LangLinks(r, lang),
		Issuer:    p.issuer,
	}
}
