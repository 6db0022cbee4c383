package sqlite

import (
	"context"
	"errors"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
)

// RecordFailure counts one failure in a single upsert. The reset rule lives
// in the SET expression, which reads the row as it was before this
// statement, so concurrent failures each add exactly one and none is lost.
// last_failure_at never moves backwards if a caller's clock lags.
func (s *Store) RecordFailure(ctx context.Context, key string, now time.Time, resetAfter time.Duration) (storage.Throttle, error) {
	th := storage.Throttle{Key: key}
	var last int64
	err := s.w.QueryRowContext(ctx, `INSERT INTO throttles (key, failures, last_failure_at)
		VALUES (?1, 1, ?2)
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE WHEN throttles.last_failure_at < ?3 THEN 1
				ELSE throttles.failures + 1 END,
			last_failure_at = max(throttles.last_failure_at, excluded.last_failure_at)
		RETURNING failures, last_failure_at`,
		key, tm(now), tm(now.Add(-resetAfter))).Scan(&th.Failures, &last)
	if err != nil {
		return storage.Throttle{}, mapErr("record failure", err)
	}
	th.LastFailureAt = fromTm(last)
	return th, nil
}

// GetThrottle returns a key's counter, or a zero counter for an unknown key.
func (s *Store) GetThrottle(ctx context.Context, key string) (storage.Throttle, error) {
	th := storage.Throttle{Key: key}
	var last int64
	err := s.r.QueryRowContext(ctx, `SELECT failures, last_failure_at FROM throttles
		WHERE key = ?`, key).Scan(&th.Failures, &last)
	if err != nil {
		err = mapErr("get throttle", err)
		if errors.Is(err, storage.ErrNotFound) {
			return th, nil
		}
		return storage.Throttle{}, err
	}
	th.LastFailureAt = fromTm(last)
	return th, nil
}

// ResetThrottle forgets a key's failures. An unknown key is not an error.
func (s *Store) ResetThrottle(ctx context.Context, key string) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM throttles WHERE key = ?`, key)
	return mapErr("reset throttle", err)
}
