// Package demo is the relying party built into `latchkey dev`: a page at
// /demo that signs in through the real OpenID Connect code flow (go-oidc and
// x/oauth2, PKCE, state and nonce) against the Latchkey it runs beside, and
// shows the id_token claims. It is what a newcomer's own app would do.
package demo

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// App is the demo relying party.
type App struct {
	issuer, clientID, secret, base string
	cookieKey                      []byte
	log                            *slog.Logger

	mu       sync.Mutex
	provider *oidc.Provider
}

// New returns the demo app for a client registered with redirect URI
// base+"/callback" and post-logout redirect URI base.
func New(issuer, clientID, secret, base string, cookieKey []byte, log *slog.Logger) *App {
	return &App{issuer: issuer, clientID: clientID, secret: secret, base: base, cookieKey: cookieKey, log: log}
}

// Routes returns the demo's routes, relative to the issuer's root.
func (a *App) Routes() map[string]http.Handler {
	return map[string]http.Handler{
		"GET /demo":          http.HandlerFunc(a.home),
		"GET /demo/login":    http.HandlerFunc(a.login),
		"GET /demo/callback": http.HandlerFunc(a.callback),
		"GET /demo/logout":   http.HandlerFunc(a.logout),
	}
}

// oidcProvider discovers lazily: the server must be listening before the
// demo can read its own discovery document.
func (a *App) oidcProvider(r *http.Request) (*oidc.Provider, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.provider != nil {
		return a.provider, nil
	}
	p, err := oidc.NewProvider(r.Context(), a.issuer)
	if err != nil {
		return nil, fmt.Errorf("discover %s: %w", a.issuer, err)
	}
	a.provider = p
	return p, nil
}

func (a *App) config(p *oidc.Provider) oauth2.Config {
	return oauth2.Config{
		ClientID: a.clientID, ClientSecret: a.secret, Endpoint: p.Endpoint(),
		RedirectURL: a.base + "/callback", Scopes: []string{oidc.ScopeOpenID, "profile", "email"},
	}
}

// flow is what the demo remembers between login and callback, in a signed
// cookie.
type flow struct {
	State, Nonce, Verifier string
}

type session struct {
	IDToken string          `json:"id_token"`
	Claims  json.RawMessage `json:"claims"`
}

const (
	flowCookie    = "latchkey_demo_flow"
	sessionCookie = "latchkey_demo_session"
)

func (a *App) login(w http.ResponseWriter, r *http.Request) {
	p, err := a.oidcProvider(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	f := flow{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier()}
	if err := a.setCookie(w, flowCookie, f, 10*time.Minute); err != nil {
		a.fail(w, r, err)
		return
	}
	cfg := a.config(p)
	opts := []oauth2.AuthCodeOption{oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier)}
	if l := r.URL.Query().Get("prompt"); l == "login" || l == "consent" {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", l))
	}
	// Step-up: ask for a level, as an app does before a sensitive action.
	switch r.URL.Query().Get("acr") {
	case "mfa":
		opts = append(opts, oauth2.SetAuthURLParam("acr_values", "urn:latchkey:acr:mfa"))
	case "phr":
		opts = append(opts, oauth2.SetAuthURLParam("acr_values", "urn:latchkey:acr:phr"))
	}
	http.Redirect(w, r, cfg.AuthCodeURL(f.State, opts...), http.StatusFound)
}

