package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
)

// fullPhone sets every field, with bytes and text a careless encoding
// would damage; the optional times are set too. hash stands for the keyed
// hash of the number.
func fullPhone(id, userID, hash string, created time.Time) storage.Phone {
	return storage.Phone{
		ID:           id,
		UserID:       userID,
		Number:       []byte{0x00, 0x9f, 'n', 'o', 'n', 'c', 'e', 0x00, 0xff},
		NumberHash:   hash,
		Country:      "JP",
		Masked:       "+81 ••• ••• 4321",
		LineType:     "mobile",
		Status:       storage.PhoneActive,
		ConsentAt:    created,
		VerifiedAt:   created.Add(time.Minute),
		SIMCheckedAt: created.Add(2 * time.Minute),
		SIMSwappedAt: created.Add(-30 * 24 * time.Hour),
		CreatedAt:    created,
		LastUsedAt:   created.Add(time.Hour),
	}
}

// newPhone is a phone as adding a number creates it: not verified, never
// looked up or used.
func newPhone(id, userID, hash string, created time.Time) storage.Phone {
	p := fullPhone(id, userID, hash, created)
	p.LineType, p.VerifiedAt, p.SIMCheckedAt, p.SIMSwappedAt, p.LastUsedAt = "", time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return p
}

func phoneIDs(t *testing.T, s storage.Store, userID string) []string {
	t.Helper()
	ps, err := s.ListPhones(ctx(t), userID)
	must(t, "ListPhones", err)
	var ids []string
	for _, p := range ps {
		ids = append(ids, p.ID)
	}
	return ids
}

// phoneCode is a code as a first send creates it: five minutes to live,
// never sent, tried or used.
func phoneCode(id, userID, phoneID, txID string, created time.Time) storage.PhoneCode {
	return storage.PhoneCode{
		ID: id, UserID: userID, PhoneID: phoneID, TxID: txID, Purpose: "sign-in",
		Hash: "hmac-" + id, Channel: "sms", Lang: "ja", CreatedAt: created, ExpiresAt: created.Add(5 * time.Minute),
	}
}

// withCode creates user u1, its phone p1 and a fresh code c1 (tx1) at
// base.
func withCode(t *testing.T, s storage.Store) storage.PhoneCode {
	t.Helper()
	withUser(t, s, "u1")
	must(t, "CreatePhone", s.CreatePhone(ctx(t), newPhone("p1", "u1", "h1", base)))
	c := phoneCode("c1", "u1", "p1", "tx1", base)
	must(t, "CreatePhoneCode", s.CreatePhoneCode(ctx(t), c))
	return c
}

func getCode(t *testing.T, s storage.Store, id string) storage.PhoneCode {
	t.Helper()
	c, err := s.GetPhoneCode(ctx(t), id, base)
	must(t, "GetPhoneCode", err)
	return c
}

func message(sid, codeID string, created time.Time) storage.PhoneMessage {
	return storage.PhoneMessage{
		SID: sid, CodeID: codeID, UserID: "u1", PhoneID: "p1", Channel: "sms", Country: "JP",
		Status: "queued", Segments: 1, CreatedAt: created, UpdatedAt: created,
	}
}

