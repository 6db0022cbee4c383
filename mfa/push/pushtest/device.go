// Package pushtest is a reference push device for tests: a phone running
// an authenticator that speaks docs/push-protocol.md exactly, with a fake
// Web Push service (package webpushtest) as its push channel.
//
// A Device makes its P-256 key (push.DeviceKey), enrols from the link of
// the account page's QR code, sends heartbeats with its notification
// permission and its Web Push subscription, reads the content-free pushes
// the fake service decrypted for it, fetches a challenge's details and
// signs its answers. Every request is a compact JWS posted with
// Content-Type application/jose, with a fresh jti and the device's clock
// as iat, as an app must send it.
//
// The device checks what Latchkey answers as a careful app would, so a
// test that uses it also tests the responses: a fetch response must hold
// three distinct two-digit choices and never a "number" member, a push
// must name the issuer the device enrolled with, an answer's result must
// match the decision. Protocol errors come back as *Error with the status
// and the JSON error body; Code reads the error code of any error.
//
// The device never knows the number shown on the sign-in page: the test
// reads it off the page and passes it to Approve, as the user would type
// it. WrongNumber and Decoy make the two kinds of wrong answer.
package pushtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey/mfa/push"
	"github.com/latchkey/latchkey/mfa/push/webpush/webpushtest"
)

// Config describes the phone a Device stands for.
type Config struct {
	// Service is the fake Web Push service the device subscribes with.
	// Required.
	Service *webpushtest.Server
	// ApplicationServerKey is the VAPID public key the subscription is
	// bound to (what the companion app passes to pushManager.subscribe),
	// base64url; "" accepts any key.
	ApplicationServerKey string
	// Client sends the device's requests to Latchkey; http.DefaultClient
	// when nil. It must not carry the browser's cookies: a device request
	// is authenticated by its signature alone.
	Client *http.Client
	// Now is the phone's clock (iat); time.Now when nil. Tests on an
	// injected provider clock pass that clock: Latchkey refuses an iat
	// more than push.MaxSkew away from its own.
	Now func() time.Time
	// Name, Platform and AppVersion are the enrolment's labels; "Test
	// phone", "web" and "1.0.0" when empty.
	Name, Platform, AppVersion string
}

// Device is one enrolled (or enrolling) phone. It is safe for concurrent
// use, though a real device answers one request at a time.
type Device struct {
	cfg Config
	key *push.DeviceKey

	mu         sync.Mutex
	issuer     string
	permission string
	sub        webpushtest.Subscription
	subs       []webpushtest.Subscription // every subscription it ever had
	seen       int                        // pushes NextPush has returned
	exchanges  []Exchange
}

// Exchange is one request the device sent and Latchkey's answer.
type Exchange struct {
	Path   string // "/push/enrol", ...
	JWS    string // the request body
	Status int
	Body   []byte // the response body
}

// Error is a protocol error answer (docs/push-protocol.md, Errors).
type Error struct {
	Status int
	push.ErrorBody
}

func (e *Error) Error() string {
	s := fmt.Sprintf("pushtest: %d %s: %s", e.Status, e.ErrorBody.Error, e.Description)
	if e.AttemptsLeft != nil {
		s += fmt.Sprintf(" (attempts left %d)", *e.AttemptsLeft)
	}
	return s
}

// Code is the protocol error code of err ("wrong_number", ...), or "" when
// err is nil or not a protocol error answer.
func Code(err error) string {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.ErrorBody.Error
	}
	return ""
}

// AttemptsLeft is the attempts_left of a wrong_number answer, -1 when err
// carries none.
func AttemptsLeft(err error) int {
	if e, ok := errors.AsType[*Error](err); ok && e.AttemptsLeft != nil {
		return *e.AttemptsLeft
	}
	return -1
}

