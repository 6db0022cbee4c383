package postgres

import (
	"encoding/json"
	"fmt"
	"time"
)

// Times go in as UTC microseconds, PostgreSQL's precision, and come out in
// UTC: pgx would otherwise hand back time.Local. timestamptz reaches back
// to 4713 BC, so the zero time.Time is stored as itself.

func tm(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func fromTm(t time.Time) time.Time { return t.UTC() }

// optTm stores an optional time: NULL while zero.
func optTm(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return tm(t)
}

func fromOptTm(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// Lists and maps are jsonb, sent as JSON text. Empty ones come back nil,
// so a record round-trips whether the caller used nil or an empty literal.

func encList(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(l) // a []string always marshals
	return string(b)
}

func decList(column, s string) ([]string, error) {
	var l []string
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return nil, fmt.Errorf("decode %s: %w", column, err)
	}
	if len(l) == 0 {
		return nil, nil
	}
	return l, nil
}

func encMap(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(m) // a map[string]string always marshals
	return string(b)
}

func decMap(column, s string) (map[string]string, error) {
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("decode %s: %w", column, err)
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// blob stores opaque bytes in a NOT NULL bytea column (pgx sends a nil
// slice as NULL); empty comes back nil.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func fromBlob(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// scanner is a pgx.Row or pgx.Rows.
type scanner interface {
	Scan(dest ...any) error
}
