package fcmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	fcmErrorType   = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
	badRequestType = "type.googleapis.com/google.rpc.BadRequest"
	// maxTTL is four weeks, FCM's limit for android.ttl.
	maxTTL = 28 * 24 * time.Hour
	// maxData is FCM's limit on a message's data payload.
	maxData = 4096
	// maxToken bounds a registration token; real ones are about 160
	// characters.
	maxToken = 4096
)

var (
	// A google.protobuf.Duration in JSON: seconds with up to nine decimals.
	ttlRe = regexp.MustCompile(`^([0-9]+)(\.[0-9]{1,9})?s$`)
	// Registration tokens are URL-safe base64 with a colon.
	tokenRe = regexp.MustCompile(`^[A-Za-z0-9_:-]+$`)
	// Fields a v1 Message has; anything else is "Unknown name".
	messageFields = []string{"name", "data", "notification", "android", "webpush", "apns", "fcm_options", "token", "topic", "condition"}
	androidFields = []string{"collapse_key", "priority", "ttl", "restricted_package_name", "data", "notification", "fcm_options", "direct_boot_ok"}
	// Data keys FCM reserves.
	reservedKeys = []string{"from", "notification", "message_type"}
)

// violation is one google.rpc.BadRequest field violation.
type violation struct {
	Field       string `json:"field"`
	Description string `json:"description"`
}

// send is projects.messages.send.
func (s *Server) send(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.sendRequests++
	s.mu.Unlock()

	if !s.authorized(r.Header.Get("Authorization")) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/", error="invalid_token"`)
		writeStatus(w, http.StatusUnauthorized, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.", "", nil)
		return
	}
	project := r.PathValue("project")
	if project != s.ProjectID {
		writeStatus(w, http.StatusForbidden, "PERMISSION_DENIED", fmt.Sprintf("Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/%s' (or it may not exist).", project), "", nil)
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeStatus(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received. Content-Type must be application/json.", "", nil)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeStatus(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Could not read the request body.", "", nil)
		return
	}
	m, validateOnly, vs := parseMessage(body)
	if len(vs) > 0 {
		writeStatus(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Request contains an invalid argument.", "INVALID_ARGUMENT", vs)
		return
	}
	m.ProjectID, m.Body = project, body

	s.mu.Lock()
	d := s.devices[m.Token]
	var failure int
	var retryAfter, permanent string
	if d != nil {
		if len(d.Failures) > 0 {
			failure, d.Failures = d.Failures[0], d.Failures[1:]
		}
		retryAfter, permanent = d.RetryAfter, d.Permanent
	}
	s.mu.Unlock()

	switch {
	case failure != 0:
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		writeTransient(w, failure)
		return
	case permanent == Unregistered:
		writeStatus(w, http.StatusNotFound, "NOT_FOUND", "Requested entity was not found.", Unregistered, nil)
		return
	case permanent == InvalidToken:
		writeStatus(w, http.StatusBadRequest, "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token", InvalidToken, nil)
		return
	case permanent == SenderIDMismatch:
		writeStatus(w, http.StatusForbidden, "PERMISSION_DENIED", "SenderId mismatch", SenderIDMismatch, nil)
		return
	}

	s.mu.Lock()
	id := len(s.messages) + 1
	if !validateOnly {
		s.messages = append(s.messages, m)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"name": fmt.Sprintf("projects/%s/messages/0:%d%%%s", project, id, randomHex(8))})
}

// authorized checks the bearer token against those the token endpoint
// issued, by the fake's clock.
func (s *Server) authorized(h string) bool {
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reject > 0 {
		s.reject--
		return false
	}
	expiry, ok := s.accessTokens[tok]
	return ok && s.now().Before(expiry)
}

