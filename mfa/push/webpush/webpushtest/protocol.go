package webpushtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// maxBody is the payload limit every push service must support (RFC 8030
// Section 7.2) and the one they enforce: 4096 octets of encrypted body.
const maxBody = 4096

// moreInfo is autopush's link in every error body.
const moreInfo = "http://autopush.readthedocs.io/en/latest/http.html#error-codes"

var (
	ttlRe   = regexp.MustCompile(`^[0-9]{1,10}$`)
	topicRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)
)

// urgencies are RFC 8030 Section 5.3's four levels.
var urgencies = map[string]bool{"very-low": true, "low": true, "normal": true, "high": true}

// receive is POST /push/{id}: the push service's side of RFC 8030
// Section 5.
func (s *Server) receive(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	st, ok := s.subs[id]
	now := s.now()
	s.mu.Unlock()
	if !ok {
		s.fail(w, id, http.StatusNotFound, 102, "Invalid subscription", r.Header)
		return
	}

	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		s.fail(w, id, http.StatusBadRequest, 0, "Could not read the body", r.Header)
		return
	}
	if len(body) > maxBody {
		s.fail(w, id, http.StatusRequestEntityTooLarge, 104, fmt.Sprintf("Data payload must be smaller than %d bytes", maxBody), r.Header)
		return
	}
	ttl := r.Header.Get("TTL")
	if !ttlRe.MatchString(ttl) {
		s.fail(w, id, http.StatusBadRequest, 111, "Missing TTL value", r.Header)
		return
	}
	ttlSeconds, _ := strconv.Atoi(ttl)
	urgency := r.Header.Get("Urgency")
	if urgency != "" && !urgencies[urgency] {
		s.fail(w, id, http.StatusBadRequest, 0, "Urgency must be very-low, low, normal or high", r.Header)
		return
	}
	topic := r.Header.Get("Topic")
	if topic != "" && !topicRe.MatchString(topic) {
		s.fail(w, id, http.StatusBadRequest, 0, "Topic must be at most 32 characters of the base64url alphabet", r.Header)
		return
	}
	if len(body) > 0 && !strings.EqualFold(strings.TrimSpace(r.Header.Get("Content-Encoding")), "aes128gcm") {
		s.fail(w, id, http.StatusBadRequest, 110, "Unknown Content-Encoding: only aes128gcm is accepted", r.Header)
		return
	}
	v, status, msg := s.verifyVAPID(r.Header.Get("Authorization"), st, now)
	if status != 0 {
		s.fail(w, id, status, 109, msg, r.Header)
		return
	}

	// Scripted behaviour, once the request is a valid one.
	s.mu.Lock()
	b := &st.behavior
	var answer, stall bool
	var retryAfter string
	switch {
	case b.Status != 0:
		status, answer = b.Status, true
	case b.ServerErrors > 0:
		b.ServerErrors--
		status, answer = http.StatusInternalServerError, true
	case b.RateLimited > 0:
		b.RateLimited--
		status, answer, retryAfter = http.StatusTooManyRequests, true, b.RetryAfter
	case b.Stall > 0:
		b.Stall--
		stall = true
	}
	s.mu.Unlock()
	if stall {
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
		s.record(Request{SubscriptionID: id, Message: "stalled until the client gave up", Header: r.Header.Clone()})
		return
	}
	if answer {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		s.fail(w, id, status, scriptedErrno(status), "Scripted answer", r.Header)
		return
	}

	p := Push{
		SubscriptionID: id,
		TTL:            ttlSeconds,
		Urgency:        urgency,
		Topic:          topic,
		VAPIDKey:       v.key,
		Subject:        v.sub,
		Audience:       v.aud,
		Expires:        v.exp,
		Received:       now,
	}
	if len(body) > 0 {
		p.Payload, p.Err = decrypt(body, st.priv, st.auth)
	}
	s.mu.Lock()
	s.pushes = append(s.pushes, p)
	onPush, lenient := s.onPush, s.undecrypted
	s.mu.Unlock()
	if p.Err != nil && !lenient {
		s.t.Errorf("webpushtest: a push to subscription %s does not decrypt: %v", id, p.Err)
	}
	s.record(Request{SubscriptionID: id, Status: http.StatusCreated, Header: r.Header.Clone()})
	if onPush != nil {
		s.pending.Add(1)
		go func() {
			defer s.pending.Done()
			onPush(p)
		}()
	}
	w.Header().Set("Location", s.origin+"/m/"+randomID())
	w.WriteHeader(http.StatusCreated)
}

