package storagetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
)

func fullBrowser(id, userID string, created time.Time) storage.RememberedBrowser {
	return storage.RememberedBrowser{
		ID:         id,
		UserID:     userID,
		Label:      "Firefox on Linux — 日本",
		CreatedAt:  created,
		LastUsedAt: created.Add(time.Minute),
		ExpiresAt:  created.Add(30 * 24 * time.Hour),
	}
}

func browserIDs(t *testing.T, s storage.Store, userID string, now time.Time) []string {
	t.Helper()
	bs, err := s.ListRememberedBrowsers(ctx(t), userID, now)
	must(t, "ListRememberedBrowsers", err)
	var ids []string
	for _, b := range bs {
		ids = append(ids, b.ID)
	}
	return ids
}

var browserTests = []subtest{
	{"RoundTrip", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		want := fullBrowser("b1", "u1", base)
		must(t, "CreateRememberedBrowser", s.CreateRememberedBrowser(ctx(t), want))
		got, err := s.GetRememberedBrowser(ctx(t), "b1", base)
		must(t, "GetRememberedBrowser", err)
		equal(t, "GetRememberedBrowser", got, want)
		_, err = s.GetRememberedBrowser(ctx(t), "nope", base)
		wantErr(t, "GetRememberedBrowser missing", err, storage.ErrNotFound)
	}},
	{"Duplicate", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		withUser(t, s, "u2")
		must(t, "CreateRememberedBrowser", s.CreateRememberedBrowser(ctx(t), fullBrowser("b1", "u1", base)))
		wantErr(t, "CreateRememberedBrowser again",
			s.CreateRememberedBrowser(ctx(t), fullBrowser("b1", "u2", base)), storage.ErrConflict)
		got, err := s.GetRememberedBrowser(ctx(t), "b1", base)
		must(t, "GetRememberedBrowser", err)
		equal(t, "owner", got.UserID, "u1")
	}},
	{"UnknownUser", func(t *testing.T, s storage.Store) {
		wantErr(t, "CreateRememberedBrowser",
			s.CreateRememberedBrowser(ctx(t), fullBrowser("b1", "ghost", base)), storage.ErrNotFound)
	}},
	{"Expiry", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		b := fullBrowser("b1", "u1", base)
		must(t, "CreateRememberedBrowser", s.CreateRememberedBrowser(ctx(t), b))
		_, err := s.GetRememberedBrowser(ctx(t), "b1", b.ExpiresAt.Add(-time.Microsecond))
		must(t, "GetRememberedBrowser just before expiry", err)
		_, err = s.GetRememberedBrowser(ctx(t), "b1", b.ExpiresAt)
		wantErr(t, "GetRememberedBrowser at expiry", err, storage.ErrNotFound)
		equal(t, "listed at expiry", len(browserIDs(t, s, "u1", b.ExpiresAt)), 0)
		// An expired record is gone for Touch too.
		wantErr(t, "TouchRememberedBrowser at expiry",
			s.TouchRememberedBrowser(ctx(t), "b1", b.ExpiresAt), storage.ErrNotFound)
		// A zero ExpiresAt is the distant past, not "never".
		zero := fullBrowser("b0", "u1", base)
		zero.ExpiresAt = time.Time{}
		must(t, "CreateRememberedBrowser zero expiry", s.CreateRememberedBrowser(ctx(t), zero))
		_, err = s.GetRememberedBrowser(ctx(t), "b0", base)
		wantErr(t, "GetRememberedBrowser zero expiry", err, storage.ErrNotFound)
	}},
	{"ListNewestFirst", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		withUser(t, s, "u2")
		now := at(4 * time.Hour)
		expired := fullBrowser("expired", "u1", at(3*time.Hour))
		expired.ExpiresAt = now
		for _, b := range []storage.RememberedBrowser{
			fullBrowser("b-mid", "u1", at(time.Hour)),
			fullBrowser("b-old", "u1", base),
			fullBrowser("b-new", "u1", at(2*time.Hour)),
			// Same CreatedAt as b-new: the id breaks the tie, in byte order.
			fullBrowser("B-new", "u1", at(2*time.Hour)),
			expired,
			fullBrowser("other", "u2", at(5*time.Hour)),
		} {
			must(t, "CreateRememberedBrowser", s.CreateRememberedBrowser(ctx(t), b))
		}
		equal(t, "u1 live", browserIDs(t, s, "u1", now), []string{"b-new", "B-new", "b-mid", "b-old"})
		bs, err := s.ListRememberedBrowsers(ctx(t), "u1", now)
		must(t, "ListRememberedBrowsers", err)
		equal(t, "listed record", bs[2], fullBrowser("b-mid", "u1", at(time.Hour)))
		equal(t, "nobody", len(browserIDs(t, s, "nobody", now)), 0)
	}},
	{"Touch", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		b := fullBrowser("b1", "u1", base)
		must(t, "CreateRememberedBrowser", s.CreateRememberedBrowser(ctx(t), b))
		must(t, "CreateRememberedBrowser", s.CreateRememberedBrowser(ctx(t), fullBrowser("b2", "u1", base)))
		now := at(5 * time.Hour)
		must(t, "TouchRememberedBrowser", s.TouchRememberedBrowser(ctx(t), "b1", now))
		got, err := s.GetRememberedBrowser(ctx(t), "b1", now)
		must(t, "GetRememberedBrowser", err)
		b.LastUsedAt = now
		equal(t, "after touch", got, b)
		got, err = s.GetRememberedBrowser(ctx(t), "b2", now)
		must(t, "GetRememberedBrowser b2", err)
		equal(t, "sibling untouched", got, fullBrowser("b2", "u1", base))
		wantErr(t, "TouchRememberedBrowser missing", s.TouchRememberedBrowser(ctx(t), "nope", now), storage.ErrNotFound)
	}},
	{"Delete", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		withUser(t, s, "u2")
		must(t, "CreateRememberedBrowser", s.CreateRememberedBrowser(ctx(t), fullBrowser("b1", "u1", base)))
		wantErr(t, "DeleteRememberedBrowser by u2", s.DeleteRememberedBrowser(ctx(t), "u2", "b1"), storage.ErrNotFound)
		_, err := s.GetRememberedBrowser(ctx(t), "b1", base)
		must(t, "GetRememberedBrowser after wrong user's delete", err)
		must(t, "DeleteRememberedBrowser", s.DeleteRememberedBrowser(ctx(t), "u1", "b1"))
		_, err = s.GetRememberedBrowser(ctx(t), "b1", base)
		wantErr(t, "GetRememberedBrowser deleted", err, storage.ErrNotFound)
		wantErr(t, "DeleteRememberedBrowser again", s.DeleteRememberedBrowser(ctx(t), "u1", "b1"), storage.ErrNotFound)
	}},
	{"DeleteUserRememberedBrowsers", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		withUser(t, s, "u2")
		for _, b := range []storage.RememberedBrowser{
			fullBrowser("a1", "u1", base), fullBrowser("a2", "u1", base), fullBrowser("b1", "u2", base),
		} {
			must(t, "CreateRememberedBrowser", s.CreateRememberedBrowser(ctx(t), b))
		}
		n, err := s.DeleteUserRememberedBrowsers(ctx(t), "u1")
		must(t, "DeleteUserRememberedBrowsers", err)
		equal(t, "deleted", n, int64(2))
		equal(t, "u1 left", len(browserIDs(t, s, "u1", base)), 0)
		equal(t, "u2 left", browserIDs(t, s, "u2", base), []string{"b1"})
		n, err = s.DeleteUserRememberedBrowsers(ctx(t), "u1")
		must(t, "DeleteUserRememberedBrowsers again", err)
		equal(t, "deleted again", n, int64(0))
	}},
	{"DeleteExpired", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		now := at(time.Hour)
		for id, exp := range map[string]time.Time{
			"old":      now.Add(-time.Hour),
			"boundary": now,
			"fresh":    now.Add(time.Microsecond),
		} {
			b := fullBrowser(id, "u1", base)
			b.ExpiresAt = exp
			must(t, "CreateRememberedBrowser", s.CreateRememberedBrowser(ctx(t), b))
		}
		n, err := s.DeleteExpiredRememberedBrowsers(ctx(t), now)
		must(t, "DeleteExpiredRememberedBrowsers", err)
		equal(t, "deleted", n, int64(2))
		// Deleted, not merely hidden: the ids can be reused.
		must(t, "CreateRememberedBrowser old again", s.CreateRememberedBrowser(ctx(t), fullBrowser("old", "u1", base)))
		wantErr(t, "CreateRememberedBrowser fresh again",
			s.CreateRememberedBrowser(ctx(t), fullBrowser("fresh", "u1", base)), storage.ErrConflict)
	}},
}

