package idp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/mfa"
)

// policySource is the effective MFA policy: the stored document over the
// config's defaults. It is re-read every few seconds, so an edit (admin
// console, later) reaches every node quickly without a store read per
// request.
type policySource struct {
	store    storage.Store
	defaults mfa.Policy
	now      func() time.Time

	mu       sync.Mutex
	cached   mfa.Policy
	loadedAt time.Time
}

const policyRefresh = 5 * time.Second

func (s *policySource) get(ctx context.Context) (mfa.Policy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if !s.loadedAt.IsZero() && now.Sub(s.loadedAt) < policyRefresh {
		return s.cached, nil
	}
	pol := s.defaults
	doc, err := s.store.GetPolicy(ctx)
	switch {
	case errors.Is(err, storage.ErrNotFound):
	case err != nil:
		return mfa.Policy{}, fmt.Errorf("load mfa policy: %w", err)
	default:
		// Fields the document leaves out keep the config's values.
		if err := json.Unmarshal(doc.Data, &pol); err != nil {
			return mfa.Policy{}, fmt.Errorf("decode stored mfa policy: %w", err)
		}
		if err := pol.Validate(); err != nil {
			// Fail closed: a broken policy must not quietly weaken sign-in.
			return mfa.Policy{}, fmt.Errorf("stored mfa policy: %w", err)
		}
	}
	s.cached, s.loadedAt = pol, now
	return pol, nil
}

// txState is the step data a login transaction carries (LoginTx.State).
type txState struct {
	// Risk signals seen while the first factor was proven.
	Risk mfa.Risk `json:"risk,omitzero"`
	// Return is where an internal transaction (the account page's step-up)
	// goes when it is satisfied.
	Return string `json:"return,omitempty"`
	// Notice: a page to show once before the response (e.g. a recovery code
	// was used).
	Notice string `json:"notice,omitempty"`
}

func decodeTxState(tx storage.LoginTx) txState {
	var s txState
	if len(tx.State) > 0 {
		_ = json.Unmarshal(tx.State, &s) // written by us; a bad value is no state
	}
	return s
}

func (s txState) encode() []byte {
	b, _ := json.Marshal(s)
	return b
}

// sessionProofs decodes the proofs of a browser session. Sessions made
// before proofs were recorded hold only a password sign-in.
func sessionProofs(s storage.Session) []mfa.Proof {
	var out []mfa.Proof
	if len(s.Factors) > 0 && json.Unmarshal(s.Factors, &out) == nil {
		return out
	}
	if slices.Contains(s.AMR, "pwd") {
		return []mfa.Proof{{Factor: mfa.Password, At: s.AuthTime}}
	}
	return nil
}

// acrRequest is what an authorization request asks of assurance.
type acrRequest struct {
	values    []string
	claims    []string
	essential bool
	// freshSince: proofs older than this do not count (max_age,
	// prompt=login); zero when neither is given.
	freshSince time.Time
}

// parseACRRequest reads acr_values, the claims parameter's id_token acr,
// max_age and prompt=login. Malformed values are refused by precheck before
// a transaction exists, so errors here cannot happen for stored requests.
func parseACRRequest(form url.Values, requested time.Time) (acrRequest, error) {
	var a acrRequest
	if v := strings.Fields(form.Get("acr_values")); len(v) > 0 {
		a.values = v
	}
	if raw := form.Get("claims"); raw != "" {
		vals, essential, err := parseClaimsACR(raw)
		if err != nil {
			return a, err
		}
		a.claims, a.essential = vals, essential
	}
	requested = requested.Truncate(time.Second)
	if v := form.Get("max_age"); v != "" {
		maxAge, err := strconv.ParseInt(v, 10, 64)
		if err != nil || maxAge < 0 {
			return a, errors.New("max_age must be a non-negative integer")
		}
		if maxAge < int64(100*365*24*time.Hour/time.Second) {
			a.freshSince = requested.Add(-time.Duration(maxAge) * time.Second)
		}
	}
	if slices.Contains(strings.Fields(form.Get("prompt")), "login") && requested.After(a.freshSince) {
		a.freshSince = requested
	}
	return a, nil
}

