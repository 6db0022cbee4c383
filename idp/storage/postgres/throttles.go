package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
)

// RecordFailure counts one failure in a single upsert. The reset rule lives
// in the SET expression; ON CONFLICT DO UPDATE locks the row and always
// evaluates against its latest committed version, so concurrent failures
// from every node each add exactly one and none is lost. last_failure_at
// never moves backwards if a node's clock lags.
func (s *Store) RecordFailure(ctx context.Context, key string, now time.Time, resetAfter time.Duration) (storage.Throttle, error) {
	th := storage.Throttle{Key: key}
	var last time.Time
	err := s.pool.QueryRow(ctx, `INSERT INTO throttles AS t (key, failures, last_failure_at)
		VALUES ($1, 1, $2)
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE WHEN t.last_failure_at < $3 THEN 1 ELSE t.failures + 1 END,
			last_failure_at = GREATEST(t.last_failure_at, EXCLUDED.last_failure_at)
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
	var last time.Time
	err := s.pool.QueryRow(ctx, `SELECT failures, last_failure_at FROM throttles
		WHERE key = $1`, key).Scan(&th.Failures, &last)
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
	_, err := s.pool.Exec(ctx, `DELETE FROM throttles WHERE key = $1`, key)
	return mapErr("reset throttle", err)
}