func scriptedErrno(status int) int {
	switch status {
	case http.StatusGone:
		return 106
	case http.StatusNotFound:
		return 102
	case http.StatusRequestEntityTooLarge:
		return 104
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return 201
	}
	return 0
}

// fail answers with autopush's JSON error body and records the request.
func (s *Server) fail(w http.ResponseWriter, id string, status, errno int, message string, h http.Header) {
	s.record(Request{SubscriptionID: id, Status: status, Errno: errno, Message: message, Header: h.Clone()})
	body := map[string]any{
		"code":      status,
		"errno":     nil,
		"error":     http.StatusText(status),
		"message":   message,
		"more_info": moreInfo,
	}
	if errno != 0 {
		body["errno"] = errno
	}
	if status == http.StatusGone {
		w.Header().Set("Cache-Control", "max-age=86400")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func (s *Server) record(r Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r)
}

// vapid is what a verified Authorization header said.
type vapid struct {
	key, sub, aud string
	exp           time.Time
}

// verifyVAPID checks the header of RFC 8292 Section 3 and its token
// (Section 2); a non-zero status is the refusal.
func (s *Server) verifyVAPID(header string, st *subscription, now time.Time) (vapid, int, string) {
	var v vapid
	unauthorized := func(format string, args ...any) (vapid, int, string) {
		return v, http.StatusUnauthorized, fmt.Sprintf(format, args...)
	}
	if header == "" {
		return unauthorized("Missing Authorization header: a vapid token is required")
	}
	scheme, params, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "vapid") {
		return unauthorized("Authorization scheme %q: want vapid (RFC 8292)", scheme)
	}
	var token, key string
	for p := range strings.SplitSeq(params, ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch strings.ToLower(name) {
		case "t":
			token = value
		case "k":
			key = value
		}
	}
	if token == "" || key == "" {
		return unauthorized("vapid Authorization needs t= and k=")
	}
	point, err := decodeB64(key)
	if err != nil {
		return unauthorized("k is not base64url")
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	if err != nil {
		return unauthorized("k is not an uncompressed P-256 public key")
	}
	v.key = base64.RawURLEncoding.EncodeToString(point)

	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return unauthorized("t is not a compact JWS")
	}
	var head struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
	}
	if err := decodeJSONPart(parts[0], &head); err != nil {
		return unauthorized("JWT header: %v", err)
	}
	if head.Alg != "ES256" {
		return unauthorized("JWT alg %q: want ES256", head.Alg)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return unauthorized("JWT signature must be 64 octets of R || S")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, sv := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(pub, digest[:], r, sv) {
		return unauthorized("JWT signature does not verify with k")
	}

	var claims struct {
		Aud *string      `json:"aud"`
		Exp *json.Number `json:"exp"`
		Sub *string      `json:"sub"`
	}
	if err := decodeJSONPart(parts[1], &claims); err != nil {
		return unauthorized("JWT claims: %v", err)
	}
	if claims.Aud == nil || *claims.Aud != s.origin {
		return unauthorized("JWT aud must be the push service's origin %s", s.origin)
	}
	v.aud = *claims.Aud
	if claims.Exp == nil {
		return unauthorized("JWT exp is missing")
	}
	exp, err := claims.Exp.Int64()
	if err != nil {
		return unauthorized("JWT exp must be an integer")
	}
	v.exp = time.Unix(exp, 0)
	switch {
	case !v.exp.After(now):
		return unauthorized("JWT expired")
	case v.exp.After(now.Add(24 * time.Hour)):
		return unauthorized("JWT exp is more than 24 hours in the future")
	}
	if claims.Sub == nil || !validSubject(*claims.Sub) {
		return unauthorized("JWT sub must be a mailto: or https: URI")
	}
	v.sub = *claims.Sub

	if st.boundKey != nil && !bytes.Equal(st.boundKey, point) {
		return v, http.StatusForbidden, "VAPID key does not match the applicationServerKey of the subscription"
	}
	return v, 0, ""
}

func validSubject(sub string) bool {
	if addr, ok := strings.CutPrefix(sub, "mailto:"); ok {
		at := strings.LastIndex(addr, "@")
		return at > 0 && at < len(addr)-1 && !strings.ContainsAny(addr, " <>")
	}
	if strings.HasPrefix(sub, "https://") {
		u, err := url.Parse(sub)
		return err == nil && u.Host != ""
	}
	return false
}

func decodeJSONPart(part string, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		return errors.New("not base64url")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return errors.New("not a JSON object")
	}
	return nil
}

// decodeB64 accepts base64url with or without padding, as push services do
// for k.
func decodeB64(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}
