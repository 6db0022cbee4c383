package storagetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
)

func fullClient(id string) storage.Client {
	return storage.Client{
		ID:                      id,
		Name:                    "Client " + id + " ✓ 日本語",
		SecretHash:              "hmac-sha256$abc",
		Public:                  false,
		FirstParty:              true,
		RedirectURIs:            []string{"https://rp.example/cb", "https://rp.example/cb2?x=1&y=\"2\""},
		PostLogoutRedirectURIs:  []string{"https://rp.example/bye"},
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		ResponseTypes:           []string{"code"},
		Scopes:                  []string{"openid", "profile", "email", "offline_access"},
		TokenEndpointAuthMethod: "client_secret_basic",
		IDTokenSigningAlg:       "ES256",
		CreatedAt:               base,
	}
}

var clientTests = []subtest{
	{"RoundTrip", func(t *testing.T, s storage.Store) {
		want := fullClient("rp1")
		must(t, "CreateClient", s.CreateClient(ctx(t), want))
		got, err := s.GetClient(ctx(t), "rp1")
		must(t, "GetClient", err)
		equal(t, "GetClient", got, want)
	}},
	{"ZeroValues", func(t *testing.T, s storage.Store) {
		// A public client with nothing set: empty lists (nil or not)
		// come back nil, the zero time comes back zero.
		in := storage.Client{
			ID: "bare", Public: true, RedirectURIs: []string{}, Scopes: nil,
			GrantTypes: []string{}, TokenEndpointAuthMethod: "none",
		}
		must(t, "CreateClient", s.CreateClient(ctx(t), in))
		got, err := s.GetClient(ctx(t), "bare")
		must(t, "GetClient", err)
		want := storage.Client{ID: "bare", Public: true, TokenEndpointAuthMethod: "none"}
		equal(t, "GetClient", got, want)
		if !got.CreatedAt.IsZero() {
			t.Fatalf("CreatedAt = %v, want zero", got.CreatedAt)
		}
	}},
	{"TimeNormalised", func(t *testing.T, s storage.Store) {
		// A local, nanosecond time comes back as the same instant in UTC,
		// cut to microseconds.
		loc := time.FixedZone("JST", 9*3600)
		c := fullClient("rp1")
		c.CreatedAt = time.Date(2025, 3, 15, 0, 9, 26, 535897999, loc)
		must(t, "CreateClient", s.CreateClient(ctx(t), c))
		got, err := s.GetClient(ctx(t), "rp1")
		must(t, "GetClient", err)
		sameTime(t, "CreatedAt", got.CreatedAt, base)
	}},
	{"DuplicateID", func(t *testing.T, s storage.Store) {
		must(t, "CreateClient", s.CreateClient(ctx(t), fullClient("rp1")))
		other := fullClient("rp1")
		other.Name = "impostor"
		wantErr(t, "CreateClient again", s.CreateClient(ctx(t), other), storage.ErrConflict)
		got, err := s.GetClient(ctx(t), "rp1")
		must(t, "GetClient", err)
		equal(t, "client after conflict", got.Name, fullClient("rp1").Name)
	}},
	{"GetMissing", func(t *testing.T, s storage.Store) {
		_, err := s.GetClient(ctx(t), "nope")
		wantErr(t, "GetClient", err, storage.ErrNotFound)
	}},
	{"ListOrderedByID", func(t *testing.T, s storage.Store) {
		got, err := s.ListClients(ctx(t))
		must(t, "ListClients empty", err)
		equal(t, "ListClients empty", len(got), 0)
		// Byte order, whatever the database's collation: "B" < "a".
		for _, id := range []string{"b", "a", "B", "a-2", "c"} {
			must(t, "CreateClient "+id, s.CreateClient(ctx(t), fullClient(id)))
		}
		got, err = s.ListClients(ctx(t))
		must(t, "ListClients", err)
		var ids []string
		for _, c := range got {
			ids = append(ids, c.ID)
		}
		equal(t, "ListClients ids", ids, []string{"B", "a", "a-2", "b", "c"})
		equal(t, "ListClients[1]", got[1], fullClient("a"))
	}},
	{"Delete", func(t *testing.T, s storage.Store) {
		must(t, "CreateClient", s.CreateClient(ctx(t), fullClient("rp1")))
		must(t, "CreateClient", s.CreateClient(ctx(t), fullClient("rp2")))
		must(t, "DeleteClient", s.DeleteClient(ctx(t), "rp1"))
		_, err := s.GetClient(ctx(t), "rp1")
		wantErr(t, "GetClient deleted", err, storage.ErrNotFound)
		wantErr(t, "DeleteClient again", s.DeleteClient(ctx(t), "rp1"), storage.ErrNotFound)
		_, err = s.GetClient(ctx(t), "rp2")
		must(t, "GetClient other", err)
	}},
}

