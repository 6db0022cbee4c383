package storagetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
)

var allKinds = []storage.TokenKind{
	storage.KindAuthorizeCode, storage.KindAccessToken, storage.KindRefreshToken,
	storage.KindPKCE, storage.KindOIDC,
}

func token(kind storage.TokenKind, sig, requestID, subject, client string) storage.Token {
	return storage.Token{
		Kind:        kind,
		Signature:   sig,
		RequestID:   requestID,
		ClientID:    client,
		Subject:     subject,
		Active:      true,
		RequestedAt: base,
		ExpiresAt:   at(time.Hour),
		Data:        []byte(`{"form":{"scope":["openid"]},"session":{}}` + "\x00\xff"),
	}
}

func activeOf(t *testing.T, s storage.Store, kind storage.TokenKind, sig string) bool {
	t.Helper()
	tok, err := s.GetToken(ctx(t), kind, sig)
	must(t, "GetToken "+string(kind)+" "+sig, err)
	return tok.Active
}

var tokenTests = []subtest{
	{"RoundTripEveryKind", func(t *testing.T, s storage.Store) {
		// One signature under every kind: the key is (kind, signature).
		for _, k := range allKinds {
			must(t, "CreateToken "+string(k), s.CreateToken(ctx(t), token(k, "sig", "req-"+string(k), "sub", "rp")))
		}
		for _, k := range allKinds {
			got, err := s.GetToken(ctx(t), k, "sig")
			must(t, "GetToken "+string(k), err)
			equal(t, "GetToken "+string(k), got, token(k, "sig", "req-"+string(k), "sub", "rp"))
		}
	}},
	{"ZeroValues", func(t *testing.T, s storage.Store) {
		in := storage.Token{Kind: storage.KindPKCE, Signature: "s", Data: []byte{}}
		must(t, "CreateToken", s.CreateToken(ctx(t), in))
		got, err := s.GetToken(ctx(t), storage.KindPKCE, "s")
		must(t, "GetToken", err)
		equal(t, "GetToken", got, storage.Token{Kind: storage.KindPKCE, Signature: "s"})
	}},
	{"Duplicate", func(t *testing.T, s storage.Store) {
		must(t, "CreateToken", s.CreateToken(ctx(t), token(storage.KindAccessToken, "sig", "r1", "sub", "rp")))
		err := s.CreateToken(ctx(t), token(storage.KindAccessToken, "sig", "r2", "sub", "rp"))
		wantErr(t, "CreateToken again", err, storage.ErrConflict)
	}},
	{"GetMissing", func(t *testing.T, s storage.Store) {
		must(t, "CreateToken", s.CreateToken(ctx(t), token(storage.KindAccessToken, "sig", "r1", "sub", "rp")))
		_, err := s.GetToken(ctx(t), storage.KindRefreshToken, "sig")
		wantErr(t, "GetToken other kind", err, storage.ErrNotFound)
		_, err = s.GetToken(ctx(t), storage.KindAccessToken, "other")
		wantErr(t, "GetToken other signature", err, storage.ErrNotFound)
	}},
	{"Delete", func(t *testing.T, s storage.Store) {
		must(t, "CreateToken", s.CreateToken(ctx(t), token(storage.KindAccessToken, "sig", "r1", "sub", "rp")))
		must(t, "CreateToken", s.CreateToken(ctx(t), token(storage.KindRefreshToken, "sig", "r1", "sub", "rp")))
		must(t, "DeleteToken", s.DeleteToken(ctx(t), storage.KindAccessToken, "sig"))
		_, err := s.GetToken(ctx(t), storage.KindAccessToken, "sig")
		wantErr(t, "GetToken deleted", err, storage.ErrNotFound)
		wantErr(t, "DeleteToken again", s.DeleteToken(ctx(t), storage.KindAccessToken, "sig"), storage.ErrNotFound)
		_, err = s.GetToken(ctx(t), storage.KindRefreshToken, "sig")
		must(t, "GetToken other kind", err)
	}},
	{"Deactivate", func(t *testing.T, s storage.Store) {
		code := token(storage.KindAuthorizeCode, "code", "r1", "sub", "rp")
		must(t, "CreateToken", s.CreateToken(ctx(t), code))
		must(t, "CreateToken", s.CreateToken(ctx(t), token(storage.KindAuthorizeCode, "code2", "r1", "sub", "rp")))
		must(t, "DeactivateToken", s.DeactivateToken(ctx(t), storage.KindAuthorizeCode, "code"))
		got, err := s.GetToken(ctx(t), storage.KindAuthorizeCode, "code")
		must(t, "GetToken", err)
		code.Active = false
		equal(t, "deactivated token", got, code)
		wantErr(t, "DeactivateToken again", s.DeactivateToken(ctx(t), storage.KindAuthorizeCode, "code"), storage.ErrConflict)
		wantErr(t, "DeactivateToken missing", s.DeactivateToken(ctx(t), storage.KindAuthorizeCode, "nope"), storage.ErrNotFound)
		wantErr(t, "DeactivateToken wrong kind", s.DeactivateToken(ctx(t), storage.KindAccessToken, "code"), storage.ErrNotFound)
		if !activeOf(t, s, storage.KindAuthorizeCode, "code2") {
			t.Fatal("sibling token deactivated")
		}
	}},
	{"DeactivateCreatedInactive", func(t *testing.T, s storage.Store) {
		tok := token(storage.KindRefreshToken, "sig", "r1", "sub", "rp")
		tok.Active = false
		must(t, "CreateToken", s.CreateToken(ctx(t), tok))
		wantErr(t, "DeactivateToken", s.DeactivateToken(ctx(t), storage.KindRefreshToken, "sig"), storage.ErrConflict)
	}},
	{"DeactivateByRequestID", func(t *testing.T, s storage.Store) {
		for _, tok := range []storage.Token{
			token(storage.KindRefreshToken, "r-a", "fam1", "sub", "rp"),
			token(storage.KindRefreshToken, "r-b", "fam1", "sub", "rp"),
			token(storage.KindRefreshToken, "r-c", "fam2", "sub", "rp"),
			token(storage.KindAccessToken, "a-a", "fam1", "sub", "rp"),
		} {
			must(t, "CreateToken", s.CreateToken(ctx(t), tok))
		}
		must(t, "DeactivateToken", s.DeactivateToken(ctx(t), storage.KindRefreshToken, "r-a"))
		n, err := s.DeactivateTokensByRequestID(ctx(t), storage.KindRefreshToken, "fam1")
		must(t, "DeactivateTokensByRequestID", err)
		equal(t, "deactivated (already inactive not counted)", n, int64(1))
		for _, c := range []struct {
			kind   storage.TokenKind
			sig    string
			active bool
		}{
			{storage.KindRefreshToken, "r-a", false},
			{storage.KindRefreshToken, "r-b", false},
			{storage.KindRefreshToken, "r-c", true},
			{storage.KindAccessToken, "a-a", true},
		} {
			equal(t, "active "+c.sig, activeOf(t, s, c.kind, c.sig), c.active)
		}
		n, err = s.DeactivateTokensByRequestID(ctx(t), storage.KindRefreshToken, "none")
		must(t, "DeactivateTokensByRequestID none", err)
		equal(t, "deactivated none", n, int64(0))
	}},
	{"DeactivateByGrant", func(t *testing.T, s storage.Store) {
		for _, tok := range []storage.Token{
			token(storage.KindAccessToken, "a1", "r1", "alice", "rp"),
			token(storage.KindRefreshToken, "f1", "r1", "alice", "rp"),
			token(storage.KindAccessToken, "a2", "r2", "alice", "rp"),
			token(storage.KindAuthorizeCode, "c1", "r3", "alice", "rp"),
			token(storage.KindAccessToken, "a3", "r4", "alice", "other-rp"),
			token(storage.KindAccessToken, "a4", "r5", "bob", "rp"),
		} {
			must(t, "CreateToken", s.CreateToken(ctx(t), tok))
		}
		n, err := s.DeactivateTokensByGrant(ctx(t), "alice", "rp")
		must(t, "DeactivateTokensByGrant", err)
		equal(t, "deactivated", n, int64(3))
		for _, c := range []struct {
			kind   storage.TokenKind
			sig    string
			active bool
		}{
			{storage.KindAccessToken, "a1", false},
			{storage.KindRefreshToken, "f1", false},
			{storage.KindAccessToken, "a2", false},
			{storage.KindAuthorizeCode, "c1", true},
			{storage.KindAccessToken, "a3", true},
			{storage.KindAccessToken, "a4", true},
		} {
			equal(t, "active "+c.sig, activeOf(t, s, c.kind, c.sig), c.active)
		}
		n, err = s.DeactivateTokensByGrant(ctx(t), "alice", "rp")
		must(t, "DeactivateTokensByGrant again", err)
		equal(t, "deactivated again", n, int64(0))
	}},
	{"DeleteExpired", func(t *testing.T, s storage.Store) {
		now := at(time.Hour)
		for sig, exp := range map[string]time.Time{
			"old":      now.Add(-time.Second),
			"just-old": now.Add(-time.Microsecond),
			"boundary": now,
			"fresh":    now.Add(time.Second),
		} {
			tok := token(storage.KindAccessToken, sig, "r", "sub", "rp")
			tok.ExpiresAt = exp
			must(t, "CreateToken", s.CreateToken(ctx(t), tok))
		}
		// Expiry applies to inactive records too.
		inactive := token(storage.KindRefreshToken, "inactive", "r", "sub", "rp")
		inactive.Active, inactive.ExpiresAt = false, now.Add(-time.Minute)
		must(t, "CreateToken", s.CreateToken(ctx(t), inactive))

		n, err := s.DeleteExpiredTokens(ctx(t), now)
		must(t, "DeleteExpiredTokens", err)
		equal(t, "deleted", n, int64(3))
		for _, sig := range []string{"old", "just-old"} {
			_, err := s.GetToken(ctx(t), storage.KindAccessToken, sig)
			wantErr(t, "GetToken "+sig, err, storage.ErrNotFound)
		}
		for _, sig := range []string{"boundary", "fresh"} {
			_, err := s.GetToken(ctx(t), storage.KindAccessToken, sig)
			must(t, "GetToken "+sig, err)
		}
	}},
}
