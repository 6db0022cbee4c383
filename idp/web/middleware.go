package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Chain wraps h in the middlewares; the first listed is the outermost, so it sees the
// request first.
func Chain(h http.Handler, mws ...func(http.Handler) http.Handler) http.Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

type requestIDKey struct{}

// RequestIDHeader carries the request id in both directions.
const RequestIDHeader = "X-Request-Id"

const maxRequestIDLen = 64

// RequestID gives every request an id: a sane incoming X-Request-Id (from a proxy that
// already assigned one) or 16 random bytes in hex. The id is stored in the context for
// [RequestIDFrom] and echoed in the response so users can quote it to support.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set(RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// RequestIDFrom returns the id [RequestID] stored in ctx, or "" if there is none.
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// validRequestID accepts only what is safe to echo in headers, logs and pages.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error since Go 1.24.
	return hex.EncodeToString(b[:])
}

// ContentSecurityPolicy is the policy of every response. It has no form-action
// directive on purpose: Chrome applies form-action to the redirects that follow a form
// post, which would block the redirect back to a relying party after sign-in.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; font-src 'self'; manifest-src 'self'; " +
	"base-uri 'none'; frame-ancestors 'none'"

// permissionsPolicy turns off powerful features the hosted pages never use. WebAuthn
// (publickey-credentials-*) keeps its default, self, so passkeys work. Only features
// Chromium recognises are listed: it logs a warning on every page for any other
// (bluetooth is one, although Web Bluetooth exists); TestPermissionsPolicyInChromium
// checks the list against a real browser.
const permissionsPolicy = "accelerometer=(), autoplay=(), camera=(), display-capture=(), " +
	"geolocation=(), gyroscope=(), magnetometer=(), microphone=(), midi=(), payment=(), " +
	"usb=(), serial=(), hid=(), browsing-topics=()"

// SecurityHeaders sets the security headers of every response. hsts adds
// Strict-Transport-Security; enable it only when the issuer is served over HTTPS.
func SecurityHeaders(hsts bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Content-Security-Policy", ContentSecurityPolicy)
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("X-Frame-Options", "DENY")
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("Cross-Origin-Opener-Policy", "same-origin")
			h.Set("Permissions-Policy", permissionsPolicy)
			if hsts {
				// No includeSubDomains: the operator's other hosts are not ours to pin.
				h.Set("Strict-Transport-Security", "max-age=63072000")
			}
			next.ServeHTTP(w, r)
		})
	}
}

// NoStore forbids caching of the response: sign-in pages, token and userinfo responses
// (RFC 6749 section 5.1 requires it for tokens).
func NoStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		next.ServeHTTP(w, r)
	})
}

// LimitBody caps the request body at n bytes; reading past it fails with
// *http.MaxBytesError, which [Handle] maps to 413.
func LimitBody(n int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Body = http.MaxBytesReader(w, r.Body, n)
			next.ServeHTTP(w, r)
		})
	}
}

// ClientIP returns the address of the client: the host of RemoteAddr, or, when
// RemoteAddr is one of trustedProxies, the right-most X-Forwarded-For hop that is not a
// trusted proxy. Hops left of that are supplied by the client and cannot be believed.
func ClientIP(r *http.Request, trustedProxies []netip.Prefix) string {
	remote, ok := parseHop(r.RemoteAddr)
	if !ok {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			return r.RemoteAddr
		}
		return host
	}
	if !trusted(remote, trustedProxies) {
		return remote.String()
	}
	hops := forwardedHops(r.Header.Values("X-Forwarded-For"))
	client := remote
	for i := len(hops) - 1; i >= 0; i-- {
		addr, ok := parseHop(hops[i])
		if !ok {
			// A hop we cannot read breaks the chain; the last trusted proxy is the best
			// address we can vouch for.
			break
		}
		client = addr
		if !trusted(addr, trustedProxies) {
			break
		}
	}
	return client.String()
}

func forwardedHops(values []string) []string {
	var hops []string
	for _, v := range values {
		for _, h := range strings.Split(v, ",") {
			hops = append(hops, strings.TrimSpace(h))
		}
	}
	return hops
}

// parseHop reads an address with or without a port, as proxies write both.
func parseHop(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil {
		return a.Unmap(), true
	}
	return netip.Addr{}, false
}

func trusted(a netip.Addr, prefixes []netip.Prefix) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Static serves the files of fsys (the static assets) without directory listings.
// Mount it under a prefix with http.StripPrefix, e.g.
// mux.Handle("GET /static/", http.StripPrefix("/static", web.Static(static.FS))).
func Static(fsys fs.FS) http.Handler {
	files := http.FileServerFS(noDirs{fsys})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}

// noDirs hides directories, so the file server answers 404 instead of a listing.
type noDirs struct{ fsys fs.FS }

func (n noDirs) Open(name string) (fs.File, error) {
	f, err := n.fsys.Open(name)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.IsDir() {
		f.Close()
		return nil, fs.ErrNotExist
	}
	return f, nil
}
