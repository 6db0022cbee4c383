package storagetest

import (
	"bytes"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
)

// Credential ids are raw bytes, zero bytes included; a store that treated
// them as C strings or text would confuse these.
var (
	credA      = []byte{0x00, 0x9f, 0x01, 0x00, 0xff}
	credAShort = []byte{0x00, 0x9f, 0x01} // a prefix of credA
	credB      = []byte{0x01}
	credC      = []byte{0x00, 0xff, 0x00}
)

// fullPasskey sets every field, with bytes and names a careless encoding
// would damage. LastUsedAt stays zero: never used.
func fullPasskey(id []byte, userID string, created time.Time) storage.Passkey {
	return storage.Passkey{
		CredentialID:    bytes.Clone(id),
		UserID:          userID,
		Name:            "Work laptop — 日本",
		PublicKey:       []byte{0xa5, 0x01, 0x02, 0x00, 0x26, 0x20, 0x01, 0x00},
		AttestationType: "packed",
		AAGUID:          []byte{0xad, 0xce, 0x00, 0x02, 0x35, 0xbc, 0xc6, 0x0a, 0x64, 0x8b, 0x0b, 0x25, 0xf1, 0xf0, 0x55, 0x00},
		SignCount:       7,
		Transports:      []string{"internal", "hybrid"},
		UserVerified:    true,
		BackupEligible:  true,
		BackedUp:        false,
		CreatedAt:       created,
	}
}

// passkeyIDs lists a user's credential ids in the store's order.
func passkeyIDs(t *testing.T, s storage.Store, userID string) [][]byte {
	t.Helper()
	ps, err := s.ListPasskeys(ctx(t), userID)
	must(t, "ListPasskeys", err)
	var ids [][]byte
	for _, p := range ps {
		ids = append(ids, p.CredentialID)
	}
	return ids
}

func getPasskey(t *testing.T, s storage.Store, id []byte) storage.Passkey {
	t.Helper()
	p, err := s.GetPasskey(ctx(t), id)
	must(t, "GetPasskey", err)
	return p
}

