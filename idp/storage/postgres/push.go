package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
)

const pushDeviceColumns = `id, user_id, public_key, name, platform, channel, token, permission,
	token_valid, created_at, last_seen_at, unregistered_at`

// CreatePushDevice inserts a device as given; ErrConflict if the
// thumbprint is enrolled already (to any user), ErrNotFound if the user
// does not exist.
func (s *Store) CreatePushDevice(ctx context.Context, d storage.PushDevice) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO push_devices (`+pushDeviceColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		d.ID, d.UserID, blob(d.PublicKey), d.Name, d.Platform, d.Channel, d.Token, d.Permission,
		d.TokenValid, tm(d.CreatedAt), optTm(d.LastSeenAt), optTm(d.UnregisteredAt))
	return mapErr("create push device", err)
}

// ListPushDevices returns a user's devices, oldest first; the id, in byte
// order, breaks ties.
func (s *Store) ListPushDevices(ctx context.Context, userID string) ([]storage.PushDevice, error) {
	const op = "list push devices"
	rows, err := s.pool.Query(ctx, `SELECT `+pushDeviceColumns+` FROM push_devices
		WHERE user_id = $1 ORDER BY created_at, id COLLATE "C"`, userID)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []storage.PushDevice
	for rows.Next() {
		d, err := scanPushDevice(op, rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, mapErr(op, rows.Err())
}

// GetPushDevice returns a device by thumbprint.
func (s *Store) GetPushDevice(ctx context.Context, id string) (storage.PushDevice, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+pushDeviceColumns+` FROM push_devices
		WHERE id = $1`, id)
	return scanPushDevice("get push device", row)
}

// UpdatePushDeviceState records a heartbeat in one UPDATE. Every SET
// expression reads the row as it was, so "token <> $3" compares with the
// stored token, not the one being written.
func (s *Store) UpdatePushDeviceState(ctx context.Context, id, permission, token, channel string, now time.Time) error {
	return s.execOne(ctx, "update push device state", `UPDATE push_devices
		SET permission = $1, last_seen_at = $2,
			token_valid = CASE WHEN $3 <> '' AND token <> $3 THEN true ELSE token_valid END,
			unregistered_at = CASE WHEN $3 <> '' AND token <> $3 THEN NULL ELSE unregistered_at END,
			channel = CASE WHEN $3 <> '' THEN $4 ELSE channel END,
			token = CASE WHEN $3 <> '' THEN $3 ELSE token END
		WHERE id = $5`,
		permission, tm(now), token, channel, id)
}

// MarkPushDeviceUnregistered is conditional on the token the failed send
// used: if a heartbeat replaced it meanwhile, the UPDATE matches nothing
// (a blocked UPDATE re-checks the token the heartbeat committed) and the
// new token stays valid.
func (s *Store) MarkPushDeviceUnregistered(ctx context.Context, id, token string, now time.Time) error {
	const op = "mark push device unregistered"
	n, err := s.execCount(ctx, op, `UPDATE push_devices
		SET token_valid = false, unregistered_at = COALESCE(unregistered_at, $1)
		WHERE id = $2 AND token = $3`, tm(now), id, token)
	if err != nil || n == 1 {
		return err
	}
	var exists bool
	err = s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM push_devices WHERE id = $1)`,
		id).Scan(&exists)
	switch {
	case err != nil:
		return mapErr(op, err)
	case exists:
		return fmt.Errorf("%s: the device has another token: %w", op, storage.ErrConflict)
	default:
		return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
}

// DeletePushDevice removes one of the user's devices and, by cascade, its
// challenges; ErrNotFound if absent or another user's.
func (s *Store) DeletePushDevice(ctx context.Context, userID, id string) error {
	return s.execOne(ctx, "delete push device",
		`DELETE FROM push_devices WHERE user_id = $1 AND id = $2`, userID, id)
}

