package storagetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
)

func getBudget(t *testing.T, s storage.Store, key string) storage.Budget {
	t.Helper()
	b, err := s.GetBudget(ctx(t), key)
	must(t, "GetBudget", err)
	return b
}

// hourly is a charge of cost against limit in a one-hour window.
func hourly(key string, cost, limit int64) storage.BudgetCharge {
	return storage.BudgetCharge{Key: key, Cost: cost, Limit: limit, Window: time.Hour}
}

// wantExceeded checks that err is the refusal SpendBudgets promises:
// a *BudgetExceededError, not wrapped, that is also ErrConflict, naming key
// with its counter as it stands.
func wantExceeded(t *testing.T, what string, err error, key string, counter storage.Budget) {
	t.Helper()
	wantErr(t, what, err, storage.ErrConflict)
	be, ok := err.(*storage.BudgetExceededError)
	if !ok {
		t.Fatalf("%s: err is %T, want *storage.BudgetExceededError", what, err)
	}
	equal(t, what+": key", be.Key, key)
	equal(t, what+": counter", be.Budget, counter)
}

var budgetTests = []subtest{
	{"Spend", func(t *testing.T, s storage.Store) {
		equal(t, "GetBudget missing", getBudget(t, s, "sms-user:u1"), storage.Budget{Key: "sms-user:u1"})
		must(t, "SpendBudgets none", s.SpendBudgets(ctx(t), nil, base))
		charges := []storage.BudgetCharge{hourly("sms-user:u1", 1, 3), hourly("sms-spend:day", 75, 1000)}
		must(t, "SpendBudgets", s.SpendBudgets(ctx(t), charges, base))
		// A key never charged starts its window at the first charge.
		equal(t, "user after one", getBudget(t, s, "sms-user:u1"), storage.Budget{Key: "sms-user:u1", WindowStart: base, Used: 1})
		equal(t, "spend after one", getBudget(t, s, "sms-spend:day"), storage.Budget{Key: "sms-spend:day", WindowStart: base, Used: 75})
		// Within the window the counter grows; the window stays put.
		must(t, "SpendBudgets again", s.SpendBudgets(ctx(t), charges, at(10*time.Minute)))
		must(t, "SpendBudgets to the limit", s.SpendBudgets(ctx(t), charges, at(20*time.Minute)))
		full := storage.Budget{Key: "sms-user:u1", WindowStart: base, Used: 3}
		equal(t, "user at the limit", getBudget(t, s, "sms-user:u1"), full)
		err := s.SpendBudgets(ctx(t), charges, at(30*time.Minute))
		wantExceeded(t, "SpendBudgets past the limit", err, "sms-user:u1", full)
		// A cost of zero only checks, and a full counter passes it.
		must(t, "SpendBudgets cost 0", s.SpendBudgets(ctx(t), []storage.BudgetCharge{hourly("sms-user:u1", 0, 3)}, at(30*time.Minute)))
		equal(t, "spend unchanged", getBudget(t, s, "sms-spend:day").Used, int64(225))
		// A cost above the limit is refused even on a fresh counter.
		err = s.SpendBudgets(ctx(t), []storage.BudgetCharge{hourly("fresh", 5, 4)}, base)
		wantExceeded(t, "SpendBudgets cost above limit", err, "fresh", storage.Budget{Key: "fresh"})
	}},
	{"AllOrNothing", func(t *testing.T, s storage.Store) {
		must(t, "SpendBudgets", s.SpendBudgets(ctx(t), []storage.BudgetCharge{hourly("a", 1, 10), hourly("b", 2, 2)}, base))
		a, b := getBudget(t, s, "a"), getBudget(t, s, "b")
		// a and the new key c have room, b does not: nothing changes, c
		// is not created.
		err := s.SpendBudgets(ctx(t), []storage.BudgetCharge{hourly("a", 1, 10), hourly("c", 1, 10), hourly("b", 1, 2)}, at(time.Minute))
		wantExceeded(t, "SpendBudgets", err, "b", b)
		equal(t, "a unchanged", getBudget(t, s, "a"), a)
		equal(t, "c not created", getBudget(t, s, "c"), storage.Budget{Key: "c"})
		n, err := s.DeleteStaleBudgets(ctx(t), at(time.Hour))
		must(t, "DeleteStaleBudgets", err)
		equal(t, "counters stored", n, int64(2))
		// With two counters over, the first in the call's order is named.
		must(t, "SpendBudgets", s.SpendBudgets(ctx(t), []storage.BudgetCharge{hourly("a", 1, 1), hourly("b", 1, 1)}, base))
		err = s.SpendBudgets(ctx(t), []storage.BudgetCharge{hourly("b", 1, 1), hourly("a", 1, 1)}, base)
		wantExceeded(t, "SpendBudgets both over", err, "b", storage.Budget{Key: "b", WindowStart: base, Used: 1})
	}},
	{"WindowRestart", func(t *testing.T, s storage.Store) {
		c := []storage.BudgetCharge{hourly("k", 2, 3)}
		must(t, "SpendBudgets", s.SpendBudgets(ctx(t), c, base))
		full := storage.Budget{Key: "k", WindowStart: base, Used: 2}
		err := s.SpendBudgets(ctx(t), c, at(time.Hour-time.Microsecond))
		wantExceeded(t, "SpendBudgets just before the window ends", err, "k", full)
		// The window ends at WindowStart + Window: the counter restarts.
		end := at(time.Hour)
		must(t, "SpendBudgets at the window's end", s.SpendBudgets(ctx(t), c, end))
		equal(t, "restarted", getBudget(t, s, "k"), storage.Budget{Key: "k", WindowStart: end, Used: 2})
		// A refused charge after the window ended leaves the stored
		// counter as it was, ended window and all.
		late := at(3 * time.Hour)
		err = s.SpendBudgets(ctx(t), []storage.BudgetCharge{hourly("k", 4, 3)}, late)
		wantExceeded(t, "SpendBudgets over after the window", err, "k", storage.Budget{Key: "k", WindowStart: end, Used: 2})
		equal(t, "unchanged", getBudget(t, s, "k"), storage.Budget{Key: "k", WindowStart: end, Used: 2})
		// Each charge brings its own window: a longer one keeps counting.
		daily := storage.BudgetCharge{Key: "k", Cost: 1, Limit: 10, Window: 24 * time.Hour}
		must(t, "SpendBudgets daily", s.SpendBudgets(ctx(t), []storage.BudgetCharge{daily}, late))
		equal(t, "daily", getBudget(t, s, "k"), storage.Budget{Key: "k", WindowStart: end, Used: 3})
	}},
	{"InvalidCharges", func(t *testing.T, s storage.Store) {
		must(t, "SpendBudgets", s.SpendBudgets(ctx(t), []storage.BudgetCharge{hourly("a", 1, 10)}, base))
		for _, tc := range []struct {
			what    string
			charges []storage.BudgetCharge
		}{
			{"key twice", []storage.BudgetCharge{hourly("a", 1, 10), hourly("b", 1, 10), hourly("a", 1, 10)}},
			{"negative cost", []storage.BudgetCharge{hourly("b", 1, 10), hourly("a", -1, 10)}},
			{"no window", []storage.BudgetCharge{hourly("b", 1, 10), {Key: "a", Cost: 1, Limit: 10}}},
		} {
			err := s.SpendBudgets(ctx(t), tc.charges, base)
			if err == nil || errors.Is(err, storage.ErrConflict) || errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("SpendBudgets %s: err = %v, want an error that is neither sentinel", tc.what, err)
			}
			noDriverError(t, "SpendBudgets "+tc.what, err)
		}
		equal(t, "a unchanged", getBudget(t, s, "a"), storage.Budget{Key: "a", WindowStart: base, Used: 1})
		equal(t, "b not created", getBudget(t, s, "b"), storage.Budget{Key: "b"})
	}},
	{"DeleteStale", func(t *testing.T, s storage.Store) {
		for key, start := range map[string]time.Time{
			"old": at(-3 * time.Hour), "boundary": at(-time.Hour), "new": base,
		} {
			must(t, "SpendBudgets "+key, s.SpendBudgets(ctx(t), []storage.BudgetCharge{hourly(key, 1, 5)}, start))
		}
		n, err := s.DeleteStaleBudgets(ctx(t), at(-time.Hour))
		must(t, "DeleteStaleBudgets", err)
		equal(t, "deleted", n, int64(1))
		equal(t, "old gone", getBudget(t, s, "old"), storage.Budget{Key: "old"})
		equal(t, "boundary kept", getBudget(t, s, "boundary").Used, int64(1))
		equal(t, "new kept", getBudget(t, s, "new").Used, int64(1))
		n, err = s.DeleteStaleBudgets(ctx(t), at(-time.Hour))
		must(t, "DeleteStaleBudgets again", err)
		equal(t, "deleted again", n, int64(0))
		// A deleted counter starts afresh.
		must(t, "SpendBudgets old", s.SpendBudgets(ctx(t), []storage.BudgetCharge{hourly("old", 5, 5)}, base))
	}},
	{"LastUnitsSpentOnce", func(t *testing.T, s storage.Store) {
		// Twenty sends at once against a limit of seven: seven go out.
		const limit = 7
		errs := race(func(int) error {
			return s.SpendBudgets(ctx(t), []storage.BudgetCharge{hourly("sms-country:JP", 1, limit)}, base)
		})
		wins := countSpent(t, errs)
		equal(t, "charges accepted", wins, limit)
		equal(t, "counter", getBudget(t, s, "sms-country:JP"), storage.Budget{Key: "sms-country:JP", WindowStart: base, Used: limit})
	}},
	{"SharedKeysStayInStep", func(t *testing.T, s storage.Store) {
		// Racers charge two shared counters in opposite orders, and one
		// of their own: whoever is refused by "tight" charges nothing
		// anywhere, and opposite orders never deadlock.
		const limit = 7
		errs := race(func(i int) error {
			tight, loose := hourly("tight", 1, limit), hourly("loose", 1, 1000)
			own := hourly(fmt.Sprint("own-", i), 1, 1)
			charges := []storage.BudgetCharge{tight, loose, own}
			if i%2 == 1 {
				charges = []storage.BudgetCharge{own, loose, tight}
			}
			return s.SpendBudgets(ctx(t), charges, base)
		})
		wins := countSpent(t, errs)
		equal(t, "charges accepted", wins, limit)
		equal(t, "tight", getBudget(t, s, "tight").Used, int64(limit))
		equal(t, "loose", getBudget(t, s, "loose").Used, int64(limit))
		for i, err := range errs {
			want := int64(0)
			if err == nil {
				want = 1
			}
			equal(t, fmt.Sprint("own-", i), getBudget(t, s, fmt.Sprint("own-", i)).Used, want)
		}
	}},
}

// countSpent counts the racers that got nil; every other one must have
// been refused with a *BudgetExceededError.
func countSpent(t *testing.T, errs []error) int {
	t.Helper()
	wins := 0
	for i, err := range errs {
		var be *storage.BudgetExceededError
		switch {
		case err == nil:
			wins++
		case errors.As(err, &be) && errors.Is(err, storage.ErrConflict):
			noDriverError(t, "SpendBudgets", err)
		default:
			t.Errorf("racer %d: %v", i, err)
		}
	}
	return wins
}
