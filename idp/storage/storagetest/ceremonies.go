package storagetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
)

// fullCeremony is an assertion ceremony of userID (a discoverable sign-in
// when userID is empty), live from base for five minutes.
func fullCeremony(id, userID string) storage.Ceremony {
	kind := "assert"
	if userID == "" {
		kind = "login"
	}
	return storage.Ceremony{
		ID:        id,
		Kind:      kind,
		UserID:    userID,
		TxID:      "tx-" + id,
		Data:      []byte(`{"challenge":"3q2-7w","user_id":"AAE\u0000","expires":"2025-03-14T15:14:26Z"}` + "\x00\xff"),
		CreatedAt: base,
		ExpiresAt: at(5 * time.Minute),
	}
}

var ceremonyTests = []subtest{
	{"TakeOnce", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		want := fullCeremony("c1", "u1")
		must(t, "CreateCeremony", s.CreateCeremony(ctx(t), want))
		got, err := s.TakeCeremony(ctx(t), "c1", base)
		must(t, "TakeCeremony", err)
		equal(t, "TakeCeremony", got, want)
		_, err = s.TakeCeremony(ctx(t), "c1", base)
		wantErr(t, "TakeCeremony twice", err, storage.ErrNotFound)
		// Taken is gone: the id can be used again.
		must(t, "CreateCeremony same id", s.CreateCeremony(ctx(t), want))
	}},
	{"Discoverable", func(t *testing.T, s storage.Store) {
		// No user and no transaction yet: empty strings come back empty,
		// and empty data comes back nil.
		want := storage.Ceremony{ID: "c1", Kind: "login", Data: []byte{}, CreatedAt: base, ExpiresAt: at(time.Minute)}
		must(t, "CreateCeremony", s.CreateCeremony(ctx(t), want))
		got, err := s.TakeCeremony(ctx(t), "c1", base)
		must(t, "TakeCeremony", err)
		want.Data = nil
		equal(t, "TakeCeremony", got, want)
	}},
	{"Duplicate", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		first := fullCeremony("c1", "u1")
		must(t, "CreateCeremony", s.CreateCeremony(ctx(t), first))
		second := fullCeremony("c1", "")
		second.Data = []byte("other")
		wantErr(t, "CreateCeremony again", s.CreateCeremony(ctx(t), second), storage.ErrConflict)
		got, err := s.TakeCeremony(ctx(t), "c1", base)
		must(t, "TakeCeremony", err)
		equal(t, "first kept", got, first)
	}},
	{"UnknownUser", func(t *testing.T, s storage.Store) {
		// A ceremony names an existing user or none.
		wantErr(t, "CreateCeremony", s.CreateCeremony(ctx(t), fullCeremony("c1", "ghost")), storage.ErrNotFound)
		_, err := s.TakeCeremony(ctx(t), "c1", base)
		wantErr(t, "TakeCeremony", err, storage.ErrNotFound)
	}},
	{"TakeUnknown", func(t *testing.T, s storage.Store) {
		must(t, "CreateCeremony", s.CreateCeremony(ctx(t), fullCeremony("c1", "")))
		for _, id := range []string{"", "c", "c1 ", "C1"} {
			_, err := s.TakeCeremony(ctx(t), id, base)
			wantErr(t, "TakeCeremony "+id, err, storage.ErrNotFound)
		}
	}},
	{"Expiry", func(t *testing.T, s storage.Store) {
		// c-boundary expires exactly at now: gone, like every expiry in
		// the store.
		now := at(5 * time.Minute)
		for id, expires := range map[string]time.Time{
			"c-boundary": now,
			"c-past":     at(time.Minute),
			"c-live":     at(10 * time.Minute),
			"c-later":    now.Add(time.Microsecond),
		} {
			c := fullCeremony(id, "")
			c.ExpiresAt = expires
			must(t, "CreateCeremony", s.CreateCeremony(ctx(t), c))
		}
		for _, id := range []string{"c-boundary", "c-past"} {
			_, err := s.TakeCeremony(ctx(t), id, now)
			wantErr(t, "TakeCeremony expired "+id, err, storage.ErrNotFound)
		}
		// A refused take leaves the row for the sweeper, which counts it.
		n, err := s.DeleteExpiredCeremonies(ctx(t), now)
		must(t, "DeleteExpiredCeremonies", err)
		equal(t, "deleted", n, int64(2))
		n, err = s.DeleteExpiredCeremonies(ctx(t), now)
		must(t, "DeleteExpiredCeremonies again", err)
		equal(t, "deleted again", n, int64(0))
		// Taken before its expiry, an old ceremony is still good once.
		for _, id := range []string{"c-live", "c-later"} {
			got, err := s.TakeCeremony(ctx(t), id, now)
			must(t, "TakeCeremony "+id, err)
			equal(t, "id", got.ID, id)
		}
		n, err = s.DeleteExpiredCeremonies(ctx(t), at(time.Hour))
		must(t, "DeleteExpiredCeremonies after takes", err)
		equal(t, "deleted after takes", n, int64(0))
	}},
}
