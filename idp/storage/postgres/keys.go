package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/latchkey/latchkey/idp/storage"
)

const keyColumns = `id, algorithm, private_key, public_jwk, created_at, retired_at, remove_after`

// CreateSigningKey inserts a key as given; ErrConflict if the kid exists.
func (s *Store) CreateSigningKey(ctx context.Context, k storage.SigningKey) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO signing_keys (`+keyColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		k.ID, k.Algorithm, blob(k.PrivateKey), blob(k.PublicJWK), tm(k.CreatedAt),
		optTm(k.RetiredAt), optTm(k.RemoveAfter))
	return mapErr("create signing key", err)
}

// RotateSigningKey retires the active keys of k.Algorithm and inserts k as
// the active one, in one transaction: no reader sees the algorithm without
// an active key or a half-done rotation.
func (s *Store) RotateSigningKey(ctx context.Context, k storage.SigningKey, removeOldAfter time.Time) error {
	const op = "rotate signing key"
	if k.CreatedAt.IsZero() {
		// CreatedAt is also the old keys' retirement time; zero would leave
		// them looking active.
		return fmt.Errorf("%s: zero CreatedAt", op)
	}
	return inTx(ctx, s.pool, op, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE signing_keys SET retired_at = $1, remove_after = $2
			WHERE algorithm = $3 AND retired_at IS NULL`,
			tm(k.CreatedAt), tm(removeOldAfter), k.Algorithm)
		if err != nil {
			return mapErr(op, err)
		}
		// The new key is active whatever the caller put in its retirement
		// fields.
		_, err = tx.Exec(ctx, `INSERT INTO signing_keys (`+keyColumns+`)
			VALUES ($1, $2, $3, $4, $5, NULL, NULL)`,
			k.ID, k.Algorithm, blob(k.PrivateKey), blob(k.PublicJWK), tm(k.CreatedAt))
		return mapErr(op, err)
	})
}

// ListSigningKeys returns every key, newest first.
func (s *Store) ListSigningKeys(ctx context.Context) ([]storage.SigningKey, error) {
	const op = "list signing keys"
	rows, err := s.pool.Query(ctx, `SELECT `+keyColumns+` FROM signing_keys
		ORDER BY created_at DESC, id COLLATE "C" DESC`)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []storage.SigningKey
	for rows.Next() {
		var (
			k                    storage.SigningKey
			created              time.Time
			retired, removeAfter *time.Time
		)
		err := rows.Scan(&k.ID, &k.Algorithm, &k.PrivateKey, &k.PublicJWK, &created,
			&retired, &removeAfter)
		if err != nil {
			return nil, mapErr(op, err)
		}
		k.PrivateKey, k.PublicJWK = fromBlob(k.PrivateKey), fromBlob(k.PublicJWK)
		k.CreatedAt, k.RetiredAt, k.RemoveAfter = fromTm(created), fromOptTm(retired), fromOptTm(removeAfter)
		out = append(out, k)
	}
	return out, mapErr(op, rows.Err())
}

// DeleteRemovedSigningKeys deletes retired keys whose RemoveAfter is before
// now. Active keys have no RemoveAfter and never match.
func (s *Store) DeleteRemovedSigningKeys(ctx context.Context, now time.Time) (int64, error) {
	return s.execCount(ctx, "delete removed signing keys", `DELETE FROM signing_keys
		WHERE retired_at IS NOT NULL AND remove_after < $1`, tm(now))
}
