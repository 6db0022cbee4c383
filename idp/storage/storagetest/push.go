package storagetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
)

// webPushToken stands for a Web Push subscription: JSON, long, with
// characters a careless encoding would damage.
const webPushToken = `{"endpoint":"https://push.example/wpush/v2/gAAAA_-é","keys":{"p256dh":"BNc…","auth":"tBH"}}`

// pushDevice is a device as enrolment creates it: heard from at enrolment,
// permission granted, token valid.
func pushDevice(id, userID string, created time.Time) storage.PushDevice {
	return storage.PushDevice{
		ID: id, UserID: userID,
		PublicKey: []byte(`{"crv":"P-256","kty":"EC","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}`),
		Name:      "Pixel 8 — 仕事", Platform: "android", Channel: "fcm", Token: "fcm-token-" + id,
		Permission: "granted", TokenValid: true, CreatedAt: created, LastSeenAt: created,
	}
}

// pushChallenge is a challenge as a sign-in creates it: pending, two
// minutes to live.
func pushChallenge(id, txID, userID, deviceID string, created time.Time) storage.PushChallenge {
	return storage.PushChallenge{
		ID: id, TxID: txID, UserID: userID, DeviceID: deviceID, Number: 42, Nonce: "nonce-" + id,
		Status: storage.PushPending, Context: []byte(`{"app":"Wiki","browser":"Firefox","location":"大阪"}`),
		CreatedAt: created, ExpiresAt: created.Add(2 * time.Minute),
	}
}

// withDevice creates user u1 and its device d1 at base.
func withDevice(t *testing.T, s storage.Store) storage.PushDevice {
	t.Helper()
	withUser(t, s, "u1")
	d := pushDevice("d1", "u1", base)
	must(t, "CreatePushDevice", s.CreatePushDevice(ctx(t), d))
	return d
}

// withChallenge creates user u1, its device d1 and a pending challenge ch1
// of transaction tx1 at base.
func withChallenge(t *testing.T, s storage.Store) storage.PushChallenge {
	t.Helper()
	withDevice(t, s)
	c := pushChallenge("ch1", "tx1", "u1", "d1", base)
	must(t, "CreatePushChallenge", s.CreatePushChallenge(ctx(t), c))
	return c
}

func getDevice(t *testing.T, s storage.Store, id string) storage.PushDevice {
	t.Helper()
	d, err := s.GetPushDevice(ctx(t), id)
	must(t, "GetPushDevice", err)
	return d
}

func getChallenge(t *testing.T, s storage.Store, id string) storage.PushChallenge {
	t.Helper()
	c, err := s.GetPushChallenge(ctx(t), id)
	must(t, "GetPushChallenge", err)
	return c
}

func deviceIDs(t *testing.T, s storage.Store, userID string) []string {
	t.Helper()
	ds, err := s.ListPushDevices(ctx(t), userID)
	must(t, "ListPushDevices", err)
	var ids []string
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	return ids
}

// pushTests covers devices, enrolment tokens and challenges, and the races
// on each.
var pushTests = slices.Concat(pushDeviceTests, pushEnrolmentTests, pushChallengeTests, pushRaceTests)