// scanPushDevice reads one row in pushDeviceColumns order; errors come
// back mapped.
func scanPushDevice(op string, sc scanner) (storage.PushDevice, error) {
	var (
		d                  storage.PushDevice
		created            time.Time
		seen, unregistered *time.Time
	)
	err := sc.Scan(&d.ID, &d.UserID, &d.PublicKey, &d.Name, &d.Platform, &d.Channel, &d.Token,
		&d.Permission, &d.TokenValid, &created, &seen, &unregistered)
	if err != nil {
		return storage.PushDevice{}, mapErr(op, err)
	}
	d.PublicKey = fromBlob(d.PublicKey)
	d.CreatedAt, d.LastSeenAt, d.UnregisteredAt = fromTm(created), fromOptTm(seen), fromOptTm(unregistered)
	return d, nil
}

const pushEnrolmentColumns = `token_hash, user_id, created_at, expires_at, used_at`

// CreatePushEnrolment inserts a token as given; ErrConflict if the hash
// exists, ErrNotFound if the user does not exist.
func (s *Store) CreatePushEnrolment(ctx context.Context, e storage.PushEnrolment) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO push_enrolments (`+pushEnrolmentColumns+`)
		VALUES ($1, $2, $3, $4, $5)`,
		e.TokenHash, e.UserID, tm(e.CreatedAt), tm(e.ExpiresAt), optTm(e.UsedAt))
	return mapErr("create push enrolment", err)
}

// UsePushEnrolment is the single-use rule for enrolment tokens: one
// UPDATE ... RETURNING, so of many concurrent callers exactly one marks
// the token used and gets it (a blocked UPDATE re-checks used_at). The
// follow-up read only tells a used token from a missing or expired one.
func (s *Store) UsePushEnrolment(ctx context.Context, tokenHash string, now time.Time) (storage.PushEnrolment, error) {
	const op = "use push enrolment"
	var (
		e                      storage.PushEnrolment
		created, expires, used time.Time
	)
	err := s.pool.QueryRow(ctx, `UPDATE push_enrolments SET used_at = $1
		WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1
		RETURNING `+pushEnrolmentColumns, tm(now), tokenHash).
		Scan(&e.TokenHash, &e.UserID, &created, &expires, &used)
	if err == nil {
		e.CreatedAt, e.ExpiresAt, e.UsedAt = fromTm(created), fromTm(expires), fromTm(used)
		return e, nil
	}
	if mapped := mapErr(op, err); !errors.Is(mapped, storage.ErrNotFound) {
		return storage.PushEnrolment{}, mapped
	}
	var live bool
	err = s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM push_enrolments
		WHERE token_hash = $1 AND expires_at > $2)`, tokenHash, tm(now)).Scan(&live)
	switch {
	case err != nil:
		return storage.PushEnrolment{}, mapErr(op, err)
	case live:
		return storage.PushEnrolment{}, fmt.Errorf("%s: already used: %w", op, storage.ErrConflict)
	default:
		return storage.PushEnrolment{}, fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
}

// DeleteExpiredPushEnrolments removes the tokens UsePushEnrolment no
// longer accepts.
func (s *Store) DeleteExpiredPushEnrolments(ctx context.Context, now time.Time) (int64, error) {
	return s.execCount(ctx, "delete expired push enrolments",
		`DELETE FROM push_enrolments WHERE expires_at <= $1`, tm(now))
}

const pushChallengeColumns = `id, tx_id, user_id, device_id, number, nonce, status, wrong_numbers,
	reason, context, created_at, expires_at, delivered_at, ended_at`

// openPush is the SQL condition of an open challenge.
const openPush = `status IN ('` + storage.PushPending + `', '` + storage.PushDelivered + `')`