// parseClaimsACR extracts the acr request of the claims parameter (OIDC Core
// 5.5.1.1): {"id_token":{"acr":{"essential":true,"values":[...]}}}. A
// userinfo acr request is honoured the same way.
func parseClaimsACR(raw string) ([]string, bool, error) {
	type claimReq struct {
		Essential bool     `json:"essential"`
		Value     *string  `json:"value"`
		Values    []string `json:"values"`
	}
	var doc map[string]map[string]*claimReq
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		return nil, false, fmt.Errorf("claims is not a JSON object of claim requests: %w", err)
	}
	var vals []string
	essential := false
	for _, member := range []string{"id_token", "userinfo"} {
		c := doc[member]["acr"]
		if c == nil {
			continue
		}
		essential = essential || c.Essential
		if c.Value != nil {
			vals = append(vals, *c.Value)
		}
		vals = append(vals, c.Values...)
	}
	return vals, essential, nil
}

// decide gathers the facts of a transaction and asks the engine. The
// decision and its trace go to the audit log.
func (p *Provider) decide(r *http.Request, tx storage.LoginTx, form url.Values, sess *storage.Session, user storage.User) (mfa.Decision, mfa.Policy, error) {
	ctx := r.Context()
	pol, err := p.policies.get(ctx)
	if err != nil {
		return mfa.Decision{}, pol, err
	}
	req, err := parseACRRequest(form, tx.CreatedAt)
	if err != nil {
		return mfa.Decision{}, pol, fmt.Errorf("parse stored request: %w", err)
	}
	facts := mfa.Facts{
		Now: p.now(), ClientID: tx.ClientID,
		RequestedACR: req.values, ClaimsACR: req.claims, ClaimsACREssential: req.essential,
		FreshSince: req.freshSince,
		Session:    sessionProofs(*sess),
		Risk:       decodeTxState(tx).Risk,
		Available:  p.availableFactors(pol),
	}
	if facts.User, err = p.factorStates(ctx, user.ID, tx.ID, pol); err != nil {
		return mfa.Decision{}, pol, err
	}
	if pol.Remember.Enabled {
		if rb := p.remembered(r, user.ID); rb != nil {
			facts.RememberedAt = rb.CreatedAt
		}
	}
	d := mfa.Decide(pol, facts)
	return d, pol, nil
}

// availableFactors are the factors this build can run.
func (p *Provider) availableFactors(pol mfa.Policy) []mfa.Factor {
	out := []mfa.Factor{mfa.Password, mfa.TOTP, mfa.RecoveryCode}
	if p.passkeys != nil {
		out = append(out, mfa.Passkey)
	}
	if p.phone != nil {
		out = append(out, mfa.SMS, mfa.Voice)
	}
	if p.push != nil {
		out = append(out, mfa.Push)
	}
	if pol.Remember.Enabled {
		out = append(out, mfa.RememberedBrowser)
	}
	return out
}

// auditDecision writes a decision with its trace.
func (p *Provider) auditDecision(r *http.Request, tx storage.LoginTx, userID string, d mfa.Decision) {
	details := map[string]string{
		"outcome": string(d.Outcome), "target": string(d.Target), "achieved": string(d.Achieved),
		"trace": d.TraceString(),
	}
	if d.Start != "" {
		details["start"] = string(d.Start)
	}
	if len(d.Offer) > 0 {
		details["offer"] = joinFactors(d.Offer)
	}
	if d.Reason != "" {
		details["reason"] = d.Reason
	}
	p.audit(r, "mfa.decision", userID, tx.ClientID, details)
}

func joinFactors(fs []mfa.Factor) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = string(f)
	}
	return strings.Join(s, " ")
}

// addProof records a factor the browser just proved. The session id is
// renewed (the session gained privilege; an id planted before must not
// inherit it), the transaction follows the new session, and ACR/AMR are
// recomputed from the proofs.
func (p *Provider) addProof(w http.ResponseWriter, r *http.Request, tx *storage.LoginTx, sess *storage.Session, proof mfa.Proof) (storage.Session, error) {
	pol, err := p.policies.get(r.Context())
	if err != nil {
		return storage.Session{}, err
	}
	proofs := append(sessionProofs(*sess), proof)
	ns, err := p.sessions.elevate(w, r, sess, proofs, pol)
	if err != nil {
		return storage.Session{}, err
	}
	if tx != nil {
		tx.SessionID, tx.UserID = ns.ID, ns.UserID
		if !proof.At.Before(tx.AuthenticatedAt) {
			tx.AuthenticatedAt = proof.At
		}
		if err := p.store.UpdateLoginTx(r.Context(), *tx); err != nil {
			return ns, loginTxUpdateError(err)
		}
	}
	return ns, nil
}

// encodeProofs derives the stored form of a session's proofs.
func encodeProofs(proofs []mfa.Proof, pol mfa.Policy) (factors []byte, amr []string, acr string) {
	factors, _ = json.Marshal(proofs)
	return factors, mfa.AMR(proofs), string(mfa.Achieved(pol, proofs))
}