var pushDeviceTests = []subtest{
	{"DeviceRoundTrip", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		withUser(t, s, "u2")
		equal(t, "ListPushDevices none", len(deviceIDs(t, s, "u1")), 0)
		// An unregistered web device, never heard from since.
		web := pushDevice("d-b", "u1", at(time.Hour))
		web.Platform, web.Channel, web.Token, web.Permission = "web", "webpush", webPushToken, "denied"
		web.TokenValid, web.LastSeenAt, web.UnregisteredAt = false, time.Time{}, at(2*time.Hour)
		fresh := pushDevice("d-c", "u1", base)
		// Same CreatedAt as d-c: the id breaks the tie, in byte order.
		tie := pushDevice("D-a", "u1", base)
		tie.PublicKey, tie.Name, tie.Platform, tie.Channel, tie.Permission = []byte{}, "", "ios", "apns", "prompt"
		for _, d := range []storage.PushDevice{web, fresh, tie, pushDevice("d-x", "u2", base)} {
			must(t, "CreatePushDevice", s.CreatePushDevice(ctx(t), d))
		}
		ds, err := s.ListPushDevices(ctx(t), "u1")
		must(t, "ListPushDevices", err)
		tie.PublicKey = nil
		equal(t, "ListPushDevices oldest first", ds, []storage.PushDevice{tie, fresh, web})
		equal(t, "GetPushDevice", getDevice(t, s, "d-b"), web)
		// The device API knows no user: any user's device is found by id.
		equal(t, "GetPushDevice u2's", getDevice(t, s, "d-x").UserID, "u2")
		_, err = s.GetPushDevice(ctx(t), "nope")
		wantErr(t, "GetPushDevice missing", err, storage.ErrNotFound)
	}},
	{"DeviceRefused", func(t *testing.T, s storage.Store) {
		d := withDevice(t, s)
		withUser(t, s, "u2")
		wantErr(t, "CreatePushDevice same id", s.CreatePushDevice(ctx(t), pushDevice("d1", "u1", at(time.Hour))),
			storage.ErrConflict)
		// One key, one account: another user cannot enrol it too.
		wantErr(t, "CreatePushDevice same id other user", s.CreatePushDevice(ctx(t), pushDevice("d1", "u2", base)),
			storage.ErrConflict)
		wantErr(t, "CreatePushDevice unknown user", s.CreatePushDevice(ctx(t), pushDevice("d2", "ghost", base)),
			storage.ErrNotFound)
		equal(t, "original kept", getDevice(t, s, "d1"), d)
		_, err := s.GetPushDevice(ctx(t), "d2")
		wantErr(t, "GetPushDevice refused", err, storage.ErrNotFound)
	}},
	{"DeviceHeartbeat", func(t *testing.T, s storage.Store) {
		want := withDevice(t, s)
		// Permission only: the token, channel and validity stay.
		must(t, "UpdatePushDeviceState denied", s.UpdatePushDeviceState(ctx(t), "d1", "denied", "", "", at(time.Minute)))
		want.Permission, want.LastSeenAt = "denied", at(time.Minute)
		equal(t, "after permission change", getDevice(t, s, "d1"), want)
		// The same token after a permanent error: still refused.
		must(t, "MarkPushDeviceUnregistered", s.MarkPushDeviceUnregistered(ctx(t), "d1", want.Token, at(2*time.Minute)))
		must(t, "UpdatePushDeviceState same token",
			s.UpdatePushDeviceState(ctx(t), "d1", "granted", want.Token, "fcm", at(3*time.Minute)))
		want.Permission, want.LastSeenAt, want.TokenValid, want.UnregisteredAt = "granted", at(3*time.Minute), false, at(2*time.Minute)
		equal(t, "after same token", getDevice(t, s, "d1"), want)
		// A new token (here a move to Web Push) makes it reachable again.
		must(t, "UpdatePushDeviceState new token",
			s.UpdatePushDeviceState(ctx(t), "d1", "granted", webPushToken, "webpush", at(4*time.Minute)))
		want.Token, want.Channel, want.TokenValid, want.UnregisteredAt = webPushToken, "webpush", true, time.Time{}
		want.LastSeenAt = at(4 * time.Minute)
		equal(t, "after new token", getDevice(t, s, "d1"), want)
		wantErr(t, "UpdatePushDeviceState missing", s.UpdatePushDeviceState(ctx(t), "nope", "granted", "t", "fcm", base),
			storage.ErrNotFound)
	}},
	{"DeviceUnregistered", func(t *testing.T, s storage.Store) {
		want := withDevice(t, s)
		old := want.Token
		must(t, "MarkPushDeviceUnregistered", s.MarkPushDeviceUnregistered(ctx(t), "d1", old, at(time.Minute)))
		want.TokenValid, want.UnregisteredAt = false, at(time.Minute)
		equal(t, "after error", getDevice(t, s, "d1"), want)
		// A second send that failed on the same token: nil, the first time
		// kept.
		must(t, "MarkPushDeviceUnregistered again", s.MarkPushDeviceUnregistered(ctx(t), "d1", old, at(2*time.Minute)))
		equal(t, "after second error", getDevice(t, s, "d1"), want)
		// The app came back with a new token; an error for the old token
		// arriving late changes nothing.
		must(t, "UpdatePushDeviceState", s.UpdatePushDeviceState(ctx(t), "d1", "granted", "fcm-new", "fcm", at(3*time.Minute)))
		want.Token, want.TokenValid, want.UnregisteredAt, want.LastSeenAt = "fcm-new", true, time.Time{}, at(3*time.Minute)
		wantErr(t, "MarkPushDeviceUnregistered stale token",
			s.MarkPushDeviceUnregistered(ctx(t), "d1", old, at(4*time.Minute)), storage.ErrConflict)
		equal(t, "after stale error", getDevice(t, s, "d1"), want)
		wantErr(t, "MarkPushDeviceUnregistered missing", s.MarkPushDeviceUnregistered(ctx(t), "nope", old, base),
			storage.ErrNotFound)
	}},
	{"DeviceDeleteTakesChallenges", func(t *testing.T, s storage.Store) {
		withChallenge(t, s)
		withUser(t, s, "u2")
		must(t, "CreatePushDevice d2", s.CreatePushDevice(ctx(t), pushDevice("d2", "u1", base)))
		must(t, "CreatePushChallenge d2", s.CreatePushChallenge(ctx(t), pushChallenge("ch2", "tx1", "u1", "d2", base)))
		wantErr(t, "DeletePushDevice by u2", s.DeletePushDevice(ctx(t), "u2", "d1"), storage.ErrNotFound)
		getChallenge(t, s, "ch1")
		must(t, "DeletePushDevice", s.DeletePushDevice(ctx(t), "u1", "d1"))
		wantErr(t, "DeletePushDevice again", s.DeletePushDevice(ctx(t), "u1", "d1"), storage.ErrNotFound)
		// Its challenges went with it: an answer finds nothing to answer.
		_, err := s.GetPushChallenge(ctx(t), "ch1")
		wantErr(t, "GetPushChallenge of deleted device", err, storage.ErrNotFound)
		wantErr(t, "AnswerPushChallenge of deleted device",
			s.AnswerPushChallenge(ctx(t), "d1", "ch1", storage.PushApproved, base), storage.ErrNotFound)
		getChallenge(t, s, "ch2")
		equal(t, "left", deviceIDs(t, s, "u1"), []string{"d2"})
	}},
	{"UserDeleteCascades", func(t *testing.T, s storage.Store) {
		withChallenge(t, s)
		must(t, "CreatePushEnrolment", s.CreatePushEnrolment(ctx(t), enrolment("e1", "u1", base)))
		withUser(t, s, "u2")
		must(t, "CreatePushDevice u2", s.CreatePushDevice(ctx(t), pushDevice("d2", "u2", base)))
		must(t, "CreatePushChallenge u2", s.CreatePushChallenge(ctx(t), pushChallenge("ch2", "tx2", "u2", "d2", base)))
		must(t, "CreatePushEnrolment u2", s.CreatePushEnrolment(ctx(t), enrolment("e2", "u2", base)))
		must(t, "DeleteUser", s.DeleteUser(ctx(t), "u1"))
		_, err := s.GetPushDevice(ctx(t), "d1")
		wantErr(t, "GetPushDevice of deleted user", err, storage.ErrNotFound)
		_, err = s.GetPushChallenge(ctx(t), "ch1")
		wantErr(t, "GetPushChallenge of deleted user", err, storage.ErrNotFound)
		_, err = s.UsePushEnrolment(ctx(t), "e1", base)
		wantErr(t, "UsePushEnrolment of deleted user", err, storage.ErrNotFound)
		// A new user with the same id inherits nothing; the ids are free.
		withUser(t, s, "u1")
		equal(t, "devices after re-create", len(deviceIDs(t, s, "u1")), 0)
		must(t, "CreatePushDevice same id", s.CreatePushDevice(ctx(t), pushDevice("d1", "u1", base)))
		must(t, "CreatePushChallenge same id", s.CreatePushChallenge(ctx(t), pushChallenge("ch1", "tx1", "u1", "d1", base)))
		must(t, "CreatePushEnrolment same hash", s.CreatePushEnrolment(ctx(t), enrolment("e1", "u1", base)))
		// The other user keeps everything.
		equal(t, "u2 devices", deviceIDs(t, s, "u2"), []string{"d2"})
		getChallenge(t, s, "ch2")
		_, err = s.UsePushEnrolment(ctx(t), "e2", base)
		must(t, "UsePushEnrolment u2", err)
	}},
}