// CreatePushChallenge inserts a challenge as given. The INSERT takes its
// row from the device, so a challenge is only ever bound to a device of
// its own user: ErrNotFound if the device does not exist or is another
// user's, ErrConflict if the id exists.
func (s *Store) CreatePushChallenge(ctx context.Context, c storage.PushChallenge) error {
	const op = "create push challenge"
	n, err := s.execCount(ctx, op, `INSERT INTO push_challenges (`+pushChallengeColumns+`)
		SELECT $1, $2, user_id, id, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12
		FROM push_devices WHERE id = $13 AND user_id = $14`,
		c.ID, c.TxID, c.Number, c.Nonce, c.Status, c.WrongNumbers, c.Reason, blob(c.Context),
		tm(c.CreatedAt), tm(c.ExpiresAt), optTm(c.DeliveredAt), optTm(c.EndedAt), c.DeviceID, c.UserID)
	if err == nil && n == 0 {
		return fmt.Errorf("%s: device %s of user %s: %w", op, c.DeviceID, c.UserID, storage.ErrNotFound)
	}
	return err
}

// GetPushChallenge returns a challenge whatever its status or expiry.
func (s *Store) GetPushChallenge(ctx context.Context, id string) (storage.PushChallenge, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+pushChallengeColumns+` FROM push_challenges
		WHERE id = $1`, id)
	return scanPushChallenge("get push challenge", row)
}

// LatestPushChallenge returns the newest challenge of a transaction; the
// id, in byte order, breaks ties.
func (s *Store) LatestPushChallenge(ctx context.Context, txID string) (storage.PushChallenge, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+pushChallengeColumns+` FROM push_challenges
		WHERE tx_id = $1 ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT 1`, txID)
	return scanPushChallenge("latest push challenge", row)
}

// MarkPushDelivered is one UPDATE ... RETURNING that always matches the
// device's challenge and changes it only while it is open and unexpired,
// so the acknowledgement is idempotent and the caller gets the row as it
// stands in the same step.
func (s *Store) MarkPushDelivered(ctx context.Context, deviceID, id string, now time.Time) (storage.PushChallenge, error) {
	row := s.pool.QueryRow(ctx, `UPDATE push_challenges
		SET status = CASE WHEN `+openPush+` AND expires_at > $1 THEN '`+storage.PushDelivered+`'
				ELSE status END,
			delivered_at = CASE WHEN `+openPush+` AND expires_at > $1 THEN COALESCE(delivered_at, $1)
				ELSE delivered_at END
		WHERE id = $2 AND device_id = $3
		RETURNING `+pushChallengeColumns, tm(now), id, deviceID)
	return scanPushChallenge("mark push delivered", row)
}

// AnswerPushChallenge is the single-use rule for pushes: one conditional
// UPDATE on the status, so of many concurrent answers exactly one lands
// (each blocked UPDATE re-checks the status the winner committed).
func (s *Store) AnswerPushChallenge(ctx context.Context, deviceID, id, status string, now time.Time) error {
	const op = "answer push challenge"
	switch status {
	case storage.PushApproved, storage.PushDenied, storage.PushNotMe:
	default:
		return fmt.Errorf("%s: %q is not an answer", op, status)
	}
	n, err := s.execCount(ctx, op, `UPDATE push_challenges SET status = $1, ended_at = $2
		WHERE id = $3 AND device_id = $4 AND `+openPush+` AND expires_at > $2`,
		status, tm(now), id, deviceID)
	if err != nil || n == 1 {
		return err
	}
	return s.pushChallengeMiss(ctx, op, deviceID, id, "answered, ended or expired")
}

// RecordWrongNumber counts a wrong number and, at the limit, fails the
// challenge in the same UPDATE ... RETURNING: the count and the status
// can never disagree, and concurrent wrong numbers are counted one by one
// (each blocked UPDATE re-reads the count) up to maxWrong.
func (s *Store) RecordWrongNumber(ctx context.Context, deviceID, id string, maxWrong int, now time.Time) (storage.PushChallenge, error) {
	const op = "record wrong number"
	row := s.pool.QueryRow(ctx, `UPDATE push_challenges
		SET wrong_numbers = wrong_numbers + 1,
			status = CASE WHEN wrong_numbers + 1 >= $1 THEN '`+storage.PushFailed+`' ELSE status END,
			reason = CASE WHEN wrong_numbers + 1 >= $1 THEN '`+storage.PushReasonWrongNumbers+`'
				ELSE reason END,
			ended_at = CASE WHEN wrong_numbers + 1 >= $1 THEN $2 ELSE ended_at END
		WHERE id = $3 AND device_id = $4 AND `+openPush+` AND expires_at > $2
			AND wrong_numbers < $1
		RETURNING `+pushChallengeColumns, maxWrong, tm(now), id, deviceID)
	c, err := scanPushChallenge(op, row)
	if !errors.Is(err, storage.ErrNotFound) {
		return c, err
	}
	return storage.PushChallenge{}, s.pushChallengeMiss(ctx, op, deviceID, id, "ended, expired or out of numbers")
}

