package storagetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
)

func fullSession(id, userID string) storage.Session {
	return storage.Session{
		ID:         id,
		UserID:     userID,
		AuthTime:   at(-time.Minute),
		AMR:        []string{"pwd", "hwk", "mfa"},
		ACR:        "urn:latchkey:acr:phr",
		Factors:    []byte(`[{"factor":"passkey","at":"2025-03-14T15:08:26Z"}, {"factor":"pwd"}]`),
		CreatedAt:  at(-time.Hour),
		LastSeenAt: base,
		ExpiresAt:  at(8 * time.Hour),
	}
}

func withUser(t *testing.T, s storage.Store, id string) {
	t.Helper()
	must(t, "CreateUser", s.CreateUser(ctx(t), fullUser(id, id+"@example.com")))
}

var sessionTests = []subtest{
	{"RoundTrip", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		want := fullSession("s1", "u1")
		must(t, "CreateSession", s.CreateSession(ctx(t), want))
		got, err := s.GetSession(ctx(t), "s1", base)
		must(t, "GetSession", err)
		equal(t, "GetSession", got, want)
	}},
	{"EmptyAMRAndFactors", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		in := fullSession("s1", "u1")
		in.AMR, in.Factors = []string{}, []byte{}
		must(t, "CreateSession", s.CreateSession(ctx(t), in))
		got, err := s.GetSession(ctx(t), "s1", base)
		must(t, "GetSession", err)
		if got.AMR != nil || got.Factors != nil {
			t.Fatalf("AMR = %#v, Factors = %#v, want nil", got.AMR, got.Factors)
		}
		in.ID, in.Factors = "s2", nil
		must(t, "CreateSession nil factors", s.CreateSession(ctx(t), in))
		got, err = s.GetSession(ctx(t), "s2", base)
		must(t, "GetSession", err)
		if got.Factors != nil {
			t.Fatalf("Factors = %#v, want nil", got.Factors)
		}
	}},
	{"Duplicate", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		must(t, "CreateSession", s.CreateSession(ctx(t), fullSession("s1", "u1")))
		wantErr(t, "CreateSession again", s.CreateSession(ctx(t), fullSession("s1", "u1")), storage.ErrConflict)
	}},
	{"UnknownUser", func(t *testing.T, s storage.Store) {
		wantErr(t, "CreateSession", s.CreateSession(ctx(t), fullSession("s1", "ghost")), storage.ErrNotFound)
	}},
	{"Expiry", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		sess := fullSession("s1", "u1")
		must(t, "CreateSession", s.CreateSession(ctx(t), sess))
		_, err := s.GetSession(ctx(t), "s1", sess.ExpiresAt.Add(-time.Microsecond))
		must(t, "GetSession just before expiry", err)
		_, err = s.GetSession(ctx(t), "s1", sess.ExpiresAt)
		wantErr(t, "GetSession at expiry", err, storage.ErrNotFound)
		_, err = s.GetSession(ctx(t), "s1", sess.ExpiresAt.Add(time.Hour))
		wantErr(t, "GetSession after expiry", err, storage.ErrNotFound)
		_, err = s.GetSession(ctx(t), "nope", base)
		wantErr(t, "GetSession missing", err, storage.ErrNotFound)
		// A zero ExpiresAt is the distant past, not "never".
		zero := fullSession("s0", "u1")
		zero.ExpiresAt = time.Time{}
		must(t, "CreateSession zero expiry", s.CreateSession(ctx(t), zero))
		_, err = s.GetSession(ctx(t), "s0", base)
		wantErr(t, "GetSession zero expiry", err, storage.ErrNotFound)
	}},
	{"Update", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		withUser(t, s, "u2")
		orig := fullSession("s1", "u1")
		must(t, "CreateSession", s.CreateSession(ctx(t), orig))
		upd := storage.Session{
			ID:         "s1",
			UserID:     "u2",                 // not replaced
			CreatedAt:  at(-100 * time.Hour), // not replaced
			AuthTime:   at(time.Hour),
			AMR:        []string{"pwd", "otp", "sms"},
			ACR:        "urn:latchkey:acr:mfa",
			Factors:    []byte(`[{"factor":"pwd"},{"factor":"otp"}]`),
			LastSeenAt: at(time.Hour),
			ExpiresAt:  at(9 * time.Hour),
		}
		must(t, "UpdateSession", s.UpdateSession(ctx(t), upd))
		got, err := s.GetSession(ctx(t), "s1", base)
		must(t, "GetSession", err)
		want := upd
		want.UserID, want.CreatedAt = orig.UserID, orig.CreatedAt
		equal(t, "GetSession after update", got, want)

		upd.AMR, upd.Factors = nil, nil
		must(t, "UpdateSession empty AMR and factors", s.UpdateSession(ctx(t), upd))
		got, err = s.GetSession(ctx(t), "s1", base)
		must(t, "GetSession", err)
		if got.AMR != nil || got.Factors != nil {
			t.Fatalf("AMR = %#v, Factors = %#v, want nil", got.AMR, got.Factors)
		}
		upd.ID = "nope"
		wantErr(t, "UpdateSession missing", s.UpdateSession(ctx(t), upd), storage.ErrNotFound)
	}},
	{"Delete", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		must(t, "CreateSession", s.CreateSession(ctx(t), fullSession("s1", "u1")))
		must(t, "CreateSession", s.CreateSession(ctx(t), fullSession("s2", "u1")))
		must(t, "DeleteSession", s.DeleteSession(ctx(t), "s1"))
		_, err := s.GetSession(ctx(t), "s1", base)
		wantErr(t, "GetSession deleted", err, storage.ErrNotFound)
		wantErr(t, "DeleteSession again", s.DeleteSession(ctx(t), "s1"), storage.ErrNotFound)
		_, err = s.GetSession(ctx(t), "s2", base)
		must(t, "GetSession other", err)
	}},
	{"DeleteUserSessions", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		withUser(t, s, "u2")
		for _, sess := range []storage.Session{
			fullSession("a1", "u1"), fullSession("a2", "u1"), fullSession("b1", "u2"),
		} {
			must(t, "CreateSession", s.CreateSession(ctx(t), sess))
		}
		n, err := s.DeleteUserSessions(ctx(t), "u1")
		must(t, "DeleteUserSessions", err)
		equal(t, "deleted", n, int64(2))
		_, err = s.GetSession(ctx(t), "a2", base)
		wantErr(t, "GetSession a2", err, storage.ErrNotFound)
		_, err = s.GetSession(ctx(t), "b1", base)
		must(t, "GetSession b1", err)
		n, err = s.DeleteUserSessions(ctx(t), "u1")
		must(t, "DeleteUserSessions again", err)
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
			sess := fullSession(id, "u1")
			sess.ExpiresAt = exp
			must(t, "CreateSession", s.CreateSession(ctx(t), sess))
		}
		n, err := s.DeleteExpiredSessions(ctx(t), now)
		must(t, "DeleteExpiredSessions", err)
		equal(t, "deleted", n, int64(2))
		// What is left is exactly what GetSession still returns at now.
		_, err = s.GetSession(ctx(t), "fresh", now)
		must(t, "GetSession fresh", err)
		n, err = s.DeleteUserSessions(ctx(t), "u1")
		must(t, "DeleteUserSessions", err)
		equal(t, "left", n, int64(1))
	}},
}