// parseMessage checks a send request's body as FCM does, plus Latchkey's
// data-only rule, and returns the message or the field violations.
func parseMessage(body []byte) (m Message, validateOnly bool, vs []violation) {
	bad := func(field, desc string) { vs = append(vs, violation{field, desc}) }
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		bad("", "Invalid JSON payload received.")
		return m, false, vs
	}
	for k := range top {
		if k != "message" && k != "validate_only" {
			bad("", fmt.Sprintf("Invalid JSON payload received. Unknown name %q: Cannot find field.", k))
		}
	}
	if raw, ok := top["validate_only"]; ok && json.Unmarshal(raw, &validateOnly) != nil {
		bad("validate_only", "Invalid value: must be a boolean.")
	}
	var msg map[string]json.RawMessage
	if raw, ok := top["message"]; !ok || json.Unmarshal(raw, &msg) != nil {
		bad("message", "Message must be an object.")
		return m, validateOnly, vs
	}
	for k := range msg {
		if !slices.Contains(messageFields, k) {
			bad("", fmt.Sprintf("Invalid JSON payload received. Unknown name %q at 'message': Cannot find field.", k))
		}
	}
	if _, ok := msg["notification"]; ok {
		bad("message.notification", "Latchkey pushes are data-only: a notification block would be displayed without the app and carry content.")
	}
	if _, ok := msg["topic"]; ok {
		bad("message.topic", "Latchkey pushes go to one registration token, never a topic.")
	}
	if _, ok := msg["condition"]; ok {
		bad("message.condition", "Latchkey pushes go to one registration token, never a condition.")
	}
	switch raw, ok := msg["token"]; {
	case !ok:
		bad("message.token", "A registration token is required.")
	case json.Unmarshal(raw, &m.Token) != nil || len(m.Token) > maxToken || !tokenRe.MatchString(m.Token):
		bad("message.token", "The registration token is not a valid FCM registration token")
	}
	if raw, ok := msg["data"]; ok {
		if json.Unmarshal(raw, &m.Data) != nil {
			bad("message.data", "Invalid value: data values must be strings.")
		}
		size := 0
		for k, v := range m.Data {
			size += len(k) + len(v)
			if slices.Contains(reservedKeys, k) || strings.HasPrefix(k, "google.") || strings.HasPrefix(k, "gcm.") {
				bad("message.data", fmt.Sprintf("Invalid data key %q: reserved.", k))
			}
		}
		if size > maxData {
			bad("message.data", "Message data is too big.")
		}
	}
	if raw, ok := msg["android"]; ok {
		m.Priority, m.TTL, vs = parseAndroid(raw, vs)
	}
	return m, validateOnly, vs
}

func parseAndroid(raw json.RawMessage, vs []violation) (priority, ttl string, _ []violation) {
	bad := func(field, desc string) { vs = append(vs, violation{field, desc}) }
	var a map[string]json.RawMessage
	if json.Unmarshal(raw, &a) != nil {
		bad("message.android", "Invalid value: must be an object.")
		return "", "", vs
	}
	for k := range a {
		if !slices.Contains(androidFields, k) {
			bad("", fmt.Sprintf("Invalid JSON payload received. Unknown name %q at 'message.android': Cannot find field.", k))
		}
	}
	if _, ok := a["notification"]; ok {
		bad("message.android.notification", "Latchkey pushes are data-only: no notification block.")
	}
	if p, ok := a["priority"]; ok {
		if json.Unmarshal(p, &priority) != nil || (priority != "NORMAL" && priority != "HIGH") {
			bad("message.android.priority", fmt.Sprintf("Invalid value at 'message.android.priority' (type.googleapis.com/google.firebase.fcm.v1.AndroidMessagePriority), %s", p))
		}
	}
	if t, ok := a["ttl"]; ok {
		if json.Unmarshal(t, &ttl) != nil || !validTTL(ttl) {
			bad("message.android.ttl", "Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration), "+string(t))
		}
	}
	return priority, ttl, vs
}

func validTTL(ttl string) bool {
	m := ttlRe.FindStringSubmatch(ttl)
	if m == nil {
		return false
	}
	secs, err := strconv.ParseInt(m[1], 10, 64)
	return err == nil && secs <= int64(maxTTL/time.Second)
}

// writeTransient answers one of the statuses FCM asks to retry.
func writeTransient(w http.ResponseWriter, status int) {
	switch status {
	case http.StatusTooManyRequests:
		writeStatus(w, status, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Send requests' of service 'fcm.googleapis.com'.", "QUOTA_EXCEEDED", nil)
	case http.StatusServiceUnavailable:
		writeStatus(w, status, "UNAVAILABLE", "The service is currently unavailable.", "UNAVAILABLE", nil)
	case http.StatusInternalServerError:
		writeStatus(w, status, "INTERNAL", "Internal error encountered.", "INTERNAL", nil)
	default:
		// Anything else as a front end's HTML page, which has no JSON.
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "<html><body>Error "+strconv.Itoa(status)+"</body></html>")
	}
}

// writeStatus answers a google.rpc.Status, with an FcmError detail when
// errorCode is set and a BadRequest detail for field violations.
func writeStatus(w http.ResponseWriter, code int, status, msg, errorCode string, vs []violation) {
	var details []any
	if errorCode != "" {
		details = append(details, map[string]string{"@type": fcmErrorType, "errorCode": errorCode})
	}
	if len(vs) > 0 {
		details = append(details, map[string]any{"@type": badRequestType, "fieldViolations": vs})
	}
	e := map[string]any{"code": code, "message": msg, "status": status}
	if details != nil {
		e["details"] = details
	}
	writeJSON(w, code, map[string]any{"error": e})
}
