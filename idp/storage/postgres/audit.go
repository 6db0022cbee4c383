package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
)

// defaultAuditLimit is ListAudit's page size when the filter sets none.
const defaultAuditLimit = 100

// AppendAudit appends one event; the store assigns its ID.
func (s *Store) AppendAudit(ctx context.Context, e storage.AuditEvent) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO audit_events
		(time, type, user_id, client_id, ip, request_id, details)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		tm(e.Time), e.Type, e.UserID, e.ClientID, e.IP, e.RequestID, encMap(e.Details))
	return mapErr("append audit", err)
}

// ListAudit returns the events matching f, newest first; events logged at
// the same instant come newest-inserted first.
func (s *Store) ListAudit(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEvent, error) {
	const op = "list audit"
	var (
		where []string
		args  []any
	)
	if f.UserID != "" {
		args = append(args, f.UserID)
		where = append(where, fmt.Sprintf("user_id = $%d", len(args)))
	}
	if f.Type != "" {
		args = append(args, f.Type)
		where = append(where, fmt.Sprintf("type = $%d", len(args)))
	}
	q := `SELECT id, time, type, user_id, client_id, ip, request_id, details FROM audit_events`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	args = append(args, limit)
	q += fmt.Sprintf(" ORDER BY time DESC, id DESC LIMIT $%d", len(args))

	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []storage.AuditEvent
	for rows.Next() {
		var (
			e       storage.AuditEvent
			at      time.Time
			details string
		)
		err := rows.Scan(&e.ID, &at, &e.Type, &e.UserID, &e.ClientID, &e.IP, &e.RequestID, &details)
		if err != nil {
			return nil, mapErr(op, err)
		}
		e.Time = fromTm(at)
		if e.Details, err = decMap("details", details); err != nil {
			return nil, fmt.Errorf("%s: event %d: %w", op, e.ID, err)
		}
		out = append(out, e)
	}
	return out, mapErr(op, rows.Err())
}
