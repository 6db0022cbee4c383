package idp

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/idp/web"
	"github.com/latchkey/latchkey/mfa/push"
	"github.com/latchkey/latchkey/static/authenticator"
)

// Latchkey Authenticator, the companion web app (static/authenticator):
// any phone with a browser becomes a push device, no app store needed. The
// page is served at {issuer}/authenticator, the address the enrolment QR
// code holds, and its files beside it; config.json tells the app the
// issuer and the VAPID key to subscribe with. Nothing here reads cookies,
// so nothing needs a CSRF token: the app authenticates every request to
// /push/... with its device key (push_device.go).

// authenticatorPage is the app's page, served at /authenticator itself
// and not by its file name, so that its relative links resolve one way.
const authenticatorPage = "index.html"

// authenticatorTypes are the app's files with their media types. The
// manifest's type is the one the Web App Manifest spec registers.
var authenticatorTypes = map[string]string{
	authenticatorPage:      "text/html; charset=utf-8",
	"app.js":               "text/javascript; charset=utf-8",
	"device.js":            "text/javascript; charset=utf-8",
	"strings.js":           "text/javascript; charset=utf-8",
	"sw.js":                "text/javascript; charset=utf-8",
	"app.css":              "text/css; charset=utf-8",
	"icon.svg":             "image/svg+xml",
	"manifest.webmanifest": "application/manifest+json",
}

// appFile is one file of the app, read once from the binary.
type appFile struct {
	body []byte
	typ  string
	etag string
}

// authenticatorRoutes are the app's routes. The files are read here, once
// per handler; they are embedded, so a missing one is a build mistake,
// logged and answered 404.
func (p *Provider) authenticatorRoutes() []Route {
	files := make(map[string]appFile, len(authenticatorTypes))
	for name, typ := range authenticatorTypes {
		body, err := fs.ReadFile(authenticator.FS, name)
		if err != nil {
			p.log.Error("companion app file missing from the build", "file", name, "err", err)
			continue
		}
		sum := sha256.Sum256(body)
		files[name] = appFile{body: body, typ: typ, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
	}
	handle := func(h web.HandlerFunc) http.Handler { return web.Handle(p.log, p.errPages, h) }
	return []Route{
		{"GET /authenticator", handle(func(w http.ResponseWriter, r *http.Request) error {
			return p.serveAppFile(w, r, files, authenticatorPage)
		})},
		{"GET /authenticator/config.json", handle(p.authenticatorConfig)},
		{"GET /authenticator/{file}", handle(func(w http.ResponseWriter, r *http.Request) error {
			name := r.PathValue("file")
			if name == authenticatorPage {
				return web.Errorf(http.StatusNotFound, "error.not_found", "the app's page is at /authenticator")
			}
			return p.serveAppFile(w, r, files, name)
		})},
	}
}

// webPushSender is the Web Push channel, the only one the web app can
// use; nil when push approval or Web Push is off, and then the app is not
// served: it could not enrol.
func (p *Provider) webPushSender() push.Sender {
	if p.push == nil {
		return nil
	}
	return p.push.opts.Senders[push.ChannelWebPush]
}

func (p *Provider) serveAppFile(w http.ResponseWriter, r *http.Request, files map[string]appFile, name string) error {
	f, ok := files[name]
	if !ok || p.webPushSender() == nil {
		return web.Errorf(http.StatusNotFound, "error.not_found", "no companion app file %q (or Web Push is off)", name)
	}
	h := w.Header()
	h.Set("Content-Type", f.typ)
	// Revalidated on every use (the ETag makes that a 304), so that a
	// new release reaches phones at once: the file names carry no version.
	// Browsers check sw.js for updates themselves as well.
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", f.etag)
	if name == "sw.js" {
		// The worker lives in /authenticator/ but must also control the
		// page at /authenticator, one level up.
		h.Set("Service-Worker-Allowed", p.path("/authenticator"))
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
	return nil
}

// authenticatorConfig tells the app the issuer (the aud of its requests
// and the iss of its pushes) and the Web Push application server key.
func (p *Provider) authenticatorConfig(w http.ResponseWriter, r *http.Request) error {
	sender := p.webPushSender()
	if sender == nil {
		return web.Errorf(http.StatusNotFound, "error.not_found", "Web Push is off")
	}
	key := p.push.opts.VAPIDPublicKey
	if pk, ok := sender.(interface{ PublicKey() string }); ok && key == "" {
		key = pk.PublicKey()
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	return json.NewEncoder(w).Encode(struct {
		Issuer         string `json:"issuer"`
		VAPIDPublicKey string `json:"vapid_public_key"`
	}{p.issuer, key})
}