var phoneTests = []subtest{
	{"RoundTrip", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		withUser(t, s, "u2")
		equal(t, "ListPhones none", len(phoneIDs(t, s, "u1")), 0)
		full := fullPhone("p-b", "u1", "h1", at(time.Hour))
		fresh := newPhone("p-c", "u1", "h2", base)
		// Same CreatedAt as p-c: the id breaks the tie, in byte order.
		tie := newPhone("P-a", "u1", "h3", base)
		tie.Number, tie.Status = []byte{}, storage.PhoneStopped
		for _, p := range []storage.Phone{full, fresh, tie, newPhone("p-x", "u2", "h1", base)} {
			must(t, "CreatePhone", s.CreatePhone(ctx(t), p))
		}
		ps, err := s.ListPhones(ctx(t), "u1")
		must(t, "ListPhones", err)
		tie.Number = nil
		equal(t, "ListPhones oldest first", ps, []storage.Phone{tie, fresh, full})
		got, err := s.GetPhone(ctx(t), "u1", "p-b")
		must(t, "GetPhone", err)
		equal(t, "GetPhone", got, full)
		if !got.Verified() || ps[0].Verified() {
			t.Fatalf("Verified() = %v, %v; want true, false", got.Verified(), ps[0].Verified())
		}
		_, err = s.GetPhone(ctx(t), "u1", "nope")
		wantErr(t, "GetPhone missing", err, storage.ErrNotFound)
	}},
	{"Duplicate", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		withUser(t, s, "u2")
		must(t, "CreatePhone", s.CreatePhone(ctx(t), newPhone("p1", "u1", "h1", base)))
		wantErr(t, "CreatePhone same id", s.CreatePhone(ctx(t), newPhone("p1", "u1", "h2", base)), storage.ErrConflict)
		// Ids are global: another user cannot take one either.
		wantErr(t, "CreatePhone same id other user", s.CreatePhone(ctx(t), newPhone("p1", "u2", "h2", base)),
			storage.ErrConflict)
		wantErr(t, "CreatePhone same number", s.CreatePhone(ctx(t), newPhone("p2", "u1", "h1", base)), storage.ErrConflict)
		// Two users may share a number.
		must(t, "CreatePhone same number other user", s.CreatePhone(ctx(t), newPhone("p3", "u2", "h1", base)))
		equal(t, "u1 phones", phoneIDs(t, s, "u1"), []string{"p1"})
		// Once removed, the number can be added again.
		must(t, "DeletePhone", s.DeletePhone(ctx(t), "u1", "p1"))
		must(t, "CreatePhone number again", s.CreatePhone(ctx(t), newPhone("p2", "u1", "h1", base)))
	}},
	{"UnknownUser", func(t *testing.T, s storage.Store) {
		wantErr(t, "CreatePhone", s.CreatePhone(ctx(t), newPhone("p1", "ghost", "h1", base)), storage.ErrNotFound)
	}},
	{"WrongUser", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		withUser(t, s, "u2")
		p := newPhone("p1", "u1", "h1", base)
		must(t, "CreatePhone", s.CreatePhone(ctx(t), p))
		_, err := s.GetPhone(ctx(t), "u2", "p1")
		wantErr(t, "GetPhone by u2", err, storage.ErrNotFound)
		other := fullPhone("p1", "u2", "h1", base)
		wantErr(t, "UpdatePhone by u2", s.UpdatePhone(ctx(t), other), storage.ErrNotFound)
		wantErr(t, "DeletePhone by u2", s.DeletePhone(ctx(t), "u2", "p1"), storage.ErrNotFound)
		got, err := s.GetPhone(ctx(t), "u1", "p1")
		must(t, "GetPhone", err)
		equal(t, "u1's phone untouched", got, p)
		equal(t, "u2 phones", len(phoneIDs(t, s, "u2")), 0)
	}},
	{"Update", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		p := newPhone("p1", "u1", "h1", base)
		must(t, "CreatePhone", s.CreatePhone(ctx(t), p))
		// Every field changes in the argument; only the updatable ones
		// may change in the store.
		upd := fullPhone("p1", "u1", "h-other", at(time.Hour))
		upd.Number, upd.Country, upd.Masked = []byte("other"), "US", "+1 ••• 0000"
		upd.LineType, upd.Status = "landline", storage.PhoneInvalid
		must(t, "UpdatePhone", s.UpdatePhone(ctx(t), upd))
		want := p
		want.LineType, want.Status = upd.LineType, upd.Status
		want.VerifiedAt, want.SIMCheckedAt, want.SIMSwappedAt, want.LastUsedAt = upd.VerifiedAt, upd.SIMCheckedAt, upd.SIMSwappedAt, upd.LastUsedAt
		got, err := s.GetPhone(ctx(t), "u1", "p1")
		must(t, "GetPhone", err)
		equal(t, "after update", got, want)
		// Zero times clear them again.
		must(t, "UpdatePhone clear", s.UpdatePhone(ctx(t), p))
		got, err = s.GetPhone(ctx(t), "u1", "p1")
		must(t, "GetPhone", err)
		equal(t, "after clearing", got, p)
		wantErr(t, "UpdatePhone missing", s.UpdatePhone(ctx(t), newPhone("nope", "u1", "h1", base)), storage.ErrNotFound)
	}},
	{"DeleteTakesCodes", func(t *testing.T, s storage.Store) {
		withCode(t, s)
		must(t, "CreatePhone", s.CreatePhone(ctx(t), newPhone("p2", "u1", "h2", base)))
		must(t, "CreatePhoneCode p2", s.CreatePhoneCode(ctx(t), phoneCode("c2", "u1", "p2", "tx1", base)))
		must(t, "CreatePhoneMessage", s.CreatePhoneMessage(ctx(t), message("SM1", "c1", base)))
		must(t, "DeletePhone", s.DeletePhone(ctx(t), "u1", "p1"))
		wantErr(t, "DeletePhone again", s.DeletePhone(ctx(t), "u1", "p1"), storage.ErrNotFound)
		_, err := s.GetPhoneCode(ctx(t), "c1", base)
		wantErr(t, "GetPhoneCode of deleted phone", err, storage.ErrNotFound)
		getCode(t, s, "c2")
		equal(t, "left", phoneIDs(t, s, "u1"), []string{"p2"})
		// The message outlives its code and phone.
		_, err = s.GetPhoneMessage(ctx(t), "SM1")
		must(t, "GetPhoneMessage", err)
	}},
	{"DeleteUnverified", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		withUser(t, s, "u2")
		cutoff := at(-time.Hour)
		for _, p := range []storage.Phone{
			newPhone("old", "u1", "h1", at(-2*time.Hour)),
			newPhone("old-u2", "u2", "h1", at(-2*time.Hour)),
			fullPhone("verified-old", "u1", "h2", at(-3*time.Hour)),
			newPhone("boundary", "u1", "h3", cutoff),
			newPhone("new", "u1", "h4", base),
		} {
			must(t, "CreatePhone", s.CreatePhone(ctx(t), p))
		}
		c := phoneCode("c-old", "u1", "old", "tx1", base)
		must(t, "CreatePhoneCode", s.CreatePhoneCode(ctx(t), c))
		n, err := s.DeleteUnverifiedPhones(ctx(t), cutoff)
		must(t, "DeleteUnverifiedPhones", err)
		equal(t, "deleted", n, int64(2))
		equal(t, "u1 left", phoneIDs(t, s, "u1"), []string{"verified-old", "boundary", "new"})
		equal(t, "u2 left", len(phoneIDs(t, s, "u2")), 0)
		_, err = s.GetPhoneCode(ctx(t), "c-old", base)
		wantErr(t, "GetPhoneCode of deleted phone", err, storage.ErrNotFound)
		n, err = s.DeleteUnverifiedPhones(ctx(t), cutoff)
		must(t, "DeleteUnverifiedPhones again", err)
		equal(t, "deleted again", n, int64(0))
	}},
	{"UserDeleteCascades", func(t *testing.T, s storage.Store) {
		withCode(t, s)
		withUser(t, s, "u2")
		must(t, "CreatePhone u2", s.CreatePhone(ctx(t), newPhone("p2", "u2", "h1", base)))
		must(t, "CreatePhoneCode u2", s.CreatePhoneCode(ctx(t), phoneCode("c2", "u2", "p2", "tx2", base)))
		must(t, "CreatePhoneMessage", s.CreatePhoneMessage(ctx(t), message("SM1", "c1", base)))
		must(t, "DeleteUser", s.DeleteUser(ctx(t), "u1"))
		_, err := s.GetPhoneCode(ctx(t), "c1", base)
		wantErr(t, "GetPhoneCode of deleted user", err, storage.ErrNotFound)
		_, err = s.GetPhoneMessage(ctx(t), "SM1")
		must(t, "GetPhoneMessage of deleted user", err)
		// A new user with the same id inherits nothing; the ids are free.
		withUser(t, s, "u1")
		equal(t, "phones after re-create", len(phoneIDs(t, s, "u1")), 0)
		must(t, "CreatePhone same id", s.CreatePhone(ctx(t), newPhone("p1", "u1", "h1", base)))
		must(t, "CreatePhoneCode same id", s.CreatePhoneCode(ctx(t), phoneCode("c1", "u1", "p1", "tx1", base)))
		// The other user keeps everything.
		equal(t, "u2 phones", phoneIDs(t, s, "u2"), []string{"p2"})
		getCode(t, s, "c2")
	}},
}

