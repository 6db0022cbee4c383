package idp_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/serviceworker"
	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/idp"
	"github.com/latchkey/latchkey/idp/idptest"
	"github.com/latchkey/latchkey/idp/idptest/chrome"
	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/mfa/push"
	"github.com/latchkey/latchkey/mfa/push/webpush"
	"github.com/latchkey/latchkey/mfa/push/webpush/webpushtest"
)

// Helpers of the companion app's tests (browser_push_test.go): a provider
// with Web Push to a fake push service, and a second Chromium that stands
// in for the phone, whose service worker the test pushes to through the
// DevTools protocol as the push service would.

// companionPush turns push approval on with a real Web Push sender that
// may post only to service. It returns the option and the VAPID public key
// the app must subscribe with.
func companionPush(t testing.TB, service *webpushtest.Server) (idptest.Option, string) {
	t.Helper()
	vapidKey, _, err := webpush.GenerateVAPIDKey()
	if err != nil {
		t.Fatal(err)
	}
	sender, err := webpush.New(webpush.Config{
		VAPIDPrivateKey: vapidKey, Subject: "mailto:ops@example.test",
		AllowedHosts: []string{service.Host()}, Transport: service.Transport(),
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("web push sender: %v", err)
	}
	return idptest.WithProviderOptions(func(o *idp.Options) {
		o.Push = idp.PushOptions{
			Senders:        map[string]push.Sender{push.ChannelWebPush: sender},
			VAPIDPublicKey: sender.PublicKey(),
		}
	}), sender.PublicKey()
}

// companionRig is the desk and the phone: browserRig's Chromium signs in
// to the relying party; phone is a second Chromium with its own profile,
// where the user opens the account page and then the companion app.
type companionRig struct {
	*browserRig
	phone   *chrome.Browser
	service *webpushtest.Server
	vapid   string
	workers *swRegistrations
}

func newCompanionRig(t *testing.T) *companionRig {
	t.Helper()
	service := webpushtest.New(t)
	pushOn, vapid := companionPush(t, service)
	r := newBrowserRig(t, rigOptions{env: []idptest.Option{
		// The app signs its requests with the phone's clock, the real
		// one: the provider must not run an hour behind as the other mfa
		// fixtures do, or every request would be stale.
		idptest.WithClock(idptest.NewClock(0)),
		pushOn,
	}})
	phone := chrome.New(t, chrome.WithTimeout(90*time.Second))
	return &companionRig{browserRig: r, phone: phone, service: service, vapid: vapid, workers: watchServiceWorkers(t, phone)}
}

// origin is the provider's origin, http://localhost:PORT.
func (c *companionRig) origin() string { return c.f.env.URL("") }

// enrolLink signs in to the account page on the phone, opens "approve
// sign-ins on your phone" and returns the link its QR code holds. Then it
// drops the phone's cookies: the app must work without a session.
func (c *companionRig) enrolLink() string {
	c.t.Helper()
	p := c.phone
	p.Navigate(c.f.env.URL("/account"))
	p.WaitVisible("#password")
	p.Type("email", userEmail)
	p.Type("password", userPassword)
	p.Press(chrome.Enter)
	p.WaitVisible("#account-heading")
	p.Navigate(c.f.env.URL("/account/push"))
	p.WaitVisible("#push-enrol-heading")
	link := chrome.Eval[string](p, `document.querySelector('a[href*="/authenticator#enrol="]').href`)
	if _, err := chromedp.Call(p.Context(), network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		c.t.Fatalf("clear the phone's cookies: %v", err)
	}
	return link
}

// grantNotifications answers the notification prompt for the provider's
// origin with "Allow", as the user would: headless Chromium shows no
// prompt and would otherwise deny.
func (c *companionRig) grantNotifications() {
	c.t.Helper()
	_, err := chromedp.CallBrowser(c.phone.Context(), browser.SetPermission, browser.SetPermissionParams{
		Permission: &browser.PermissionDescriptor{Name: "notifications"},
		Setting:    browser.PermissionSettingGranted,
		Origin:     c.origin(),
	})
	if err != nil {
		c.t.Fatalf("grant notifications: %v", err)
	}
}

// pushDevice is the user's one push device as stored.
func (c *companionRig) pushDevice() storage.PushDevice {
	c.t.Helper()
	ds, err := c.f.env.Store.ListPushDevices(context.Background(), c.f.user.ID)
	if err != nil || len(ds) != 1 {
		c.t.Fatalf("push devices %+v (%v), want one", ds, err)
	}
	return ds[0]
}

// deliver hands a push's payload to the app's service worker, as the
// browser does when its push service delivers one: the worker's push
// event gets the (decrypted) data.
func (c *companionRig) deliver(payload []byte) {
	c.t.Helper()
	scope := chrome.Eval[string](c.phone, `navigator.serviceWorker.ready.then((r) => r.scope)`)
	id := c.workers.wait(c.t, c.phone, scope)
	_, err := chromedp.Call(c.phone.Context(), serviceworker.DeliverPushMessage, serviceworker.DeliverPushMessageParams{
		Origin: c.origin(), RegistrationID: id, Data: string(payload),
	})
	if err != nil {
		c.t.Fatalf("deliver a push to the service worker at %s: %v", scope, err)
	}
}

// storedKey is what the app keeps in IndexedDB, read by the page itself.
type storedKey struct {
	ID          string            `json:"id"`
	JWK         map[string]string `json:"jwk"`
	Type        string            `json:"type"`
	Curve       string            `json:"curve"`
	Extractable bool              `json:"extractable"`
	Usages      []string          `json:"usages"`
	// ExportError is the name of the error exporting the private key
	// failed with ("" if it was exported).
	ExportError string `json:"exportError"`
}

// readStoredKey reads the device record from the app's database in the
// phone's page and tries to export its private key.
func (c *companionRig) readStoredKey() storedKey {
	c.t.Helper()
	return chrome.Eval[storedKey](c.phone, `new Promise((resolve, reject) => {
		const open = indexedDB.open("latchkey-authenticator");
		open.onerror = () => reject(open.error);
		open.onsuccess = () => {
			const db = open.result;
			const get = db.transaction("device").objectStore("device").get("current");
			get.onerror = () => reject(get.error);
			get.onsuccess = async () => {
				db.close();
				const d = get.result;
				const k = d.keyPair.privateKey;
				let exportError = "";
				try {
					await crypto.subtle.exportKey("pkcs8", k);
				} catch (e) {
					exportError = e.name;
				}
				resolve({id: d.id, jwk: d.jwk, type: k.type, curve: k.algorithm.namedCurve,
					extractable: k.extractable, usages: k.usages, exportError});
			};
		};
	})`)
}

// swRegistrations follows the phone's service worker registrations
// through the DevTools ServiceWorker domain, which names them by the ids
// deliverPushMessage wants.
type swRegistrations struct {
	mu    sync.Mutex
	scope map[string]serviceworker.RegistrationID
}

func watchServiceWorkers(t testing.TB, b *chrome.Browser) *swRegistrations {
	t.Helper()
	w := &swRegistrations{scope: map[string]serviceworker.RegistrationID{}}
	err := chromedp.Listen(b.Context(), func(ev any) {
		e, ok := ev.(*serviceworker.EventWorkerRegistrationUpdated)
		if !ok {
			return
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, r := range e.Registrations {
			if r.IsDeleted {
				delete(w.scope, r.ScopeURL)
			} else {
				w.scope[r.ScopeURL] = r.RegistrationID
			}
		}
	})
	if err != nil {
		t.Fatalf("listen to the phone's service workers: %v", err)
	}
	if _, err := chromedp.Call(b.Context(), serviceworker.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("enable the ServiceWorker domain: %v", err)
	}
	return w
}

// wait returns the id of the registration for scope, waiting for the
// browser to report it.
func (w *swRegistrations) wait(t testing.TB, b *chrome.Browser, scope string) serviceworker.RegistrationID {
	t.Helper()
	for {
		w.mu.Lock()
		id, ok := w.scope[scope]
		w.mu.Unlock()
		if ok {
			return id
		}
		select {
		case <-b.Context().Done():
			t.Fatalf("no service worker registration reported for %s", scope)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
