package idp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/idp/web"
	"github.com/latchkey/latchkey/mfa"
)

// loginPage is the data of templates/pages/login.html.
type loginPage struct {
	web.Page
	TxID       string
	Email      string
	ErrorKey   string
	ErrorArg   string
	ClientName string
	Action     string
	// Passkey sign-in, when available: the options for the page's script
	// and where the form posts.
	Passkey       *passkeyOptions
	PasskeyAction string
}

const maxEmailLen = 254

func (p *Provider) loginForm(w http.ResponseWriter, r *http.Request) error {
	tx, err := p.loadTx(r)
	if err != nil {
		return err
	}
	q, _ := url.ParseQuery(tx.AuthorizeQuery)
	email := ""
	if hint := strings.TrimSpace(q.Get("login_hint")); len(hint) <= maxEmailLen {
		email = hint
	}
	return p.renderLogin(w, r, tx, http.StatusOK, email, "", "")
}

func (p *Provider) renderLogin(w http.ResponseWriter, r *http.Request, tx storage.LoginTx, status int, email, errKey, errArg string) error {
	name := tx.ClientID
	if c, err := p.store.GetClient(r.Context(), tx.ClientID); err == nil && c.Name != "" {
		name = c.Name
	}
	data := loginPage{
		Page: p.page(w, r, tx, "login.title"),
		TxID: tx.ID, Email: email, ErrorKey: errKey, ErrorArg: errArg, ClientName: name,
		Action: p.path("/login"), PasskeyAction: p.path("/login/passkey"),
	}
	if p.passkeys != nil {
		options, session, err := p.passkeys.BeginDiscoverableLogin()
		if err != nil {
			return fmt.Errorf("begin passkey sign-in: %w", err)
		}
		po, err := p.newCeremony(r.Context(), ceremonyLogin, "", tx.ID, options, session)
		if err != nil {
			return err
		}
		data.Passkey = &po
	}
	return p.renderer.Render(w, r, status, "login", data)
}

// login checks the password. Failures look the same whether or not the
// account exists (same message, same hashing work, same throttling keyed by
// the address typed), and are throttled per account and per IP with
// exponential back-off kept in the store.
func (p *Provider) login(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	tx, err := p.loadTx(r)
	if err != nil {
		return err
	}
	email := normaliseEmail(r.PostFormValue("email"))
	pw := r.PostFormValue("password")
	if email == "" || pw == "" || len(email) > maxEmailLen || len(pw) > 1024 {
		return p.renderLogin(w, r, tx, http.StatusBadRequest, r.PostFormValue("email"), "error.missing_credentials", "")
	}
	ip := web.ClientIP(r, p.proxies)
	acctKey, ipKey := throttleKey("login-account", email), throttleKey("login-ip", ip)

	if wait, err := p.lockedFor(ctx, acctKey, p.throttle.AccountFreeAttempts, ipKey, p.throttle.IPFreeAttempts); err != nil {
		return err
	} else if wait > 0 {
		p.metrics.signIns.WithLabelValues("throttled").Inc()
		p.audit(r, "login.throttled", "", tx.ClientID, map[string]string{"ip": ip})
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds()+0.999)))
		return p.renderLogin(w, r, tx, http.StatusTooManyRequests, email, "error.throttled", formatWait(wait))
	}

	u, err := p.store.GetUserByEmail(ctx, email)
	ok := false
	switch {
	case errors.Is(err, storage.ErrNotFound):
		p.passwords.DummyVerify(pw)
	case err != nil:
		return fmt.Errorf("load user: %w", err)
	default:
		var rehash bool
		ok, rehash, err = p.passwords.Verify(u.PasswordHash, pw)
		if err != nil {
			return fmt.Errorf("verify password: %w", err)
		}
		if ok && u.Disabled {
			ok = false
		}
		if ok && rehash {
			p.rehash(ctx, u.ID, pw)
		}
	}
	if !ok {
		now := p.now()
		for _, k := range []string{acctKey, ipKey} {
			if _, err := p.store.RecordFailure(ctx, k, now, p.throttle.ResetAfter); err != nil {
				return fmt.Errorf("record failed sign-in: %w", err)
			}
		}
		p.metrics.signIns.WithLabelValues("failed").Inc()
		p.audit(r, "login.failed", u.ID, tx.ClientID, map[string]string{"ip": ip})
		return p.renderLogin(w, r, tx, http.StatusUnauthorized, email, "error.invalid_credentials", "")
	}
	// Failed attempts against the account before this success are a risk
	// signal the policy may answer with a second factor.
	st := decodeTxState(tx)
	if t, err := p.store.GetThrottle(ctx, acctKey); err != nil {
		return fmt.Errorf("read throttle: %w", err)
	} else if t.Failures >= velocityFailures && p.now().Sub(t.LastFailureAt) < time.Hour {
		st.Risk.Velocity = true
	}
	if err := p.store.ResetThrottle(ctx, acctKey); err != nil {
		return fmt.Errorf("reset throttle: %w", err)
	}
	return p.signedIn(w, r, tx, u, mfa.Proof{Factor: mfa.Password, At: p.now().UTC()}, st, ip)
}

