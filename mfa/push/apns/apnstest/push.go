package apnstest

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	// maxPayload is APNs' limit for a notification's payload.
	maxPayload = 4096
	// providerTokenMaxAge: older tokens are ExpiredProviderToken.
	providerTokenMaxAge = time.Hour
	// providerTokenMinInterval: a connection's token may change no more
	// often (TooManyProviderTokenUpdates).
	providerTokenMinInterval = 20 * time.Minute
	// clockSkew is how far in the future an iat may be.
	clockSkew = time.Minute
)

var (
	uuidRe = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	// Device tokens are hex; 32 bytes today, and Apple warns they may grow.
	deviceTokenRe = regexp.MustCompile(`^(?:[0-9a-fA-F]{2}){32,100}$`)
	pushTypes     = []string{"alert", "background", "location", "voip", "complication", "fileprovider", "mdm", "liveactivity", "pushtotalk", "widgets", "controls"}
	// Headers APNs refuses to see twice.
	singleHeaders = []string{"Authorization", "Apns-Topic", "Apns-Push-Type", "Apns-Priority", "Apns-Expiration", "Apns-Id", "Apns-Collapse-Id"}
)

// push is POST /3/device/<token>. The checks run in the order APNs'
// answers suggest: transport, path, authentication, headers, token,
// payload, then the device.
func (s *Server) push(w http.ResponseWriter, r *http.Request) {
	if !requireHTTP2(w, r) {
		return
	}
	s.count()
	// APNs answers every request with an apns-id: the sender's, or its own.
	id := r.Header.Get("apns-id")
	if !uuidRe.MatchString(id) {
		id = newUUID()
	}
	w.Header().Set("apns-id", id)
	if r.Method != http.MethodPost {
		reason(w, http.StatusMethodNotAllowed, "MethodNotAllowed")
		return
	}
	token := r.PathValue("token")
	if token == "" {
		reason(w, http.StatusBadRequest, "MissingDeviceToken")
		return
	}
	for _, h := range singleHeaders {
		if len(r.Header.Values(h)) > 1 {
			reason(w, http.StatusBadRequest, "DuplicateHeaders")
			return
		}
	}
	iat, status, why := s.checkProviderToken(r)
	if why != "" {
		reason(w, status, why)
		return
	}
	n := Notification{
		Token:      token,
		Topic:      r.Header.Get("apns-topic"),
		PushType:   r.Header.Get("apns-push-type"),
		Priority:   r.Header.Get("apns-priority"),
		Expiration: r.Header.Get("apns-expiration"),
		ID:         r.Header.Get("apns-id"),
		IssuedAt:   iat,
	}
	if status, why := s.checkHeaders(n, r); why != "" {
		reason(w, status, why)
		return
	}
	if !deviceTokenRe.MatchString(token) {
		reason(w, http.StatusBadRequest, BadDeviceToken)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPayload+1))
	if err != nil {
		reason(w, http.StatusBadRequest, "PayloadEmpty")
		return
	}
	if status, why := checkPayload(body, n.PushType); why != "" {
		reason(w, status, why)
		return
	}
	n.Payload = body

	s.mu.Lock()
	d := s.devices[token]
	var failure int
	var permanent string
	var at time.Time
	if d != nil {
		if len(d.Failures) > 0 {
			failure, d.Failures = d.Failures[0], d.Failures[1:]
		}
		permanent, at = d.Reason, d.UnregisteredAt
	}
	if at.IsZero() {
		at = s.now()
	}
	if failure == 0 && permanent == "" {
		s.notifications = append(s.notifications, n)
	}
	s.mu.Unlock()

	switch {
	case failure == http.StatusTooManyRequests:
		reason(w, failure, "TooManyRequests")
	case failure == http.StatusServiceUnavailable:
		reason(w, failure, "ServiceUnavailable")
	case failure != 0:
		reason(w, failure, "InternalServerError")
	case permanent == Unregistered:
		writeJSON(w, http.StatusGone, map[string]any{"reason": Unregistered, "timestamp": at.UnixMilli()})
	case permanent != "":
		reason(w, http.StatusBadRequest, permanent)
	default:
		w.WriteHeader(http.StatusOK)
	}
}

// requireHTTP2 refuses anything but HTTP/2, as APNs does: it negotiates h2
// only. (Go's TLS server still lets a client that offered only http/1.1
// connect without ALPN, so the handler checks too.)
func requireHTTP2(w http.ResponseWriter, r *http.Request) bool {
	if r.ProtoMajor == 2 {
		return true
	}
	w.Header().Set("Connection", "close")
	http.Error(w, "APNs requires HTTP/2", http.StatusHTTPVersionNotSupported)
	return false
}

