package pushtest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/mfa/push"
	"github.com/latchkey/latchkey/mfa/push/pushtest"
	"github.com/latchkey/latchkey/mfa/push/webpush"
	"github.com/latchkey/latchkey/mfa/push/webpush/webpushtest"
)

// server is the smallest Latchkey a device can talk to: it verifies every
// request with push.ParseRequest, as the idp handlers do, records it, and
// answers with what the test scripted.
type server struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	got    []push.Request
	answer map[push.Kind]string // JSON body per kind
}

func newServer(t *testing.T) *server {
	s := &server{t: t, answer: map[push.Kind]string{}}
	mux := http.NewServeMux()
	for path, kind := range map[string]push.Kind{
		"/push/enrol": push.KindEnrol, "/push/heartbeat": push.KindHeartbeat,
		"/push/challenge": push.KindFetch, "/push/answer": push.KindAnswer,
	} {
		mux.HandleFunc("POST "+path, func(w http.ResponseWriter, r *http.Request) {
			if ct := r.Header.Get("Content-Type"); ct != push.ContentType {
				t.Errorf("%s: Content-Type %q, want %q", path, ct, push.ContentType)
			}
			if r.Header.Get("Cookie") != "" || r.Header.Get("Authorization") != "" {
				t.Errorf("%s: the device sent credentials besides its signature", path)
			}
			body, _ := io.ReadAll(r.Body)
			req, err := push.ParseRequest(string(body), s.srv.URL, time.Now(), kind)
			w.Header().Set("Content-Type", "application/json")
			if err != nil {
				status, eb := push.ErrorResponse(err)
				w.WriteHeader(status)
				_ = json.NewEncoder(w).Encode(eb)
				return
			}
			s.mu.Lock()
			s.got = append(s.got, req)
			answer := s.answer[kind]
			s.mu.Unlock()
			if kind == push.KindEnrol {
				w.WriteHeader(http.StatusCreated)
			}
			_, _ = io.WriteString(w, answer)
		})
	}
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	return s
}

func (s *server) last() push.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got[len(s.got)-1]
}

