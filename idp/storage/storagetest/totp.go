package storagetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
)

// pendingTOTP is a credential as enrolment creates it: sealed secret, no
// step used, not confirmed.
func pendingTOTP(id, userID string, created time.Time) storage.TOTPCredential {
	return storage.TOTPCredential{
		ID:        id,
		UserID:    userID,
		Name:      "Phone 日本",
		Secret:    []byte{0x00, 0x9f, 0x01, 0xff, 'n', 'o', 'n', 'c', 'e', 0x00},
		CreatedAt: created,
	}
}

// totpByID returns the user's credential id, failing if it is not listed.
func totpByID(t *testing.T, s storage.Store, userID, id string) storage.TOTPCredential {
	t.Helper()
	cs, err := s.ListTOTP(ctx(t), userID)
	must(t, "ListTOTP", err)
	i := slices.IndexFunc(cs, func(c storage.TOTPCredential) bool { return c.ID == id })
	if i < 0 {
		t.Fatalf("credential %s of %s not listed", id, userID)
	}
	return cs[i]
}

func totpIDs(t *testing.T, s storage.Store, userID string) []string {
	t.Helper()
	cs, err := s.ListTOTP(ctx(t), userID)
	must(t, "ListTOTP", err)
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return ids
}

var totpTests = []subtest{
	{"RoundTrip", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		withUser(t, s, "u2")
		cs, err := s.ListTOTP(ctx(t), "u1")
		must(t, "ListTOTP none", err)
		equal(t, "ListTOTP none", len(cs), 0)

		pending := pendingTOTP("t-b", "u1", at(time.Hour))
		confirmed := storage.TOTPCredential{
			ID: "t-c", UserID: "u1", Name: "Laptop", Secret: []byte("sealed"),
			LastStep: 58_000_000, CreatedAt: base, ConfirmedAt: at(time.Minute), LastUsedAt: at(2 * time.Minute),
		}
		// Same CreatedAt as t-c: the id breaks the tie, in byte order.
		tie := pendingTOTP("T-a", "u1", base)
		tie.Secret = []byte{}
		for _, c := range []storage.TOTPCredential{pending, confirmed, tie, pendingTOTP("t-x", "u2", base)} {
			must(t, "CreateTOTP", s.CreateTOTP(ctx(t), c))
		}
		cs, err = s.ListTOTP(ctx(t), "u1")
		must(t, "ListTOTP", err)
		tie.Secret = nil
		equal(t, "ListTOTP oldest first", cs, []storage.TOTPCredential{tie, confirmed, pending})
		if cs[0].Confirmed() || !cs[1].Confirmed() {
			t.Fatalf("Confirmed() = %v, %v; want false, true", cs[0].Confirmed(), cs[1].Confirmed())
		}
	}},
	{"Duplicate", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		withUser(t, s, "u2")
		must(t, "CreateTOTP", s.CreateTOTP(ctx(t), pendingTOTP("t1", "u1", base)))
		wantErr(t, "CreateTOTP again", s.CreateTOTP(ctx(t), pendingTOTP("t1", "u1", base)), storage.ErrConflict)
		// Ids are global: another user cannot take one either.
		wantErr(t, "CreateTOTP other user", s.CreateTOTP(ctx(t), pendingTOTP("t1", "u2", base)), storage.ErrConflict)
		equal(t, "u2 credentials", len(totpIDs(t, s, "u2")), 0)
	}},
	{"UnknownUser", func(t *testing.T, s storage.Store) {
		wantErr(t, "CreateTOTP", s.CreateTOTP(ctx(t), pendingTOTP("t1", "ghost", base)), storage.ErrNotFound)
	}},
	{"FirstUseConfirms", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		c := pendingTOTP("t1", "u1", base)
		must(t, "CreateTOTP", s.CreateTOTP(ctx(t), c))
		first := at(time.Minute)
		must(t, "UseTOTPStep", s.UseTOTPStep(ctx(t), "u1", "t1", 58_000_100, first))
		c.LastStep, c.ConfirmedAt, c.LastUsedAt = 58_000_100, first, first
		equal(t, "after first use", totpByID(t, s, "u1", "t1"), c)

		// A later step moves LastStep and LastUsedAt; ConfirmedAt stays
		// the first use.
		later := at(time.Hour)
		must(t, "UseTOTPStep later", s.UseTOTPStep(ctx(t), "u1", "t1", 58_000_220, later))
		c.LastStep, c.LastUsedAt = 58_000_220, later
		equal(t, "after second use", totpByID(t, s, "u1", "t1"), c)
	}},
	{"ConfirmedStaysConfirmed", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		c := pendingTOTP("t1", "u1", base)
		c.ConfirmedAt, c.LastStep = at(-time.Hour), 100
		must(t, "CreateTOTP", s.CreateTOTP(ctx(t), c))
		must(t, "UseTOTPStep", s.UseTOTPStep(ctx(t), "u1", "t1", 101, base))
		c.LastStep, c.LastUsedAt = 101, base
		equal(t, "after use", totpByID(t, s, "u1", "t1"), c)
	}},
	{"Replay", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		c := pendingTOTP("t1", "u1", base)
		c.ConfirmedAt, c.LastStep, c.LastUsedAt = base, 500, base
		must(t, "CreateTOTP", s.CreateTOTP(ctx(t), c))
		for _, step := range []int64{500, 499, 1, 0, -1} {
			wantErr(t, "UseTOTPStep not above LastStep", s.UseTOTPStep(ctx(t), "u1", "t1", step, at(time.Minute)),
				storage.ErrConflict)
		}
		// A refused step changes nothing.
		equal(t, "after replays", totpByID(t, s, "u1", "t1"), c)
		must(t, "UseTOTPStep 501", s.UseTOTPStep(ctx(t), "u1", "t1", 501, at(time.Minute)))
		wantErr(t, "UseTOTPStep 501 again", s.UseTOTPStep(ctx(t), "u1", "t1", 501, at(2*time.Minute)),
			storage.ErrConflict)
		// A step skipped over can never be used later either.
		must(t, "UseTOTPStep 510", s.UseTOTPStep(ctx(t), "u1", "t1", 510, at(3*time.Minute)))
		wantErr(t, "UseTOTPStep 505", s.UseTOTPStep(ctx(t), "u1", "t1", 505, at(4*time.Minute)),
			storage.ErrConflict)
		got := totpByID(t, s, "u1", "t1")
		equal(t, "LastStep", got.LastStep, int64(510))
		sameTime(t, "LastUsedAt", got.LastUsedAt, at(3*time.Minute))
	}},
	{"NoStepUsedYet", func(t *testing.T, s storage.Store) {
		// LastStep 0 means none: step 0 is not above it.
		withUser(t, s, "u1")
		must(t, "CreateTOTP", s.CreateTOTP(ctx(t), pendingTOTP("t1", "u1", base)))
		wantErr(t, "UseTOTPStep 0", s.UseTOTPStep(ctx(t), "u1", "t1", 0, base), storage.ErrConflict)
		if totpByID(t, s, "u1", "t1").Confirmed() {
			t.Fatal("a refused step confirmed the credential")
		}
		must(t, "UseTOTPStep 1", s.UseTOTPStep(ctx(t), "u1", "t1", 1, base))
	}},
	{"WrongUser", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		withUser(t, s, "u2")
		c := pendingTOTP("t1", "u1", base)
		must(t, "CreateTOTP", s.CreateTOTP(ctx(t), c))
		wantErr(t, "UseTOTPStep by u2", s.UseTOTPStep(ctx(t), "u2", "t1", 100, base), storage.ErrNotFound)
		wantErr(t, "DeleteTOTP by u2", s.DeleteTOTP(ctx(t), "u2", "t1"), storage.ErrNotFound)
		equal(t, "u1's credential untouched", totpByID(t, s, "u1", "t1"), c)
		wantErr(t, "UseTOTPStep missing", s.UseTOTPStep(ctx(t), "u1", "nope", 100, base), storage.ErrNotFound)
		// u2 never used step 100 on it: u1 still can.
		must(t, "UseTOTPStep by u1", s.UseTOTPStep(ctx(t), "u1", "t1", 100, base))
	}},
	{"Delete", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		must(t, "CreateTOTP", s.CreateTOTP(ctx(t), pendingTOTP("t1", "u1", base)))
		must(t, "CreateTOTP", s.CreateTOTP(ctx(t), pendingTOTP("t2", "u1", at(time.Second))))
		must(t, "DeleteTOTP", s.DeleteTOTP(ctx(t), "u1", "t1"))
		wantErr(t, "DeleteTOTP again", s.DeleteTOTP(ctx(t), "u1", "t1"), storage.ErrNotFound)
		wantErr(t, "UseTOTPStep deleted", s.UseTOTPStep(ctx(t), "u1", "t1", 100, base), storage.ErrNotFound)
		equal(t, "left", totpIDs(t, s, "u1"), []string{"t2"})
		// The id is free again.
		must(t, "CreateTOTP same id", s.CreateTOTP(ctx(t), pendingTOTP("t1", "u1", at(time.Hour))))
	}},
	{"DeletePending", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		withUser(t, s, "u2")
		cutoff := at(-time.Hour)
		confirmedOld := pendingTOTP("confirmed-old", "u1", at(-3*time.Hour))
		confirmedOld.ConfirmedAt = at(-3 * time.Hour)
		for _, c := range []storage.TOTPCredential{
			pendingTOTP("pending-old", "u1", at(-2*time.Hour)),
			pendingTOTP("pending-old-u2", "u2", at(-2*time.Hour)),
			pendingTOTP("used-old", "u1", at(-2*time.Hour)),
			pendingTOTP("boundary", "u1", cutoff),
			pendingTOTP("pending-new", "u1", base),
			confirmedOld,
		} {
			must(t, "CreateTOTP", s.CreateTOTP(ctx(t), c))
		}
		// Confirmed by its first code, not at creation.
		must(t, "UseTOTPStep", s.UseTOTPStep(ctx(t), "u1", "used-old", 7, at(-2*time.Hour)))

		n, err := s.DeletePendingTOTP(ctx(t), cutoff)
		must(t, "DeletePendingTOTP", err)
		equal(t, "deleted", n, int64(2))
		equal(t, "u1 left", totpIDs(t, s, "u1"), []string{"confirmed-old", "used-old", "boundary", "pending-new"})
		equal(t, "u2 left", len(totpIDs(t, s, "u2")), 0)
		n, err = s.DeletePendingTOTP(ctx(t), cutoff)
		must(t, "DeletePendingTOTP again", err)
		equal(t, "deleted again", n, int64(0))
	}},
}

