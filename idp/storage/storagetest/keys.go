package storagetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
)

func key(id, alg string, created time.Time) storage.SigningKey {
	return storage.SigningKey{
		ID:         id,
		Algorithm:  alg,
		PrivateKey: []byte{0x00, 0xff, 0x10, 'k', 0x00, byte(len(id))},
		PublicJWK:  []byte(`{"kty":"EC","crv":"P-256","kid":"` + id + `"}`),
		CreatedAt:  created,
	}
}

func keyIDs(ks []storage.SigningKey) []string {
	var ids []string
	for _, k := range ks {
		ids = append(ids, k.ID)
	}
	return ids
}

func keyByID(t *testing.T, ks []storage.SigningKey, id string) storage.SigningKey {
	t.Helper()
	for _, k := range ks {
		if k.ID == id {
			return k
		}
	}
	t.Fatalf("key %s not listed", id)
	return storage.SigningKey{}
}

var keyTests = []subtest{
	{"RoundTrip", func(t *testing.T, s storage.Store) {
		active := key("k1", "ES256", base)
		retired := key("k0", "ES256", at(-time.Hour))
		retired.RetiredAt, retired.RemoveAfter = base, at(24*time.Hour)
		must(t, "CreateSigningKey", s.CreateSigningKey(ctx(t), active))
		must(t, "CreateSigningKey", s.CreateSigningKey(ctx(t), retired))
		got, err := s.ListSigningKeys(ctx(t))
		must(t, "ListSigningKeys", err)
		equal(t, "ListSigningKeys", got, []storage.SigningKey{active, retired})
		if !got[0].Active() || got[1].Active() {
			t.Fatalf("Active() = %v, %v; want true, false", got[0].Active(), got[1].Active())
		}
	}},
	{"EmptyStore", func(t *testing.T, s storage.Store) {
		got, err := s.ListSigningKeys(ctx(t))
		must(t, "ListSigningKeys", err)
		equal(t, "ListSigningKeys", len(got), 0)
	}},
	{"DuplicateKid", func(t *testing.T, s storage.Store) {
		must(t, "CreateSigningKey", s.CreateSigningKey(ctx(t), key("k1", "ES256", base)))
		wantErr(t, "CreateSigningKey again", s.CreateSigningKey(ctx(t), key("k1", "RS256", base)), storage.ErrConflict)
	}},
	{"NewestFirst", func(t *testing.T, s storage.Store) {
		for i, id := range []string{"b", "d", "a", "c"} {
			must(t, "CreateSigningKey", s.CreateSigningKey(ctx(t), key(id, "ES256", at(time.Duration(i)*time.Minute))))
		}
		got, err := s.ListSigningKeys(ctx(t))
		must(t, "ListSigningKeys", err)
		equal(t, "ListSigningKeys order", keyIDs(got), []string{"c", "a", "d", "b"})
	}},
	{"Rotate", func(t *testing.T, s storage.Store) {
		es1, rs1 := key("es1", "ES256", base), key("rs1", "RS256", base)
		must(t, "CreateSigningKey", s.CreateSigningKey(ctx(t), es1))
		must(t, "CreateSigningKey", s.CreateSigningKey(ctx(t), rs1))
		es2 := key("es2", "ES256", at(time.Hour))
		// Whatever the caller sets, the new key goes in active.
		es2.RetiredAt = at(2 * time.Hour)
		removeAt := at(25 * time.Hour)
		must(t, "RotateSigningKey", s.RotateSigningKey(ctx(t), es2, removeAt))

		got, err := s.ListSigningKeys(ctx(t))
		must(t, "ListSigningKeys", err)
		equal(t, "ListSigningKeys order", keyIDs(got), []string{"es2", "rs1", "es1"})
		wantNew := es2
		wantNew.RetiredAt = time.Time{}
		equal(t, "new key", keyByID(t, got, "es2"), wantNew)
		wantOld := es1
		wantOld.RetiredAt, wantOld.RemoveAfter = es2.CreatedAt, removeAt
		equal(t, "retired key", keyByID(t, got, "es1"), wantOld)
		equal(t, "other algorithm", keyByID(t, got, "rs1"), rs1)

		// A second rotation retires es2 and leaves es1's dates alone.
		es3 := key("es3", "ES256", at(2*time.Hour))
		must(t, "RotateSigningKey again", s.RotateSigningKey(ctx(t), es3, at(26*time.Hour)))
		got, err = s.ListSigningKeys(ctx(t))
		must(t, "ListSigningKeys", err)
		equal(t, "first retired key", keyByID(t, got, "es1"), wantOld)
		if k := keyByID(t, got, "es2"); k.Active() || !k.RetiredAt.Equal(es3.CreatedAt) {
			t.Fatalf("es2 after second rotation: %+v", k)
		}
		var active []string
		for _, k := range got {
			if k.Active() {
				active = append(active, k.ID)
			}
		}
		equal(t, "active keys", active, []string{"es3", "rs1"})
	}},
	{"RotateFromNothing", func(t *testing.T, s storage.Store) {
		must(t, "RotateSigningKey", s.RotateSigningKey(ctx(t), key("k1", "ES256", base), at(time.Hour)))
		got, err := s.ListSigningKeys(ctx(t))
		must(t, "ListSigningKeys", err)
		equal(t, "ListSigningKeys", got, []storage.SigningKey{key("k1", "ES256", base)})
	}},
	{"RotateConflictIsAtomic", func(t *testing.T, s storage.Store) {
		es1 := key("es1", "ES256", base)
		must(t, "CreateSigningKey", s.CreateSigningKey(ctx(t), es1))
		// Re-using a kid fails, and the old key must not be left retired.
		err := s.RotateSigningKey(ctx(t), key("es1", "ES256", at(time.Hour)), at(2*time.Hour))
		wantErr(t, "RotateSigningKey with taken kid", err, storage.ErrConflict)
		got, err := s.ListSigningKeys(ctx(t))
		must(t, "ListSigningKeys", err)
		equal(t, "keys after failed rotation", got, []storage.SigningKey{es1})
	}},
	{"DeleteRemoved", func(t *testing.T, s storage.Store) {
		now := at(10 * time.Hour)
		gone := key("gone", "ES256", base)
		gone.RetiredAt, gone.RemoveAfter = at(time.Hour), now.Add(-time.Microsecond)
		kept := key("kept", "ES256", at(time.Hour))
		kept.RetiredAt, kept.RemoveAfter = at(2*time.Hour), now.Add(time.Hour)
		boundary := key("boundary", "RS256", at(time.Hour))
		boundary.RetiredAt, boundary.RemoveAfter = at(2*time.Hour), now
		active := key("active", "ES256", at(2*time.Hour))
		for _, k := range []storage.SigningKey{gone, kept, boundary, active} {
			must(t, "CreateSigningKey", s.CreateSigningKey(ctx(t), k))
		}
		n, err := s.DeleteRemovedSigningKeys(ctx(t), now)
		must(t, "DeleteRemovedSigningKeys", err)
		equal(t, "deleted", n, int64(1))
		got, err := s.ListSigningKeys(ctx(t))
		must(t, "ListSigningKeys", err)
		equal(t, "remaining", keyIDs(got), []string{"active", "kept", "boundary"})
		// Active keys are never removed, however far in the future.
		n, err = s.DeleteRemovedSigningKeys(ctx(t), at(1000*time.Hour))
		must(t, "DeleteRemovedSigningKeys", err)
		equal(t, "deleted later", n, int64(2))
		got, err = s.ListSigningKeys(ctx(t))
		must(t, "ListSigningKeys", err)
		equal(t, "remaining later", keyIDs(got), []string{"active"})
	}},
}
