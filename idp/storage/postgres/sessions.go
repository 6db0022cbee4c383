package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
)

const sessionColumns = `id, user_id, auth_time, amr, acr, factors, created_at, last_seen_at,
	expires_at`

// CreateSession inserts a session; ErrConflict if the id exists, ErrNotFound
// if the user does not.
func (s *Store) CreateSession(ctx context.Context, sess storage.Session) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO sessions (`+sessionColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		sess.ID, sess.UserID, tm(sess.AuthTime), encList(sess.AMR), sess.ACR, blob(sess.Factors),
		tm(sess.CreatedAt), tm(sess.LastSeenAt), tm(sess.ExpiresAt))
	return mapErr("create session", err)
}

// GetSession returns a session that has not expired at now: one whose
// ExpiresAt is after now. Anything else is ErrNotFound.
func (s *Store) GetSession(ctx context.Context, id string, now time.Time) (storage.Session, error) {
	const op = "get session"
	var (
		sess                                 storage.Session
		amr                                  string
		authTime, created, lastSeen, expires time.Time
	)
	err := s.pool.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions
		WHERE id = $1 AND expires_at > $2`, id, tm(now)).
		Scan(&sess.ID, &sess.UserID, &authTime, &amr, &sess.ACR, &sess.Factors, &created,
			&lastSeen, &expires)
	if err != nil {
		return storage.Session{}, mapErr(op, err)
	}
	sess.Factors = fromBlob(sess.Factors)
	if sess.AMR, err = decList("amr", amr); err != nil {
		return storage.Session{}, fmt.Errorf("%s: %w", op, err)
	}
	sess.AuthTime, sess.CreatedAt = fromTm(authTime), fromTm(created)
	sess.LastSeenAt, sess.ExpiresAt = fromTm(lastSeen), fromTm(expires)
	return sess, nil
}

// UpdateSession replaces the mutable fields; ErrNotFound if absent.
func (s *Store) UpdateSession(ctx context.Context, sess storage.Session) error {
	return s.execOne(ctx, "update session", `UPDATE sessions
		SET auth_time = $1, amr = $2, acr = $3, factors = $4, last_seen_at = $5,
			expires_at = $6
		WHERE id = $7`,
		tm(sess.AuthTime), encList(sess.AMR), sess.ACR, blob(sess.Factors), tm(sess.LastSeenAt),
		tm(sess.ExpiresAt), sess.ID)
}

// DeleteSession removes a session; ErrNotFound if absent.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return s.execOne(ctx, "delete session", `DELETE FROM sessions WHERE id = $1`, id)
}

// DeleteUserSessions ends every session of a user.
func (s *Store) DeleteUserSessions(ctx context.Context, userID string) (int64, error) {
	return s.execCount(ctx, "delete user sessions", `DELETE FROM sessions WHERE user_id = $1`, userID)
}

// DeleteExpiredSessions removes the sessions GetSession no longer returns.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	return s.execCount(ctx, "delete expired sessions",
		`DELETE FROM sessions WHERE expires_at <= $1`, tm(now))
}

const loginTxColumns = `id, client_id, authorize_query, user_id, session_id, authenticated_at,
	consented_at, state, completed, created_at, expires_at`

// CreateLoginTx inserts a login transaction; ErrConflict if the id exists.
func (s *Store) CreateLoginTx(ctx context.Context, tx storage.LoginTx) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO login_txs (`+loginTxColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		tx.ID, tx.ClientID, tx.AuthorizeQuery, tx.UserID, tx.SessionID,
		optTm(tx.AuthenticatedAt), optTm(tx.ConsentedAt), blob(tx.State), tx.Completed,
		tm(tx.CreatedAt), tm(tx.ExpiresAt))
	return mapErr("create login tx", err)
}

// GetLoginTx returns a transaction whose ExpiresAt is after now, completed
// or not; anything else is ErrNotFound.
func (s *Store) GetLoginTx(ctx context.Context, id string, now time.Time) (storage.LoginTx, error) {
	var (
		tx                       storage.LoginTx
		authenticated, consented *time.Time
		created, expires         time.Time
	)
	err := s.pool.QueryRow(ctx, `SELECT `+loginTxColumns+` FROM login_txs
		WHERE id = $1 AND expires_at > $2`, id, tm(now)).
		Scan(&tx.ID, &tx.ClientID, &tx.AuthorizeQuery, &tx.UserID, &tx.SessionID,
			&authenticated, &consented, &tx.State, &tx.Completed, &created, &expires)
	if err != nil {
		return storage.LoginTx{}, mapErr("get login tx", err)
	}
	tx.AuthenticatedAt, tx.ConsentedAt = fromOptTm(authenticated), fromOptTm(consented)
	tx.CreatedAt, tx.ExpiresAt = fromTm(created), fromTm(expires)
	tx.State = fromBlob(tx.State)
	return tx, nil
}

// UpdateLoginTx replaces the step fields of a transaction that is not
// completed. The completed check is in the UPDATE itself, so an update can
// never land on a transaction another request has just completed.
func (s *Store) UpdateLoginTx(ctx context.Context, tx storage.LoginTx) error {
	const op = "update login tx"
	n, err := s.execCount(ctx, op, `UPDATE login_txs
		SET user_id = $1, session_id = $2, authenticated_at = $3, consented_at = $4, state = $5
		WHERE id = $6 AND NOT completed`,
		tx.UserID, tx.SessionID, optTm(tx.AuthenticatedAt), optTm(tx.ConsentedAt),
		blob(tx.State), tx.ID)
	if err != nil || n == 1 {
		return err
	}
	var exists bool
	err = s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM login_txs WHERE id = $1)`, tx.ID).Scan(&exists)
	switch {
	case err != nil:
		return mapErr(op, err)
	case exists:
		return fmt.Errorf("%s: already completed: %w", op, storage.ErrConflict)
	default:
		return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
}

// CompleteLoginTx marks a live transaction completed. Of many concurrent
// callers exactly one changes the row and gets nil.
func (s *Store) CompleteLoginTx(ctx context.Context, id string, now time.Time) error {
	const op = "complete login tx"
	n, err := s.execCount(ctx, op, `UPDATE login_txs SET completed = true
		WHERE id = $1 AND NOT completed AND expires_at > $2`, id, tm(now))
	if err != nil || n == 1 {
		return err
	}
	// A completed transaction is a conflict even once expired; an expired
	// one that was never completed is as good as gone.
	var completed bool
	err = s.pool.QueryRow(ctx, `SELECT completed FROM login_txs WHERE id = $1`, id).Scan(&completed)
	switch {
	case err != nil:
		return mapErr(op, err)
	case completed:
		return fmt.Errorf("%s: already completed: %w", op, storage.ErrConflict)
	default:
		return fmt.Errorf("%s: expired: %w", op, storage.ErrNotFound)
	}
}

// DeleteExpiredLoginTxs removes the transactions GetLoginTx no longer
// returns.
func (s *Store) DeleteExpiredLoginTxs(ctx context.Context, now time.Time) (int64, error) {
	return s.execCount(ctx, "delete expired login txs",
		`DELETE FROM login_txs WHERE expires_at <= $1`, tm(now))
}
