package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/latchkey/latchkey/idp/storage"
)

// SpendBudgets applies every charge or none, in one transaction that locks
// the call's counters before judging them, so no other node changes a
// counter between the read and the write. The first statement locks every
// counter, creating the missing ones: a counter that does not exist has
// no row to lock, so it is inserted as the zero counter GetBudget reports
// for a missing key (its window began in year 1, long over), and ON
// CONFLICT DO UPDATE waits for a concurrent inserter or locker and then
// locks the latest version of the row. A refusal rolls the new rows back
// with everything else. Rows are locked in key order, so calls that share
// keys queue instead of deadlocking.
func (s *Store) SpendBudgets(ctx context.Context, charges []storage.BudgetCharge, now time.Time) error {
	const op = "spend budgets"
	if err := checkCharges(charges); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if len(charges) == 0 {
		return nil
	}
	now = fromTm(tm(now))
	keys := make([]string, len(charges))
	for i, c := range charges {
		keys[i] = c.Key
	}
	slices.Sort(keys) // the order the rows are locked in
	return inTx(ctx, s.pool, op, func(tx pgx.Tx) error {
		// The no-op SET only takes the lock and returns the row as it
		// stands.
		rows, err := tx.Query(ctx, `INSERT INTO budgets AS b (key, window_start, used)
			SELECT k, $2, 0 FROM unnest($1::text[]) WITH ORDINALITY AS u (k, n) ORDER BY n
			ON CONFLICT (key) DO UPDATE SET used = b.used
			RETURNING key, window_start, used`, keys, tm(time.Time{}))
		if err != nil {
			return mapErr(op, err)
		}
		cur := make(map[string]storage.Budget, len(keys))
		for rows.Next() {
			var b storage.Budget
			if err := rows.Scan(&b.Key, &b.WindowStart, &b.Used); err != nil {
				rows.Close()
				return mapErr(op, err)
			}
			b.WindowStart = fromTm(b.WindowStart)
			cur[b.Key] = b
		}
		if err := rows.Err(); err != nil {
			return mapErr(op, err)
		}
		next := make([]storage.Budget, len(charges))
		for i, c := range charges {
			b, ok := cur[c.Key]
			if !ok {
				return fmt.Errorf("%s: budget %s not locked", op, c.Key)
			}
			n, ok := charge(b, c, now)
			if !ok {
				return &storage.BudgetExceededError{Key: c.Key, Budget: b}
			}
			next[i] = n
		}
		var (
			starts = make([]time.Time, len(next))
			used   = make([]int64, len(next))
		)
		for i, b := range next {
			keys[i], starts[i], used[i] = b.Key, tm(b.WindowStart), b.Used
		}
		_, err = tx.Exec(ctx, `UPDATE budgets AS b SET window_start = v.start, used = v.used
			FROM unnest($1::text[], $2::timestamptz[], $3::bigint[]) AS v (key, start, used)
			WHERE b.key = v.key`, keys, starts, used)
		return mapErr(op, err)
	})
}

// GetBudget returns a key's counter, or a zero counter for an unknown key.
func (s *Store) GetBudget(ctx context.Context, key string) (storage.Budget, error) {
	b := storage.Budget{Key: key}
	var start time.Time
	err := s.pool.QueryRow(ctx, `SELECT window_start, used FROM budgets WHERE key = $1`,
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
		`DELETE FROM budgets WHERE window_start < $1`, tm(before))
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
