package postgres

import (
	"context"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
)

const ceremonyColumns = `id, kind, user_id, tx_id, data, created_at, expires_at`

// CreateCeremony stores a ceremony; ErrConflict if the id exists,
// ErrNotFound if UserID names a user that does not exist. An empty UserID
// (discoverable sign-in) is stored as NULL, outside the foreign key.
func (s *Store) CreateCeremony(ctx context.Context, c storage.Ceremony) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO ceremonies (`+ceremonyColumns+`)
		VALUES ($1, $2, NULLIF($3, ''), $4, $5, $6, $7)`,
		c.ID, c.Kind, c.UserID, c.TxID, blob(c.Data), tm(c.CreatedAt), tm(c.ExpiresAt))
	return mapErr("create ceremony", err)
}

// TakeCeremony is the single-use rule for ceremonies: one DELETE that
// returns the row it removed, so of many concurrent callers exactly one
// gets it (the others wait on the row lock, then find it gone). An expired
// ceremony is left for DeleteExpiredCeremonies and is ErrNotFound.
func (s *Store) TakeCeremony(ctx context.Context, id string, now time.Time) (storage.Ceremony, error) {
	var (
		c                storage.Ceremony
		created, expires time.Time
	)
	err := s.pool.QueryRow(ctx, `DELETE FROM ceremonies WHERE id = $1 AND expires_at > $2
		RETURNING id, kind, COALESCE(user_id, ''), tx_id, data, created_at, expires_at`,
		id, tm(now)).Scan(&c.ID, &c.Kind, &c.UserID, &c.TxID, &c.Data, &created, &expires)
	if err != nil {
		return storage.Ceremony{}, mapErr("take ceremony", err)
	}
	c.Data = fromBlob(c.Data)
	c.CreatedAt, c.ExpiresAt = fromTm(created), fromTm(expires)
	return c, nil
}

// DeleteExpiredCeremonies removes the ceremonies TakeCeremony no longer
// returns.
func (s *Store) DeleteExpiredCeremonies(ctx context.Context, now time.Time) (int64, error) {
	return s.execCount(ctx, "delete expired ceremonies",
		`DELETE FROM ceremonies WHERE expires_at <= $1`, tm(now))
}
