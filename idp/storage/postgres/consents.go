package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
)

// GetConsent returns what a user allowed a client; ErrNotFound if nothing.
func (s *Store) GetConsent(ctx context.Context, userID, clientID string) (storage.Consent, error) {
	row := s.pool.QueryRow(ctx, `SELECT user_id, client_id, scopes, granted_at
		FROM consents WHERE user_id = $1 AND client_id = $2`, userID, clientID)
	c, err := scanConsent(row)
	return c, mapErr("get consent", err)
}

// SaveConsent inserts or replaces the consent of (UserID, ClientID);
// ErrNotFound if the user or the client does not exist.
func (s *Store) SaveConsent(ctx context.Context, c storage.Consent) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO consents (user_id, client_id, scopes, granted_at)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (user_id, client_id) DO UPDATE
		SET scopes = EXCLUDED.scopes, granted_at = EXCLUDED.granted_at`,
		c.UserID, c.ClientID, encList(c.Scopes), tm(c.GrantedAt))
	return mapErr("save consent", err)
}

// ListConsents returns a user's consents ordered by client id, in byte
// order.
func (s *Store) ListConsents(ctx context.Context, userID string) ([]storage.Consent, error) {
	const op = "list consents"
	rows, err := s.pool.Query(ctx, `SELECT user_id, client_id, scopes, granted_at
		FROM consents WHERE user_id = $1 ORDER BY client_id COLLATE "C"`, userID)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []storage.Consent
	for rows.Next() {
		c, err := scanConsent(rows)
		if err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, c)
	}
	return out, mapErr(op, rows.Err())
}

// DeleteConsent removes one consent; ErrNotFound if absent.
func (s *Store) DeleteConsent(ctx context.Context, userID, clientID string) error {
	return s.execOne(ctx, "delete consent",
		`DELETE FROM consents WHERE user_id = $1 AND client_id = $2`, userID, clientID)
}

func scanConsent(sc scanner) (storage.Consent, error) {
	var (
		c       storage.Consent
		scopes  string
		granted time.Time
	)
	if err := sc.Scan(&c.UserID, &c.ClientID, &scopes, &granted); err != nil {
		return storage.Consent{}, err
	}
	var err error
	if c.Scopes, err = decList("scopes", scopes); err != nil {
		return storage.Consent{}, fmt.Errorf("consent: %w", err)
	}
	c.GrantedAt = fromTm(granted)
	return c, nil
}