// The reference device's requests are what docs/push-protocol.md says, and
// it checks Latchkey's answers: a fetch that leaks the number, a push
// with content or from another issuer are errors, not silently accepted.
func TestReferenceDevicePushProtocol(t *testing.T) {
	ctx := context.Background()
	s := newServer(t)
	svc := webpushtest.New(t)
	d, err := pushtest.New(pushtest.Config{Service: svc, Name: "Hanako's phone"})
	if err != nil {
		t.Fatal(err)
	}
	status := func(ready bool, reason string) string {
		b, _ := json.Marshal(push.DeviceStatus{Device: d.ID(), PushReady: ready, Reason: reason})
		return string(b)
	}

	s.answer[push.KindEnrol] = status(true, "")
	token, _ := push.NewEnrolmentToken()
	if _, err := d.Enrol(ctx, push.EnrolmentURL(s.srv.URL, token)); err != nil {
		t.Fatalf("enrol: %v", err)
	}
	e := s.last()
	if e.DeviceID != d.ID() || e.Enrol.Token != token || e.Enrol.Channel != push.ChannelWebPush ||
		e.Enrol.PushToken != d.Subscription().JSON || e.Enrol.Permission != push.PermissionGranted || e.Enrol.Name != "Hanako's phone" {
		t.Errorf("enrolment %+v %+v", e, e.Enrol)
	}
	if _, err := webpush.ParseSubscription(e.Enrol.PushToken); err != nil {
		t.Errorf("the push token is not a subscription a sender takes: %v", err)
	}

	// Notifications off: the heartbeat says so and sends no token.
	d.SetPermission(push.PermissionDenied)
	s.answer[push.KindHeartbeat] = status(false, push.ReasonPermission)
	if st, err := d.Heartbeat(ctx); err != nil || st.PushReady {
		t.Fatalf("heartbeat: %+v %v", st, err)
	}
	if h := s.last().Heartbeat; h.Permission != push.PermissionDenied || h.PushToken != "" {
		t.Errorf("heartbeat with notifications off: %+v", h)
	}
	// A server that names another device is caught.
	s.answer[push.KindHeartbeat] = `{"device":"someone-else","push_ready":true}`
	if _, err := d.Heartbeat(ctx); err == nil {
		t.Error("a heartbeat answer for another device was accepted")
	}

	// Pushes: the device reads its own, content-free, from its issuer.
	vapid, _, _ := webpush.GenerateVAPIDKey()
	sender, err := webpush.New(webpush.Config{VAPIDPrivateKey: vapid, Subject: "mailto:ops@example.test",
		AllowedHosts: []string{svc.Host()}, Transport: svc.Transport()})
	if err != nil {
		t.Fatal(err)
	}
	target := push.Target{Channel: push.ChannelWebPush, Token: d.Subscription().JSON}
	other, _ := pushtest.New(pushtest.Config{Service: svc})
	if err := sender.Send(ctx, push.Target{Channel: push.ChannelWebPush, Token: other.Subscription().JSON},
		push.Message{Issuer: s.srv.URL, ChallengeID: "for-another-device-0001"}); err != nil {
		t.Fatal(err)
	}
	if err := sender.Send(ctx, target, push.Message{Issuer: s.srv.URL, ChallengeID: "chal-0123456789abcdef"}); err != nil {
		t.Fatal(err)
	}
	m, ok, err := d.NextPush()
	if err != nil || !ok || m.ChallengeID != "chal-0123456789abcdef" {
		t.Fatalf("NextPush = %+v %v %v", m, ok, err)
	}
	if _, ok, _ := d.NextPush(); ok {
		t.Error("NextPush returned a push twice, or another device's")
	}
	if err := sender.Send(ctx, target, push.Message{Issuer: "https://elsewhere.example", ChallengeID: "chal-0123456789abcdef"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.NextPush(); err == nil {
		t.Error("a push from another issuer was accepted")
	}

	// Fetch: the answer is checked.
	good := push.ChallengeDetails{Challenge: "chal-0123456789abcdef", Nonce: "nonce-0123456789abcdef", Account: "a@example.test",
		App: "Mail", ExpiresIn: 100, Choices: []string{"17", "42", "88"}}
	b, _ := json.Marshal(good)
	s.answer[push.KindFetch] = string(b)
	det, err := d.Fetch(ctx, good.Challenge)
	if err != nil || s.last().Fetch.ChallengeID != good.Challenge {
		t.Fatalf("fetch: %+v %v", det, err)
	}
	for _, bad := range []string{
		strings.Replace(string(b), `"choices"`, `"number":"42","choices"`, 1),
		strings.Replace(string(b), `"88"`, `"42"`, 1),
		strings.Replace(string(b), `"88"`, `"08"`, 1),
		strings.Replace(string(b), `,"88"`, ``, 1),
	} {
		s.answer[push.KindFetch] = bad
		if _, err := d.Fetch(ctx, good.Challenge); err == nil {
			t.Errorf("fetch answer %s was accepted", bad)
		}
	}

	// Answer: claims as documented; the result must match the decision.
	s.answer[push.KindAnswer] = `{"result":"approved"}`
	if _, err := d.Approve(ctx, det, "42"); err != nil {
		t.Fatal(err)
	}
	if a := s.last().Answer; a.ChallengeID != good.Challenge || a.Nonce != good.Nonce || a.Decision != push.DecisionApprove || a.Number != "42" {
		t.Errorf("answer %+v", a)
	}
	if _, err := d.Deny(ctx, det); err == nil {
		t.Error("an 'approved' result for a deny was accepted")
	}
	// Replaying the last request sends the same bytes (a new jti is the
	// device's job, which Send does).
	last := d.Last()
	if err := d.Post(ctx, "/push/answer", last.JWS, http.StatusOK, nil); err != nil {
		t.Fatal(err)
	}
	if d.Last().JWS != last.JWS || s.last().ID == "" {
		t.Error("Post did not send the body as given")
	}
	ids := map[string]bool{}
	for _, x := range d.Exchanges() {
		ids[x.JWS] = true
	}
	if len(ids) != len(d.Exchanges())-1 {
		t.Errorf("%d distinct bodies in %d exchanges (one replay), want each Send fresh", len(ids), len(d.Exchanges()))
	}

	// Protocol errors are *Error with the code and attempts left.
	s.answer[push.KindAnswer] = ``
	if _, err := d.Answer(ctx, det, push.DecisionApprove, "4"); pushtest.Code(err) != "invalid_request" {
		t.Errorf("a one-digit number: %v, want invalid_request from the server", err)
	}

	if n := pushtest.WrongNumber(good.Choices, "42"); n == "" || n == "42" || n == "17" || n == "88" {
		t.Errorf("WrongNumber = %q", n)
	}
	if n := pushtest.Decoy(good.Choices, "42"); n != "17" && n != "88" {
		t.Errorf("Decoy = %q", n)
	}
}
