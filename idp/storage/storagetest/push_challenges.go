package storagetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
)

// pushChallengeTests covers push challenges one call at a time; the races
// are in push.go.
var pushChallengeTests = []subtest{
	{"ChallengeRoundTrip", func(t *testing.T, s storage.Store) {
		fresh := withChallenge(t, s)
		equal(t, "GetPushChallenge fresh", getChallenge(t, s, "ch1"), fresh)
		// The other extreme: delivered, tried, ended, no transaction, no
		// context.
		full := storage.PushChallenge{
			ID: "ch2", UserID: "u1", DeviceID: "d1", Number: 7, Nonce: "n 日本", Status: storage.PushFailed,
			WrongNumbers: 3, Reason: storage.PushReasonWrongNumbers, Context: []byte{},
			CreatedAt: at(-time.Minute), ExpiresAt: at(-time.Second), DeliveredAt: at(-50 * time.Second),
			EndedAt: at(-40 * time.Second),
		}
		must(t, "CreatePushChallenge", s.CreatePushChallenge(ctx(t), full))
		full.Context = nil
		// Final and expired, and still there: the sign-in page reads it.
		equal(t, "GetPushChallenge ended", getChallenge(t, s, "ch2"), full)
		_, err := s.GetPushChallenge(ctx(t), "nope")
		wantErr(t, "GetPushChallenge missing", err, storage.ErrNotFound)
	}},
	{"ChallengeCreateRefused", func(t *testing.T, s storage.Store) {
		withChallenge(t, s)
		withUser(t, s, "u2")
		must(t, "CreatePushDevice u2", s.CreatePushDevice(ctx(t), pushDevice("d2", "u2", base)))
		wantErr(t, "CreatePushChallenge same id", s.CreatePushChallenge(ctx(t), pushChallenge("ch1", "tx9", "u1", "d1", base)),
			storage.ErrConflict)
		// A challenge goes to a device of its own user.
		for _, c := range []storage.PushChallenge{
			pushChallenge("ch2", "tx1", "u1", "d2", base),
			pushChallenge("ch3", "tx1", "u1", "nope", base),
			pushChallenge("ch4", "tx1", "ghost", "d1", base),
		} {
			wantErr(t, "CreatePushChallenge "+c.ID, s.CreatePushChallenge(ctx(t), c), storage.ErrNotFound)
			_, err := s.GetPushChallenge(ctx(t), c.ID)
			wantErr(t, "GetPushChallenge "+c.ID, err, storage.ErrNotFound)
		}
	}},
	{"ChallengeLatest", func(t *testing.T, s storage.Store) {
		withChallenge(t, s) // ch1 at base
		approved := pushChallenge("ch-c", "tx1", "u1", "d1", at(time.Minute))
		approved.Status = storage.PushApproved
		for _, c := range []storage.PushChallenge{
			pushChallenge("ch-b", "tx1", "u1", "d1", at(time.Minute)),
			// Same CreatedAt as ch-b: the id breaks the tie, in byte
			// order; the status does not matter.
			approved,
			pushChallenge("CH-z", "tx1", "u1", "d1", at(time.Minute)),
			pushChallenge("ch-other", "tx2", "u1", "d1", at(time.Hour)),
		} {
			must(t, "CreatePushChallenge", s.CreatePushChallenge(ctx(t), c))
		}
		got, err := s.LatestPushChallenge(ctx(t), "tx1")
		must(t, "LatestPushChallenge", err)
		equal(t, "LatestPushChallenge", got, approved)
		_, err = s.LatestPushChallenge(ctx(t), "tx9")
		wantErr(t, "LatestPushChallenge none", err, storage.ErrNotFound)
	}},
	{"ChallengeDelivered", func(t *testing.T, s storage.Store) {
		want := withChallenge(t, s)
		withUser(t, s, "u2")
		must(t, "CreatePushDevice", s.CreatePushDevice(ctx(t), pushDevice("d2", "u2", base)))
		_, err := s.MarkPushDelivered(ctx(t), "d2", "ch1", at(time.Second))
		wantErr(t, "MarkPushDelivered by another device", err, storage.ErrNotFound)
		_, err = s.MarkPushDelivered(ctx(t), "d1", "nope", at(time.Second))
		wantErr(t, "MarkPushDelivered missing", err, storage.ErrNotFound)
		equal(t, "pending", getChallenge(t, s, "ch1"), want)
		got, err := s.MarkPushDelivered(ctx(t), "d1", "ch1", at(time.Second))
		must(t, "MarkPushDelivered", err)
		want.Status, want.DeliveredAt = storage.PushDelivered, at(time.Second)
		equal(t, "MarkPushDelivered returns", got, want)
		// A second fetch keeps the first acknowledgement.
		got, err = s.MarkPushDelivered(ctx(t), "d1", "ch1", at(2*time.Second))
		must(t, "MarkPushDelivered again", err)
		equal(t, "MarkPushDelivered again returns", got, want)
		equal(t, "stored", getChallenge(t, s, "ch1"), want)
		// A final challenge is returned as it is.
		must(t, "AnswerPushChallenge", s.AnswerPushChallenge(ctx(t), "d1", "ch1", storage.PushDenied, at(3*time.Second)))
		want.Status, want.EndedAt = storage.PushDenied, at(3*time.Second)
		got, err = s.MarkPushDelivered(ctx(t), "d1", "ch1", at(4*time.Second))
		must(t, "MarkPushDelivered answered", err)
		equal(t, "MarkPushDelivered answered returns", got, want)
		// So is an expired one: a fetch after expiry is no delivery.
		late := pushChallenge("ch2", "tx1", "u1", "d1", base)
		must(t, "CreatePushChallenge", s.CreatePushChallenge(ctx(t), late))
		got, err = s.MarkPushDelivered(ctx(t), "d1", "ch2", late.ExpiresAt)
		must(t, "MarkPushDelivered expired", err)
		equal(t, "MarkPushDelivered expired returns", got, late)
		equal(t, "expired stored", getChallenge(t, s, "ch2"), late)
	}},
	{"ChallengeAnswer", func(t *testing.T, s storage.Store) {
		withDevice(t, s)
		withUser(t, s, "u2")
		must(t, "CreatePushDevice", s.CreatePushDevice(ctx(t), pushDevice("d2", "u2", base)))
		for i, status := range []string{storage.PushApproved, storage.PushDenied, storage.PushNotMe} {
			want := pushChallenge(fmt.Sprint("ch", i), "tx1", "u1", "d1", base)
			must(t, "CreatePushChallenge", s.CreatePushChallenge(ctx(t), want))
			if i == 1 { // answers are taken once delivered too
				_, err := s.MarkPushDelivered(ctx(t), "d1", want.ID, base)
				must(t, "MarkPushDelivered", err)
				want.Status, want.DeliveredAt = storage.PushDelivered, base
			}
			wantErr(t, "AnswerPushChallenge by another device",
				s.AnswerPushChallenge(ctx(t), "d2", want.ID, status, at(time.Second)), storage.ErrNotFound)
			for _, bad := range []string{storage.PushPending, storage.PushDelivered, storage.PushSuperseded,
				storage.PushFailed, storage.PushExpired, "", "APPROVED"} {
				err := s.AnswerPushChallenge(ctx(t), "d1", want.ID, bad, at(time.Second))
				if err == nil || errors.Is(err, storage.ErrConflict) || errors.Is(err, storage.ErrNotFound) {
					t.Fatalf("AnswerPushChallenge %q: err = %v, want an error that is neither sentinel", bad, err)
				}
			}
			equal(t, "after refused answers", getChallenge(t, s, want.ID), want)
			must(t, "AnswerPushChallenge "+status, s.AnswerPushChallenge(ctx(t), "d1", want.ID, status, at(time.Second)))
			want.Status, want.EndedAt = status, at(time.Second)
			equal(t, "after answer", getChallenge(t, s, want.ID), want)
			// Final: no second answer, not even the same one.
			for _, again := range []string{storage.PushApproved, status} {
				wantErr(t, "AnswerPushChallenge again",
					s.AnswerPushChallenge(ctx(t), "d1", want.ID, again, at(2*time.Second)), storage.ErrConflict)
			}
			equal(t, "after second answer", getChallenge(t, s, want.ID), want)
		}
		// ExpiresAt not after now: too late to answer.
		late := pushChallenge("late", "tx1", "u1", "d1", base)
		must(t, "CreatePushChallenge", s.CreatePushChallenge(ctx(t), late))
		wantErr(t, "AnswerPushChallenge expired",
			s.AnswerPushChallenge(ctx(t), "d1", "late", storage.PushApproved, late.ExpiresAt), storage.ErrConflict)
		equal(t, "after late answer", getChallenge(t, s, "late"), late)
		wantErr(t, "AnswerPushChallenge missing",
			s.AnswerPushChallenge(ctx(t), "d1", "nope", storage.PushApproved, base), storage.ErrNotFound)
	}},
	{"ChallengeWrongNumbers", func(t *testing.T, s storage.Store) {
		want := withChallenge(t, s)
		must(t, "CreatePushDevice d2", s.CreatePushDevice(ctx(t), pushDevice("d2", "u1", base)))
		_, err := s.RecordWrongNumber(ctx(t), "d2", "ch1", 3, base)
		wantErr(t, "RecordWrongNumber by another device", err, storage.ErrNotFound)
		_, err = s.RecordWrongNumber(ctx(t), "d1", "nope", 3, base)
		wantErr(t, "RecordWrongNumber missing", err, storage.ErrNotFound)
		for i := 1; i <= 2; i++ {
			got, err := s.RecordWrongNumber(ctx(t), "d1", "ch1", 3, at(time.Duration(i)*time.Second))
			must(t, fmt.Sprint("RecordWrongNumber ", i), err)
			want.WrongNumbers = i
			equal(t, "still open", got, want)
		}
		// The third reaches the limit and fails the challenge at once.
		got, err := s.RecordWrongNumber(ctx(t), "d1", "ch1", 3, at(3*time.Second))
		must(t, "RecordWrongNumber 3", err)
		want.WrongNumbers, want.Status, want.Reason, want.EndedAt = 3, storage.PushFailed, storage.PushReasonWrongNumbers, at(3*time.Second)
		equal(t, "failed", got, want)
		_, err = s.RecordWrongNumber(ctx(t), "d1", "ch1", 10, at(4*time.Second))
		wantErr(t, "RecordWrongNumber after failing", err, storage.ErrConflict)
		wantErr(t, "AnswerPushChallenge after failing",
			s.AnswerPushChallenge(ctx(t), "d1", "ch1", storage.PushApproved, at(4*time.Second)), storage.ErrConflict)
		equal(t, "stored", getChallenge(t, s, "ch1"), want)

		// Two wrong numbers, then the right one.
		ok := pushChallenge("ch2", "tx1", "u1", "d1", base)
		must(t, "CreatePushChallenge", s.CreatePushChallenge(ctx(t), ok))
		for range 2 {
			_, err := s.RecordWrongNumber(ctx(t), "d1", "ch2", 3, base)
			must(t, "RecordWrongNumber", err)
		}
		// The limit is the caller's: a lower one is already reached.
		_, err = s.RecordWrongNumber(ctx(t), "d1", "ch2", 2, base)
		wantErr(t, "RecordWrongNumber past a lower limit", err, storage.ErrConflict)
		ok.WrongNumbers = 2
		equal(t, "after a lower limit", getChallenge(t, s, "ch2"), ok)
		must(t, "AnswerPushChallenge after two wrong", s.AnswerPushChallenge(ctx(t), "d1", "ch2", storage.PushApproved, base))
		_, err = s.RecordWrongNumber(ctx(t), "d1", "ch2", 3, base)
		wantErr(t, "RecordWrongNumber after approval", err, storage.ErrConflict)
		ok.Status, ok.EndedAt = storage.PushApproved, base
		equal(t, "approved", getChallenge(t, s, "ch2"), ok)

		// Expired: nothing is counted.
		late := pushChallenge("ch3", "tx1", "u1", "d1", base)
		must(t, "CreatePushChallenge", s.CreatePushChallenge(ctx(t), late))
		_, err = s.RecordWrongNumber(ctx(t), "d1", "ch3", 3, late.ExpiresAt)
		wantErr(t, "RecordWrongNumber expired", err, storage.ErrConflict)
		equal(t, "expired", getChallenge(t, s, "ch3"), late)
	}},
	{"ChallengeSupersede", func(t *testing.T, s storage.Store) {
		withChallenge(t, s) // ch1: pending
		approved := pushChallenge("ch-approved", "tx1", "u1", "d1", base)
		approved.Status, approved.EndedAt = storage.PushApproved, base
		other := pushChallenge("ch-other", "tx2", "u1", "d1", base)
		for _, c := range []storage.PushChallenge{
			pushChallenge("ch2", "tx1", "u1", "d1", base), approved, other,
			pushChallenge("ch-new", "tx1", "u1", "d1", at(time.Minute)),
		} {
			must(t, "CreatePushChallenge", s.CreatePushChallenge(ctx(t), c))
		}
		_, err := s.MarkPushDelivered(ctx(t), "d1", "ch2", base)
		must(t, "MarkPushDelivered", err)
		now := at(2 * time.Minute)
		n, err := s.SupersedePushChallenges(ctx(t), "tx1", "ch-new", now)
		must(t, "SupersedePushChallenges", err)
		equal(t, "superseded", n, int64(2)) // ch1 pending, ch2 delivered
		for _, id := range []string{"ch1", "ch2"} {
			c := getChallenge(t, s, id)
			equal(t, id+" status", c.Status, storage.PushSuperseded)
			sameTime(t, id+" EndedAt", c.EndedAt, now)
			// A late approval of an older push is refused.
			wantErr(t, "AnswerPushChallenge "+id, s.AnswerPushChallenge(ctx(t), "d1", id, storage.PushApproved, now),
				storage.ErrConflict)
		}
		equal(t, "final kept", getChallenge(t, s, "ch-approved"), approved)
		equal(t, "other transaction kept", getChallenge(t, s, "ch-other"), other)
		equal(t, "the new one", getChallenge(t, s, "ch-new").Status, storage.PushPending)
		// The sign-in moved to another factor: every push goes.
		n, err = s.SupersedePushChallenges(ctx(t), "tx1", "", now)
		must(t, "SupersedePushChallenges all", err)
		equal(t, "superseded all", n, int64(1))
		equal(t, "the new one after", getChallenge(t, s, "ch-new").Status, storage.PushSuperseded)
		n, err = s.SupersedePushChallenges(ctx(t), "tx1", "", now)
		must(t, "SupersedePushChallenges again", err)
		equal(t, "superseded again", n, int64(0))
	}},
	{"ChallengeEnd", func(t *testing.T, s storage.Store) {
		want := withChallenge(t, s)
		for _, bad := range []string{storage.PushApproved, storage.PushSuperseded, storage.PushPending, ""} {
			err := s.EndPushChallenge(ctx(t), "ch1", bad, "x", base)
			if err == nil || errors.Is(err, storage.ErrConflict) || errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("EndPushChallenge %q: err = %v, want an error that is neither sentinel", bad, err)
			}
		}
		equal(t, "after refused ends", getChallenge(t, s, "ch1"), want)
		// A send error may come back after ExpiresAt: it still ends it.
		must(t, "EndPushChallenge failed", s.EndPushChallenge(ctx(t), "ch1", storage.PushFailed, "unregistered", want.ExpiresAt))
		want.Status, want.Reason, want.EndedAt = storage.PushFailed, "unregistered", want.ExpiresAt
		equal(t, "failed", getChallenge(t, s, "ch1"), want)
		wantErr(t, "EndPushChallenge again", s.EndPushChallenge(ctx(t), "ch1", storage.PushExpired, "", base),
			storage.ErrConflict)
		equal(t, "after second end", getChallenge(t, s, "ch1"), want)

		// No acknowledgement in time; and an answer that came first wins.
		quiet := pushChallenge("ch2", "tx1", "u1", "d1", base)
		must(t, "CreatePushChallenge", s.CreatePushChallenge(ctx(t), quiet))
		must(t, "EndPushChallenge expired", s.EndPushChallenge(ctx(t), "ch2", storage.PushExpired, "no-ack", at(15*time.Second)))
		quiet.Status, quiet.Reason, quiet.EndedAt = storage.PushExpired, "no-ack", at(15*time.Second)
		equal(t, "expired", getChallenge(t, s, "ch2"), quiet)
		answered := pushChallenge("ch3", "tx1", "u1", "d1", base)
		must(t, "CreatePushChallenge", s.CreatePushChallenge(ctx(t), answered))
		must(t, "AnswerPushChallenge", s.AnswerPushChallenge(ctx(t), "d1", "ch3", storage.PushApproved, base))
		wantErr(t, "EndPushChallenge answered", s.EndPushChallenge(ctx(t), "ch3", storage.PushFailed, "late", base),
			storage.ErrConflict)
		equal(t, "answer kept", getChallenge(t, s, "ch3").Status, storage.PushApproved)
		wantErr(t, "EndPushChallenge missing", s.EndPushChallenge(ctx(t), "nope", storage.PushFailed, "", base),
			storage.ErrNotFound)
	}},
	{"ChallengeOpen", func(t *testing.T, s storage.Store) {
		c := withChallenge(t, s)
		if !c.Open(c.ExpiresAt.Add(-time.Microsecond)) || c.Open(c.ExpiresAt) {
			t.Fatal("Open: a pending challenge is open until ExpiresAt, not at it")
		}
		for status, open := range map[string]bool{
			storage.PushPending: true, storage.PushDelivered: true, storage.PushApproved: false, storage.PushDenied: false,
			storage.PushNotMe: false, storage.PushExpired: false, storage.PushSuperseded: false, storage.PushFailed: false,
		} {
			c.Status = status
			equal(t, "Open "+status, c.Open(base), open)
		}
	}},
	{"ChallengeCount", func(t *testing.T, s storage.Store) {
		withDevice(t, s)
		withUser(t, s, "u2")
		must(t, "CreatePushDevice u2", s.CreatePushDevice(ctx(t), pushDevice("d2", "u2", base)))
		since := at(-time.Hour)
		denied := pushChallenge("denied", "tx2", "u1", "d1", at(-time.Minute))
		denied.Status = storage.PushDenied
		for _, c := range []storage.PushChallenge{
			pushChallenge("old", "tx1", "u1", "d1", since.Add(-time.Microsecond)),
			pushChallenge("boundary", "tx1", "u1", "d1", since),
			denied,
			pushChallenge("u2", "tx3", "u2", "d2", base),
		} {
			must(t, "CreatePushChallenge", s.CreatePushChallenge(ctx(t), c))
		}
		for _, tc := range []struct {
			user  string
			since time.Time
			want  int
		}{{"u1", since, 2}, {"u1", at(-2 * time.Hour), 3}, {"u1", base, 0}, {"u2", since, 1}, {"nobody", since, 0}} {
			n, err := s.CountPushChallenges(ctx(t), tc.user, tc.since)
			must(t, "CountPushChallenges", err)
			equal(t, fmt.Sprintf("CountPushChallenges(%s, %v)", tc.user, tc.since), n, tc.want)
		}
	}},
	{"ChallengeDeleteExpired", func(t *testing.T, s storage.Store) {
		withChallenge(t, s) // expires at base+2m
		cutoff := at(2 * time.Minute)
		for _, c := range []storage.PushChallenge{
			pushChallenge("older", "tx1", "u1", "d1", at(-time.Minute)),
			pushChallenge("live", "tx1", "u1", "d1", at(time.Minute)),
		} {
			must(t, "CreatePushChallenge", s.CreatePushChallenge(ctx(t), c))
		}
		n, err := s.DeleteExpiredPushChallenges(ctx(t), cutoff)
		must(t, "DeleteExpiredPushChallenges", err)
		equal(t, "deleted", n, int64(1))
		_, err = s.GetPushChallenge(ctx(t), "older")
		wantErr(t, "GetPushChallenge swept", err, storage.ErrNotFound)
		// Expired at the cut-off itself: kept.
		getChallenge(t, s, "ch1")
		getChallenge(t, s, "live")
		n, err = s.DeleteExpiredPushChallenges(ctx(t), cutoff)
		must(t, "DeleteExpiredPushChallenges again", err)
		equal(t, "deleted again", n, int64(0))
	}},
}