var phoneCodeTests = []subtest{
	{"RoundTrip", func(t *testing.T, s storage.Store) {
		fresh := withCode(t, s)
		equal(t, "GetPhoneCode fresh", getCode(t, s, "c1"), fresh)
		// The other extreme: sent, tried, used, no transaction.
		full := storage.PhoneCode{
			ID: "c2", UserID: "u1", PhoneID: "p1", Purpose: "verify", Hash: "hmac 日本", Channel: "voice", Lang: "en-GB",
			Attempts: 4, Sends: 3, LastSentAt: at(time.Minute), CreatedAt: at(-time.Minute),
			ExpiresAt: at(4 * time.Minute), UsedAt: at(2 * time.Minute),
		}
		must(t, "CreatePhoneCode", s.CreatePhoneCode(ctx(t), full))
		// A used code is still returned: only expiry hides it.
		equal(t, "GetPhoneCode used", getCode(t, s, "c2"), full)
		_, err := s.GetPhoneCode(ctx(t), "nope", base)
		wantErr(t, "GetPhoneCode missing", err, storage.ErrNotFound)
	}},
	{"CreateRefused", func(t *testing.T, s storage.Store) {
		withCode(t, s)
		withUser(t, s, "u2")
		must(t, "CreatePhone u2", s.CreatePhone(ctx(t), newPhone("p2", "u2", "h1", base)))
		wantErr(t, "CreatePhoneCode same id", s.CreatePhoneCode(ctx(t), phoneCode("c1", "u1", "p1", "tx9", base)),
			storage.ErrConflict)
		// A code is bound to a phone of its own user.
		wantErr(t, "CreatePhoneCode other user's phone", s.CreatePhoneCode(ctx(t), phoneCode("c2", "u1", "p2", "tx1", base)),
			storage.ErrNotFound)
		wantErr(t, "CreatePhoneCode missing phone", s.CreatePhoneCode(ctx(t), phoneCode("c3", "u1", "nope", "tx1", base)),
			storage.ErrNotFound)
		wantErr(t, "CreatePhoneCode missing user", s.CreatePhoneCode(ctx(t), phoneCode("c4", "ghost", "p1", "tx1", base)),
			storage.ErrNotFound)
		for _, id := range []string{"c2", "c3", "c4"} {
			_, err := s.GetPhoneCode(ctx(t), id, base)
			wantErr(t, "GetPhoneCode "+id, err, storage.ErrNotFound)
		}
	}},
	{"Expiry", func(t *testing.T, s storage.Store) {
		c := withCode(t, s)
		_, err := s.GetPhoneCode(ctx(t), "c1", c.ExpiresAt.Add(-time.Microsecond))
		must(t, "GetPhoneCode just before expiry", err)
		// ExpiresAt not after now: expired, for every method.
		now := c.ExpiresAt
		_, err = s.GetPhoneCode(ctx(t), "c1", now)
		wantErr(t, "GetPhoneCode at expiry", err, storage.ErrNotFound)
		_, err = s.FindPhoneCode(ctx(t), "tx1", "p1", now)
		wantErr(t, "FindPhoneCode at expiry", err, storage.ErrNotFound)
		wantErr(t, "RecordPhoneCodeSend expired", s.RecordPhoneCodeSend(ctx(t), "c1", "sms", 0, now, now), storage.ErrNotFound)
		_, err = s.AttemptPhoneCode(ctx(t), "c1", 5, now)
		wantErr(t, "AttemptPhoneCode expired", err, storage.ErrNotFound)
		wantErr(t, "UsePhoneCode expired", s.UsePhoneCode(ctx(t), "c1", now), storage.ErrNotFound)
		// None of them changed the code.
		equal(t, "after expiry", getCode(t, s, "c1"), c)
	}},
	{"Find", func(t *testing.T, s storage.Store) {
		withCode(t, s) // c1 at base
		must(t, "CreatePhone", s.CreatePhone(ctx(t), newPhone("p2", "u1", "h2", base)))
		used := phoneCode("used", "u1", "p1", "tx1", at(3*time.Minute))
		used.UsedAt = at(3 * time.Minute)
		expired := phoneCode("expired", "u1", "p1", "tx1", at(4*time.Minute))
		expired.ExpiresAt = at(time.Minute)
		for _, c := range []storage.PhoneCode{
			phoneCode("c2", "u1", "p1", "tx1", at(time.Minute)),
			// Same CreatedAt as c2: the larger id is the newer.
			phoneCode("c3", "u1", "p1", "tx1", at(time.Minute)),
			used, expired,
			phoneCode("other-tx", "u1", "p1", "tx2", at(5*time.Minute)),
			phoneCode("other-phone", "u1", "p2", "tx1", at(5*time.Minute)),
		} {
			must(t, "CreatePhoneCode", s.CreatePhoneCode(ctx(t), c))
		}
		find := func(txID, phoneID string) string {
			t.Helper()
			c, err := s.FindPhoneCode(ctx(t), txID, phoneID, at(2*time.Minute))
			must(t, "FindPhoneCode", err)
			return c.ID
		}
		equal(t, "newest live", find("tx1", "p1"), "c3")
		must(t, "UsePhoneCode c3", s.UsePhoneCode(ctx(t), "c3", at(2*time.Minute)))
		equal(t, "after using c3", find("tx1", "p1"), "c2")
		equal(t, "other transaction", find("tx2", "p1"), "other-tx")
		equal(t, "other phone", find("tx1", "p2"), "other-phone")
		_, err := s.FindPhoneCode(ctx(t), "tx9", "p1", base)
		wantErr(t, "FindPhoneCode none", err, storage.ErrNotFound)
	}},
	{"RecordSend", func(t *testing.T, s storage.Store) {
		want := withCode(t, s)
		// The first send: nothing sent yet, no wait.
		first := at(10 * time.Second)
		must(t, "RecordPhoneCodeSend first", s.RecordPhoneCodeSend(ctx(t), "c1", "sms", 0, first, first))
		want.Sends, want.LastSentAt = 1, first
		equal(t, "after first send", getCode(t, s, "c1"), want)
		later := at(40 * time.Second)
		for _, tc := range []struct {
			what      string
			sends     int
			notBefore time.Time
		}{
			{"sent meanwhile", 0, later},
			{"sends ahead", 2, later},
			{"too soon", 1, first.Add(-time.Microsecond)},
		} {
			wantErr(t, "RecordPhoneCodeSend "+tc.what,
				s.RecordPhoneCodeSend(ctx(t), "c1", "voice", tc.sends, tc.notBefore, later), storage.ErrConflict)
		}
		equal(t, "after refused sends", getCode(t, s, "c1"), want)
		// The wait ends at notBefore itself; the channel follows the send.
		must(t, "RecordPhoneCodeSend resend", s.RecordPhoneCodeSend(ctx(t), "c1", "voice", 1, first, later))
		want.Sends, want.LastSentAt, want.Channel = 2, later, "voice"
		equal(t, "after resend", getCode(t, s, "c1"), want)

		must(t, "UsePhoneCode", s.UsePhoneCode(ctx(t), "c1", later))
		wantErr(t, "RecordPhoneCodeSend used", s.RecordPhoneCodeSend(ctx(t), "c1", "sms", 2, later, later),
			storage.ErrConflict)
		wantErr(t, "RecordPhoneCodeSend missing", s.RecordPhoneCodeSend(ctx(t), "nope", "sms", 0, base, base),
			storage.ErrNotFound)
	}},
	{"Attempt", func(t *testing.T, s storage.Store) {
		want := withCode(t, s)
		for i := 1; i <= 3; i++ {
			got, err := s.AttemptPhoneCode(ctx(t), "c1", 3, base)
			must(t, fmt.Sprint("AttemptPhoneCode ", i), err)
			want.Attempts = i
			equal(t, "code returned", got, want)
		}
		_, err := s.AttemptPhoneCode(ctx(t), "c1", 3, base)
		wantErr(t, "AttemptPhoneCode past max", err, storage.ErrConflict)
		equal(t, "after refused attempt", getCode(t, s, "c1"), want)
		// The limit is the caller's: a higher one allows more.
		_, err = s.AttemptPhoneCode(ctx(t), "c1", 4, base)
		must(t, "AttemptPhoneCode max 4", err)
		must(t, "UsePhoneCode", s.UsePhoneCode(ctx(t), "c1", base))
		_, err = s.AttemptPhoneCode(ctx(t), "c1", 10, base)
		wantErr(t, "AttemptPhoneCode used", err, storage.ErrConflict)
		_, err = s.AttemptPhoneCode(ctx(t), "nope", 10, base)
		wantErr(t, "AttemptPhoneCode missing", err, storage.ErrNotFound)
		equal(t, "attempts", getCode(t, s, "c1").Attempts, 4)
	}},
	{"Use", func(t *testing.T, s storage.Store) {
		want := withCode(t, s)
		used := at(time.Minute)
		must(t, "UsePhoneCode", s.UsePhoneCode(ctx(t), "c1", used))
		wantErr(t, "UsePhoneCode again", s.UsePhoneCode(ctx(t), "c1", at(2*time.Minute)), storage.ErrConflict)
		want.UsedAt = used
		equal(t, "after use", getCode(t, s, "c1"), want)
		wantErr(t, "UsePhoneCode missing", s.UsePhoneCode(ctx(t), "nope", base), storage.ErrNotFound)
	}},
	{"DeleteExpired", func(t *testing.T, s storage.Store) {
		withCode(t, s) // expires at base+5m
		now := at(10 * time.Minute)
		boundary := phoneCode("boundary", "u1", "p1", "tx1", at(5*time.Minute))
		live := phoneCode("live", "u1", "p1", "tx1", at(6*time.Minute))
		must(t, "CreatePhoneCode", s.CreatePhoneCode(ctx(t), boundary))
		must(t, "CreatePhoneCode", s.CreatePhoneCode(ctx(t), live))
		n, err := s.DeleteExpiredPhoneCodes(ctx(t), now)
		must(t, "DeleteExpiredPhoneCodes", err)
		equal(t, "deleted", n, int64(2))
		// Gone even to a caller whose clock lags.
		_, err = s.GetPhoneCode(ctx(t), "c1", base)
		wantErr(t, "GetPhoneCode swept", err, storage.ErrNotFound)
		_, err = s.GetPhoneCode(ctx(t), "live", now)
		must(t, "GetPhoneCode live", err)
		n, err = s.DeleteExpiredPhoneCodes(ctx(t), now)
		must(t, "DeleteExpiredPhoneCodes again", err)
		equal(t, "deleted again", n, int64(0))
	}},
	{"UsedOnce", func(t *testing.T, s storage.Store) {
		// One code typed on two tabs, or the form posted twice: it
		// counts once.
		withCode(t, s)
		errs := race(func(i int) error {
			return s.UsePhoneCode(ctx(t), "c1", at(time.Duration(i)*time.Millisecond))
		})
		oneWinner(t, "UsePhoneCode", errs)
		winner := slices.IndexFunc(errs, func(err error) bool { return err == nil })
		sameTime(t, "UsedAt", getCode(t, s, "c1").UsedAt, at(time.Duration(winner)*time.Millisecond))
	}},
	{"SendClaimedOnce", func(t *testing.T, s storage.Store) {
		// "Resend" clicked on several tabs at once: one message goes out.
		withCode(t, s)
		must(t, "RecordPhoneCodeSend", s.RecordPhoneCodeSend(ctx(t), "c1", "sms", 0, base, base))
		later := at(time.Minute)
		errs := race(func(i int) error {
			ch := "sms"
			if i%2 == 1 {
				ch = "voice"
			}
			return s.RecordPhoneCodeSend(ctx(t), "c1", ch, 1, base, later)
		})
		oneWinner(t, "RecordPhoneCodeSend", errs)
		got := getCode(t, s, "c1")
		winner := slices.IndexFunc(errs, func(err error) bool { return err == nil })
		equal(t, "Sends", got.Sends, 2)
		equal(t, "winner's channel", got.Channel, map[bool]string{true: "sms", false: "voice"}[winner%2 == 0])
	}},
	{"AttemptsCountedExactly", func(t *testing.T, s storage.Store) {
		// Twenty guesses at once against a limit of five: five are
		// compared, however they interleave.
		const maxAttempts = 5
		withCode(t, s)
		seen := make([]int, racers)
		errs := race(func(i int) error {
			c, err := s.AttemptPhoneCode(ctx(t), "c1", maxAttempts, base)
			seen[i] = c.Attempts
			return err
		})
		var counts []int
		for i, err := range errs {
			switch {
			case err == nil:
				counts = append(counts, seen[i])
			case errors.Is(err, storage.ErrConflict):
				noDriverError(t, "AttemptPhoneCode", err)
			default:
				t.Errorf("racer %d: %v", i, err)
			}
		}
		// Each winner saw its own count: 1..5, each once.
		slices.Sort(counts)
		equal(t, "counts returned", counts, []int{1, 2, 3, 4, 5})
		equal(t, "Attempts", getCode(t, s, "c1").Attempts, maxAttempts)
	}},
}