// New makes a device with a fresh key and a Web Push subscription, and
// notification permission granted.
func New(cfg Config) (*Device, error) {
	if cfg.Service == nil {
		return nil, errors.New("pushtest: Config.Service is required")
	}
	if cfg.Client == nil {
		cfg.Client = http.DefaultClient
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Name == "" {
		cfg.Name = "Test phone"
	}
	if cfg.Platform == "" {
		cfg.Platform = "web"
	}
	if cfg.AppVersion == "" {
		cfg.AppVersion = "1.0.0"
	}
	key, err := push.NewDeviceKey()
	if err != nil {
		return nil, fmt.Errorf("pushtest: %w", err)
	}
	d := &Device{cfg: cfg, key: key, permission: push.PermissionGranted}
	d.subscribe()
	return d, nil
}

// ID is the device id: the key's RFC 7638 thumbprint.
func (d *Device) ID() string { return d.key.Thumbprint() }

// Key is the device's signing key.
func (d *Device) Key() *push.DeviceKey { return d.key }

// Issuer is the issuer the device enrolled with ("" before Enrol).
func (d *Device) Issuer() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.issuer
}

// Subscription is the device's current Web Push subscription; its JSON is
// the push token the device reports.
func (d *Device) Subscription() webpushtest.Subscription {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sub
}

// SetPermission changes the notification permission the next heartbeat
// reports (the user turned notifications off or on in the settings).
func (d *Device) SetPermission(p string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.permission = p
}

// Resubscribe replaces the subscription with a new one, as a browser does
// after the push service dropped the old one; the next heartbeat reports
// it.
func (d *Device) Resubscribe() webpushtest.Subscription {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.subscribe()
}

// Unsubscribe makes the push service answer 410 Gone to pushes for the
// current subscription, without the device noticing: the app was removed,
// or the browser dropped the subscription while the phone was off.
func (d *Device) Unsubscribe() {
	d.cfg.Service.Unsubscribe(d.Subscription())
}

// subscribe needs d.mu held (or d not yet shared).
func (d *Device) subscribe() webpushtest.Subscription {
	if d.cfg.ApplicationServerKey != "" {
		d.sub = d.cfg.Service.NewSubscriptionFor(d.cfg.ApplicationServerKey)
	} else {
		d.sub = d.cfg.Service.NewSubscription()
	}
	d.subs = append(d.subs, d.sub)
	return d.sub
}

// pushToken is what the device reports: its subscription while it may
// show notifications, none otherwise (a browser without the permission
// has no subscription to give).
func (d *Device) pushToken() (permission, token string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.permission == push.PermissionGranted {
		return d.permission, d.sub.JSON
	}
	return d.permission, ""
}

// Claims are the common claims of a request of kind, on the device's clock,
// for the issuer it enrolled with; the caller adds the kind's own.
func (d *Device) Claims(kind push.Kind) push.Claims {
	return d.key.NewClaims(kind, d.Issuer(), d.cfg.Now())
}

// Enrol reads an enrolment link (the https link of the QR code, or the
// latchkey-push:// form) and enrols with its token: POST /push/enrol.
func (d *Device) Enrol(ctx context.Context, link string) (push.DeviceStatus, error) {
	issuer, token, err := push.ParseEnrolmentLink(link)
	if err != nil {
		return push.DeviceStatus{}, fmt.Errorf("pushtest: %w", err)
	}
	d.mu.Lock()
	d.issuer = issuer
	d.mu.Unlock()
	return d.EnrolWithToken(ctx, token)
}

// EnrolWithToken enrols with token at the issuer the device already knows
// (a second try with the same QR code).
func (d *Device) EnrolWithToken(ctx context.Context, token string) (push.DeviceStatus, error) {
	c := d.Claims(push.KindEnrol)
	c.Token = token
	c.Channel = push.ChannelWebPush
	c.Permission, c.PushToken = d.pushToken()
	c.Name, c.Platform, c.AppVersion = d.cfg.Name, d.cfg.Platform, d.cfg.AppVersion
	var st push.DeviceStatus
	if err := d.Send(ctx, "/push/enrol", c, http.StatusCreated, &st); err != nil {
		return st, err
	}
	return st, d.checkStatus(st)
}

// Heartbeat reports the device's permission and push token: POST
// /push/heartbeat.
func (d *Device) Heartbeat(ctx context.Context) (push.DeviceStatus, error) {
	c := d.Claims(push.KindHeartbeat)
	c.Channel = push.ChannelWebPush
	c.Permission, c.PushToken = d.pushToken()
	c.AppVersion = d.cfg.AppVersion
	var st push.DeviceStatus
	if err := d.Send(ctx, "/push/heartbeat", c, http.StatusOK, &st); err != nil {
		return st, err
	}
	return st, d.checkStatus(st)
}

