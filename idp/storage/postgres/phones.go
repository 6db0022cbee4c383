package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
)

const phoneColumns = `id, user_id, number, number_hash, country, masked, line_type, status,
	consent_at, verified_at, sim_checked_at, sim_swapped_at, created_at, last_used_at`

// CreatePhone inserts a phone as given; ErrConflict if the id exists or
// the user already has the number, ErrNotFound if the user does not exist.
func (s *Store) CreatePhone(ctx context.Context, p storage.Phone) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO phones (`+phoneColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		p.ID, p.UserID, blob(p.Number), p.NumberHash, p.Country, p.Masked, p.LineType, p.Status,
		tm(p.ConsentAt), optTm(p.VerifiedAt), optTm(p.SIMCheckedAt), optTm(p.SIMSwappedAt),
		tm(p.CreatedAt), optTm(p.LastUsedAt))
	return mapErr("create phone", err)
}

// ListPhones returns a user's phones, unverified ones included, oldest
// first; the id, in byte order, breaks ties.
func (s *Store) ListPhones(ctx context.Context, userID string) ([]storage.Phone, error) {
	const op = "list phones"
	rows, err := s.pool.Query(ctx, `SELECT `+phoneColumns+` FROM phones
		WHERE user_id = $1 ORDER BY created_at, id COLLATE "C"`, userID)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []storage.Phone
	for rows.Next() {
		p, err := scanPhone(op, rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, mapErr(op, rows.Err())
}

// GetPhone returns one of the user's phones; ErrNotFound if absent or
// another user's.
func (s *Store) GetPhone(ctx context.Context, userID, id string) (storage.Phone, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+phoneColumns+` FROM phones
		WHERE user_id = $1 AND id = $2`, userID, id)
	return scanPhone("get phone", row)
}

// UpdatePhone replaces what carriers, codes and sign-ins learn about a
// phone after it was added; the number, its consent and its creation stay.
func (s *Store) UpdatePhone(ctx context.Context, p storage.Phone) error {
	return s.execOne(ctx, "update phone", `UPDATE phones
		SET line_type = $1, status = $2, verified_at = $3, sim_checked_at = $4,
			sim_swapped_at = $5, last_used_at = $6
		WHERE user_id = $7 AND id = $8`,
		p.LineType, p.Status, optTm(p.VerifiedAt), optTm(p.SIMCheckedAt), optTm(p.SIMSwappedAt),
		optTm(p.LastUsedAt), p.UserID, p.ID)
}

// DeletePhone removes one of the user's phones and, by cascade, its codes;
// ErrNotFound if absent or another user's.
func (s *Store) DeletePhone(ctx context.Context, userID, id string) error {
	return s.execOne(ctx, "delete phone",
		`DELETE FROM phones WHERE user_id = $1 AND id = $2`, userID, id)
}

// DeleteUnverifiedPhones removes numbers added but never proved, created
// before olderThan.
func (s *Store) DeleteUnverifiedPhones(ctx context.Context, olderThan time.Time) (int64, error) {
	return s.execCount(ctx, "delete unverified phones", `DELETE FROM phones
		WHERE verified_at IS NULL AND created_at < $1`, tm(olderThan))
}

// scanPhone reads one row in phoneColumns order; errors come back mapped.
func scanPhone(op string, sc scanner) (storage.Phone, error) {
	var (
		p                                storage.Phone
		consent, created                 time.Time
		verified, checked, swapped, used *time.Time
	)
	err := sc.Scan(&p.ID, &p.UserID, &p.Number, &p.NumberHash, &p.Country, &p.Masked,
		&p.LineType, &p.Status, &consent, &verified, &checked, &swapped, &created, &used)
	if err != nil {
		return storage.Phone{}, mapErr(op, err)
	}
	p.Number = fromBlob(p.Number)
	p.ConsentAt, p.VerifiedAt = fromTm(consent), fromOptTm(verified)
	p.SIMCheckedAt, p.SIMSwappedAt = fromOptTm(checked), fromOptTm(swapped)
	p.CreatedAt, p.LastUsedAt = fromTm(created), fromOptTm(used)
	return p, nil
}

const phoneCodeColumns = `id, user_id, phone_id, tx_id, purpose, hash, channel, lang, attempts,
	sends, last_sent_at, created_at, expires_at, used_at`

// CreatePhoneCode inserts a code as given. The INSERT takes its row from
// the phone, so a code is only ever bound to a phone of its own user:
// ErrNotFound if the phone does not exist or is another user's,
// ErrConflict if the id exists.
func (s *Store) CreatePhoneCode(ctx context.Context, c storage.PhoneCode) error {
	const op = "create phone code"
	n, err := s.execCount(ctx, op, `INSERT INTO phone_codes (`+phoneCodeColumns+`)
		SELECT $1, user_id, id, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12
		FROM phones WHERE id = $13 AND user_id = $14`,
		c.ID, c.TxID, c.Purpose, c.Hash, c.Channel, c.Lang, c.Attempts, c.Sends, optTm(c.LastSentAt),
		tm(c.CreatedAt), tm(c.ExpiresAt), optTm(c.UsedAt), c.PhoneID, c.UserID)
	if err == nil && n == 0 {
		return fmt.Errorf("%s: phone %s of user %s: %w", op, c.PhoneID, c.UserID, storage.ErrNotFound)
	}
	return err
}

// GetPhoneCode returns a code, used or not, until it expires.
func (s *Store) GetPhoneCode(ctx context.Context, id string, now time.Time) (storage.PhoneCode, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+phoneCodeColumns+` FROM phone_codes
		WHERE id = $1 AND expires_at > $2`, id, tm(now))
	return scanPhoneCode("get phone code", row)
}

// FindPhoneCode returns the newest unused, unexpired code of a transaction
// for a phone; the id, in byte order, breaks ties.
func (s *Store) FindPhoneCode(ctx context.Context, txID, phoneID string, now time.Time) (storage.PhoneCode, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+phoneCodeColumns+` FROM phone_codes
		WHERE tx_id = $1 AND phone_id = $2 AND used_at IS NULL AND expires_at > $3
		ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT 1`, txID, phoneID, tm(now))
	return scanPhoneCode("find phone code", row)
}

// RecordPhoneCodeSend claims one send: the one UPDATE below checks that
// nobody sent the code since the caller read it (sends), that the resend
// wait is over (notBefore) and that the code is live, and counts the send,
// so of many concurrent callers with the same sends exactly one changes
// the row (a blocked UPDATE re-checks the count the winner committed). The
// follow-up read only tells a lost claim from a missing or expired code.
func (s *Store) RecordPhoneCodeSend(ctx context.Context, id, channel string, sends int, notBefore, now time.Time) error {
	const op = "record phone code send"
	n, err := s.execCount(ctx, op, `UPDATE phone_codes
		SET sends = sends + 1, last_sent_at = $1, channel = $2
		WHERE id = $3 AND sends = $4 AND (last_sent_at IS NULL OR last_sent_at <= $5)
			AND used_at IS NULL AND expires_at > $1`,
		tm(now), channel, id, sends, tm(notBefore))
	if err != nil || n == 1 {
		return err
	}
	return s.phoneCodeMiss(ctx, op, id, now, "sent meanwhile, too soon or used")
}

// AttemptPhoneCode counts one guess in one UPDATE ... RETURNING, so
// concurrent guesses are counted one by one (each blocked UPDATE re-reads
// the count) and at most maxAttempts of them get the code back.
func (s *Store) AttemptPhoneCode(ctx context.Context, id string, maxAttempts int, now time.Time) (storage.PhoneCode, error) {
	const op = "attempt phone code"
	row := s.pool.QueryRow(ctx, `UPDATE phone_codes SET attempts = attempts + 1
		WHERE id = $1 AND attempts < $2 AND used_at IS NULL AND expires_at > $3
		RETURNING `+phoneCodeColumns, id, maxAttempts, tm(now))
	c, err := scanPhoneCode(op, row)
	if !errors.Is(err, storage.ErrNotFound) {
		return c, err
	}
	return storage.PhoneCode{}, s.phoneCodeMiss(ctx, op, id, now, "used or out of attempts")
}

// UsePhoneCode is the single-use rule for phone codes: one conditional
// UPDATE, so of many concurrent callers exactly one marks the code used.
func (s *Store) UsePhoneCode(ctx context.Context, id string, now time.Time) error {
	const op = "use phone code"
	n, err := s.execCount(ctx, op, `UPDATE phone_codes SET used_at = $1
		WHERE id = $2 AND used_at IS NULL AND expires_at > $1`, tm(now), id)
	if err != nil || n == 1 {
		return err
	}
	return s.phoneCodeMiss(ctx, op, id, now, "already used")
}

// phoneCodeMiss explains why a conditional UPDATE on a code changed
// nothing: ErrConflict if the code is live (the condition failed: why),
// ErrNotFound if it is missing or expired.
func (s *Store) phoneCodeMiss(ctx context.Context, op, id string, now time.Time, why string) error {
	var exists bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM phone_codes
		WHERE id = $1 AND expires_at > $2)`, id, tm(now)).Scan(&exists)
	switch {
	case err != nil:
		return mapErr(op, err)
	case exists:
		return fmt.Errorf("%s: %s: %w", op, why, storage.ErrConflict)
	default:
		return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
}

