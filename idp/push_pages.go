package idp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/idp/web"
	"github.com/latchkey/latchkey/mfa"
	"github.com/latchkey/latchkey/mfa/push"
	"github.com/latchkey/latchkey/mfa/totp"
)

// pushView is the push part of the /mfa page: the number to pick on the
// phone, and where the page's script asks how the push is going.
type pushView struct {
	Number    string
	StatusURL string
	CheckURL  string
}

// pushPage prepares the push step: the sign-in's push (sent now if there
// is none on its way). done is true when the page was answered otherwise:
// the push could not go out and the next factor has started.
func (p *Provider) pushPage(w http.ResponseWriter, r *http.Request, st mfaStep) (*pushView, bool, error) {
	ch, err := p.startPush(r, st)
	if err != nil {
		if errors.Is(err, errPushBudget) || errors.Is(err, errPushUnavailable) || errors.Is(err, errPushNoDevice) {
			return nil, true, p.pushFallback(w, r, st, err.Error())
		}
		return nil, false, err
	}
	q := "?tx=" + url.QueryEscape(st.tx.ID)
	return &pushView{
		Number:    fmt.Sprintf("%02d", ch.Number),
		StatusURL: p.path("/mfa/push/status" + q),
		CheckURL:  p.path("/mfa" + q + "&factor=push"),
	}, false, nil
}

// pushFallback moves a sign-in whose push cannot work to the next factor
// the engine offers, in this same response: an SMS is sent at once rather
// than after another click.
func (p *Provider) pushFallback(w http.ResponseWriter, r *http.Request, st mfaStep, reason string) error {
	p.metrics.pushFallbacks.WithLabelValues(reason).Inc()
	p.audit(r, "mfa.skipped", st.user.ID, st.tx.ClientID, map[string]string{"factor": string(mfa.Push), "reason": reason})
	d, _, err := p.decide(r, st.tx, storedForm(st.tx), st.sess, st.user)
	if err != nil {
		return err
	}
	st.d = d
	if d.Outcome != mfa.Challenge {
		p.auditDecision(r, st.tx, st.user.ID, d)
		return p.toResume(w, r, st.tx)
	}
	next := st.pick("")
	if next == mfa.Push {
		// The engine's facts do not show the failure yet (a transient
		// error): leave push to the user's choice and start the next one.
		for _, o := range d.Offer {
			if o != mfa.Push && slices.Contains(pageFactors, o) {
				next = o
				break
			}
		}
		if next == mfa.Push {
			return p.renderMFA(w, r, st, next, http.StatusServiceUnavailable, "push.error.unavailable", "")
		}
	}
	return p.startFactor(w, r, st, next, "push.error.fallback")
}

// startFactor shows a factor's page after another one gave way; a phone
// code is sent at once, since the user was already waiting.
func (p *Provider) startFactor(w http.ResponseWriter, r *http.Request, st mfaStep, f mfa.Factor, notice string) error {
	if f == mfa.SMS || f == mfa.Voice {
		v, _, err := p.phoneData(r, st, f)
		if err != nil {
			return err
		}
		if v != nil && !v.Sent {
			return p.mfaSendCode(w, r, st, f)
		}
	}
	return p.renderMFA(w, r, st, f, http.StatusOK, notice, "")
}

// pushApproved completes the push factor when the sign-in's push was
// approved on the device; it reports whether it answered.
func (p *Provider) pushApproved(w http.ResponseWriter, r *http.Request, st mfaStep) (bool, error) {
	if p.push == nil {
		return false, nil
	}
	ch, err := p.store.LatestPushChallenge(r.Context(), st.tx.ID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && ch.Status != storage.PushApproved) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("latest push challenge: %w", err)
	}
	proof := mfa.Proof{Factor: mfa.Push, At: ch.EndedAt, Credential: ch.DeviceID}
	if _, err := p.addProof(w, r, &st.tx, st.sess, proof); err != nil {
		return false, err
	}
	p.audit(r, "mfa.passed", st.user.ID, st.tx.ClientID, map[string]string{"factor": string(mfa.Push), "credential": ch.DeviceID})
	return true, p.toResume(w, r, st.tx)
}

// endPushFor supersedes the sign-in's open push when the user moves to
// another factor: approving it later must not count.
func (p *Provider) endPushFor(ctx context.Context, txID string) error {
	if p.push == nil {
		return nil
	}
	if _, err := p.store.SupersedePushChallenges(ctx, txID, "", p.now().UTC()); err != nil {
		return fmt.Errorf("supersede push challenges: %w", err)
	}
	return nil
}

// pushStatusResponse is what the sign-in page's script polls.
type pushStatusResponse struct {
	Status string `json:"status"`
	// Next is where the page goes now ("" while waiting).
	Next string `json:"next,omitempty"`
}

// maxPushWait bounds a long poll: under common proxy idle timeouts.
const maxPushWait = 25 * time.Second

