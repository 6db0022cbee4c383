package idp

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/mfa"
)

// Remembered browsers: after a second factor, a user may ask Latchkey to
// remember the browser. The cookie holds a random value; the store keeps
// its hash, bound to the user, with an expiry, so the record can be listed
// and revoked on the account page and a copied database yields no cookies.
// The engine counts it for LevelMFA only, never for LevelPHR.

func (p *Provider) rememberCookieName() string {
	switch {
	case p.secure && p.basePath == "":
		return "__Host-latchkey_remember"
	case p.secure:
		return "__Secure-latchkey_remember"
	}
	return "latchkey_remember"
}

func hashRememberID(raw string) string {
	sum := sha256.Sum256([]byte("latchkey-remember:" + raw))
	return hex.EncodeToString(sum[:])
}

// remembered returns the live record of this browser for userID, or nil.
func (p *Provider) remembered(r *http.Request, userID string) *storage.RememberedBrowser {
	c, err := r.Cookie(p.rememberCookieName())
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return nil
	}
	rb, err := p.store.GetRememberedBrowser(r.Context(), hashRememberID(c.Value), p.now())
	if err != nil {
		if !errors.Is(err, storage.ErrNotFound) {
			p.log.WarnContext(r.Context(), "remembered browser unreadable", "err", err)
		}
		return nil
	}
	if rb.UserID != userID {
		return nil
	}
	return &rb
}

// touchRemembered records that the remembered browser was used.
func (p *Provider) touchRemembered(r *http.Request) {
	c, err := r.Cookie(p.rememberCookieName())
	if err != nil {
		return
	}
	if err := p.store.TouchRememberedBrowser(r.Context(), hashRememberID(c.Value), p.now().UTC()); err != nil && !errors.Is(err, storage.ErrNotFound) {
		p.log.WarnContext(r.Context(), "touch remembered browser", "err", err)
	}
}

// rememberBrowser creates the record and sets the cookie.
func (p *Provider) rememberBrowser(w http.ResponseWriter, r *http.Request, userID string, pol mfa.Policy) error {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("remember browser: %w", err)
	}
	raw := base64.RawURLEncoding.EncodeToString(b)
	now := p.now().UTC()
	life := time.Duration(pol.Remember.For)
	rb := storage.RememberedBrowser{
		ID: hashRememberID(raw), UserID: userID, Label: browserLabel(r.UserAgent()),
		CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(life),
	}
	if err := p.store.CreateRememberedBrowser(r.Context(), rb); err != nil {
		return fmt.Errorf("remember browser: %w", err)
	}
	http.SetCookie(w, &http.Cookie{
		Name: p.rememberCookieName(), Value: raw, Path: p.path("/"), MaxAge: int(life / time.Second),
		Secure: p.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
	p.audit(r, "remembered_browser.created", userID, "", map[string]string{"label": rb.Label})
	return nil
}

// browserLabel names a browser for the account page from its User-Agent.
// It is a description for people, never used for a decision.
func browserLabel(ua string) string {
	browser := "Browser"
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"Chrome/", "Chrome"},
		{"Chromium/", "Chromium"}, {"Safari/", "Safari"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	os := ""
	for _, o := range []struct{ token, name string }{
		{"Android", "Android"}, {"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"Windows", "Windows"},
		{"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			os = o.name
			break
		}
	}
	if os == "" {
		return browser
	}
	return browser + " / " + os
}