// checkProviderToken verifies "authorization: bearer <JWT>" and returns
// the token's iat, or the status and reason to answer.
func (s *Server) checkProviderToken(r *http.Request) (time.Time, int, string) {
	const forbidden = http.StatusForbidden
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || tok == "" {
		return time.Time{}, forbidden, "MissingProviderToken"
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}, forbidden, "InvalidProviderToken"
	}
	var header struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	var claims struct {
		Iss string `json:"iss"`
		Iat *int64 `json:"iat"`
	}
	if !decodeSegment(parts[0], &header) || !decodeSegment(parts[1], &claims) ||
		header.Alg != "ES256" || header.Kid != s.KeyID || claims.Iss != s.TeamID || claims.Iat == nil {
		return time.Time{}, forbidden, "InvalidProviderToken"
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err != nil || len(sig) != 64 ||
		!ecdsa.Verify(&s.key.PublicKey, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return time.Time{}, forbidden, "InvalidProviderToken"
	}
	iat := time.Unix(*claims.Iat, 0)

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	switch {
	case iat.After(now.Add(clockSkew)):
		return iat, forbidden, "InvalidProviderToken"
	case now.Sub(iat) > providerTokenMaxAge:
		return iat, forbidden, "ExpiredProviderToken"
	}
	// Requests on one HTTP/2 connection share its RemoteAddr.
	c := s.conns[r.RemoteAddr]
	if c == nil {
		c = &connState{}
		s.conns[r.RemoteAddr] = c
	}
	if c.token != tok {
		if c.token != "" && now.Sub(c.since) < providerTokenMinInterval {
			return iat, http.StatusTooManyRequests, "TooManyProviderTokenUpdates"
		}
		c.token, c.since = tok, now
	}
	s.providerTokens[tok] = true
	return iat, 0, ""
}

// checkHeaders checks the apns-* headers.
func (s *Server) checkHeaders(n Notification, r *http.Request) (int, string) {
	const badRequest = http.StatusBadRequest
	switch {
	case n.Topic == "":
		return badRequest, "MissingTopic"
	case n.Topic != s.Topic:
		return badRequest, "TopicDisallowed"
	// Apple requires apns-push-type on watchOS and recommends it
	// everywhere; the fake requires it.
	case !slices.Contains(pushTypes, n.PushType):
		return badRequest, "InvalidPushType"
	case n.Priority != "" && n.Priority != "10" && n.Priority != "5" && n.Priority != "1":
		return badRequest, "BadPriority"
	// A background push must have priority 5 (or 1).
	case n.PushType == "background" && (n.Priority == "" || n.Priority == "10"):
		return badRequest, "BadPriority"
	case n.Expiration != "" && !isUint(n.Expiration):
		return badRequest, "BadExpirationDate"
	case n.ID != "" && !uuidRe.MatchString(n.ID):
		return badRequest, "BadMessageId"
	case len(r.Header.Get("apns-collapse-id")) > 64:
		return badRequest, "BadCollapseId"
	}
	return 0, ""
}

// checkPayload checks the body: a JSON object of at most 4 KB with an aps
// dictionary that suits the push type. Apple documents no reason for
// malformed JSON; the fake answers "BadPayload", which only a broken sender
// can meet.
func checkPayload(body []byte, pushType string) (int, string) {
	switch {
	case len(body) == 0:
		return http.StatusBadRequest, "PayloadEmpty"
	case len(body) > maxPayload:
		return http.StatusRequestEntityTooLarge, "PayloadTooLarge"
	}
	var p struct {
		APS map[string]json.RawMessage `json:"aps"`
	}
	if json.Unmarshal(body, &p) != nil || p.APS == nil {
		return http.StatusBadRequest, "BadPayload"
	}
	switch pushType {
	case "alert":
		_, alert := p.APS["alert"]
		_, sound := p.APS["sound"]
		_, badge := p.APS["badge"]
		if !alert && !sound && !badge {
			return http.StatusBadRequest, "BadPayload"
		}
	case "background":
		if string(p.APS["content-available"]) != "1" {
			return http.StatusBadRequest, "BadPayload"
		}
	}
	return 0, ""
}

func isUint(s string) bool {
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

func decodeSegment(seg string, v any) bool {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	return err == nil && json.Unmarshal(b, v) == nil
}

// reason answers APNs' error body.
func reason(w http.ResponseWriter, status int, why string) {
	writeJSON(w, status, map[string]string{"reason": why})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := strings.ToUpper(hex.EncodeToString(b[:]))
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