// pushStatus answers the sign-in page's long poll: it returns when the
// push is approved, refused or given up (no acknowledgement in time), or
// after wait seconds. It reads the store, so the answer may have reached
// any node.
func (p *Provider) pushStatus(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	tx, err := p.loadTx(r)
	if err != nil {
		return err
	}
	sess, err := p.sessions.current(r)
	if err != nil {
		return err
	}
	if sess == nil || (tx.SessionID != "" && tx.SessionID != sess.ID) {
		return web.Errorf(http.StatusForbidden, "error.login_expired", "push status for another session")
	}
	wait, _ := strconv.Atoi(r.FormValue("wait"))
	deadline := time.Now().Add(min(time.Duration(max(wait, 0))*time.Second, maxPushWait))
	next := p.path("/mfa?tx=" + url.QueryEscape(tx.ID))
	for {
		ch, err := p.store.LatestPushChallenge(ctx, tx.ID)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("latest push challenge: %w", err)
		}
		res := pushStatusResponse{Status: ch.Status}
		switch {
		case err != nil:
			// No push in this sign-in (none was sent, or it has been
			// cleaned up): nothing to wait for.
			res = pushStatusResponse{Status: "none", Next: next}
		case ch.Status == storage.PushApproved:
			res.Next = next + "&factor=push"
		case p.pushGaveUp(ch, p.now()):
			if ch.Open(p.now()) {
				if err := p.expirePush(ctx, ch); err != nil {
					return err
				}
				res.Status = storage.PushExpired
			}
			res.Next = next
		}
		if res.Next != "" || !time.Now().Before(deadline) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			return json.NewEncoder(w).Encode(res)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// expirePush ends a push that got no acknowledgement in time, so a late
// approval of it is refused.
func (p *Provider) expirePush(ctx context.Context, ch storage.PushChallenge) error {
	err := p.store.EndPushChallenge(ctx, ch.ID, storage.PushExpired, "no acknowledgement", p.now().UTC())
	if err != nil && !errors.Is(err, storage.ErrConflict) {
		return fmt.Errorf("expire push challenge: %w", err)
	}
	if err == nil {
		p.metrics.pushes.WithLabelValues("timed_out").Inc()
		p.metrics.pushFallbacks.WithLabelValues("no acknowledgement").Inc()
	}
	return nil
}

// pushEnrolPage is the data of templates/pages/push_enrol.html.
type pushEnrolPage struct {
	web.Page
	QR      template.HTML
	Link    template.URL
	AppLink string
	Minutes int
	Cancel  string
}

// accountPushForm shows a one-time enrolment QR code for a phone: the
// companion web app (any phone's camera opens the link) or a native app.
func (p *Provider) accountPushForm(w http.ResponseWriter, r *http.Request) error {
	sess, u, ok, err := p.accountSession(w, r)
	if err != nil || !ok {
		return err
	}
	if p.push == nil {
		return web.Errorf(http.StatusNotFound, "error.not_found", "push approval is off")
	}
	if fresh, err := p.freshStepUp(w, r, sess, u, p.path("/account/push")); err != nil || !fresh {
		return err
	}
	token, hash := push.NewEnrolmentToken()
	now := p.now().UTC()
	if err := p.store.CreatePushEnrolment(r.Context(), storage.PushEnrolment{
		TokenHash: hash, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(push.EnrolmentTTL),
	}); err != nil {
		return fmt.Errorf("create push enrolment: %w", err)
	}
	link := push.EnrolmentURL(p.issuer, token)
	page := p.page(w, r, storage.LoginTx{}, "push.enrol.title")
	qr, err := totp.QRCodeSVG(link, page.L.T("push.enrol.qr_label"))
	if err != nil {
		return fmt.Errorf("render qr code: %w", err)
	}
	p.audit(r, "push.enrolment_started", u.ID, "", nil)
	return p.renderer.Render(w, r, http.StatusOK, "push_enrol", pushEnrolPage{
		Page: page, QR: template.HTML(qr), //nolint:gosec // SVG built by our encoder from a bit matrix
		Link: template.URL(link), AppLink: push.EnrolmentURI(p.issuer, token), //nolint:gosec // our URL
		Minutes: int(push.EnrolmentTTL / time.Minute), Cancel: p.path("/account"),
	})
}

func (p *Provider) accountPushRemove(w http.ResponseWriter, r *http.Request) error {
	return p.removeFactor(w, r, string(mfa.Push), "push_removed", func(ctx context.Context, userID, id string) (string, error) {
		return id, p.store.DeletePushDevice(ctx, userID, id)
	})
}

// pushRow is one device on the account page.
type pushRow struct {
	ID, Name, Added, LastSeen string
	Ready                     bool
	ReasonKey                 string
}

func (p *Provider) pushRows(ctx context.Context, userID string, date func(time.Time) string) ([]pushRow, error) {
	if p.push == nil {
		return nil, nil
	}
	devices, err := p.store.ListPushDevices(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("list push devices: %w", err)
	}
	var rows []pushRow
	for _, d := range devices {
		ok, reason := p.deviceReady(d)
		row := pushRow{ID: d.ID, Name: d.Name, Added: date(d.CreatedAt), LastSeen: date(d.LastSeenAt), Ready: ok}
		if !ok {
			row.ReasonKey = "account.push.reason." + reason
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// browserName is a short description of a User-Agent for the device's
// "is this you?" screen ("Firefox on Windows"); "" when unknown.
func browserName(ua string) string {
	find := func(pairs [][2]string) string {
		for _, p := range pairs {
			if strings.Contains(ua, p[0]) {
				return p[1]
			}
		}
		return ""
	}
	browser := find([][2]string{{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"}})
	system := find([][2]string{{"Windows", "Windows"}, {"Android", "Android"}, {"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"}})
	switch {
	case browser != "" && system != "":
		return browser + " on " + system
	case browser != "":
		return browser
	}
	return system
}
