package idp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/idp/idptest"
	"github.com/latchkey/latchkey/idp/idptest/chrome"
	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/idp/web"
	"github.com/latchkey/latchkey/mfa/push"
	"github.com/latchkey/latchkey/mfa/push/webpush/webpushtest"
)

// TestBrowserPushCompanionApp: Latchkey Authenticator, the companion web
// app, in Chromium, from the QR code's link to a completed sign-in.
//
// The phone (a Chromium of its own) signs in to the account page, opens
// "approve sign-ins on your phone" and follows the QR code's link. The app
// takes the token off the address bar, makes a non-extractable P-256 key,
// asks for notifications and enrols. Then the desk (another Chromium)
// signs in to the relying party with the password; its page shows the
// number, and the provider pushes {iss, challenge} through the fake push
// service. The test hands that payload to the app's service worker as the
// browser would; the worker acknowledges it, shows a notification and
// wakes the page, which shows the sign-in's context and the choices. A
// typed number that is not the one is refused with two tries left; a tap
// on the desk's number approves, and the desk's long poll lands at the
// relying party with push's amr.
func TestBrowserPushCompanionApp(t *testing.T) {
	c := newCompanionRig(t)
	ctx := context.Background()
	link := c.enrolLink()
	if !strings.HasPrefix(link, c.f.env.Issuer+"/authenticator#enrol=") {
		t.Fatalf("QR code link %q, want %s/authenticator#enrol=<token>", link, c.f.env.Issuer)
	}

	c.grantNotifications()
	c.phone.Open(link, "#enrol-button")
	if u := chrome.Eval[string](c.phone, "location.href"); u != c.f.env.Issuer+"/authenticator" {
		t.Errorf("the app left the enrolment token in the address bar: %s", u)
	}
	c.phone.Click("#enrol-button")
	c.phone.WaitVisible("#view-device #device-id")
	if got := c.phone.Focused(); got != "#device-heading" {
		t.Errorf("focus on %s after enrolment, want the device heading", got)
	}
	d := c.pushDevice()
	if shown := c.phone.Text("#device-id"); shown != d.ID {
		t.Errorf("the app shows device %q, the provider stored %q", shown, d.ID)
	}
	if d.Name != "Linux Chrome" || d.Platform != "web" || d.Channel != push.ChannelWebPush || d.Permission != "granted" {
		t.Errorf("stored device %+v, want \"Linux Chrome\", web, webpush, granted", d)
	}

	// The private key stays in the browser's key store: the record the app
	// keeps in IndexedDB holds a CryptoKey that cannot be exported, and the
	// public key the provider stored is its public half.
	key := c.readStoredKey()
	if key.Extractable || key.ExportError != "InvalidAccessError" || key.Type != "private" || key.Curve != "P-256" || !slices.Equal(key.Usages, []string{"sign"}) {
		t.Errorf("stored private key %+v, want a non-extractable P-256 signing key", key)
	}
	var stored map[string]string
	if err := json.Unmarshal(d.PublicKey, &stored); err != nil {
		t.Fatalf("stored public key %s: %v", d.PublicKey, err)
	}
	if key.ID != d.ID || key.JWK["x"] != stored["x"] || key.JWK["y"] != stored["y"] || len(key.JWK) != 4 {
		t.Errorf("the app's device %s %v, the provider's %s %v", key.ID, key.JWK, d.ID, stored)
	}

	// Headless Chromium on this closed network never gets a push
	// subscription: pushManager.subscribe waits for the browser's push
	// service (Google's), which it cannot reach. The app stops waiting,
	// enrols without a push token, and tells the user the phone cannot
	// receive notifications yet. The test then does what the app's next
	// heartbeat would once a subscription arrived: it reports one, made
	// by the fake push service for the provider's VAPID key.
	if d.TokenValid || d.Token != "" {
		t.Fatalf("device enrolled with push token %q: this test expects headless Chromium to get no subscription", d.Token)
	}
	if got := c.phone.Text("#device-status"); !strings.Contains(got, "could not reach its push service") {
		t.Errorf("device status %q, want the app to say notifications cannot arrive yet", got)
	}
	sub := c.service.NewSubscriptionFor(c.vapid)
	if err := c.f.env.Store.UpdatePushDeviceState(ctx, d.ID, "granted", sub.JSON, push.ChannelWebPush, time.Now().UTC()); err != nil {
		t.Fatalf("give the device a subscription: %v", err)
	}

	// The desk signs in; the push goes out to the fake push service.
	a := c.start(acrMFA)
	c.typePassword()
	c.b.WaitVisible("#push-number")
	number := c.b.Text("#push-number")
	pushes := c.service.PushesTo(sub)
	if len(pushes) != 1 {
		t.Fatalf("%d pushes to the phone's subscription, want 1", len(pushes))
	}
	var msg push.Message
	if err := json.Unmarshal(pushes[0].Payload, &msg); err != nil || msg.Issuer != c.f.env.Issuer || msg.ChallengeID == "" {
		t.Fatalf("push payload %s (%v), want {iss, challenge}", pushes[0].Payload, err)
	}

	c.deliver(pushes[0].Payload)
	c.phone.WaitVisible("#choices button")
	if got := c.phone.Focused(); got != "#challenge-heading" {
		t.Errorf("focus on %s when the request showed, want its heading", got)
	}
	if ch := companionChallenge(t, c, msg.ChallengeID); ch.Status != storage.PushDelivered || ch.DeviceID != d.ID {
		t.Errorf("challenge %+v, want delivered (acknowledged) to %s", ch, d.ID)
	}
	for sel, want := range map[string]string{
		"#ch-account": userEmail, "#ch-app": "Browser App", "#ch-browser": "Chrome on Linux", "#ch-ip": "127.0.0.1",
	} {
		if got := c.phone.Text(sel); got != want {
			t.Errorf("the app shows %s %q, want %q", sel, got, want)
		}
	}
	if got := c.phone.Text("#ch-time-left"); !regexp.MustCompile(`^[0-9]+ seconds$`).MatchString(got) {
		t.Errorf("time left %q", got)
	}
	titles := chrome.Eval[[]string](c.phone, `navigator.serviceWorker.ready.then((r) => r.getNotifications()).then((ns) => ns.map((n) => n.title + ": " + n.body))`)
	if !slices.Equal(titles, []string{"Sign-in request: Tap to review."}) {
		t.Errorf("notifications %q, want the content-free sign-in request", titles)
	}
	choices := chrome.Eval[[]string](c.phone, `[...document.querySelectorAll("#choices button")].map((b) => b.textContent)`)
	if len(choices) != push.NumChoices || !slices.Contains(choices, number) {
		t.Fatalf("choices %q, want %d holding the desk's %s", choices, push.NumChoices, number)
	}

	// A typed number that is none of the choices: refused, two tries left,
	// the focus back in the field.
	wrong := companionWrongNumber(choices)
	c.phone.Type("number-input", wrong)
	c.phone.Press(chrome.Enter)
	c.phone.WaitVisible("#notice")
	if got := c.phone.Text("#notice"); !strings.Contains(got, "Attempts left: 2") {
		t.Errorf("after a wrong number the app says %q", got)
	}
	if got := c.phone.Focused(); got != "#number-input" {
		t.Errorf("focus on %s after a wrong number, want the number field", got)
	}

	c.phone.Click(`#choices button[data-number="` + number + `"]`)
	c.phone.WaitVisible(`#view-result[data-result="approved"]`)
	if got := c.phone.Focused(); got != "#result-heading" {
		t.Errorf("focus on %s after approving, want the result", got)
	}
	// The answered request's notification goes (the page closes it).
	chrome.Eval[bool](c.phone, `navigator.serviceWorker.ready.then(async (r) => {
		while ((await r.getNotifications()).length > 0) {
			await new Promise((ok) => setTimeout(ok, 50));
		}
		return true;
	})`)
	tok := c.finish(a)
	if !hasAMR(tok.claims, "pwd", "swk", "mfa") || tok.claims["acr"] != acrMFA {
		t.Errorf("id_token acr %v amr %v, want %s with pwd swk mfa", tok.claims["acr"], tok.claims["amr"], acrMFA)
	}
	if ch := companionChallenge(t, c, msg.ChallengeID); ch.Status != storage.PushApproved || ch.WrongNumbers != 1 {
		t.Errorf("challenge %+v, want approved after one wrong number", ch)
	}

	c.noConsoleErrors()
	for _, m := range c.phone.ConsoleErrors() {
		// The one refused request: Chromium logs the 400 of the wrong
		// number.
		if u, err := url.Parse(m.URL); err == nil && m.Source == "network" && u.Path == "/push/answer" && strings.Contains(m.Text, "400") {
			continue
		}
		t.Errorf("phone console: %s", m)
	}
}