// DeleteExpiredPhoneCodes removes the codes GetPhoneCode no longer
// returns.
func (s *Store) DeleteExpiredPhoneCodes(ctx context.Context, now time.Time) (int64, error) {
	return s.execCount(ctx, "delete expired phone codes",
		`DELETE FROM phone_codes WHERE expires_at <= $1`, tm(now))
}

// scanPhoneCode reads one row in phoneCodeColumns order; errors come back
// mapped.
func scanPhoneCode(op string, sc scanner) (storage.PhoneCode, error) {
	var (
		c                storage.PhoneCode
		created, expires time.Time
		sent, used       *time.Time
	)
	err := sc.Scan(&c.ID, &c.UserID, &c.PhoneID, &c.TxID, &c.Purpose, &c.Hash, &c.Channel,
		&c.Lang, &c.Attempts, &c.Sends, &sent, &created, &expires, &used)
	if err != nil {
		return storage.PhoneCode{}, mapErr(op, err)
	}
	c.LastSentAt, c.UsedAt = fromOptTm(sent), fromOptTm(used)
	c.CreatedAt, c.ExpiresAt = fromTm(created), fromTm(expires)
	return c, nil
}

const phoneMessageColumns = `sid, code_id, user_id, phone_id, channel, country, status,
	error_code, price, price_unit, segments, created_at, updated_at`

