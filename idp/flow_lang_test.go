package idp_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestErrorPageFooter: error pages end with the footer line every other hosted page
// has, naming the issuer.
func TestErrorPageFooter(t *testing.T) {
	f := newFixture(t)
	page := f.env.NewBrowser().Get(f.env.URL("/no-such-page"))
	_, footer, _ := strings.Cut(page.Body, `<footer class="site-footer">`)
	if page.Status != http.StatusNotFound || !strings.Contains(footer, f.env.Issuer) {
		t.Errorf("error page: %d, footer %q, want 404 and the issuer %s in the footer", page.Status, footer, f.env.Issuer)
	}
}