func (d *Device) checkStatus(st push.DeviceStatus) error {
	switch {
	case st.Device != d.ID():
		return fmt.Errorf("pushtest: the server calls the device %q, its thumbprint is %q", st.Device, d.ID())
	case st.PushReady && st.Reason != "":
		return fmt.Errorf("pushtest: push_ready with reason %q", st.Reason)
	case !st.PushReady && st.Reason != push.ReasonPermission && st.Reason != push.ReasonToken && st.Reason != push.ReasonSilent:
		return fmt.Errorf("pushtest: not push_ready with reason %q, not one of the protocol's", st.Reason)
	}
	return nil
}

// Pushes returns every push the service delivered to the device's
// subscriptions, oldest first, as the service worker decrypts them.
func (d *Device) Pushes() ([]push.Message, error) {
	d.mu.Lock()
	subs := make(map[string]bool, len(d.subs))
	for _, s := range d.subs {
		subs[s.ID] = true
	}
	d.mu.Unlock()
	var out []push.Message
	for _, p := range d.cfg.Service.Pushes() {
		if !subs[p.SubscriptionID] {
			continue
		}
		if p.Err != nil {
			return nil, fmt.Errorf("pushtest: a push did not decrypt: %w", p.Err)
		}
		m, err := d.readPush(p.Payload)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// readPush decodes a push as the service worker does, and checks that it
// is content-free: {iss, challenge} and nothing else.
func (d *Device) readPush(payload []byte) (push.Message, error) {
	var raw map[string]any
	if err := json.Unmarshal(payload, &raw); err != nil {
		return push.Message{}, fmt.Errorf("pushtest: push payload %q: %w", payload, err)
	}
	iss, _ := raw["iss"].(string)
	ch, _ := raw["challenge"].(string)
	if len(raw) != 2 || iss == "" || ch == "" {
		return push.Message{}, fmt.Errorf("pushtest: push payload %s, want exactly {iss, challenge}", payload)
	}
	if want := d.Issuer(); iss != want {
		return push.Message{}, fmt.Errorf("pushtest: push from issuer %q, the device enrolled with %q", iss, want)
	}
	return push.Message{Issuer: iss, ChallengeID: ch}, nil
}

// NextPush returns the oldest push NextPush has not returned yet; false
// when there is none.
func (d *Device) NextPush() (push.Message, bool, error) {
	all, err := d.Pushes()
	if err != nil {
		return push.Message{}, false, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.seen >= len(all) {
		return push.Message{}, false, nil
	}
	m := all[d.seen]
	d.seen++
	return m, true, nil
}

// detailMembers are the members a fetch response may have.
var detailMembers = map[string]bool{
	"challenge": true, "nonce": true, "account": true, "app": true, "browser": true,
	"location": true, "ip": true, "expires_in": true, "choices": true,
}

// Fetch asks for a challenge's details (the delivery acknowledgement):
// POST /push/challenge. The answer is checked: the challenge asked for, a
// nonce, time left, push.NumChoices distinct two-digit choices, and no
// member the protocol does not list (the number above all).
func (d *Device) Fetch(ctx context.Context, challengeID string) (push.ChallengeDetails, error) {
	c := d.Claims(push.KindFetch)
	c.Challenge = challengeID
	var det push.ChallengeDetails
	if err := d.Send(ctx, "/push/challenge", c, http.StatusOK, &det); err != nil {
		return det, err
	}
	var raw map[string]json.RawMessage
	_ = json.Unmarshal(d.Last().Body, &raw) // Send decoded it already
	for k := range raw {
		if !detailMembers[k] {
			return det, fmt.Errorf("pushtest: fetch response has member %q, which the protocol does not list", k)
		}
	}
	if det.Challenge != challengeID || det.Nonce == "" || det.Account == "" || det.App == "" || det.ExpiresIn <= 0 {
		return det, fmt.Errorf("pushtest: fetch response %s lacks a required member", d.Last().Body)
	}
	if len(det.Choices) != push.NumChoices {
		return det, fmt.Errorf("pushtest: %d choices, want %d", len(det.Choices), push.NumChoices)
	}
	for i, n := range det.Choices {
		if len(n) != 2 || n[0] < '1' || n[0] > '9' || n[1] < '0' || n[1] > '9' {
			return det, fmt.Errorf("pushtest: choice %q is not two digits from 10 to 99", n)
		}
		for _, m := range det.Choices[:i] {
			if m == n {
				return det, fmt.Errorf("pushtest: choice %q twice", n)
			}
		}
	}
	return det, nil
}

// Answer signs decision on the fetched challenge: POST /push/answer.
// number is sent as given ("" sends none).
func (d *Device) Answer(ctx context.Context, det push.ChallengeDetails, decision, number string) (push.AnswerResult, error) {
	c := d.Claims(push.KindAnswer)
	c.Challenge, c.Nonce, c.Decision, c.Number = det.Challenge, det.Nonce, decision, number
	var res push.AnswerResult
	if err := d.Send(ctx, "/push/answer", c, http.StatusOK, &res); err != nil {
		return res, err
	}
	want := map[string]string{
		push.DecisionApprove: push.ResultApproved, push.DecisionDeny: push.ResultDenied, push.DecisionNotMe: push.ResultReported,
	}[decision]
	if res.Result != want {
		return res, fmt.Errorf("pushtest: result %q for %s, want %q", res.Result, decision, want)
	}
	return res, nil
}

// Approve answers with the number the user read on the sign-in page.
func (d *Device) Approve(ctx context.Context, det push.ChallengeDetails, number string) (push.AnswerResult, error) {
	return d.Answer(ctx, det, push.DecisionApprove, number)
}

// Deny: the user started the sign-in but will not finish it with this
// device.
func (d *Device) Deny(ctx context.Context, det push.ChallengeDetails) (push.AnswerResult, error) {
	return d.Answer(ctx, det, push.DecisionDeny, "")
}

// NotMe: "this wasn't me".
func (d *Device) NotMe(ctx context.Context, det push.ChallengeDetails) (push.AnswerResult, error) {
	return d.Answer(ctx, det, push.DecisionNotMe, "")
}

// Send signs claims and posts them to path; a 2xx answer other than want,
// or a body that does not decode into out, is an error, and an error
// status is an *Error.
func (d *Device) Send(ctx context.Context, path string, claims push.Claims, want int, out any) error {
	compact, err := d.key.Sign(claims)
	if err != nil {
		return fmt.Errorf("pushtest: %w", err)
	}
	return d.Post(ctx, path, compact, want, out)
}

// Post sends a request body as it is (to replay one, or to send one the
// device did not make) and reads the answer as Send does.
func (d *Device) Post(ctx context.Context, path, compact string, want int, out any) error {
	issuer := d.Issuer()
	if issuer == "" {
		return errors.New("pushtest: the device has no issuer: enrol first")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, issuer+path, strings.NewReader(compact))
	if err != nil {
		return fmt.Errorf("pushtest: %w", err)
	}
	req.Header.Set("Content-Type", push.ContentType)
	req.Header.Set("Accept", "application/json")
	resp, err := d.cfg.Client.Do(req)
	if err != nil {
		return fmt.Errorf("pushtest: POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("pushtest: POST %s: read: %w", path, err)
	}
	d.mu.Lock()
	d.exchanges = append(d.exchanges, Exchange{Path: path, JWS: compact, Status: resp.StatusCode, Body: body})
	d.mu.Unlock()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("pushtest: POST %s: %d with Content-Type %q, want JSON", path, resp.StatusCode, ct)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &Error{Status: resp.StatusCode}
		if err := json.Unmarshal(body, &e.ErrorBody); err != nil || e.ErrorBody.Error == "" {
			return fmt.Errorf("pushtest: POST %s: %d with body %q, want a protocol error", path, resp.StatusCode, body)
		}
		return e
	}
	if resp.StatusCode != want {
		return fmt.Errorf("pushtest: POST %s: status %d, want %d", path, resp.StatusCode, want)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(out); err != nil {
		return fmt.Errorf("pushtest: POST %s: decode %q: %w", path, body, err)
	}
	return nil
}

// Last is the device's latest exchange (zero before any).
func (d *Device) Last() Exchange {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.exchanges) == 0 {
		return Exchange{}
	}
	return d.exchanges[len(d.exchanges)-1]
}

// Exchanges returns every exchange, oldest first.
func (d *Device) Exchanges() []Exchange {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Exchange(nil), d.exchanges...)
}