// signedIn starts the session of a first factor (password or passkey) and
// returns to the dispatcher.
func (p *Provider) signedIn(w http.ResponseWriter, r *http.Request, tx storage.LoginTx, u storage.User, proof mfa.Proof, st txState, ip string) error {
	ctx := r.Context()
	pol, err := p.policies.get(ctx)
	if err != nil {
		return err
	}
	prev, err := p.sessions.current(r)
	if err != nil {
		return err
	}
	s, err := p.sessions.start(w, r, prev, u.ID, []mfa.Proof{proof}, pol)
	if err != nil {
		return err
	}
	tx.UserID, tx.SessionID, tx.AuthenticatedAt, tx.State = u.ID, s.ID, s.AuthTime, st.encode()
	if err := p.store.UpdateLoginTx(ctx, tx); err != nil {
		return loginTxUpdateError(err)
	}
	p.metrics.signIns.WithLabelValues("succeeded").Inc()
	p.audit(r, "login.succeeded", u.ID, tx.ClientID, map[string]string{"ip": ip, "amr": strings.Join(mfa.AMR([]mfa.Proof{proof}), " ")})
	return p.toResume(w, r, tx)
}

// velocityFailures failed attempts on an account within the hour before a
// successful password make the sign-in risky.
const velocityFailures = 3

// loginTxUpdateError maps a failed transaction update: completed or expired
// meanwhile is the user's "start again", anything else is ours.
func loginTxUpdateError(err error) error {
	if errors.Is(err, storage.ErrConflict) || errors.Is(err, storage.ErrNotFound) {
		return web.NewError(http.StatusBadRequest, "error.login_expired", err)
	}
	return fmt.Errorf("update login transaction: %w", err)
}

// toResume sends the browser back to the dispatcher.
func (p *Provider) toResume(w http.ResponseWriter, r *http.Request, tx storage.LoginTx) error {
	http.Redirect(w, r, p.path("/authorize/resume?tx="+url.QueryEscape(tx.ID)), http.StatusSeeOther)
	return nil
}

// loginPasskey is a sign-in with a passkey and no password (the button or
// the browser's autofill). Failures count against the client IP like wrong
// passwords; a counter that went backwards is refused as a possible clone.
func (p *Provider) loginPasskey(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	tx, err := p.loadTx(r)
	if err != nil {
		return err
	}
	if p.passkeys == nil {
		return web.Errorf(http.StatusNotFound, "error.not_found", "passkeys are not configured")
	}
	ip := web.ClientIP(r, p.proxies)
	ipKey := throttleKey("login-ip", ip)
	if wait, err := p.lockedFor(ctx, "", 0, ipKey, p.throttle.IPFreeAttempts); err != nil {
		return err
	} else if wait > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds()+0.999)))
		return p.renderLogin(w, r, tx, http.StatusTooManyRequests, "", "error.throttled", formatWait(wait))
	}
	response, ok := readCredential(r)
	if !ok {
		return p.renderLogin(w, r, tx, http.StatusBadRequest, "", "passkey.error.failed", "")
	}
	c, err := p.takeCeremony(ctx, r.PostFormValue("ceremony"), ceremonyLogin, "", tx.ID)
	var a passkeyAssertion
	if err == nil {
		a, err = p.finishAssertion(ctx, c, response, "")
	}
	if err != nil {
		if isUnexpected(err) {
			return err
		}
		if _, ferr := p.store.RecordFailure(ctx, ipKey, p.now(), p.throttle.ResetAfter); ferr != nil {
			return fmt.Errorf("record failed sign-in: %w", ferr)
		}
		p.metrics.signIns.WithLabelValues("failed").Inc()
		return p.renderLogin(w, r, tx, http.StatusUnauthorized, "", p.passkeyFailure(r, tx.ClientID, a, err), "")
	}
	return p.signedIn(w, r, tx, a.user, a.proof, decodeTxState(tx), ip)
}

// rehash upgrades a hash made with old parameters. A failure only costs the
// upgrade, never the sign-in.
func (p *Provider) rehash(ctx context.Context, userID, pw string) {
	h, err := p.passwords.Hash(pw)
	if err == nil {
		err = p.store.SetPasswordHash(ctx, userID, h, p.now())
	}
	if err != nil {
		p.log.WarnContext(ctx, "password rehash failed", "user", userID, "err", err)
	}
}

// lockedFor returns how long sign-in stays refused for these keys.
func (p *Provider) lockedFor(ctx context.Context, acctKey string, acctFree int, ipKey string, ipFree int) (time.Duration, error) {
	var wait time.Duration
	for _, k := range []struct {
		key  string
		free int
	}{{acctKey, acctFree}, {ipKey, ipFree}} {
		if k.key == "" {
			continue
		}
		t, err := p.store.GetThrottle(ctx, k.key)
		if err != nil {
			return 0, fmt.Errorf("read throttle: %w", err)
		}
		if d := p.backoff(t, k.free); d > wait {
			wait = d
		}
	}
	return wait, nil
}

// backoff: after free failures, each further failure doubles the wait from
// BaseDelay up to MaxDelay, counted from the last failure.
func (p *Provider) backoff(t storage.Throttle, free int) time.Duration {
	over := t.Failures - free
	if over < 0 || t.LastFailureAt.IsZero() {
		return 0
	}
	if p.throttle.ResetAfter > 0 && p.now().Sub(t.LastFailureAt) > p.throttle.ResetAfter {
		return 0
	}
	d := p.throttle.BaseDelay
	for i := 0; i < over && d < p.throttle.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, p.throttle.MaxDelay)
	return max(t.LastFailureAt.Add(d).Sub(p.now()), 0)
}

func throttleKey(kind, v string) string {
	sum := sha256.Sum256([]byte(v))
	return kind + ":" + hex.EncodeToString(sum[:16])
}

// normaliseEmail folds what users type differently for the same account.
// Input that is not an address is refused like any unknown account, never
// reported differently.
func normaliseEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func formatWait(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%ds", int(d.Seconds()+0.999))
	}
	return d.Round(time.Second).String()
}
