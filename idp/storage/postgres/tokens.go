package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
)

const tokenColumns = `kind, signature, request_id, client_id, subject, active,
	requested_at, expires_at, data`

// CreateToken inserts token state; ErrConflict if (kind, signature) exists.
func (s *Store) CreateToken(ctx context.Context, t storage.Token) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO oauth_tokens (`+tokenColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		string(t.Kind), t.Signature, t.RequestID, t.ClientID, t.Subject, t.Active,
		tm(t.RequestedAt), tm(t.ExpiresAt), blob(t.Data))
	return mapErr("create token", err)
}

// GetToken returns token state whether active or not; ErrNotFound if absent.
func (s *Store) GetToken(ctx context.Context, kind storage.TokenKind, signature string) (storage.Token, error) {
	var (
		t                  storage.Token
		requested, expires time.Time
		k                  string
	)
	err := s.pool.QueryRow(ctx, `SELECT `+tokenColumns+` FROM oauth_tokens
		WHERE kind = $1 AND signature = $2`, string(kind), signature).
		Scan(&k, &t.Signature, &t.RequestID, &t.ClientID, &t.Subject, &t.Active,
			&requested, &expires, &t.Data)
	if err != nil {
		return storage.Token{}, mapErr("get token", err)
	}
	t.Kind = storage.TokenKind(k)
	t.RequestedAt, t.ExpiresAt = fromTm(requested), fromTm(expires)
	t.Data = fromBlob(t.Data)
	return t, nil
}

// DeleteToken removes one record; ErrNotFound if absent.
func (s *Store) DeleteToken(ctx context.Context, kind storage.TokenKind, signature string) error {
	return s.execOne(ctx, "delete token",
		`DELETE FROM oauth_tokens WHERE kind = $1 AND signature = $2`, string(kind), signature)
}

// DeactivateToken is the single-use rule: the one UPDATE below both checks
// and flips the flag. Concurrent callers queue on the row lock and each
// re-checks "active" against the winner's commit, so exactly one changes
// the row. The follow-up read only tells the losers' "already used" from
// "never existed"; it decides nothing.
func (s *Store) DeactivateToken(ctx context.Context, kind storage.TokenKind, signature string) error {
	const op = "deactivate token"
	n, err := s.execCount(ctx, op, `UPDATE oauth_tokens SET active = false
		WHERE kind = $1 AND signature = $2 AND active`, string(kind), signature)
	if err != nil || n == 1 {
		return err
	}
	var exists bool
	err = s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM oauth_tokens
		WHERE kind = $1 AND signature = $2)`, string(kind), signature).Scan(&exists)
	switch {
	case err != nil:
		return mapErr(op, err)
	case exists:
		return fmt.Errorf("%s: already inactive: %w", op, storage.ErrConflict)
	default:
		return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
}

// DeactivateTokensByRequestID deactivates the active records of one kind
// that belong to one grant and returns how many it changed.
func (s *Store) DeactivateTokensByRequestID(ctx context.Context, kind storage.TokenKind, requestID string) (int64, error) {
	return s.execCount(ctx, "deactivate tokens by request id", `UPDATE oauth_tokens SET active = false
		WHERE kind = $1 AND request_id = $2 AND active`, string(kind), requestID)
}

// DeactivateTokensByGrant deactivates the active access and refresh tokens a
// client holds for a subject and returns how many it changed.
func (s *Store) DeactivateTokensByGrant(ctx context.Context, subject, clientID string) (int64, error) {
	return s.execCount(ctx, "deactivate tokens by grant", `UPDATE oauth_tokens SET active = false
		WHERE subject = $1 AND client_id = $2 AND kind IN ($3, $4) AND active`,
		subject, clientID, string(storage.KindAccessToken), string(storage.KindRefreshToken))
}

// DeleteExpiredTokens removes records whose ExpiresAt is before now.
func (s *Store) DeleteExpiredTokens(ctx context.Context, now time.Time) (int64, error) {
	return s.execCount(ctx, "delete expired tokens",
		`DELETE FROM oauth_tokens WHERE expires_at < $1`, tm(now))
}