// enrolment is a token as the account page creates it: five minutes to
// live.
func enrolment(hash, userID string, created time.Time) storage.PushEnrolment {
	return storage.PushEnrolment{TokenHash: hash, UserID: userID, CreatedAt: created, ExpiresAt: created.Add(5 * time.Minute)}
}

var pushEnrolmentTests = []subtest{
	{"EnrolmentUse", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		e := enrolment("hash-1", "u1", base)
		must(t, "CreatePushEnrolment", s.CreatePushEnrolment(ctx(t), e))
		wantErr(t, "CreatePushEnrolment same hash", s.CreatePushEnrolment(ctx(t), enrolment("hash-1", "u1", at(time.Hour))),
			storage.ErrConflict)
		wantErr(t, "CreatePushEnrolment unknown user", s.CreatePushEnrolment(ctx(t), enrolment("hash-2", "ghost", base)),
			storage.ErrNotFound)
		_, err := s.UsePushEnrolment(ctx(t), "hash-2", base)
		wantErr(t, "UsePushEnrolment refused one", err, storage.ErrNotFound)
		got, err := s.UsePushEnrolment(ctx(t), "hash-1", at(time.Minute))
		must(t, "UsePushEnrolment", err)
		e.UsedAt = at(time.Minute)
		equal(t, "UsePushEnrolment returns", got, e)
		_, err = s.UsePushEnrolment(ctx(t), "hash-1", at(2*time.Minute))
		wantErr(t, "UsePushEnrolment again", err, storage.ErrConflict)
		// Once expired, used or not, the token is simply gone.
		_, err = s.UsePushEnrolment(ctx(t), "hash-1", e.ExpiresAt)
		wantErr(t, "UsePushEnrolment used and expired", err, storage.ErrNotFound)
		_, err = s.UsePushEnrolment(ctx(t), "nope", base)
		wantErr(t, "UsePushEnrolment missing", err, storage.ErrNotFound)
	}},
	{"EnrolmentExpiry", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		e := enrolment("hash-1", "u1", base)
		must(t, "CreatePushEnrolment", s.CreatePushEnrolment(ctx(t), e))
		// ExpiresAt not after now: expired.
		_, err := s.UsePushEnrolment(ctx(t), "hash-1", e.ExpiresAt)
		wantErr(t, "UsePushEnrolment at expiry", err, storage.ErrNotFound)
		got, err := s.UsePushEnrolment(ctx(t), "hash-1", e.ExpiresAt.Add(-time.Microsecond))
		must(t, "UsePushEnrolment just before expiry (the refusal changed nothing)", err)
		sameTime(t, "UsedAt", got.UsedAt, e.ExpiresAt.Add(-time.Microsecond))
	}},
	{"EnrolmentDeleteExpired", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		now := at(10 * time.Minute)
		for _, e := range []storage.PushEnrolment{
			enrolment("old", "u1", base),                   // expires at base+5m
			enrolment("boundary", "u1", at(5*time.Minute)), // expires at now
			enrolment("live", "u1", at(6*time.Minute)),
		} {
			must(t, "CreatePushEnrolment", s.CreatePushEnrolment(ctx(t), e))
		}
		n, err := s.DeleteExpiredPushEnrolments(ctx(t), now)
		must(t, "DeleteExpiredPushEnrolments", err)
		equal(t, "deleted", n, int64(2))
		// Gone even to a caller whose clock lags.
		_, err = s.UsePushEnrolment(ctx(t), "old", base)
		wantErr(t, "UsePushEnrolment swept", err, storage.ErrNotFound)
		_, err = s.UsePushEnrolment(ctx(t), "live", now)
		must(t, "UsePushEnrolment live", err)
		n, err = s.DeleteExpiredPushEnrolments(ctx(t), now)
		must(t, "DeleteExpiredPushEnrolments again", err)
		equal(t, "deleted again", n, int64(0))
	}},
}