func (a *App) callback(w http.ResponseWriter, r *http.Request) {
	var f flow
	if err := a.readCookie(r, flowCookie, &f); err != nil {
		a.fail(w, r, fmt.Errorf("no sign-in in progress: %w", err))
		return
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		a.fail(w, r, fmt.Errorf("the provider answered %s: %s", e, q.Get("error_description")))
		return
	}
	if q.Get("state") != f.State {
		a.fail(w, r, errors.New("state mismatch"))
		return
	}
	if q.Get("iss") != a.issuer {
		a.fail(w, r, errors.New("iss mismatch (RFC 9207)"))
		return
	}
	p, err := a.oidcProvider(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	cfg := a.config(p)
	tok, err := cfg.Exchange(r.Context(), q.Get("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil {
		a.fail(w, r, fmt.Errorf("exchange code: %w", err))
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.Verifier(&oidc.Config{ClientID: a.clientID}).Verify(r.Context(), raw)
	if err != nil {
		a.fail(w, r, fmt.Errorf("verify id_token: %w", err))
		return
	}
	if idt.Nonce != f.Nonce {
		a.fail(w, r, errors.New("nonce mismatch"))
		return
	}
	var claims json.RawMessage
	if err := idt.Claims(&claims); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.setCookie(w, sessionCookie, session{IDToken: raw, Claims: claims}, time.Hour); err != nil {
		a.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: flowCookie, Path: "/demo", MaxAge: -1})
	http.Redirect(w, r, a.base, http.StatusSeeOther)
}

func (a *App) logout(w http.ResponseWriter, r *http.Request) {
	var s session
	_ = a.readCookie(r, sessionCookie, &s)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/demo", MaxAge: -1})
	p, err := a.oidcProvider(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := p.Claims(&meta); err != nil || meta.EndSession == "" {
		http.Redirect(w, r, a.base, http.StatusSeeOther)
		return
	}
	v := url.Values{"post_logout_redirect_uri": {a.base}, "client_id": {a.clientID}}
	if s.IDToken != "" {
		v.Set("id_token_hint", s.IDToken)
	}
	http.Redirect(w, r, meta.EndSession+"?"+v.Encode(), http.StatusSeeOther)
}

var page = template.Must(template.New("demo").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Latchkey demo app</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/css/latchkey.css"></head>
<body><main class="card" id="main">
<h1>Demo relying party</h1>
{{if .Error}}<p role="alert" class="error">{{.Error}}</p>{{end}}
{{if .Claims}}<p>Signed in through Latchkey. The id_token says:</p>
<pre tabindex="0">{{.Claims}}</pre>
<p><a class="button" href="/demo/login?acr=mfa">Step up to two factors (acr_values=urn:latchkey:acr:mfa)</a></p>
<p><a class="button" href="/demo/login?prompt=login">Sign in again</a> · <a href="/account">Your Latchkey account</a> · <a href="/demo/logout">Sign out</a></p>
{{else}}<p>This app signs you in through Latchkey with the OpenID Connect code flow (PKCE, state, nonce).</p>
<p><a class="button" href="/demo/login">Sign in with Latchkey</a></p>
<p><a class="button" href="/demo/login?acr=mfa">Sign in with two factors</a></p>{{end}}
</main></body></html>`))

func (a *App) home(w http.ResponseWriter, r *http.Request) {
	var s session
	data := struct{ Claims, Error string }{}
	if err := a.readCookie(r, sessionCookie, &s); err == nil && len(s.Claims) > 0 {
		var pretty strings.Builder
		var v any
		if json.Unmarshal(s.Claims, &v) == nil {
			enc := json.NewEncoder(&pretty)
			enc.SetIndent("", "  ")
			_ = enc.Encode(v)
		}
		data.Claims = pretty.String()
	}
	w.Header().Set("Cache-Control", "no-store")
	if err := page.Execute(w, data); err != nil {
		a.log.ErrorContext(r.Context(), "demo page", "err", err)
	}
}

func (a *App) fail(w http.ResponseWriter, r *http.Request, err error) {
	a.log.WarnContext(r.Context(), "demo sign-in failed", "err", err)
	w.WriteHeader(http.StatusBadGateway)
	_ = page.Execute(w, struct{ Claims, Error string }{Error: err.Error()})
}

// setCookie stores v as base64(json) + "." + HMAC, so the demo needs no
// server-side state.
func (a *App) setCookie(w http.ResponseWriter, name string, v any, life time.Duration) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	payload := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: payload + "." + a.mac(payload), Path: "/demo",
		MaxAge: int(life.Seconds()), HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: strings.HasPrefix(a.base, "https://"),
	})
	return nil
}

func (a *App) readCookie(r *http.Request, name string, v any) error {
	c, err := r.Cookie(name)
	if err != nil {
		return err
	}
	payload, sig, ok := strings.Cut(c.Value, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(a.mac(payload))) {
		return errors.New("cookie signature invalid")
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func (a *App) mac(s string) string {
	m := hmac.New(sha256.New, a.cookieKey)
	m.Write([]byte(s))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func random() string { return rand.Text() }
