package idp

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/mfa"
	"github.com/latchkey/latchkey/mfa/recovery"
	"github.com/latchkey/latchkey/mfa/totp"
)

// Attempt accounting for second factors. Three counters, all in the store
// so every node sees them:
//
//	mfa-challenge:<tx>:<factor>  wrong codes in one transaction (MaxAttempts)
//	mfa-lock:<user>:<factor>     failures within LockWindow; past LockAfter the
//	                             factor locks for LockBase, doubling up to LockMax
//	mfa-budget:<user>:<factor>   checks per hour, right or wrong (HourlyBudget)
//
// The engine learns the result as facts (LockedUntil, BudgetLeft), so a
// locked factor makes it offer the next one instead of a dead end.

func challengeKey(txID string, f mfa.Factor) string { return "mfa-challenge:" + txID + ":" + string(f) }
func lockKey(userID string, f mfa.Factor) string    { return "mfa-lock:" + userID + ":" + string(f) }
func budgetKey(userID string, f mfa.Factor) string  { return "mfa-budget:" + userID + ":" + string(f) }

const budgetPeriod = time.Hour

// pageFactors are the factors the /mfa page can ask for.
var pageFactors = []mfa.Factor{mfa.Passkey, mfa.Push, mfa.TOTP, mfa.SMS, mfa.Voice, mfa.RecoveryCode}

// lockedUntil turns a lock counter into the end of the lock (zero: none).
func lockedUntil(t storage.Throttle, l mfa.Limits) time.Time {
	if l.LockAfter <= 0 || t.Failures < l.LockAfter || t.LastFailureAt.IsZero() {
		return time.Time{}
	}
	d, maxD := time.Duration(l.LockBase), time.Duration(l.LockMax)
	for i := 0; i < t.Failures-l.LockAfter && d < maxD; i++ {
		d *= 2
	}
	return t.LastFailureAt.Add(min(d, maxD))
}

// budgetLeft is how many checks remain in the current period.
func budgetLeft(t storage.Throttle, l mfa.Limits, now time.Time) int {
	if t.LastFailureAt.IsZero() || now.Sub(t.LastFailureAt) > budgetPeriod {
		return l.HourlyBudget
	}
	return max(l.HourlyBudget-t.Failures, 0)
}

// factorStates is what the engine needs to know about a user's factors.
func (p *Provider) factorStates(ctx context.Context, userID, txID string, pol mfa.Policy) ([]mfa.FactorState, error) {
	creds, err := p.store.ListTOTP(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("list totp: %w", err)
	}
	codes, err := p.store.ListRecoveryCodes(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("list recovery codes: %w", err)
	}
	keys, err := p.store.ListPasskeys(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("list passkeys: %w", err)
	}
	backedUp := false
	for _, k := range keys {
		backedUp = backedUp || k.BackedUp
	}
	states := []mfa.FactorState{
		{Factor: mfa.Password, Enrolled: true, BudgetLeft: -1},
		{Factor: mfa.Passkey, Enrolled: len(keys) > 0, BackedUp: backedUp},
		{Factor: mfa.TOTP, Enrolled: confirmedTOTP(creds) > 0},
		{Factor: mfa.RecoveryCode, Enrolled: len(codes) > 0, Remaining: unusedCodes(codes)},
	}
	phones, err := p.phoneStates(ctx, userID, txID)
	if err != nil {
		return nil, err
	}
	states = append(states, phones...)
	if ps, ok, err := p.pushState(ctx, userID, txID); err != nil {
		return nil, err
	} else if ok {
		states = append(states, ps)
	}
	now := p.now()
	for i := range states {
		s := &states[i]
		// Locks and budgets matter only for factors the user has; skipping
		// the others saves three store reads each on every decision.
		if s.Factor == mfa.Password || !s.Enrolled {
			continue
		}
		lock, err := p.store.GetThrottle(ctx, lockKey(userID, s.Factor))
		if err != nil {
			return nil, fmt.Errorf("read lock: %w", err)
		}
		// Keep a lock the factor's own state already set (push: "this
		// wasn't me", or a push this sign-in gave up on).
		if until := lockedUntil(lock, pol.Limits); until.After(s.LockedUntil) {
			s.LockedUntil = until
		}
		budget, err := p.store.GetThrottle(ctx, budgetKey(userID, s.Factor))
		if err != nil {
			return nil, fmt.Errorf("read budget: %w", err)
		}
		// Phone factors also have a send budget (phoneStates); the
		// smaller one counts.
		left := budgetLeft(budget, pol.Limits, now)
		if s.BudgetLeft >= 0 && (s.Factor == mfa.SMS || s.Factor == mfa.Voice || s.Factor == mfa.Push) {
			left = min(left, s.BudgetLeft)
		}
		s.BudgetLeft = left
		if txID != "" {
			ch, err := p.store.GetThrottle(ctx, challengeKey(txID, s.Factor))
			if err != nil {
				return nil, fmt.Errorf("read challenge attempts: %w", err)
			}
			// A challenge out of attempts is void for the rest of the
			// transaction: the engine sees the factor as locked until the
			// transaction ends.
			if ch.Failures >= pol.Limits.MaxAttempts {
				if until := now.Add(p.life.Login); until.After(s.LockedUntil) {
					s.LockedUntil = until
				}
			}
		}
	}
	return states, nil
}

func confirmedTOTP(cs []storage.TOTPCredential) int {
	n := 0
	for _, c := range cs {
		if c.Confirmed() {
			n++
		}
	}
	return n
}

func unusedCodes(cs []storage.RecoveryCode) int {
	n := 0
	for _, c := range cs {
		if c.UsedAt.IsZero() {
			n++
		}
	}
	return n
}

