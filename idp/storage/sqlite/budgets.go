package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
)

// SpendBudgets applies every charge or none. The transaction runs on the
// one write connection and begins IMMEDIATE, so no other writer (in this
// process or another) changes a counter between the read that judges it
// and the write that charges it. Every counter is judged before any is
// written: a refusal leaves the database as it was.
func (s *Store) SpendBudgets(ctx context.Context, charges []storage.BudgetCharge, now time.Time) error {
	const op = "spend budgets"
	if err := checkCharges(charges); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if len(charges) == 0 {
		return nil
	}
	return s.inTx(ctx, op, func(tx *sql.Tx) error {
		next := make([]storage.Budget, len(charges))
		for i, c := range charges {
			cur := storage.Budget{Key: c.Key}
			var start int64
			err := tx.QueryRowContext(ctx, `SELECT window_start, used FROM budgets WHERE key = ?`,
				c.Key).Scan(&start, &cur.Used)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				// A zero counter: its window ended long ago.
			case err != nil:
				return mapErr(op, err)
			default:
				cur.WindowStart = fromTm(start)
			}
			b, ok := charge(cur, c, fromTm(tm(now)))
			if !ok {
				return &storage.BudgetExceededError{Key: c.Key, Budget: cur}
			}
			next[i] = b
		}
		for _, b := range next {
			_, err := tx.ExecContext(ctx, `INSERT INTO budgets (key, window_start, used)
				VALUES (?, ?, ?)
				ON CONFLICT (key) DO UPDATE SET
					window_start = excluded.window_start, used = excluded.used`,
				b.Key, tm(b.WindowStart), b.Used)
			if err != nil {
				return mapErr(op, err)
			}
		}
		return nil
	})
}

// GetBudget returns a key's counter, or a zero counter for an unknown key.
func (s *Store) GetBudget(ctx context.Context, key string) (storage.Budget, error) {
	b := storage.Budget{Key: key}
	var start int64
	err := s.r.QueryRowContext(ctx, `SELECT window_start, used FROM budgets WHERE key = ?`,
		key).Scan(&start, &b.Used)
	if err != nil {
		err = mapErr("get budget", err)
		if errors.Is(err, storage.ErrNotFound) {
			return b, nil
		}
		return storage.Budget{}, err
	}
	b.WindowStart = fromTm(start)
	return b, nil
}

// DeleteStaleBudgets removes counters whose window started before before.
func (s *Store) DeleteStaleBudgets(ctx context.Context, before time.Time) (int64, error) {
	return s.execCount(ctx, "delete stale budgets",
		`DELETE FROM budgets WHERE window_start < ?`, tm(before))
}

// checkCharges refuses what SpendBudgets cannot apply as one set of
// independent counters: a key charged twice (its two charges would judge
// the same counter apart), a negative cost (a refund is not a charge) or a
// window that is not a duration.
func checkCharges(charges []storage.BudgetCharge) error {
	seen := make(map[string]bool, len(charges))
	for _, c := range charges {
		switch {
		case seen[c.Key]:
			return fmt.Errorf("budget %s charged twice in one call", c.Key)
		case c.Cost < 0:
			return fmt.Errorf("budget %s: negative cost %d", c.Key, c.Cost)
		case c.Window <= 0:
			return fmt.Errorf("budget %s: window %v, want a positive duration", c.Key, c.Window)
		}
		seen[c.Key] = true
	}
	return nil
}

// charge applies c to the counter cur at now: a window that has ended
// restarts at now from zero, then the cost is added. ok is false if the
// result would pass the limit.
func charge(cur storage.Budget, c storage.BudgetCharge, now time.Time) (next storage.Budget, ok bool) {
	next = cur
	if !cur.WindowStart.Add(c.Window).After(now) {
		next.WindowStart, next.Used = now, 0
	}
	// Compared this way round, nothing overflows: Cost is not negative.
	if c.Cost > c.Limit || next.Used > c.Limit-c.Cost {
		return cur, false
	}
	next.Used += c.Cost
	return next, true
}
