package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/latchkey/latchkey/idp/storage"
)

// defaultAuditLimit is ListAudit's page size when the filter sets none.
const defaultAuditLimit = 100

// AppendAudit appends one event; the store assigns its ID.
func (s *Store) AppendAudit(ctx context.Context, e storage.AuditEvent) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO audit_events
		(time, type, user_id, client_id, ip, request_id, details)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
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
		where, args = append(where, "user_id = ?"), append(args, f.UserID)
	}
	if f.Type != "" {
		where, args = append(where, "type = ?"), append(args, f.Type)
	}
	q := `SELECT id, time, type, user_id, client_id, ip, request_id, details FROM audit_events`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	q += " ORDER BY time DESC, id DESC LIMIT ?"
	args = append(args, limit)

	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []storage.AuditEvent
	for rows.Next() {
		var (
			e       storage.AuditEvent
			at      int64
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
