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