var pushRaceTests = []subtest{
	{"EnrolmentUsedOnce", func(t *testing.T, s storage.Store) {
		// One QR code scanned by two phones, or one request replayed: one
		// device joins.
		withUser(t, s, "u1")
		must(t, "CreatePushEnrolment", s.CreatePushEnrolment(ctx(t), enrolment("hash-1", "u1", base)))
		got := make([]storage.PushEnrolment, racers)
		errs := race(func(i int) error {
			var err error
			got[i], err = s.UsePushEnrolment(ctx(t), "hash-1", at(time.Duration(i)*time.Millisecond))
			return err
		})
		oneWinner(t, "UsePushEnrolment", errs)
		winner := slices.IndexFunc(errs, func(err error) bool { return err == nil })
		equal(t, "winner's user", got[winner].UserID, "u1")
		sameTime(t, "UsedAt", got[winner].UsedAt, at(time.Duration(winner)*time.Millisecond))
	}},
	{"ChallengeAnsweredOnce", func(t *testing.T, s storage.Store) {
		// An approval replayed, or approve and "this wasn't me" at once:
		// one answer counts, whole.
		withChallenge(t, s)
		answers := []string{storage.PushApproved, storage.PushDenied, storage.PushNotMe}
		errs := race(func(i int) error {
			return s.AnswerPushChallenge(ctx(t), "d1", "ch1", answers[i%3], at(time.Duration(i)*time.Millisecond))
		})
		oneWinner(t, "AnswerPushChallenge", errs)
		winner := slices.IndexFunc(errs, func(err error) bool { return err == nil })
		got := getChallenge(t, s, "ch1")
		equal(t, "status", got.Status, answers[winner%3])
		sameTime(t, "EndedAt", got.EndedAt, at(time.Duration(winner)*time.Millisecond))
	}},
	{"WrongNumbersCountedExactly", func(t *testing.T, s storage.Store) {
		// Twenty wrong numbers at once against a limit of three: three
		// count, the third fails the challenge.
		const maxWrong = 3
		withChallenge(t, s)
		seen := make([]storage.PushChallenge, racers)
		errs := race(func(i int) error {
			var err error
			seen[i], err = s.RecordWrongNumber(ctx(t), "d1", "ch1", maxWrong, base)
			return err
		})
		var counts []int
		for i, err := range errs {
			switch {
			case err == nil:
				counts = append(counts, seen[i].WrongNumbers)
				equal(t, "status with the count", seen[i].Status == storage.PushFailed, seen[i].WrongNumbers == maxWrong)
			case errors.Is(err, storage.ErrConflict):
				noDriverError(t, "RecordWrongNumber", err)
			default:
				t.Errorf("racer %d: %v", i, err)
			}
		}
		slices.Sort(counts)
		equal(t, "counts returned", counts, []int{1, 2, 3})
		got := getChallenge(t, s, "ch1")
		equal(t, "WrongNumbers", got.WrongNumbers, maxWrong)
		equal(t, "Status", got.Status, storage.PushFailed)
	}},
	{"AnswerVersusSupersede", func(t *testing.T, s storage.Store) {
		// The sign-in moves on while the phone approves: either the
		// approval landed first and nothing is superseded, or nothing is
		// approved.
		withChallenge(t, s)
		var superseded int64
		errs := race(func(i int) error {
			if i == racers/2 {
				var err error
				superseded, err = s.SupersedePushChallenges(ctx(t), "tx1", "", base)
				return err
			}
			return s.AnswerPushChallenge(ctx(t), "d1", "ch1", storage.PushApproved, base)
		})
		must(t, "SupersedePushChallenges", errs[racers/2])
		answers := slices.Delete(slices.Clone(errs), racers/2, racers/2+1)
		wins := 0
		for i, err := range answers {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, storage.ErrConflict):
				t.Errorf("answer %d: %v", i, err)
			}
		}
		got := getChallenge(t, s, "ch1").Status
		switch {
		case wins == 1 && superseded == 0 && got == storage.PushApproved:
		case wins == 0 && superseded == 1 && got == storage.PushSuperseded:
		default:
			t.Fatalf("%d approvals, %d superseded, status %s: want one or the other", wins, superseded, got)
		}
	}},
	{"DeliveredOnce", func(t *testing.T, s storage.Store) {
		// The device fetches twice at once (a retry): one acknowledgement,
		// and every fetch sees it.
		withChallenge(t, s)
		seen := make([]storage.PushChallenge, racers)
		errs := race(func(i int) error {
			var err error
			seen[i], err = s.MarkPushDelivered(ctx(t), "d1", "ch1", at(time.Duration(i+1)*time.Millisecond))
			return err
		})
		got := getChallenge(t, s, "ch1")
		equal(t, "Status", got.Status, storage.PushDelivered)
		for i, err := range errs {
			must(t, "MarkPushDelivered", err)
			equal(t, "returned", seen[i], got)
		}
	}},
	{"HeartbeatVersusLateError", func(t *testing.T, s storage.Store) {
		// Errors for the old token race heartbeats bringing a new one:
		// whatever the order, the new token ends up valid.
		d := withDevice(t, s)
		errs := race(func(i int) error {
			if i%2 == 0 {
				return s.UpdatePushDeviceState(ctx(t), "d1", "granted", "fcm-new", "fcm", at(time.Minute))
			}
			return s.MarkPushDeviceUnregistered(ctx(t), "d1", d.Token, at(time.Minute))
		})
		for i, err := range errs {
			if err != nil && !(i%2 == 1 && errors.Is(err, storage.ErrConflict)) {
				t.Errorf("racer %d: %v", i, err)
			}
		}
		got := getDevice(t, s, "d1")
		d.Token, d.TokenValid, d.LastSeenAt = "fcm-new", true, at(time.Minute)
		equal(t, "device", got, d)
	}},
}
