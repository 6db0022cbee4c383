package fcmtest

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
)

const (
	grantType = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	// cloudPlatform also grants FCM.
	cloudPlatform = "https://www.googleapis.com/auth/cloud-platform"
	// Google's words for the failures a sender can cause.
	descSignature = "Invalid JWT Signature."
	descTime      = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."
	// clockSkew is how far in the future an iat may be.
	clockSkew = time.Minute
)

// token is the OAuth 2.0 token endpoint, JWT bearer grant only (RFC 7523
// §2.1, §3).
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.tokenRequests++
	now, lifetime := s.now(), s.lifetime
	fail := s.tokenFailures > 0
	if fail {
		s.tokenFailures--
	}
	s.mu.Unlock()

	if fail {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable", "error_description": "The service is currently unavailable."})
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		oauthError(w, "invalid_request", "Request must be application/x-www-form-urlencoded.")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, "invalid_request", "Malformed form body.")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != grantType {
		oauthError(w, "unsupported_grant_type", "Invalid grant_type: "+gt)
		return
	}
	code, desc := s.checkAssertion(r.PostForm.Get("assertion"), now)
	if code != "" {
		oauthError(w, code, desc)
		return
	}
	tok := "ya29.fake-" + randomB64(64)
	s.mu.Lock()
	s.accessTokens[tok] = now.Add(lifetime)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"expires_in":   int64(lifetime / time.Second),
		"token_type":   "Bearer",
	})
}

// checkAssertion verifies the signed JWT and its claims; it returns the
// OAuth error code and description, or "" when the assertion is good.
func (s *Server) checkAssertion(assertion string, now time.Time) (code, desc string) {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return "invalid_grant", "Invalid JWT: malformed assertion."
	}
	var header struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if !decodeSegment(parts[0], &header) {
		return "invalid_grant", "Invalid JWT: malformed header."
	}
	// Google looks the key up by kid when there is one.
	if header.Alg != "RS256" || (header.Kid != "" && header.Kid != s.PrivateKeyID) {
		return "invalid_grant", descSignature
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return "invalid_grant", descSignature
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(&s.key.PublicKey, crypto.SHA256, digest[:], sig) != nil {
		return "invalid_grant", descSignature
	}
	var claims struct {
		Iss   string `json:"iss"`
		Scope string `json:"scope"`
		Aud   string `json:"aud"`
		Iat   *int64 `json:"iat"`
		Exp   *int64 `json:"exp"`
	}
	if !decodeSegment(parts[1], &claims) {
		return "invalid_grant", "Invalid JWT: malformed claims."
	}
	switch {
	case claims.Iss != s.ClientEmail:
		return "invalid_grant", "Invalid grant: account not found"
	case claims.Aud != s.TokenURL():
		return "invalid_grant", "Invalid JWT: Failed audience check. The expected value was " + s.TokenURL()
	case claims.Iat == nil || claims.Exp == nil:
		return "invalid_grant", descTime
	}
	iat, exp := time.Unix(*claims.Iat, 0), time.Unix(*claims.Exp, 0)
	if iat.After(now.Add(clockSkew)) || !exp.After(now) || exp.Before(iat) || exp.Sub(iat) > time.Hour {
		return "invalid_grant", descTime
	}
	scopes := strings.Fields(claims.Scope)
	if !slices.Contains(scopes, Scope) && !slices.Contains(scopes, cloudPlatform) {
		return "invalid_scope", "Invalid OAuth scope or ID token audience provided."
	}
	return "", ""
}

func decodeSegment(seg string, v any) bool {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	return err == nil && json.Unmarshal(b, v) == nil
}

// oauthError answers as Google's token endpoint does (RFC 6749 §5.2).
func oauthError(w http.ResponseWriter, code, desc string) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