var phoneMessageTests = []subtest{
	{"RoundTrip", func(t *testing.T, s storage.Store) {
		// No code, phone or user exists: messages do not refer to them.
		call := storage.PhoneMessage{
			SID: "CA0123", CodeID: "c1", UserID: "u1", PhoneID: "p1", Channel: "voice", Country: "JP",
			Status: "completed", ErrorCode: 0, Price: "-0.01300", PriceUnit: "USD", Segments: 0,
			CreatedAt: at(time.Minute), UpdatedAt: at(2 * time.Minute),
		}
		failed := message("SM0002", "c1", base)
		failed.Status, failed.ErrorCode = "undelivered", 30003
		tie := message("SM0001", "c1", base)
		for _, m := range []storage.PhoneMessage{call, failed, tie, message("SM0009", "c2", base)} {
			must(t, "CreatePhoneMessage", s.CreatePhoneMessage(ctx(t), m))
		}
		wantErr(t, "CreatePhoneMessage same SID", s.CreatePhoneMessage(ctx(t), message("SM0001", "c3", base)),
			storage.ErrConflict)
		got, err := s.GetPhoneMessage(ctx(t), "CA0123")
		must(t, "GetPhoneMessage", err)
		equal(t, "GetPhoneMessage", got, call)
		_, err = s.GetPhoneMessage(ctx(t), "nope")
		wantErr(t, "GetPhoneMessage missing", err, storage.ErrNotFound)
		ms, err := s.ListPhoneMessages(ctx(t), "c1")
		must(t, "ListPhoneMessages", err)
		// Oldest first, the SID breaking the tie.
		equal(t, "ListPhoneMessages", ms, []storage.PhoneMessage{tie, failed, call})
		ms, err = s.ListPhoneMessages(ctx(t), "none")
		must(t, "ListPhoneMessages none", err)
		equal(t, "ListPhoneMessages none", len(ms), 0)
	}},
	{"Update", func(t *testing.T, s storage.Store) {
		m := message("SM1", "c1", base)
		must(t, "CreatePhoneMessage", s.CreatePhoneMessage(ctx(t), m))
		// Every field changes in the argument; only the provider's report
		// may change in the store.
		upd := storage.PhoneMessage{
			SID: "SM1", CodeID: "c9", UserID: "u9", PhoneID: "p9", Channel: "voice", Country: "US",
			Status: "delivered", ErrorCode: 30008, Price: "-0.0750", PriceUnit: "JPY", Segments: 2,
			CreatedAt: at(time.Hour), UpdatedAt: at(time.Minute),
		}
		must(t, "UpdatePhoneMessage", s.UpdatePhoneMessage(ctx(t), upd))
		want := m
		want.Status, want.ErrorCode, want.Price, want.PriceUnit = upd.Status, upd.ErrorCode, upd.Price, upd.PriceUnit
		want.Segments, want.UpdatedAt = upd.Segments, upd.UpdatedAt
		got, err := s.GetPhoneMessage(ctx(t), "SM1")
		must(t, "GetPhoneMessage", err)
		equal(t, "after update", got, want)
		upd.SID = "nope"
		wantErr(t, "UpdatePhoneMessage missing", s.UpdatePhoneMessage(ctx(t), upd), storage.ErrNotFound)
	}},
}