func fullLoginTx(id string) storage.LoginTx {
	return storage.LoginTx{
		ID:              id,
		ClientID:        "rp1",
		AuthorizeQuery:  "client_id=rp1&redirect_uri=https%3A%2F%2Frp.example%2Fcb&response_type=code&scope=openid&state=xyz&acr_values=urn%3Alatchkey%3Aacr%3Amfa",
		UserID:          "u1",
		SessionID:       "s1",
		AuthenticatedAt: at(time.Minute),
		ConsentedAt:     at(2 * time.Minute),
		State:           []byte(`{"step":"mfa","offered":["passkey","push"]}`),
		Completed:       false,
		CreatedAt:       base,
		ExpiresAt:       at(15 * time.Minute),
	}
}

var loginTxTests = []subtest{
	{"RoundTrip", func(t *testing.T, s storage.Store) {
		want := fullLoginTx("tx1")
		must(t, "CreateLoginTx", s.CreateLoginTx(ctx(t), want))
		got, err := s.GetLoginTx(ctx(t), "tx1", base)
		must(t, "GetLoginTx", err)
		equal(t, "GetLoginTx", got, want)
	}},
	{"ZeroValues", func(t *testing.T, s storage.Store) {
		// A fresh transaction: no user, session, proofs or state yet.
		in := storage.LoginTx{ID: "tx0", ClientID: "rp1", AuthorizeQuery: "q", State: []byte{},
			CreatedAt: base, ExpiresAt: at(time.Minute)}
		must(t, "CreateLoginTx", s.CreateLoginTx(ctx(t), in))
		got, err := s.GetLoginTx(ctx(t), "tx0", base)
		must(t, "GetLoginTx", err)
		in.State = nil
		equal(t, "GetLoginTx", got, in)
	}},
	{"Duplicate", func(t *testing.T, s storage.Store) {
		must(t, "CreateLoginTx", s.CreateLoginTx(ctx(t), fullLoginTx("tx1")))
		wantErr(t, "CreateLoginTx again", s.CreateLoginTx(ctx(t), fullLoginTx("tx1")), storage.ErrConflict)
	}},
	{"Expiry", func(t *testing.T, s storage.Store) {
		tx := fullLoginTx("tx1")
		must(t, "CreateLoginTx", s.CreateLoginTx(ctx(t), tx))
		_, err := s.GetLoginTx(ctx(t), "tx1", tx.ExpiresAt.Add(-time.Microsecond))
		must(t, "GetLoginTx before expiry", err)
		_, err = s.GetLoginTx(ctx(t), "tx1", tx.ExpiresAt)
		wantErr(t, "GetLoginTx at expiry", err, storage.ErrNotFound)
		_, err = s.GetLoginTx(ctx(t), "nope", base)
		wantErr(t, "GetLoginTx missing", err, storage.ErrNotFound)
	}},
	{"Update", func(t *testing.T, s storage.Store) {
		orig := storage.LoginTx{ID: "tx1", ClientID: "rp1", AuthorizeQuery: "q=1",
			CreatedAt: base, ExpiresAt: at(15 * time.Minute)}
		must(t, "CreateLoginTx", s.CreateLoginTx(ctx(t), orig))
		upd := fullLoginTx("tx1")
		// Only the step fields change; these must not.
		upd.ClientID, upd.AuthorizeQuery = "rp-other", "q=other"
		upd.CreatedAt, upd.ExpiresAt = at(time.Hour), at(10*time.Hour)
		upd.Completed = true
		must(t, "UpdateLoginTx", s.UpdateLoginTx(ctx(t), upd))
		got, err := s.GetLoginTx(ctx(t), "tx1", base)
		must(t, "GetLoginTx", err)
		want := fullLoginTx("tx1")
		want.ClientID, want.AuthorizeQuery = orig.ClientID, orig.AuthorizeQuery
		want.CreatedAt, want.ExpiresAt = orig.CreatedAt, orig.ExpiresAt
		equal(t, "GetLoginTx after update", got, want)

		// Times and state can be cleared again.
		cleared := orig
		must(t, "UpdateLoginTx clear", s.UpdateLoginTx(ctx(t), cleared))
		got, err = s.GetLoginTx(ctx(t), "tx1", base)
		must(t, "GetLoginTx", err)
		equal(t, "GetLoginTx after clear", got, orig)

		upd.ID = "nope"
		wantErr(t, "UpdateLoginTx missing", s.UpdateLoginTx(ctx(t), upd), storage.ErrNotFound)
	}},
	{"UpdateAfterComplete", func(t *testing.T, s storage.Store) {
		tx := fullLoginTx("tx1")
		must(t, "CreateLoginTx", s.CreateLoginTx(ctx(t), tx))
		must(t, "CompleteLoginTx", s.CompleteLoginTx(ctx(t), "tx1", base))
		upd := tx
		upd.UserID = "mallory"
		wantErr(t, "UpdateLoginTx completed", s.UpdateLoginTx(ctx(t), upd), storage.ErrConflict)
		got, err := s.GetLoginTx(ctx(t), "tx1", base)
		must(t, "GetLoginTx", err)
		tx.Completed = true
		equal(t, "completed tx unchanged", got, tx)
	}},
	{"Complete", func(t *testing.T, s storage.Store) {
		must(t, "CreateLoginTx", s.CreateLoginTx(ctx(t), fullLoginTx("tx1")))
		must(t, "CreateLoginTx", s.CreateLoginTx(ctx(t), fullLoginTx("tx2")))
		must(t, "CompleteLoginTx", s.CompleteLoginTx(ctx(t), "tx1", base))
		got, err := s.GetLoginTx(ctx(t), "tx1", base)
		must(t, "GetLoginTx", err)
		if !got.Completed {
			t.Fatal("Completed = false after CompleteLoginTx")
		}
		wantErr(t, "CompleteLoginTx again", s.CompleteLoginTx(ctx(t), "tx1", base), storage.ErrConflict)
		wantErr(t, "CompleteLoginTx missing", s.CompleteLoginTx(ctx(t), "nope", base), storage.ErrNotFound)
		got, err = s.GetLoginTx(ctx(t), "tx2", base)
		must(t, "GetLoginTx tx2", err)
		if got.Completed {
			t.Fatal("sibling transaction completed")
		}
	}},
	{"CompleteExpired", func(t *testing.T, s storage.Store) {
		tx := fullLoginTx("tx1")
		must(t, "CreateLoginTx", s.CreateLoginTx(ctx(t), tx))
		err := s.CompleteLoginTx(ctx(t), "tx1", tx.ExpiresAt)
		wantErr(t, "CompleteLoginTx expired", err, storage.ErrNotFound)
		// It did not complete: still completable while alive.
		must(t, "CompleteLoginTx alive", s.CompleteLoginTx(ctx(t), "tx1", base))
	}},
	{"DeleteExpired", func(t *testing.T, s storage.Store) {
		now := at(time.Hour)
		for id, exp := range map[string]time.Time{
			"old":      now.Add(-time.Minute),
			"boundary": now,
			"fresh":    now.Add(time.Minute),
		} {
			tx := fullLoginTx(id)
			tx.ExpiresAt = exp
			must(t, "CreateLoginTx", s.CreateLoginTx(ctx(t), tx))
		}
		n, err := s.DeleteExpiredLoginTxs(ctx(t), now)
		must(t, "DeleteExpiredLoginTxs", err)
		equal(t, "deleted", n, int64(2))
		// Deleted, not merely hidden: the id can be reused.
		must(t, "CreateLoginTx old again", s.CreateLoginTx(ctx(t), fullLoginTx("old")))
		wantErr(t, "CreateLoginTx fresh again", s.CreateLoginTx(ctx(t), fullLoginTx("fresh")), storage.ErrConflict)
	}},
}
