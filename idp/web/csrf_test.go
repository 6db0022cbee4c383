package web

import (
	"bytes"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

var testCSRFKey = bytes.Repeat([]byte{7}, 32)

// issue runs a GET through Token and returns the cookie and form token it produced.
func issue(t *testing.T, c *CSRF) (*http.Cookie, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	token := c.Token(rec, httptest.NewRequest(http.MethodGet, "https://idp.example/login", nil))
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("Token set %d cookies, want 1", len(cookies))
	}
	return cookies[0], token
}

func TestCSRFTokenCookie(t *testing.T) {
	for _, secure := range []bool{true, false} {
		ck, token := issue(t, NewCSRF(testCSRFKey, secure))
		wantName := "latchkey_csrf"
		if secure {
			wantName = "__Host-latchkey_csrf"
		}
		if ck.Name != wantName || ck.Path != "/" || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode ||
			ck.Secure != secure || ck.Domain != "" {
			t.Errorf("secure=%v: cookie = %+v", secure, ck)
		}
		if token == "" || token == ck.Value {
			t.Errorf("token %q must be derived from, not equal to, the cookie", token)
		}
	}
}

func TestCSRFTokenReusesCookie(t *testing.T) {
	c := NewCSRF(testCSRFKey, true)
	ck, token := issue(t, c)

	// A second form on the same response reuses the cookie being set.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	t1, t2 := c.Token(rec, req), c.Token(rec, req)
	if t1 != t2 || len(rec.Result().Cookies()) != 1 {
		t.Errorf("two calls on one response: tokens %q %q, %d cookies", t1, t2, len(rec.Result().Cookies()))
	}

	// A browser that has the cookie gets the same token and no new cookie.
	rec = httptest.NewRecorder()
	req = httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(ck)
	if got := c.Token(rec, req); got != token {
		t.Errorf("token with cookie = %q, want %q", got, token)
	}
	if len(rec.Result().Cookies()) != 0 {
		t.Error("Token replaced an existing valid cookie")
	}

	// A malformed cookie is replaced.
	rec = httptest.NewRecorder()
	req = httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(&http.Cookie{Name: ck.Name, Value: "short"})
	c.Token(rec, req)
	if len(rec.Result().Cookies()) != 1 {
		t.Error("Token kept a malformed cookie")
	}
}

func TestCSRFProtect(t *testing.T) {
	c := NewCSRF(testCSRFKey, true)
	ck, token := issue(t, c)
	otherCk, otherToken := issue(t, c)
	_, foreignToken := issue(t, NewCSRF(bytes.Repeat([]byte{8}, 32), true))

	form := func(tok string) string { return url.Values{"csrf_token": {tok}, "email": {"a@b.c"}}.Encode() }
	tests := []struct {
		name    string
		method  string
		target  string
		body    string
		cookie  *http.Cookie
		headers map[string]string
		wantErr error // nil: the request reaches the handler
	}{
		{name: "GET passes without anything", method: http.MethodGet, target: "/login"},
		{name: "HEAD passes", method: http.MethodHead, target: "/login"},
		{name: "valid POST", method: http.MethodPost, target: "/login", body: form(token), cookie: ck},
		{name: "valid same-origin POST", method: http.MethodPost, target: "/login", body: form(token), cookie: ck,
			headers: map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "https://idp.example"}},
		{name: "missing cookie", method: http.MethodPost, target: "/login", body: form(token), wantErr: ErrCSRFCookie},
		{name: "missing token", method: http.MethodPost, target: "/login", body: "email=a", cookie: ck, wantErr: ErrCSRFToken},
		{name: "wrong token", method: http.MethodPost, target: "/login", body: form("AAAA"), cookie: ck, wantErr: ErrCSRFToken},
		{name: "not base64", method: http.MethodPost, target: "/login", body: form("!!!"), cookie: ck, wantErr: ErrCSRFToken},
		{name: "token of another cookie", method: http.MethodPost, target: "/login", body: form(otherToken), cookie: ck, wantErr: ErrCSRFToken},
		{name: "cookie of another token", method: http.MethodPost, target: "/login", body: form(token), cookie: otherCk, wantErr: ErrCSRFToken},
		{name: "token under another key", method: http.MethodPost, target: "/login", body: form(foreignToken), cookie: ck, wantErr: ErrCSRFToken},
		{name: "token in query only", method: http.MethodPost, target: "/login?csrf_token=" + url.QueryEscape(token), body: "email=a", cookie: ck, wantErr: ErrCSRFToken},
		{name: "cross-site", method: http.MethodPost, target: "/login", body: form(token), cookie: ck,
			headers: map[string]string{"Sec-Fetch-Site": "cross-site"}, wantErr: ErrCrossOrigin},
		{name: "same-site other origin", method: http.MethodPost, target: "/login", body: form(token), cookie: ck,
			headers: map[string]string{"Sec-Fetch-Site": "same-site"}, wantErr: ErrCrossOrigin},
		{name: "foreign Origin without Sec-Fetch-Site", method: http.MethodPost, target: "/login", body: form(token), cookie: ck,
			headers: map[string]string{"Origin": "https://evil.example"}, wantErr: ErrCrossOrigin},
		{name: "DELETE is checked", method: http.MethodDelete, target: "/x", wantErr: ErrCSRFCookie},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotReason error
			failure := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotReason = CSRFFailure(r)
				w.WriteHeader(http.StatusForbidden)
			})
			reached := false
			h := c.WithFailureHandler(failure).Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				reached = true
				if r.Method == http.MethodPost && r.PostFormValue("email") != "a@b.c" {
					t.Error("form fields are not readable after Protect")
				}
			}))
			req := httptest.NewRequest(tt.method, "https://idp.example"+tt.target, strings.NewReader(tt.body))
			if tt.body != "" {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			if tt.cookie != nil {
				req.AddCookie(tt.cookie)
			}
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if tt.wantErr == nil {
				if !reached || rec.Code != http.StatusOK {
					t.Errorf("rejected a valid request: %d %v", rec.Code, gotReason)
				}
				return
			}
			if reached || rec.Code != http.StatusForbidden {
				t.Fatalf("accepted: reached=%v status=%d", reached, rec.Code)
			}
			if !errors.Is(gotReason, tt.wantErr) {
				t.Errorf("reason = %v, want %v", gotReason, tt.wantErr)
			}
		})
	}
}

func TestCSRFMultipart(t *testing.T) {
	c := NewCSRF(testCSRFKey, false)
	ck, token := issue(t, c)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("csrf_token", token)
	mw.Close()
	req := httptest.NewRequest(http.MethodPost, "/upload", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.AddCookie(ck)
	rec := httptest.NewRecorder()
	c.Protect(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Errorf("multipart POST with a valid token = %d", rec.Code)
	}
}

func TestCSRFDefaultFailureAndCopy(t *testing.T) {
	base := NewCSRF(testCSRFKey, false)
	_ = base.WithFailureHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(418) }))
	rec := httptest.NewRecorder()
	base.Protect(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	if rec.Code != http.StatusForbidden {
		t.Errorf("default failure = %d, want 403 (WithFailureHandler must not modify the receiver)", rec.Code)
	}
	body, _ := io.ReadAll(rec.Body)
	if !strings.Contains(string(body), "Forbidden") {
		t.Errorf("default failure body = %q", body)
	}
}

func TestNewCSRFShortKey(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewCSRF accepted a 16-byte key")
		}
	}()
	NewCSRF(make([]byte, 16), true)
}
