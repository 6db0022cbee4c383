package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
)

const totpColumns = `id, user_id, name, secret, last_step, created_at, confirmed_at, last_used_at`

// CreateTOTP inserts a credential as given; ErrConflict if the id exists,
// ErrNotFound if the user does not.
func (s *Store) CreateTOTP(ctx context.Context, c storage.TOTPCredential) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO totp_credentials (`+totpColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.UserID, c.Name, blob(c.Secret), c.LastStep, tm(c.CreatedAt),
		optTm(c.ConfirmedAt), optTm(c.LastUsedAt))
	return mapErr("create totp", err)
}

// ListTOTP returns a user's credentials, pending ones included, oldest
// first.
func (s *Store) ListTOTP(ctx context.Context, userID string) ([]storage.TOTPCredential, error) {
	const op = "list totp"
	rows, err := s.r.QueryContext(ctx, `SELECT `+totpColumns+` FROM totp_credentials
		WHERE user_id = ? ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []storage.TOTPCredential
	for rows.Next() {
		var (
			c               storage.TOTPCredential
			created         int64
			confirmed, used sql.NullInt64
		)
		err := rows.Scan(&c.ID, &c.UserID, &c.Name, &c.Secret, &c.LastStep, &created,
			&confirmed, &used)
		if err != nil {
			return nil, mapErr(op, err)
		}
		c.Secret = fromBlob(c.Secret)
		c.CreatedAt, c.ConfirmedAt, c.LastUsedAt = fromTm(created), fromOptTm(confirmed), fromOptTm(used)
		out = append(out, c)
	}
	return out, mapErr(op, rows.Err())
}

// UseTOTPStep is the replay rule: the one UPDATE below both checks that
// step is above every step used before and records it, so of many
// concurrent callers with the same step exactly one changes the row. The
// follow-up read only tells a replay from a missing credential.
func (s *Store) UseTOTPStep(ctx context.Context, userID, id string, step int64, now time.Time) error {
	const op = "use totp step"
	n, err := s.execCount(ctx, op, `UPDATE totp_credentials
		SET last_step = ?, last_used_at = ?, confirmed_at = COALESCE(confirmed_at, ?)
		WHERE user_id = ? AND id = ? AND last_step < ?`,
		step, tm(now), tm(now), userID, id, step)
	if err != nil || n == 1 {
		return err
	}
	var exists bool
	err = s.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM totp_credentials
		WHERE user_id = ? AND id = ?)`, userID, id).Scan(&exists)
	switch {
	case err != nil:
		return mapErr(op, err)
	case exists:
		return fmt.Errorf("%s: step already used: %w", op, storage.ErrConflict)
	default:
		return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
}

// DeleteTOTP removes one of the user's credentials; ErrNotFound if absent.
func (s *Store) DeleteTOTP(ctx context.Context, userID, id string) error {
	return s.execOne(ctx, "delete totp",
		`DELETE FROM totp_credentials WHERE user_id = ? AND id = ?`, userID, id)
}

// DeletePendingTOTP removes unconfirmed credentials created before
// olderThan: enrolments the user abandoned.
func (s *Store) DeletePendingTOTP(ctx context.Context, olderThan time.Time) (int64, error) {
	return s.execCount(ctx, "delete pending totp", `DELETE FROM totp_credentials
		WHERE confirmed_at IS NULL AND created_at < ?`, tm(olderThan))
}

// ReplaceRecoveryCodes deletes the user's codes and inserts the new set in
// one transaction: no reader sees both sets or neither. A hash given twice
// is ErrConflict and leaves the old set in place.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []string, now time.Time) error {
	const op = "replace recovery codes"
	return s.inTx(ctx, op, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID); err != nil {
			return mapErr(op, err)
		}
		// One statement for the whole set: the hashes travel as a JSON
		// array and json_each turns them into rows.
		_, err := tx.ExecContext(ctx, `INSERT INTO recovery_codes (user_id, hash, created_at)
			SELECT ?, value, ? FROM json_each(?)`, userID, tm(now), encList(hashes))
		return mapErr(op, err)
	})
}

// ListRecoveryCodes returns the user's codes, used ones included, ordered
// by creation and then hash.
func (s *Store) ListRecoveryCodes(ctx context.Context, userID string) ([]storage.RecoveryCode, error) {
	const op = "list recovery codes"
	rows, err := s.r.QueryContext(ctx, `SELECT user_id, hash, created_at, used_at
		FROM recovery_codes WHERE user_id = ? ORDER BY created_at, hash`, userID)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []storage.RecoveryCode
	for rows.Next() {
		var (
			c       storage.RecoveryCode
			created int64
			used    sql.NullInt64
		)
		if err := rows.Scan(&c.UserID, &c.Hash, &created, &used); err != nil {
			return nil, mapErr(op, err)
		}
		c.CreatedAt, c.UsedAt = fromTm(created), fromOptTm(used)
		out = append(out, c)
	}
	return out, mapErr(op, rows.Err())
}

// UseRecoveryCode is the single-use rule for recovery codes: one
// conditional UPDATE, so of many concurrent callers exactly one marks the
// code used. The follow-up read only tells a used code from a missing one.
func (s *Store) UseRecoveryCode(ctx context.Context, userID, hash string, now time.Time) error {
	const op = "use recovery code"
	n, err := s.execCount(ctx, op, `UPDATE recovery_codes SET used_at = ?
		WHERE user_id = ? AND hash = ? AND used_at IS NULL`, tm(now), userID, hash)
	if err != nil || n == 1 {
		return err
	}
	var exists bool
	err = s.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM recovery_codes
		WHERE user_id = ? AND hash = ?)`, userID, hash).Scan(&exists)
	switch {
	case err != nil:
		return mapErr(op, err)
	case exists:
		return fmt.Errorf("%s: already used: %w", op, storage.ErrConflict)
	default:
		return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
}
