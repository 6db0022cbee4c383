// Package authenticator holds Latchkey Authenticator, the companion web app
// served at {issuer}/authenticator: a page, its scripts, a service worker
// and a web app manifest. Plain JavaScript with no build step; it speaks
// the device protocol of docs/push-protocol.md.
//
//   - index.html: the page (served at /authenticator itself)
//   - device.js: the protocol (key, signing, requests), shared by the page
//     and the service worker
//   - strings.js: the English and Japanese text, also shared
//   - app.js: the page's behaviour
//   - sw.js: the service worker (push, notification click, subscription
//     change)
//   - app.css, icon.svg, manifest.webmanifest
package authenticator

import "embed"

// FS holds the app's files.
//
//go:embed index.html *.js app.css icon.svg manifest.webmanifest
var FS embed.FS
