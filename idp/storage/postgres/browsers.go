package postgres

import (
	"context"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
)

const browserColumns = `id, user_id, label, created_at, last_used_at, expires_at`

// CreateRememberedBrowser inserts a record; ErrConflict if the id exists,
// ErrNotFound if the user does not.
func (s *Store) CreateRememberedBrowser(ctx context.Context, b storage.RememberedBrowser) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO remembered_browsers (`+browserColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		b.ID, b.UserID, b.Label, tm(b.CreatedAt), tm(b.LastUsedAt), tm(b.ExpiresAt))
	return mapErr("create remembered browser", err)
}

// GetRememberedBrowser returns a record whose ExpiresAt is after now;
// anything else is ErrNotFound.
func (s *Store) GetRememberedBrowser(ctx context.Context, id string, now time.Time) (storage.RememberedBrowser, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+browserColumns+` FROM remembered_browsers
		WHERE id = $1 AND expires_at > $2`, id, tm(now))
	b, err := scanBrowser(row)
	return b, mapErr("get remembered browser", err)
}

// ListRememberedBrowsers returns a user's live records, newest first.
func (s *Store) ListRememberedBrowsers(ctx context.Context, userID string, now time.Time) ([]storage.RememberedBrowser, error) {
	const op = "list remembered browsers"
	rows, err := s.pool.Query(ctx, `SELECT `+browserColumns+` FROM remembered_browsers
		WHERE user_id = $1 AND expires_at > $2
		ORDER BY created_at DESC, id COLLATE "C" DESC`, userID, tm(now))
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []storage.RememberedBrowser
	for rows.Next() {
		b, err := scanBrowser(rows)
		if err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, b)
	}
	return out, mapErr(op, rows.Err())
}

// TouchRememberedBrowser sets LastUsedAt of a live record. An expired one
// is as good as gone (GetRememberedBrowser no longer returns it), so it is
// ErrNotFound too.
func (s *Store) TouchRememberedBrowser(ctx context.Context, id string, now time.Time) error {
	return s.execOne(ctx, "touch remembered browser", `UPDATE remembered_browsers
		SET last_used_at = $1 WHERE id = $2 AND expires_at > $1`, tm(now), id)
}

// DeleteRememberedBrowser removes one of the user's records; ErrNotFound if
// absent or another user's.
func (s *Store) DeleteRememberedBrowser(ctx context.Context, userID, id string) error {
	return s.execOne(ctx, "delete remembered browser",
		`DELETE FROM remembered_browsers WHERE user_id = $1 AND id = $2`, userID, id)
}

// DeleteUserRememberedBrowsers forgets every browser of a user.
func (s *Store) DeleteUserRememberedBrowsers(ctx context.Context, userID string) (int64, error) {
	return s.execCount(ctx, "delete user remembered browsers",
		`DELETE FROM remembered_browsers WHERE user_id = $1`, userID)
}

// DeleteExpiredRememberedBrowsers removes the records GetRememberedBrowser
// no longer returns.
func (s *Store) DeleteExpiredRememberedBrowsers(ctx context.Context, now time.Time) (int64, error) {
	return s.execCount(ctx, "delete expired remembered browsers",
		`DELETE FROM remembered_browsers WHERE expires_at <= $1`, tm(now))
}

func scanBrowser(sc scanner) (storage.RememberedBrowser, error) {
	var (
		b                      storage.RememberedBrowser
		created, used, expires time.Time
	)
	if err := sc.Scan(&b.ID, &b.UserID, &b.Label, &created, &used, &expires); err != nil {
		return storage.RememberedBrowser{}, err
	}
	b.CreatedAt, b.LastUsedAt, b.ExpiresAt = fromTm(created), fromTm(used), fromTm(expires)
	return b, nil
}

// policyRow is the id of the one mfa_policy row.
const policyRow = 1

// GetPolicy returns the stored policy; ErrNotFound if none was saved.
func (s *Store) GetPolicy(ctx context.Context) (storage.Policy, error) {
	var (
		p       storage.Policy
		updated time.Time
	)
	err := s.pool.QueryRow(ctx, `SELECT data, updated_at FROM mfa_policy WHERE id = $1`,
		policyRow).Scan(&p.Data, &updated)
	if err != nil {
		return storage.Policy{}, mapErr("get policy", err)
	}
	p.Data, p.UpdatedAt = fromBlob(p.Data), fromTm(updated)
	return p, nil
}

// SavePolicy inserts or replaces the policy in one upsert.
func (s *Store) SavePolicy(ctx context.Context, p storage.Policy) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO mfa_policy (id, data, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, updated_at = EXCLUDED.updated_at`,
		policyRow, blob(p.Data), tm(p.UpdatedAt))
	return mapErr("save policy", err)
}