func companionChallenge(t *testing.T, c *companionRig, id string) storage.PushChallenge {
	t.Helper()
	ch, err := c.f.env.Store.GetPushChallenge(context.Background(), id)
	if err != nil {
		t.Fatalf("get push challenge %s: %v", id, err)
	}
	return ch
}

// companionWrongNumber is a two-digit number that is none of the choices.
func companionWrongNumber(choices []string) string {
	for n := 10; ; n++ {
		if s := fmt.Sprint(n); !slices.Contains(choices, s) {
			return s
		}
	}
}

// TestAuthenticatorFiles: the companion app's page and files as served,
// with the headers a browser needs (types, the worker's wider scope,
// revalidation), its configuration, and nothing at all when Web Push is
// off.
func TestAuthenticatorFiles(t *testing.T) {
	service := webpushtest.New(t)
	pushOn, vapid := companionPush(t, service)
	f := newFixture(t, idptest.WithMiddleware(web.RequestID, web.SecurityHeaders(false)), pushOn)

	get := func(path string, header http.Header) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, f.env.URL(path), nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range header {
			req.Header[k] = v
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return res, string(body)
	}

	page, body := get("/authenticator", nil)
	if page.StatusCode != http.StatusOK || page.Header.Get("Content-Type") != "text/html; charset=utf-8" ||
		page.Header.Get("Cache-Control") != "no-cache" || page.Header.Get("Content-Security-Policy") != web.ContentSecurityPolicy {
		t.Fatalf("GET /authenticator: %d %v", page.StatusCode, page.Header)
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, "style=") || strings.Contains(body, "://") {
		t.Errorf("the page has an inline script or style, or an absolute link:\n%s", body)
	}
	// Every file the page links is served, with its type.
	types := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
		".svg": "image/svg+xml", ".webmanifest": "application/manifest+json"}
	linked := regexp.MustCompile(`(?:src|href)="(authenticator/[^"]+)"`).FindAllStringSubmatch(body, -1)
	if len(linked) < 6 {
		t.Fatalf("the page links %d files, want its scripts, stylesheet, icon and manifest", len(linked))
	}
	for _, m := range linked {
		res, _ := get("/"+m[1], nil)
		ext := m[1][strings.LastIndex(m[1], "."):]
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != types[ext] || res.Header.Get("ETag") == "" {
			t.Errorf("GET /%s: %d %s etag %q", m[1], res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("ETag"))
		}
		again, _ := get("/"+m[1], http.Header{"If-None-Match": {res.Header.Get("ETag")}})
		if again.StatusCode != http.StatusNotModified {
			t.Errorf("GET /%s with its ETag: %d, want 304", m[1], again.StatusCode)
		}
	}

	sw, swBody := get("/authenticator/sw.js", nil)
	if sw.StatusCode != http.StatusOK || sw.Header.Get("Content-Type") != "text/javascript; charset=utf-8" ||
		sw.Header.Get("Service-Worker-Allowed") != "/authenticator" || sw.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("GET /authenticator/sw.js: %d %v", sw.StatusCode, sw.Header)
	}
	for _, imported := range regexp.MustCompile(`"([a-z]+\.js)"`).FindAllStringSubmatch(swBody, -1) {
		if res, _ := get("/authenticator/"+imported[1], nil); res.StatusCode != http.StatusOK {
			t.Errorf("the worker imports %s: %d", imported[1], res.StatusCode)
		}
	}

	_, mb := get("/authenticator/manifest.webmanifest", nil)
	var manifest struct {
		Name     string `json:"name"`
		StartURL string `json:"start_url"`
		Display  string `json:"display"`
		Icons    []struct {
			Src string `json:"src"`
		} `json:"icons"`
	}
	if err := json.Unmarshal([]byte(mb), &manifest); err != nil || len(manifest.Icons) == 0 {
		t.Fatalf("manifest %s: %v", mb, err)
	}
	manifestURL, _ := url.Parse(f.env.URL("/authenticator/manifest.webmanifest"))
	start, _ := manifestURL.Parse(manifest.StartURL)
	icon, _ := manifestURL.Parse(manifest.Icons[0].Src)
	if start.String() != f.env.URL("/authenticator") || manifest.Display != "standalone" || manifest.Name == "" {
		t.Errorf("manifest %+v: start_url resolves to %s", manifest, start)
	}
	if res, _ := get(icon.Path, nil); res.StatusCode != http.StatusOK {
		t.Errorf("manifest icon %s: %d", icon, res.StatusCode)
	}

	cfg, cb := get("/authenticator/config.json", nil)
	var conf struct {
		Issuer         string `json:"issuer"`
		VAPIDPublicKey string `json:"vapid_public_key"`
	}
	if err := json.Unmarshal([]byte(cb), &conf); err != nil || cfg.Header.Get("Cache-Control") != "no-store" ||
		conf.Issuer != f.env.Issuer || conf.VAPIDPublicKey != vapid {
		t.Errorf("config.json %s (%v) %v, want issuer %s and the VAPID key %s", cb, err, cfg.Header, f.env.Issuer, vapid)
	}

	for _, p := range []string{"/authenticator/index.html", "/authenticator/nothing.js", "/authenticator/embed.go", "/authenticator/"} {
		if res, _ := get(p, nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, res.StatusCode)
		}
	}

	// Without Web Push the app could not enrol: it is not served.
	off := newFixture(t)
	for _, p := range []string{"/authenticator", "/authenticator/app.js", "/authenticator/config.json"} {
		res, err := http.Get(off.env.URL(p))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("push off: GET %s: %d, want 404", p, res.StatusCode)
		}
	}
}
