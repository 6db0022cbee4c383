package postgres

import (
	"context"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
)

const userColumns = `id, email, email_verified, display_name, password_hash, disabled,
	created_at, updated_at`

// CreateUser inserts a user; ErrConflict if the id or the email exists.
func (s *Store) CreateUser(ctx context.Context, u storage.User) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO users (`+userColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		u.ID, u.Email, u.EmailVerified, u.DisplayName, u.PasswordHash, u.Disabled,
		tm(u.CreatedAt), tm(u.UpdatedAt))
	return mapErr("create user", err)
}

// GetUser returns one user by id; ErrNotFound if absent.
func (s *Store) GetUser(ctx context.Context, id string) (storage.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	return u, mapErr("get user", err)
}

// GetUserByEmail returns one user by (already normalised) email;
// ErrNotFound if absent.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (storage.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email = $1`, email))
	return u, mapErr("get user by email", err)
}

// ListUsers returns every user ordered by email, in byte order.
func (s *Store) ListUsers(ctx context.Context) ([]storage.User, error) {
	const op = "list users"
	rows, err := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users ORDER BY email COLLATE "C"`)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []storage.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, u)
	}
	return out, mapErr(op, rows.Err())
}

// DeleteUser removes a user and, by foreign key, their sessions and
// consents; ErrNotFound if absent.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return s.execOne(ctx, "delete user", `DELETE FROM users WHERE id = $1`, id)
}

// SetPasswordHash replaces a user's password hash; ErrNotFound if absent.
func (s *Store) SetPasswordHash(ctx context.Context, userID, hash string, now time.Time) error {
	return s.execOne(ctx, "set password hash",
		`UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3`, hash, tm(now), userID)
}

func scanUser(sc scanner) (storage.User, error) {
	var (
		u                storage.User
		created, updated time.Time
	)
	err := sc.Scan(&u.ID, &u.Email, &u.EmailVerified, &u.DisplayName, &u.PasswordHash,
		&u.Disabled, &created, &updated)
	if err != nil {
		return storage.User{}, err
	}
	u.CreatedAt, u.UpdatedAt = fromTm(created), fromTm(updated)
	return u, nil
}
