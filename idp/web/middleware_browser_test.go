package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/idp/idptest/chrome"
)

// TestPermissionsPolicyInChromium: a real Chromium recognises every feature of the
// Permissions-Policy header. It logs "Error with Permissions-Policy header:
// Unrecognized feature" on every page for any it does not know, which a string check
// of the header cannot tell.
func TestPermissionsPolicyInChromium(t *testing.T) {
	b := chrome.New(t)
	h := SecurityHeaders(false)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html lang="en"><title>Policy</title><p id="ready">ready</p>`)
	}))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	b.Open(chrome.Localhost(srv.URL)+"/", "#ready")
	for _, m := range b.Console() {
		if strings.Contains(m.Text, "Permissions-Policy") {
			t.Errorf("browser console: %s", m)
		}
	}
}
