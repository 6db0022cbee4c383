package web

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func TestRequestID(t *testing.T) {
	generated := regexp.MustCompile(`^[0-9a-f]{32}$`)
	tests := []struct {
		name     string
		incoming string
		keep     bool
	}{
		{"none", "", false},
		{"sane", "abc-DEF_123", true},
		{"max length", strings.Repeat("a", 64), true},
		{"too long", strings.Repeat("a", 65), false},
		{"space", "abc def", false},
		{"header injection", "abc\r\nSet-Cookie: x=y", false},
		{"dot", "a.b", false},
		{"unicode", "ｒｅｑ", false},
		{"html", "<script>", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fromCtx string
			h := RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fromCtx = RequestIDFrom(r.Context())
			}))
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.incoming != "" {
				req.Header[RequestIDHeader] = []string{tt.incoming}
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			got := rec.Header().Get(RequestIDHeader)
			if got != fromCtx {
				t.Errorf("header %q != context %q", got, fromCtx)
			}
			if tt.keep {
				if got != tt.incoming {
					t.Errorf("id = %q, want the incoming %q", got, tt.incoming)
				}
			} else if !generated.MatchString(got) {
				t.Errorf("id = %q, want 32 generated hex digits", got)
			}
		})
	}
	if RequestIDFrom(httptest.NewRequest(http.MethodGet, "/", nil).Context()) != "" {
		t.Error("RequestIDFrom without middleware is not empty")
	}
}

func TestRequestIDIsRandom(t *testing.T) {
	seen := map[string]bool{}
	h := RequestID(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for range 100 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		id := rec.Header().Get(RequestIDHeader)
		if seen[id] {
			t.Fatalf("duplicate request id %q", id)
		}
		seen[id] = true
	}
}

func TestSecurityHeaders(t *testing.T) {
	const wantCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; frame-ancestors 'none'"
	for _, hsts := range []bool{false, true} {
		rec := httptest.NewRecorder()
		SecurityHeaders(hsts)(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		h := rec.Header()
		if got := h.Get("Content-Security-Policy"); got != wantCSP {
			t.Errorf("CSP = %q\nwant  %q", got, wantCSP)
		}
		if strings.Contains(h.Get("Content-Security-Policy"), "form-action") {
			t.Error("CSP must not restrict form-action (breaks redirects to relying parties)")
		}
		for name, want := range map[string]string{
			"X-Content-Type-Options":     "nosniff",
			"X-Frame-Options":            "DENY",
			"Referrer-Policy":            "no-referrer",
			"Cross-Origin-Opener-Policy": "same-origin",
		} {
			if got := h.Get(name); got != want {
				t.Errorf("%s = %q, want %q", name, got, want)
			}
		}
		if pp := h.Get("Permissions-Policy"); !strings.Contains(pp, "camera=()") || strings.Contains(pp, "publickey-credentials") {
			t.Errorf("Permissions-Policy = %q: want camera off and WebAuthn left at its default", pp)
		}
		if got := h.Get("Strict-Transport-Security"); (got != "") != hsts {
			t.Errorf("hsts=%v: Strict-Transport-Security = %q", hsts, got)
		}
	}
}

func TestNoStore(t *testing.T) {
	rec := httptest.NewRecorder()
	NoStore(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("Pragma") != "no-cache" {
		t.Errorf("headers = %v", rec.Header())
	}
}

func TestLimitBody(t *testing.T) {
	var readErr error
	h := LimitBody(4)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, readErr = io.ReadAll(r.Body)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", strings.NewReader("1234")))
	if readErr != nil {
		t.Errorf("body at the limit: %v", readErr)
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", strings.NewReader("12345")))
	var mbe *http.MaxBytesError
	if !errors.As(readErr, &mbe) {
		t.Errorf("body over the limit: err = %v, want *http.MaxBytesError", readErr)
	}
}

func TestChainOrder(t *testing.T) {
	var order []string
	mw := func(name string) func(http.Handler) http.Handler {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				order = append(order, name)
				next.ServeHTTP(w, r)
			})
		}
	}
	h := Chain(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { order = append(order, "handler") }),
		mw("outer"), mw("inner"))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if got := strings.Join(order, ","); got != "outer,inner,handler" {
		t.Errorf("order = %s", got)
	}
}

func TestClientIP(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"direct", "203.0.113.7:5555", nil, "203.0.113.7"},
		{"direct ignores xff", "203.0.113.7:5555", []string{"198.51.100.1"}, "203.0.113.7"},
		{"direct ipv6", "[2001:db8::1]:443", nil, "2001:db8::1"},
		{"mapped ipv4", "[::ffff:203.0.113.7]:1", nil, "203.0.113.7"},
		{"proxy without xff", "10.1.1.1:80", nil, "10.1.1.1"},
		{"proxy", "10.1.1.1:80", []string{"198.51.100.1"}, "198.51.100.1"},
		{"spoofed left hops ignored", "10.1.1.1:80", []string{"1.2.3.4, 198.51.100.1"}, "198.51.100.1"},
		{"chain of proxies", "10.1.1.1:80", []string{"1.2.3.4, 198.51.100.1, 10.2.2.2"}, "198.51.100.1"},
		{"multiple headers", "10.1.1.1:80", []string{"1.2.3.4", "198.51.100.1, 10.2.2.2"}, "198.51.100.1"},
		{"all trusted", "10.1.1.1:80", []string{"10.3.3.3, 10.2.2.2"}, "10.3.3.3"},
		{"hop with port", "10.1.1.1:80", []string{"198.51.100.1:1234"}, "198.51.100.1"},
		{"ipv6 hop", "[fd00::1]:80", []string{"2001:db8::9"}, "2001:db8::9"},
		{"garbage hop stops at last trusted", "10.1.1.1:80", []string{"1.2.3.4, nonsense, 10.2.2.2"}, "10.2.2.2"},
		{"garbage only", "10.1.1.1:80", []string{"nonsense"}, "10.1.1.1"},
		{"remote without port", "203.0.113.7", nil, "203.0.113.7"},
		{"unparseable remote", "pipe", nil, "pipe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := ClientIP(r, proxies); got != tt.want {
				t.Errorf("ClientIP = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestStatic(t *testing.T) {
	fsys := fstest.MapFS{"css/site.css": {Data: []byte("body{}")}}
	srv := http.StripPrefix("/static", Static(fsys))
	tests := []struct {
		path string
		want int
	}{
		{"/static/css/site.css", 200},
		{"/static/css/", 404},
		{"/static/", 404},
		{"/static/missing.css", 404},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
		if rec.Code != tt.want {
			t.Errorf("GET %s = %d, want %d", tt.path, rec.Code, tt.want)
		}
		if tt.want == 200 && rec.Body.String() != "body{}" {
			t.Errorf("GET %s body = %q", tt.path, rec.Body.String())
		}
		if cc := rec.Header().Get("Cache-Control"); (cc != "") != (tt.want == 200) {
			t.Errorf("GET %s Cache-Control = %q: want caching of found files only", tt.path, cc)
		}
	}
}