// CreatePhoneMessage records a message or call; ErrConflict if the SID
// exists. It refers to its code, phone and user without foreign keys: the
// record outlives them.
func (s *Store) CreatePhoneMessage(ctx context.Context, m storage.PhoneMessage) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO phone_messages (`+phoneMessageColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		m.SID, m.CodeID, m.UserID, m.PhoneID, m.Channel, m.Country, m.Status, m.ErrorCode,
		m.Price, m.PriceUnit, m.Segments, tm(m.CreatedAt), tm(m.UpdatedAt))
	return mapErr("create phone message", err)
}

// GetPhoneMessage returns a message or call by SID.
func (s *Store) GetPhoneMessage(ctx context.Context, sid string) (storage.PhoneMessage, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+phoneMessageColumns+` FROM phone_messages
		WHERE sid = $1`, sid)
	return scanPhoneMessage("get phone message", row)
}

// UpdatePhoneMessage replaces what the provider reports after sending.
func (s *Store) UpdatePhoneMessage(ctx context.Context, m storage.PhoneMessage) error {
	return s.execOne(ctx, "update phone message", `UPDATE phone_messages
		SET status = $1, error_code = $2, price = $3, price_unit = $4, segments = $5,
			updated_at = $6
		WHERE sid = $7`,
		m.Status, m.ErrorCode, m.Price, m.PriceUnit, m.Segments, tm(m.UpdatedAt), m.SID)
}

// ListPhoneMessages returns the messages and calls of one code, oldest
// first; the SID, in byte order, breaks ties.
func (s *Store) ListPhoneMessages(ctx context.Context, codeID string) ([]storage.PhoneMessage, error) {
	const op = "list phone messages"
	rows, err := s.pool.Query(ctx, `SELECT `+phoneMessageColumns+` FROM phone_messages
		WHERE code_id = $1 ORDER BY created_at, sid COLLATE "C"`, codeID)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []storage.PhoneMessage
	for rows.Next() {
		m, err := scanPhoneMessage(op, rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, mapErr(op, rows.Err())
}

// scanPhoneMessage reads one row in phoneMessageColumns order; errors come
// back mapped.
func scanPhoneMessage(op string, sc scanner) (storage.PhoneMessage, error) {
	var (
		m                storage.PhoneMessage
		created, updated time.Time
	)
	err := sc.Scan(&m.SID, &m.CodeID, &m.UserID, &m.PhoneID, &m.Channel, &m.Country, &m.Status,
		&m.ErrorCode, &m.Price, &m.PriceUnit, &m.Segments, &created, &updated)
	if err != nil {
		return storage.PhoneMessage{}, mapErr(op, err)
	}
	m.CreatedAt, m.UpdatedAt = fromTm(created), fromTm(updated)
	return m, nil
}