// codes lists a user's recovery codes ordered by hash, since the contract
// promises no order.
func codes(t *testing.T, s storage.Store, userID string) []storage.RecoveryCode {
	t.Helper()
	cs, err := s.ListRecoveryCodes(ctx(t), userID)
	must(t, "ListRecoveryCodes", err)
	slices.SortFunc(cs, func(a, b storage.RecoveryCode) int { return strings.Compare(a.Hash, b.Hash) })
	return cs
}

func unused(userID string, created time.Time, hashes ...string) []storage.RecoveryCode {
	var out []storage.RecoveryCode
	for _, h := range hashes {
		out = append(out, storage.RecoveryCode{UserID: userID, Hash: h, CreatedAt: created})
	}
	return out
}

var recoveryCodeTests = []subtest{
	{"ReplaceAndList", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		equal(t, "none yet", len(codes(t, s, "u1")), 0)
		must(t, "ReplaceRecoveryCodes", s.ReplaceRecoveryCodes(ctx(t), "u1", []string{"h3", "h1", "h2"}, base))
		equal(t, "codes", codes(t, s, "u1"), unused("u1", base, "h1", "h2", "h3"))
		// An empty set removes every code.
		must(t, "ReplaceRecoveryCodes empty", s.ReplaceRecoveryCodes(ctx(t), "u1", nil, at(time.Hour)))
		equal(t, "after empty replace", len(codes(t, s, "u1")), 0)
		equal(t, "nobody", len(codes(t, s, "nobody")), 0)
	}},
	{"Use", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		must(t, "ReplaceRecoveryCodes", s.ReplaceRecoveryCodes(ctx(t), "u1", []string{"h1", "h2", "h3"}, base))
		used := at(time.Minute)
		must(t, "UseRecoveryCode", s.UseRecoveryCode(ctx(t), "u1", "h2", used))
		want := unused("u1", base, "h1", "h2", "h3")
		want[1].UsedAt = used
		equal(t, "after use", codes(t, s, "u1"), want)

		wantErr(t, "UseRecoveryCode again", s.UseRecoveryCode(ctx(t), "u1", "h2", at(2*time.Minute)), storage.ErrConflict)
		wantErr(t, "UseRecoveryCode unknown", s.UseRecoveryCode(ctx(t), "u1", "h9", base), storage.ErrNotFound)
		// Reuse changed nothing: UsedAt is still the first use.
		equal(t, "after reuse", codes(t, s, "u1"), want)
	}},
	{"WrongUser", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		withUser(t, s, "u2")
		must(t, "ReplaceRecoveryCodes u1", s.ReplaceRecoveryCodes(ctx(t), "u1", []string{"h1", "shared"}, base))
		must(t, "ReplaceRecoveryCodes u2", s.ReplaceRecoveryCodes(ctx(t), "u2", []string{"shared", "h2"}, base))
		wantErr(t, "u2 uses u1's code", s.UseRecoveryCode(ctx(t), "u2", "h1", base), storage.ErrNotFound)
		// The same hash in two users' sets is two codes.
		must(t, "u1 uses shared", s.UseRecoveryCode(ctx(t), "u1", "shared", base))
		must(t, "u2 uses shared", s.UseRecoveryCode(ctx(t), "u2", "shared", base))
		equal(t, "u1's h1 unused", codes(t, s, "u1")[0], unused("u1", base, "h1")[0])
	}},
	{"ReplaceWipesOld", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		withUser(t, s, "u2")
		must(t, "ReplaceRecoveryCodes", s.ReplaceRecoveryCodes(ctx(t), "u1", []string{"a", "b"}, base))
		must(t, "ReplaceRecoveryCodes u2", s.ReplaceRecoveryCodes(ctx(t), "u2", []string{"a"}, base))
		must(t, "UseRecoveryCode", s.UseRecoveryCode(ctx(t), "u1", "a", base))
		later := at(time.Hour)
		// "b" is in the new set too: it comes back new and unused.
		must(t, "ReplaceRecoveryCodes again", s.ReplaceRecoveryCodes(ctx(t), "u1", []string{"b", "c", "d"}, later))
		equal(t, "new set", codes(t, s, "u1"), unused("u1", later, "b", "c", "d"))
		wantErr(t, "UseRecoveryCode old", s.UseRecoveryCode(ctx(t), "u1", "a", later), storage.ErrNotFound)
		equal(t, "u2 untouched", codes(t, s, "u2"), unused("u2", base, "a"))
	}},
	{"ReplaceIsAtomic", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		must(t, "ReplaceRecoveryCodes", s.ReplaceRecoveryCodes(ctx(t), "u1", []string{"a", "b"}, base))
		// A hash twice fails the insert after the delete ran: the delete
		// must be undone with it.
		err := s.ReplaceRecoveryCodes(ctx(t), "u1", []string{"x", "y", "x"}, at(time.Hour))
		wantErr(t, "ReplaceRecoveryCodes duplicate hash", err, storage.ErrConflict)
		equal(t, "old set kept", codes(t, s, "u1"), unused("u1", base, "a", "b"))
	}},
	{"UnknownUser", func(t *testing.T, s storage.Store) {
		err := s.ReplaceRecoveryCodes(ctx(t), "ghost", []string{"a"}, base)
		wantErr(t, "ReplaceRecoveryCodes", err, storage.ErrNotFound)
		wantErr(t, "UseRecoveryCode", s.UseRecoveryCode(ctx(t), "ghost", "a", base), storage.ErrNotFound)
	}},
}