// SupersedePushChallenges ends every other open challenge of a
// transaction in one UPDATE.
func (s *Store) SupersedePushChallenges(ctx context.Context, txID, exceptID string, now time.Time) (int64, error) {
	return s.execCount(ctx, "supersede push challenges", `UPDATE push_challenges
		SET status = '`+storage.PushSuperseded+`', ended_at = $1
		WHERE tx_id = $2 AND id <> $3 AND `+openPush, tm(now), txID, exceptID)
}

// EndPushChallenge ends an open challenge without an answer, in one
// conditional UPDATE, so it never overwrites an answer that came first.
func (s *Store) EndPushChallenge(ctx context.Context, id, status, reason string, now time.Time) error {
	const op = "end push challenge"
	switch status {
	case storage.PushFailed, storage.PushExpired:
	default:
		return fmt.Errorf("%s: %q does not end a challenge without an answer", op, status)
	}
	n, err := s.execCount(ctx, op, `UPDATE push_challenges SET status = $1, reason = $2, ended_at = $3
		WHERE id = $4 AND `+openPush, status, reason, tm(now), id)
	if err != nil || n == 1 {
		return err
	}
	return s.pushChallengeMiss(ctx, op, "", id, "already ended")
}

// pushChallengeMiss explains why a conditional UPDATE on a challenge
// changed nothing: ErrConflict if the challenge exists (for deviceID,
// unless it is empty), ErrNotFound if not.
func (s *Store) pushChallengeMiss(ctx context.Context, op, deviceID, id, why string) error {
	var exists bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM push_challenges
		WHERE id = $1 AND ($2 = '' OR device_id = $2))`, id, deviceID).Scan(&exists)
	switch {
	case err != nil:
		return mapErr(op, err)
	case exists:
		return fmt.Errorf("%s: %s: %w", op, why, storage.ErrConflict)
	default:
		return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
}

// CountPushChallenges counts a user's challenges created at or after
// since.
func (s *Store) CountPushChallenges(ctx context.Context, userID string, since time.Time) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM push_challenges
		WHERE user_id = $1 AND created_at >= $2`, userID, tm(since)).Scan(&n)
	if err != nil {
		return 0, mapErr("count push challenges", err)
	}
	return n, nil
}

// DeleteExpiredPushChallenges removes challenges that expired before
// before.
func (s *Store) DeleteExpiredPushChallenges(ctx context.Context, before time.Time) (int64, error) {
	return s.execCount(ctx, "delete expired push challenges",
		`DELETE FROM push_challenges WHERE expires_at < $1`, tm(before))
}

// scanPushChallenge reads one row in pushChallengeColumns order; errors
// come back mapped.
func scanPushChallenge(op string, sc scanner) (storage.PushChallenge, error) {
	var (
		c                storage.PushChallenge
		created, expires time.Time
		delivered, ended *time.Time
	)
	err := sc.Scan(&c.ID, &c.TxID, &c.UserID, &c.DeviceID, &c.Number, &c.Nonce, &c.Status,
		&c.WrongNumbers, &c.Reason, &c.Context, &created, &expires, &delivered, &ended)
	if err != nil {
		return storage.PushChallenge{}, mapErr(op, err)
	}
	c.Context = fromBlob(c.Context)
	c.CreatedAt, c.ExpiresAt = fromTm(created), fromTm(expires)
	c.DeliveredAt, c.EndedAt = fromOptTm(delivered), fromOptTm(ended)
	return c, nil
}