var policyTests = []subtest{
	{"Missing", func(t *testing.T, s storage.Store) {
		_, err := s.GetPolicy(ctx(t))
		wantErr(t, "GetPolicy", err, storage.ErrNotFound)
	}},
	{"RoundTripAndReplace", func(t *testing.T, s storage.Store) {
		// The document comes back byte for byte: key order, spacing and
		// duplicate keys are the caller's, not normalised.
		p1 := storage.Policy{Data: []byte(`{"order": ["passkey","push"],  "b":1, "a":2, "a":3}`), UpdatedAt: base}
		must(t, "SavePolicy", s.SavePolicy(ctx(t), p1))
		got, err := s.GetPolicy(ctx(t))
		must(t, "GetPolicy", err)
		equal(t, "GetPolicy", got, p1)

		p2 := storage.Policy{Data: []byte(`{"enrol":"required"}`), UpdatedAt: at(time.Hour)}
		must(t, "SavePolicy replace", s.SavePolicy(ctx(t), p2))
		got, err = s.GetPolicy(ctx(t))
		must(t, "GetPolicy", err)
		equal(t, "GetPolicy after replace", got, p2)

		p3 := storage.Policy{Data: []byte{}, UpdatedAt: at(2 * time.Hour)}
		must(t, "SavePolicy empty", s.SavePolicy(ctx(t), p3))
		got, err = s.GetPolicy(ctx(t))
		must(t, "GetPolicy", err)
		equal(t, "GetPolicy empty", got, storage.Policy{UpdatedAt: p3.UpdatedAt})
	}},
}
