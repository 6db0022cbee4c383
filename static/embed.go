// Package static holds the hosted pages' stylesheets and images, embedded in the
// binary. Serve it with web.Static under /static/; the templates link
// /static/css/latchkey.css and /static/favicon.svg.
package static

import "embed"

// FS holds css/*.css, js/*.js (the passkey script, the only JavaScript) and
// the images.
//
//go:embed css/*.css js/*.js favicon.svg
var FS embed.FS
