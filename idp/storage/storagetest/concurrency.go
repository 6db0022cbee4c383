package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
)

// racers is how many goroutines race on one record.
const racers = 20

// race runs fn from racers goroutines released at once and returns their
// errors.
func race(fn func(i int) error) []error {
	var (
		start = make(chan struct{})
		wg    sync.WaitGroup
		errs  = make([]error, racers)
	)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// oneWinner checks that exactly one caller got nil and every other one
// ErrConflict.
func oneWinner(t *testing.T, what string, errs []error) {
	t.Helper()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, storage.ErrConflict):
			noDriverError(t, what, err)
		default:
			t.Errorf("%s: unexpected error: %v", what, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%s: %d winners, want exactly 1", what, wins)
	}
}

var concurrencyTests = []subtest{
	{"AuthorizationCodeUsedOnce", func(t *testing.T, s storage.Store) {
		must(t, "CreateToken", s.CreateToken(ctx(t), token(storage.KindAuthorizeCode, "code", "r1", "sub", "rp")))
		errs := race(func(int) error {
			return s.DeactivateToken(ctx(t), storage.KindAuthorizeCode, "code")
		})
		oneWinner(t, "DeactivateToken authorize_code", errs)
		if activeOf(t, s, storage.KindAuthorizeCode, "code") {
			t.Fatal("code still active")
		}
	}},
	{"RefreshTokenRotatedOnce", func(t *testing.T, s storage.Store) {
		must(t, "CreateToken", s.CreateToken(ctx(t), token(storage.KindRefreshToken, "rt", "fam", "sub", "rp")))
		// Each racer tries what a refresh does: use the old token up, then
		// store its successor. Only the winner may get that far.
		errs := race(func(i int) error {
			if err := s.DeactivateToken(ctx(t), storage.KindRefreshToken, "rt"); err != nil {
				return err
			}
			return s.CreateToken(ctx(t), token(storage.KindRefreshToken, fmt.Sprintf("rt-%d", i), "fam", "sub", "rp"))
		})
		oneWinner(t, "DeactivateToken refresh_token", errs)
		n, err := s.DeactivateTokensByRequestID(ctx(t), storage.KindRefreshToken, "fam")
		must(t, "DeactivateTokensByRequestID", err)
		equal(t, "successors issued", n, int64(1))
	}},
	{"LoginTxCompletedOnce", func(t *testing.T, s storage.Store) {
		must(t, "CreateLoginTx", s.CreateLoginTx(ctx(t), fullLoginTx("tx1")))
		errs := race(func(int) error {
			return s.CompleteLoginTx(ctx(t), "tx1", base)
		})
		oneWinner(t, "CompleteLoginTx", errs)
	}},
	{"LoginTxUpdateVersusComplete", func(t *testing.T, s storage.Store) {
		// Updates racing a completion either land before it or fail with
		// ErrConflict; none lands after.
		must(t, "CreateLoginTx", s.CreateLoginTx(ctx(t), fullLoginTx("tx1")))
		errs := race(func(i int) error {
			if i == racers/2 {
				return s.CompleteLoginTx(ctx(t), "tx1", base)
			}
			tx := fullLoginTx("tx1")
			tx.UserID = fmt.Sprint("u", i)
			return s.UpdateLoginTx(ctx(t), tx)
		})
		must(t, "CompleteLoginTx", errs[racers/2])
		for i, err := range errs {
			if err != nil && !errors.Is(err, storage.ErrConflict) {
				t.Errorf("racer %d: %v", i, err)
			}
		}
		// Nothing changes a completed transaction any more.
		tx := fullLoginTx("tx1")
		tx.UserID = "late"
		wantErr(t, "UpdateLoginTx after race", s.UpdateLoginTx(ctx(t), tx), storage.ErrConflict)
	}},
	{"FailuresAllCounted", func(t *testing.T, s storage.Store) {
		counts := make([]int, racers)
		errs := race(func(i int) error {
			th, err := s.RecordFailure(ctx(t), "login-ip:192.0.2.1", at(time.Duration(i)*time.Millisecond), time.Hour)
			counts[i] = th.Failures
			return err
		})
		for _, err := range errs {
			must(t, "RecordFailure", err)
		}
		th, err := s.GetThrottle(ctx(t), "login-ip:192.0.2.1")
		must(t, "GetThrottle", err)
		equal(t, "failures", th.Failures, racers)
		sameTime(t, "last failure", th.LastFailureAt, at((racers-1)*time.Millisecond))
		// Every caller saw its own count: 1..20, each once.
		slices.Sort(counts)
		for i, c := range counts {
			if c != i+1 {
				t.Fatalf("counts returned = %v, want 1..%d", counts, racers)
			}
		}
	}},
	{"TOTPStepUsedOnce", func(t *testing.T, s storage.Store) {
		// One code typed on two tabs, or replayed by a phisher in the same
		// 30 seconds: the step counts once.
		withUser(t, s, "u1")
		must(t, "CreateTOTP", s.CreateTOTP(ctx(t), pendingTOTP("t1", "u1", base)))
		errs := race(func(i int) error {
			return s.UseTOTPStep(ctx(t), "u1", "t1", 58_000_000, at(time.Duration(i)*time.Millisecond))
		})
		oneWinner(t, "UseTOTPStep", errs)
		got := totpByID(t, s, "u1", "t1")
		equal(t, "LastStep", got.LastStep, int64(58_000_000))
		// The winner's now went in, whole: one racer's time in both fields.
		winner := slices.IndexFunc(errs, func(err error) bool { return err == nil })
		sameTime(t, "LastUsedAt", got.LastUsedAt, at(time.Duration(winner)*time.Millisecond))
		sameTime(t, "ConfirmedAt", got.ConfirmedAt, got.LastUsedAt)
	}},
	{"TOTPStepsNeverGoBack", func(t *testing.T, s storage.Store) {
		// Racers with different steps: whatever the order, the highest
		// step is accepted and is the one left recorded.
		withUser(t, s, "u1")
		must(t, "CreateTOTP", s.CreateTOTP(ctx(t), pendingTOTP("t1", "u1", base)))
		errs := race(func(i int) error {
			return s.UseTOTPStep(ctx(t), "u1", "t1", int64(100+i), base)
		})
		for i, err := range errs {
			if err != nil && !errors.Is(err, storage.ErrConflict) {
				t.Errorf("racer %d: %v", i, err)
			}
		}
		must(t, "highest step", errs[racers-1])
		equal(t, "LastStep", totpByID(t, s, "u1", "t1").LastStep, int64(100+racers-1))
	}},
	{"RecoveryCodeUsedOnce", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		must(t, "ReplaceRecoveryCodes", s.ReplaceRecoveryCodes(ctx(t), "u1", []string{"h1", "h2"}, base))
		errs := race(func(i int) error {
			return s.UseRecoveryCode(ctx(t), "u1", "h1", at(time.Duration(i)*time.Millisecond))
		})
		oneWinner(t, "UseRecoveryCode", errs)
		cs := codes(t, s, "u1")
		winner := slices.IndexFunc(errs, func(err error) bool { return err == nil })
		sameTime(t, "UsedAt", cs[0].UsedAt, at(time.Duration(winner)*time.Millisecond))
		if !cs[1].UsedAt.IsZero() {
			t.Fatal("the other code was used too")
		}
	}},
	{"RecoveryCodesReplacedWhileUsed", func(t *testing.T, s storage.Store) {
		// Using old codes while the set is replaced: each use lands on
		// the old set (nil) or finds its code gone (ErrNotFound); the new
		// set comes out whole and unused.
		withUser(t, s, "u1")
		old := make([]string, racers)
		for i := range old {
			old[i] = fmt.Sprint("old-", i)
		}
		must(t, "ReplaceRecoveryCodes", s.ReplaceRecoveryCodes(ctx(t), "u1", old, base))
		errs := race(func(i int) error {
			if i == racers/2 {
				return s.ReplaceRecoveryCodes(ctx(t), "u1", []string{"new-1", "new-2"}, at(time.Hour))
			}
			return s.UseRecoveryCode(ctx(t), "u1", old[i], base)
		})
		must(t, "ReplaceRecoveryCodes during uses", errs[racers/2])
		for i, err := range errs {
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("racer %d: %v", i, err)
			}
		}
		equal(t, "new set", codes(t, s, "u1"), unused("u1", at(time.Hour), "new-1", "new-2"))
	}},
	{"PasskeyCounterUsedOnce", func(t *testing.T, s storage.Store) {
		// One assertion replayed, or a cloned authenticator racing the
		// real one with the same counter: the count is accepted once.
		withUser(t, s, "u1")
		must(t, "CreatePasskey", s.CreatePasskey(ctx(t), fullPasskey(credA, "u1", base)))
		errs := race(func(i int) error {
			return s.UsePasskey(ctx(t), "u1", credA, 8, i%2 == 0, at(time.Duration(i)*time.Millisecond))
		})
		oneWinner(t, "UsePasskey", errs)
		got := getPasskey(t, s, credA)
		equal(t, "SignCount", got.SignCount, uint32(8))
		// The winner's assertion went in, whole.
		winner := slices.IndexFunc(errs, func(err error) bool { return err == nil })
		sameTime(t, "LastUsedAt", got.LastUsedAt, at(time.Duration(winner)*time.Millisecond))
		equal(t, "BackedUp", got.BackedUp, winner%2 == 0)
	}},
	{"PasskeyCountersNeverGoBack", func(t *testing.T, s storage.Store) {
		// Racers with different counts: whatever the order, the highest is
		// accepted and is the one left recorded.
		withUser(t, s, "u1")
		must(t, "CreatePasskey", s.CreatePasskey(ctx(t), fullPasskey(credA, "u1", base)))
		errs := race(func(i int) error {
			return s.UsePasskey(ctx(t), "u1", credA, uint32(100+i), true, base)
		})
		for i, err := range errs {
			if err != nil && !errors.Is(err, storage.ErrConflict) {
				t.Errorf("racer %d: %v", i, err)
			}
		}
		must(t, "highest count", errs[racers-1])
		equal(t, "SignCount", getPasskey(t, s, credA).SignCount, uint32(100+racers-1))
	}},
	{"PasskeyWithoutCounterAlwaysPasses", func(t *testing.T, s storage.Store) {
		// Both zero is no clone signal: concurrent sign-ins with a synced
		// passkey all succeed.
		withUser(t, s, "u1")
		p := fullPasskey(credA, "u1", base)
		p.SignCount = 0
		must(t, "CreatePasskey", s.CreatePasskey(ctx(t), p))
		errs := race(func(int) error {
			return s.UsePasskey(ctx(t), "u1", credA, 0, true, base)
		})
		for i, err := range errs {
			must(t, fmt.Sprint("racer ", i), err)
		}
	}},
	{"CeremonyTakenOnce", func(t *testing.T, s storage.Store) {
		// The browser's answer posted twice, or by two tabs: one of them
		// gets the challenge.
		withUser(t, s, "u1")
		want := fullCeremony("c1", "u1")
		must(t, "CreateCeremony", s.CreateCeremony(ctx(t), want))
		got := make([]storage.Ceremony, racers)
		errs := race(func(i int) error {
			var err error
			got[i], err = s.TakeCeremony(ctx(t), "c1", base)
			return err
		})
		wins := 0
		for i, err := range errs {
			switch {
			case err == nil:
				wins++
				equal(t, "taken ceremony", got[i], want)
			case errors.Is(err, storage.ErrNotFound):
				noDriverError(t, "TakeCeremony", err)
			default:
				t.Errorf("racer %d: %v", i, err)
			}
		}
		if wins != 1 {
			t.Fatalf("TakeCeremony: %d winners, want exactly 1", wins)
		}
	}},
	{"UniqueEmail", func(t *testing.T, s storage.Store) {
		errs := race(func(i int) error {
			return s.CreateUser(ctx(t), fullUser(fmt.Sprint("u", i), "same@example.com"))
		})
		oneWinner(t, "CreateUser same email", errs)
	}},
	{"RotateWhileReading", func(t *testing.T, s storage.Store) {
		// Readers never see an algorithm without an active key while
		// rotations run.
		must(t, "CreateSigningKey", s.CreateSigningKey(ctx(t), key("k0", "ES256", base)))
		errs := race(func(i int) error {
			if i%2 == 0 {
				k := key(fmt.Sprint("k", i+1), "ES256", at(time.Duration(i+1)*time.Second))
				return s.RotateSigningKey(ctx(t), k, at(time.Hour))
			}
			for range 5 {
				ks, err := s.ListSigningKeys(ctx(t))
				if err != nil {
					return err
				}
				if !slices.ContainsFunc(ks, storage.SigningKey.Active) {
					return errors.New("no active key listed")
				}
			}
			return nil
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("racer %d: %v", i, err)
			}
		}
	}},
}
