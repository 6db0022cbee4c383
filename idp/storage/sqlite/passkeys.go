package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
)

// maxCredentialID is the longest credential id WebAuthn allows (Web
// Authentication Level 3, §5.8.3 "credentialIdLength": at most 1023 bytes).
const maxCredentialID = 1023

const passkeyColumns = `credential_id, user_id, name, public_key, attestation_type, aaguid,
	sign_count, transports, user_verified, backup_eligible, backed_up, created_at, last_used_at`

// CreatePasskey inserts a credential as given; ErrConflict if the
// credential id exists (for any user), ErrNotFound if the user does not.
// An empty id, or one longer than WebAuthn allows, is refused before the
// database sees it.
func (s *Store) CreatePasskey(ctx context.Context, c storage.Passkey) error {
	const op = "create passkey"
	if n := len(c.CredentialID); n == 0 || n > maxCredentialID {
		return fmt.Errorf("%s: credential id of %d bytes, want 1 to %d", op, n, maxCredentialID)
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO passkeys (`+passkeyColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.CredentialID, c.UserID, c.Name, blob(c.PublicKey), c.AttestationType, blob(c.AAGUID),
		int64(c.SignCount), encList(c.Transports), c.UserVerified, c.BackupEligible, c.BackedUp,
		tm(c.CreatedAt), optTm(c.LastUsedAt))
	return mapErr(op, err)
}

// ListPasskeys returns a user's passkeys, oldest first; the credential id,
// in byte order, breaks ties.
func (s *Store) ListPasskeys(ctx context.Context, userID string) ([]storage.Passkey, error) {
	const op = "list passkeys"
	rows, err := s.r.QueryContext(ctx, `SELECT `+passkeyColumns+` FROM passkeys
		WHERE user_id = ? ORDER BY created_at, credential_id`, userID)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []storage.Passkey
	for rows.Next() {
		c, err := scanPasskey(op, rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, mapErr(op, rows.Err())
}

// GetPasskey finds a passkey by credential id; ErrNotFound if absent.
func (s *Store) GetPasskey(ctx context.Context, credentialID []byte) (storage.Passkey, error) {
	row := s.r.QueryRowContext(ctx, `SELECT `+passkeyColumns+` FROM passkeys
		WHERE credential_id = ?`, credentialID)
	return scanPasskey("get passkey", row)
}

// UsePasskey is the clone check: the one UPDATE below both checks that the
// counter moved forward (or that the authenticator never counts: both
// zero) and records the assertion, so of many concurrent callers with the
// same count exactly one changes the row. The follow-up read only tells a
// counter that did not move from a missing credential.
func (s *Store) UsePasskey(ctx context.Context, userID string, credentialID []byte, signCount uint32, backedUp bool, now time.Time) error {
	const op = "use passkey"
	n, err := s.execCount(ctx, op, `UPDATE passkeys
		SET sign_count = ?1, backed_up = ?2, last_used_at = ?3
		WHERE user_id = ?4 AND credential_id = ?5
			AND ((sign_count = 0 AND ?1 = 0) OR ?1 > sign_count)`,
		int64(signCount), backedUp, tm(now), userID, credentialID)
	if err != nil || n == 1 {
		return err
	}
	var exists bool
	err = s.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM passkeys
		WHERE user_id = ? AND credential_id = ?)`, userID, credentialID).Scan(&exists)
	switch {
	case err != nil:
		return mapErr(op, err)
	case exists:
		return fmt.Errorf("%s: sign count %d not above the stored one: %w", op, signCount, storage.ErrConflict)
	default:
		return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
}

// RenamePasskey sets the user-given name; ErrNotFound if absent or another
// user's.
func (s *Store) RenamePasskey(ctx context.Context, userID string, credentialID []byte, name string) error {
	return s.execOne(ctx, "rename passkey", `UPDATE passkeys SET name = ?
		WHERE user_id = ? AND credential_id = ?`, name, userID, credentialID)
}

// DeletePasskey removes one of the user's passkeys; ErrNotFound if absent
// or another user's.
func (s *Store) DeletePasskey(ctx context.Context, userID string, credentialID []byte) error {
	return s.execOne(ctx, "delete passkey",
		`DELETE FROM passkeys WHERE user_id = ? AND credential_id = ?`, userID, credentialID)
}

// scanPasskey reads one row in passkeyColumns order; errors come back
// mapped.
func scanPasskey(op string, sc scanner) (storage.Passkey, error) {
	var (
		c          storage.Passkey
		count      int64
		transports string
		created    int64
		used       sql.NullInt64
	)
	err := sc.Scan(&c.CredentialID, &c.UserID, &c.Name, &c.PublicKey, &c.AttestationType,
		&c.AAGUID, &count, &transports, &c.UserVerified, &c.BackupEligible, &c.BackedUp,
		&created, &used)
	if err != nil {
		return storage.Passkey{}, mapErr(op, err)
	}
	if c.Transports, err = decList("transports", transports); err != nil {
		return storage.Passkey{}, fmt.Errorf("%s: %w", op, err)
	}
	// The CHECK on sign_count keeps it in uint32 range.
	c.SignCount = uint32(count)
	c.PublicKey, c.AAGUID = fromBlob(c.PublicKey), fromBlob(c.AAGUID)
	c.CreatedAt, c.LastUsedAt = fromTm(created), fromOptTm(used)
	return c, nil
}
