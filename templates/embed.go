// Package templates holds the hosted pages' HTML templates and their message catalogs,
// embedded in the binary. Each page under pages/ is rendered inside base.html with the
// shared partials/; locales/<lang>.json hold the messages (see package idp/web).
package templates

import "embed"

// FS holds base.html, partials/*.html, pages/*.html and locales/*.json.
//
//go:embed base.html partials/*.html pages/*.html locales/*.json
var FS embed.FS