func fullUser(id, email string) storage.User {
	return storage.User{
		ID:            id,
		Email:         email,
		EmailVerified: true,
		DisplayName:   "Ada Lovelace 日本",
		PasswordHash:  "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
		Disabled:      false,
		CreatedAt:     base,
		UpdatedAt:     at(time.Hour),
	}
}

var userTests = []subtest{
	{"RoundTrip", func(t *testing.T, s storage.Store) {
		want := fullUser("u1", "ada@example.com")
		must(t, "CreateUser", s.CreateUser(ctx(t), want))
		got, err := s.GetUser(ctx(t), "u1")
		must(t, "GetUser", err)
		equal(t, "GetUser", got, want)
		got, err = s.GetUserByEmail(ctx(t), "ada@example.com")
		must(t, "GetUserByEmail", err)
		equal(t, "GetUserByEmail", got, want)
	}},
	{"ZeroValues", func(t *testing.T, s storage.Store) {
		want := storage.User{ID: "u0", Email: "zero@example.com", Disabled: true}
		must(t, "CreateUser", s.CreateUser(ctx(t), want))
		got, err := s.GetUser(ctx(t), "u0")
		must(t, "GetUser", err)
		equal(t, "GetUser", got, want)
	}},
	{"Conflicts", func(t *testing.T, s storage.Store) {
		must(t, "CreateUser", s.CreateUser(ctx(t), fullUser("u1", "ada@example.com")))
		wantErr(t, "same id", s.CreateUser(ctx(t), fullUser("u1", "other@example.com")), storage.ErrConflict)
		wantErr(t, "same email", s.CreateUser(ctx(t), fullUser("u2", "ada@example.com")), storage.ErrConflict)
		_, err := s.GetUser(ctx(t), "u2")
		wantErr(t, "GetUser u2", err, storage.ErrNotFound)
		// Emails are stored as given: normalising is the caller's job.
		must(t, "different case", s.CreateUser(ctx(t), fullUser("u3", "Ada@example.com")))
	}},
	{"GetMissing", func(t *testing.T, s storage.Store) {
		_, err := s.GetUser(ctx(t), "nope")
		wantErr(t, "GetUser", err, storage.ErrNotFound)
		_, err = s.GetUserByEmail(ctx(t), "nope@example.com")
		wantErr(t, "GetUserByEmail", err, storage.ErrNotFound)
	}},
	{"ListOrderedByEmail", func(t *testing.T, s storage.Store) {
		got, err := s.ListUsers(ctx(t))
		must(t, "ListUsers empty", err)
		equal(t, "ListUsers empty", len(got), 0)
		for i, email := range []string{"carol@x", "alice@x", "Bob@x", "bob@x"} {
			must(t, "CreateUser", s.CreateUser(ctx(t), fullUser(string(rune('a'+i)), email)))
		}
		got, err = s.ListUsers(ctx(t))
		must(t, "ListUsers", err)
		var emails []string
		for _, u := range got {
			emails = append(emails, u.Email)
		}
		equal(t, "ListUsers emails", emails, []string{"Bob@x", "alice@x", "bob@x", "carol@x"})
		equal(t, "ListUsers[1]", got[1], fullUser("b", "alice@x"))
	}},
	{"Delete", func(t *testing.T, s storage.Store) {
		must(t, "CreateUser", s.CreateUser(ctx(t), fullUser("u1", "ada@example.com")))
		must(t, "DeleteUser", s.DeleteUser(ctx(t), "u1"))
		_, err := s.GetUser(ctx(t), "u1")
		wantErr(t, "GetUser deleted", err, storage.ErrNotFound)
		wantErr(t, "DeleteUser again", s.DeleteUser(ctx(t), "u1"), storage.ErrNotFound)
		// The email is free again.
		must(t, "CreateUser same email", s.CreateUser(ctx(t), fullUser("u2", "ada@example.com")))
	}},
	{"DeleteCascades", func(t *testing.T, s storage.Store) {
		must(t, "CreateUser", s.CreateUser(ctx(t), fullUser("u1", "ada@example.com")))
		must(t, "CreateUser", s.CreateUser(ctx(t), fullUser("u2", "bob@example.com")))
		must(t, "CreateClient", s.CreateClient(ctx(t), fullClient("rp1")))
		for _, sess := range []storage.Session{fullSession("s1", "u1"), fullSession("s2", "u2")} {
			must(t, "CreateSession", s.CreateSession(ctx(t), sess))
		}
		for _, u := range []string{"u1", "u2"} {
			must(t, "SaveConsent", s.SaveConsent(ctx(t), storage.Consent{UserID: u, ClientID: "rp1", GrantedAt: base}))
		}
		must(t, "DeleteUser", s.DeleteUser(ctx(t), "u1"))
		_, err := s.GetSession(ctx(t), "s1", base)
		wantErr(t, "GetSession of deleted user", err, storage.ErrNotFound)
		_, err = s.GetConsent(ctx(t), "u1", "rp1")
		wantErr(t, "GetConsent of deleted user", err, storage.ErrNotFound)
		_, err = s.GetSession(ctx(t), "s2", base)
		must(t, "GetSession of other user", err)
		_, err = s.GetConsent(ctx(t), "u2", "rp1")
		must(t, "GetConsent of other user", err)
	}},
	{"DeleteCascadesToFactors", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		withUser(t, s, "u2")
		for _, u := range []string{"u1", "u2"} {
			must(t, "CreateTOTP", s.CreateTOTP(ctx(t), pendingTOTP("totp-"+u, u, base)))
			must(t, "ReplaceRecoveryCodes", s.ReplaceRecoveryCodes(ctx(t), u, []string{"h1", "h2"}, base))
			must(t, "CreateRememberedBrowser", s.CreateRememberedBrowser(ctx(t), fullBrowser("rb-"+u, u, base)))
		}
		must(t, "DeleteUser", s.DeleteUser(ctx(t), "u1"))
		_, err := s.GetRememberedBrowser(ctx(t), "rb-u1", base)
		wantErr(t, "GetRememberedBrowser of deleted user", err, storage.ErrNotFound)
		wantErr(t, "UseTOTPStep of deleted user", s.UseTOTPStep(ctx(t), "u1", "totp-u1", 1, base), storage.ErrNotFound)
		wantErr(t, "UseRecoveryCode of deleted user", s.UseRecoveryCode(ctx(t), "u1", "h1", base), storage.ErrNotFound)
		// A new user with the same id inherits nothing.
		withUser(t, s, "u1")
		equal(t, "TOTP after re-create", len(totpIDs(t, s, "u1")), 0)
		equal(t, "recovery codes after re-create", len(codes(t, s, "u1")), 0)
		equal(t, "browsers after re-create", len(browserIDs(t, s, "u1", base)), 0)
		// The ids are free again.
		must(t, "CreateTOTP same id", s.CreateTOTP(ctx(t), pendingTOTP("totp-u1", "u1", base)))
		must(t, "CreateRememberedBrowser same id", s.CreateRememberedBrowser(ctx(t), fullBrowser("rb-u1", "u1", base)))
		// The other user keeps everything.
		equal(t, "u2 TOTP", totpIDs(t, s, "u2"), []string{"totp-u2"})
		equal(t, "u2 recovery codes", len(codes(t, s, "u2")), 2)
		equal(t, "u2 browsers", browserIDs(t, s, "u2", base), []string{"rb-u2"})
	}},
	{"SetPasswordHash", func(t *testing.T, s storage.Store) {
		u := fullUser("u1", "ada@example.com")
		must(t, "CreateUser", s.CreateUser(ctx(t), u))
		must(t, "CreateUser", s.CreateUser(ctx(t), fullUser("u2", "bob@example.com")))
		later := at(48 * time.Hour)
		must(t, "SetPasswordHash", s.SetPasswordHash(ctx(t), "u1", "$argon2id$new", later))
		got, err := s.GetUser(ctx(t), "u1")
		must(t, "GetUser", err)
		u.PasswordHash, u.UpdatedAt = "$argon2id$new", later
		equal(t, "GetUser after SetPasswordHash", got, u)
		other, err := s.GetUser(ctx(t), "u2")
		must(t, "GetUser u2", err)
		equal(t, "other user untouched", other, fullUser("u2", "bob@example.com"))
		wantErr(t, "SetPasswordHash missing", s.SetPasswordHash(ctx(t), "nope", "x", later), storage.ErrNotFound)
	}},
}
