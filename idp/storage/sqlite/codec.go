package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Times are stored as INTEGER microseconds since the Unix epoch: the
// precision PostgreSQL keeps, so both backends hand back the same instant.
// int64 microseconds reach far beyond year 1, so the zero time.Time is
// stored as itself and comes back IsZero.

func tm(t time.Time) int64 { return t.UnixMicro() }

func fromTm(v int64) time.Time { return time.UnixMicro(v).UTC() }

// optTm stores an optional time: NULL while zero.
func optTm(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func fromOptTm(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromTm(v.Int64)
}

// Lists and maps are JSON text. Empty ones come back nil, so a record
// round-trips whether the caller used nil or an empty literal.

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

// blob stores opaque bytes in a NOT NULL column; empty comes back nil.
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

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}