var passkeyTests = []subtest{
	{"RoundTrip", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		withUser(t, s, "u2")
		equal(t, "ListPasskeys none", len(passkeyIDs(t, s, "u1")), 0)

		fresh := fullPasskey(credA, "u1", base)
		// The other extreme: used, the largest counter, no transports, no
		// AAGUID, every flag the other way.
		used := storage.Passkey{
			CredentialID: credAShort, UserID: "u1", Name: "", PublicKey: []byte("cose"),
			AttestationType: "none", SignCount: math.MaxUint32, Transports: []string{},
			BackedUp: true, CreatedAt: at(time.Hour), LastUsedAt: at(2 * time.Hour),
		}
		for _, p := range []storage.Passkey{fresh, used, fullPasskey(credB, "u2", base)} {
			must(t, "CreatePasskey", s.CreatePasskey(ctx(t), p))
		}
		equal(t, "GetPasskey", getPasskey(t, s, credA), fresh)
		used.Transports, used.AAGUID = nil, nil
		equal(t, "GetPasskey prefix id", getPasskey(t, s, credAShort), used)
		ps, err := s.ListPasskeys(ctx(t), "u1")
		must(t, "ListPasskeys", err)
		equal(t, "ListPasskeys", ps, []storage.Passkey{fresh, used})
		equal(t, "GetPasskey other user's", getPasskey(t, s, credB).UserID, "u2")
	}},
	{"Transports", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		for i, tc := range []struct{ in, want []string }{
			{nil, nil},
			{[]string{}, nil},
			{[]string{"internal"}, []string{"internal"}},
			// Order kept, unknown values kept: the browser's list, as given.
			{[]string{"usb", "nfc", "ble", "smart-card", "hybrid", "internal", "x-新しい"},
				[]string{"usb", "nfc", "ble", "smart-card", "hybrid", "internal", "x-新しい"}},
			{[]string{"usb", "usb", ""}, []string{"usb", "usb", ""}},
		} {
			p := fullPasskey([]byte{0x10, byte(i)}, "u1", base)
			p.Transports = tc.in
			must(t, "CreatePasskey", s.CreatePasskey(ctx(t), p))
			equal(t, "Transports", getPasskey(t, s, p.CredentialID).Transports, tc.want)
		}
	}},
	{"Duplicate", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		withUser(t, s, "u2")
		want := fullPasskey(credA, "u1", base)
		must(t, "CreatePasskey", s.CreatePasskey(ctx(t), want))
		wantErr(t, "CreatePasskey again", s.CreatePasskey(ctx(t), fullPasskey(credA, "u1", at(time.Hour))),
			storage.ErrConflict)
		// Ids are global: the same authenticator cannot be registered to a
		// second account.
		wantErr(t, "CreatePasskey other user", s.CreatePasskey(ctx(t), fullPasskey(credA, "u2", base)),
			storage.ErrConflict)
		equal(t, "original kept", getPasskey(t, s, credA), want)
		equal(t, "u2 passkeys", len(passkeyIDs(t, s, "u2")), 0)
	}},
	{"UnknownUser", func(t *testing.T, s storage.Store) {
		wantErr(t, "CreatePasskey", s.CreatePasskey(ctx(t), fullPasskey(credA, "ghost", base)), storage.ErrNotFound)
	}},
	{"CredentialIDLength", func(t *testing.T, s storage.Store) {
		// WebAuthn caps credential ids at 1023 bytes.
		withUser(t, s, "u1")
		longest := bytes.Repeat([]byte{0x00, 0xab}, 1023/2+1)[:1023]
		must(t, "CreatePasskey 1023 bytes", s.CreatePasskey(ctx(t), fullPasskey(longest, "u1", base)))
		equal(t, "1023-byte id", getPasskey(t, s, longest).CredentialID, longest)
		for _, id := range [][]byte{nil, {}, append(bytes.Clone(longest), 0x00)} {
			err := s.CreatePasskey(ctx(t), fullPasskey(id, "u1", at(time.Hour)))
			if err == nil || errors.Is(err, storage.ErrConflict) || errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("CreatePasskey %d-byte id: err = %v, want a refusal", len(id), err)
			}
			noDriverError(t, "CreatePasskey bad id", err)
		}
		equal(t, "stored", passkeyIDs(t, s, "u1"), [][]byte{longest})
	}},
	{"GetUnknown", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		must(t, "CreatePasskey", s.CreatePasskey(ctx(t), fullPasskey(credA, "u1", base)))
		for _, id := range [][]byte{nil, {}, credAShort, credB, append(bytes.Clone(credA), 0x00)} {
			_, err := s.GetPasskey(ctx(t), id)
			wantErr(t, "GetPasskey unknown", err, storage.ErrNotFound)
		}
	}},
	{"ListOrder", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		withUser(t, s, "u2")
		for _, p := range []storage.Passkey{
			fullPasskey(credA, "u1", at(time.Hour)),
			// Same CreatedAt: the id breaks the tie in byte order, 0x00
			// before 0x01.
			fullPasskey(credB, "u1", base),
			fullPasskey(credC, "u1", base),
			fullPasskey(credAShort, "u1", at(-time.Hour)),
			fullPasskey([]byte("u2's"), "u2", at(-2*time.Hour)),
		} {
			must(t, "CreatePasskey", s.CreatePasskey(ctx(t), p))
		}
		equal(t, "oldest first", passkeyIDs(t, s, "u1"), [][]byte{credAShort, credC, credB, credA})
		equal(t, "nobody", len(passkeyIDs(t, s, "nobody")), 0)
	}},
	{"UseCountingAuthenticator", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		p := fullPasskey(credA, "u1", base)
		p.SignCount = 10
		must(t, "CreatePasskey", s.CreatePasskey(ctx(t), p))
		must(t, "UsePasskey 11", s.UsePasskey(ctx(t), "u1", credA, 11, true, at(time.Minute)))
		p.SignCount, p.BackedUp, p.LastUsedAt = 11, true, at(time.Minute)
		equal(t, "after use", getPasskey(t, s, credA), p)

		// Equal, lower and zero counts are possible clones: refused, and
		// nothing recorded.
		for _, c := range []uint32{11, 10, 1, 0} {
			wantErr(t, "UsePasskey not above", s.UsePasskey(ctx(t), "u1", credA, c, false, at(time.Hour)),
				storage.ErrConflict)
			equal(t, "after refused use", getPasskey(t, s, credA), p)
		}
		must(t, "UsePasskey jump", s.UsePasskey(ctx(t), "u1", credA, math.MaxUint32, false, at(2*time.Hour)))
		p.SignCount, p.BackedUp, p.LastUsedAt = math.MaxUint32, false, at(2*time.Hour)
		equal(t, "after jump", getPasskey(t, s, credA), p)
		wantErr(t, "UsePasskey past the top", s.UsePasskey(ctx(t), "u1", credA, math.MaxUint32, false, at(3*time.Hour)),
			storage.ErrConflict)
	}},
	{"UseNonCountingAuthenticator", func(t *testing.T, s storage.Store) {
		// Synced passkeys report 0 every time: both zero always passes.
		withUser(t, s, "u1")
		p := fullPasskey(credA, "u1", base)
		p.SignCount = 0
		must(t, "CreatePasskey", s.CreatePasskey(ctx(t), p))
		for i, backedUp := range []bool{true, true, false} {
			now := at(time.Duration(i+1) * time.Minute)
			must(t, "UsePasskey 0", s.UsePasskey(ctx(t), "u1", credA, 0, backedUp, now))
			p.BackedUp, p.LastUsedAt = backedUp, now
			equal(t, "after use 0", getPasskey(t, s, credA), p)
		}
		// An authenticator that starts counting is fine...
		must(t, "UsePasskey 5", s.UsePasskey(ctx(t), "u1", credA, 5, true, at(time.Hour)))
		p.SignCount, p.BackedUp, p.LastUsedAt = 5, true, at(time.Hour)
		equal(t, "after use 5", getPasskey(t, s, credA), p)
		// ...but one that goes back to zero is not.
		wantErr(t, "UsePasskey 0 after 5", s.UsePasskey(ctx(t), "u1", credA, 0, false, at(2*time.Hour)),
			storage.ErrConflict)
		equal(t, "after refused 0", getPasskey(t, s, credA), p)
	}},
	{"WrongUser", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		withUser(t, s, "u2")
		p := fullPasskey(credA, "u1", base)
		must(t, "CreatePasskey", s.CreatePasskey(ctx(t), p))
		wantErr(t, "UsePasskey by u2", s.UsePasskey(ctx(t), "u2", credA, 8, true, base), storage.ErrNotFound)
		wantErr(t, "RenamePasskey by u2", s.RenamePasskey(ctx(t), "u2", credA, "mine"), storage.ErrNotFound)
		wantErr(t, "DeletePasskey by u2", s.DeletePasskey(ctx(t), "u2", credA), storage.ErrNotFound)
		equal(t, "u1's passkey untouched", getPasskey(t, s, credA), p)
		// Unknown ids, including a prefix of a real one.
		for _, id := range [][]byte{credB, credAShort, nil} {
			wantErr(t, "UsePasskey missing", s.UsePasskey(ctx(t), "u1", id, 8, true, base), storage.ErrNotFound)
			wantErr(t, "RenamePasskey missing", s.RenamePasskey(ctx(t), "u1", id, "x"), storage.ErrNotFound)
			wantErr(t, "DeletePasskey missing", s.DeletePasskey(ctx(t), "u1", id), storage.ErrNotFound)
		}
		// u2 never moved the counter: u1 still can.
		must(t, "UsePasskey by u1", s.UsePasskey(ctx(t), "u1", credA, 8, true, base))
	}},
	{"Rename", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		p := fullPasskey(credA, "u1", base)
		must(t, "CreatePasskey", s.CreatePasskey(ctx(t), p))
		must(t, "CreatePasskey", s.CreatePasskey(ctx(t), fullPasskey(credB, "u1", base)))
		must(t, "RenamePasskey", s.RenamePasskey(ctx(t), "u1", credA, "YubiKey 5 ‘blue’"))
		p.Name = "YubiKey 5 ‘blue’"
		equal(t, "renamed", getPasskey(t, s, credA), p)
		// The same name again still finds the passkey.
		must(t, "RenamePasskey same name", s.RenamePasskey(ctx(t), "u1", credA, p.Name))
		equal(t, "other passkey's name", getPasskey(t, s, credB).Name, fullPasskey(credB, "u1", base).Name)
	}},
	{"Delete", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		must(t, "CreatePasskey", s.CreatePasskey(ctx(t), fullPasskey(credA, "u1", base)))
		must(t, "CreatePasskey", s.CreatePasskey(ctx(t), fullPasskey(credB, "u1", at(time.Second))))
		must(t, "DeletePasskey", s.DeletePasskey(ctx(t), "u1", credA))
		wantErr(t, "DeletePasskey again", s.DeletePasskey(ctx(t), "u1", credA), storage.ErrNotFound)
		_, err := s.GetPasskey(ctx(t), credA)
		wantErr(t, "GetPasskey deleted", err, storage.ErrNotFound)
		wantErr(t, "UsePasskey deleted", s.UsePasskey(ctx(t), "u1", credA, 100, true, base), storage.ErrNotFound)
		equal(t, "left", passkeyIDs(t, s, "u1"), [][]byte{credB})
		// The id is free again.
		must(t, "CreatePasskey same id", s.CreatePasskey(ctx(t), fullPasskey(credA, "u1", at(time.Hour))))
	}},
	{"UserDeletionCascades", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		withUser(t, s, "u2")
		must(t, "CreatePasskey u1", s.CreatePasskey(ctx(t), fullPasskey(credA, "u1", base)))
		must(t, "CreatePasskey u2", s.CreatePasskey(ctx(t), fullPasskey(credB, "u2", base)))
		must(t, "CreateCeremony u1", s.CreateCeremony(ctx(t), fullCeremony("c-u1", "u1")))
		must(t, "CreateCeremony u2", s.CreateCeremony(ctx(t), fullCeremony("c-u2", "u2")))
		must(t, "CreateCeremony no user", s.CreateCeremony(ctx(t), fullCeremony("c-none", "")))
		must(t, "DeleteUser", s.DeleteUser(ctx(t), "u1"))

		_, err := s.GetPasskey(ctx(t), credA)
		wantErr(t, "GetPasskey of deleted user", err, storage.ErrNotFound)
		_, err = s.TakeCeremony(ctx(t), "c-u1", base)
		wantErr(t, "TakeCeremony of deleted user", err, storage.ErrNotFound)
		// A new user with the same id inherits nothing, and the id is free.
		withUser(t, s, "u1")
		equal(t, "passkeys after re-create", len(passkeyIDs(t, s, "u1")), 0)
		must(t, "CreatePasskey same id", s.CreatePasskey(ctx(t), fullPasskey(credA, "u1", base)))
		// Everything else stays.
		equal(t, "u2 passkeys", passkeyIDs(t, s, "u2"), [][]byte{credB})
		for _, id := range []string{"c-u2", "c-none"} {
			_, err := s.TakeCeremony(ctx(t), id, base)
			must(t, "TakeCeremony "+id, err)
		}
	}},
}