// spendAttempt counts one code check against the user's hourly budget and
// refuses when none is left or the factor is locked.
func (p *Provider) spendAttempt(ctx context.Context, userID, txID string, f mfa.Factor, pol mfa.Policy) (bool, error) {
	now := p.now()
	lock, err := p.store.GetThrottle(ctx, lockKey(userID, f))
	if err != nil {
		return false, fmt.Errorf("read lock: %w", err)
	}
	if lockedUntil(lock, pol.Limits).After(now) {
		return false, nil
	}
	if txID != "" {
		ch, err := p.store.GetThrottle(ctx, challengeKey(txID, f))
		if err != nil {
			return false, fmt.Errorf("read challenge attempts: %w", err)
		}
		if ch.Failures >= pol.Limits.MaxAttempts {
			return false, nil
		}
	}
	t, err := p.store.RecordFailure(ctx, budgetKey(userID, f), now, budgetPeriod)
	if err != nil {
		return false, fmt.Errorf("count attempt: %w", err)
	}
	return t.Failures <= pol.Limits.HourlyBudget, nil
}

// failAttempt counts a wrong code; it reports whether the factor is now
// locked for the user.
func (p *Provider) failAttempt(ctx context.Context, userID, txID string, f mfa.Factor, pol mfa.Policy) (time.Time, error) {
	now := p.now()
	if txID != "" {
		if _, err := p.store.RecordFailure(ctx, challengeKey(txID, f), now, p.life.Login); err != nil {
			return time.Time{}, fmt.Errorf("count wrong code: %w", err)
		}
	}
	t, err := p.store.RecordFailure(ctx, lockKey(userID, f), now, time.Duration(pol.Limits.LockWindow))
	if err != nil {
		return time.Time{}, fmt.Errorf("count wrong code: %w", err)
	}
	return lockedUntil(t, pol.Limits), nil
}

// passAttempt clears the failure counters after a right code.
func (p *Provider) passAttempt(ctx context.Context, userID, txID string, f mfa.Factor) error {
	if err := p.store.ResetThrottle(ctx, lockKey(userID, f)); err != nil {
		return fmt.Errorf("reset lock: %w", err)
	}
	if txID != "" {
		if err := p.store.ResetThrottle(ctx, challengeKey(txID, f)); err != nil {
			return fmt.Errorf("reset challenge attempts: %w", err)
		}
	}
	return nil
}

// totpAAD binds a sealed TOTP secret to its credential, so a secret copied
// onto another row does not open.
func totpAAD(id string) []byte { return []byte("totp-secret:" + id) }

// errReplay: the code was right but its time step was used already.
var errReplay = errors.New("totp code already used")

// verifyTOTP checks a code against the user's confirmed authenticators and
// consumes its time step atomically, so a code is accepted once even when
// two nodes see it at the same moment. It returns the credential id.
func (p *Provider) verifyTOTP(ctx context.Context, userID, code string) (string, error) {
	creds, err := p.store.ListTOTP(ctx, userID)
	if err != nil {
		return "", fmt.Errorf("list totp: %w", err)
	}
	replayed := false
	for _, c := range creds {
		if !c.Confirmed() {
			continue
		}
		ok, err := p.useTOTP(ctx, c, code)
		if errors.Is(err, errReplay) {
			replayed = true
			continue
		}
		if err != nil {
			return "", err
		}
		if ok {
			return c.ID, nil
		}
	}
	if replayed {
		return "", errReplay
	}
	return "", nil
}

// useTOTP checks code against one credential (pending or confirmed) and
// records its step.
func (p *Provider) useTOTP(ctx context.Context, c storage.TOTPCredential, code string) (bool, error) {
	secret, err := p.secrets.Open(c.Secret, totpAAD(c.ID))
	if err != nil {
		return false, fmt.Errorf("open totp secret %s: %w", c.ID, err)
	}
	step, ok := totp.Verify(totp.DefaultParams(), string(secret), code, p.now())
	if !ok {
		return false, nil
	}
	if step <= c.LastStep {
		return false, errReplay
	}
	switch err := p.store.UseTOTPStep(ctx, c.UserID, c.ID, step, p.now().UTC()); {
	case errors.Is(err, storage.ErrConflict):
		return false, errReplay
	case err != nil:
		return false, fmt.Errorf("use totp step: %w", err)
	}
	return true, nil
}

// useRecoveryCode consumes a recovery code. It returns false for a code
// that is wrong or used.
func (p *Provider) useRecoveryCode(ctx context.Context, userID, input string) (bool, error) {
	code, ok := recovery.Normalize(input)
	if !ok {
		return false, nil
	}
	err := p.store.UseRecoveryCode(ctx, userID, p.recoveryHash.Hash(code), p.now().UTC())
	switch {
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrConflict):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("use recovery code: %w", err)
	}
	return true, nil
}

// newRecoveryCodes replaces the user's recovery codes and returns the new
// ones, to be shown once.
func (p *Provider) newRecoveryCodes(ctx context.Context, userID string) ([]string, error) {
	codes, err := recovery.Generate(recovery.Count)
	if err != nil {
		return nil, fmt.Errorf("generate recovery codes: %w", err)
	}
	hashes := make([]string, len(codes))
	for i, c := range codes {
		n, _ := recovery.Normalize(c)
		hashes[i] = p.recoveryHash.Hash(n)
	}
	if err := p.store.ReplaceRecoveryCodes(ctx, userID, hashes, p.now().UTC()); err != nil {
		return nil, fmt.Errorf("store recovery codes: %w", err)
	}
	return codes, nil
}
