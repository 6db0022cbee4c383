package passkey

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// setup registers one passkey for one user and returns everything a login
// test needs.
func setup(t *testing.T, mod func(*Config)) (*Service, *clock, *softAuthenticator, *User, *userDB) {
	t.Helper()
	s, clk := newTestService(t, mod)
	a := newSoftAuthenticator(testOrigin)
	u := newUser("ada")
	register(t, s, a, u)
	return s, clk, a, u, &userDB{users: []*User{u}}
}

func TestDiscoverableLogin(t *testing.T) {
	s, _, a, u, db := setup(t, nil)
	other := newUser("bob")
	register(t, s, newSoftAuthenticator(testOrigin), other)
	db.users = append(db.users, other)

	options, session, err := s.BeginDiscoverableLogin()
	if err != nil {
		t.Fatal(err)
	}
	var o requestOptions
	if err := json.Unmarshal(options, &o); err != nil {
		t.Fatalf("options: %v\n%s", err, options)
	}
	if o.RPID != "localhost" || len(o.AllowCredentials) != 0 || o.UserVerification != "preferred" || o.Timeout != 300000 {
		t.Fatalf("options = %+v", o)
	}
	if c, err := b64.DecodeString(o.Challenge); err != nil || len(c) < 16 {
		t.Fatalf("challenge %q", o.Challenge)
	}
	resp, err := a.get(options)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.FinishLogin(session, resp, db.lookup)
	if err != nil {
		t.Fatalf("FinishLogin: %v", err)
	}
	if !bytes.Equal(res.UserHandle, u.ID) || !res.UserVerified || res.CloneWarning {
		t.Fatalf("result = %+v", res)
	}
	c := res.Credential
	if !bytes.Equal(c.ID, a.credID) || c.SignCount != 1 || !c.BackupEligible || !c.BackedUp || !c.UserVerified ||
		!bytes.Equal(c.PublicKey, u.Credentials[0].PublicKey) || c.AttestationType != "none" {
		t.Fatalf("credential = %+v", c)
	}
	if len(db.calls) != 1 || !bytes.Equal(db.calls[0][0], u.ID) || !bytes.Equal(db.calls[0][1], a.credID) {
		t.Fatalf("lookup calls = %x", db.calls)
	}

	// The next sign-in moves the counter on.
	u.store(res.Credential)
	options, session, _ = s.BeginDiscoverableLogin()
	resp, _ = a.get(options)
	res, err = s.FinishLogin(session, resp, db.lookup)
	if err != nil || res.Credential.SignCount != 2 {
		t.Fatalf("second login: %+v, %v", res, err)
	}
}

func TestUserBoundLogin(t *testing.T) {
	s, _, a, u, db := setup(t, nil)
	second := newSoftAuthenticator(testOrigin)
	second.be, second.bs = false, false
	register(t, s, second, u)

	options, session, err := s.BeginLogin(*u)
	if err != nil {
		t.Fatal(err)
	}
	var o requestOptions
	if err := json.Unmarshal(options, &o); err != nil {
		t.Fatal(err)
	}
	if len(o.AllowCredentials) != 2 || o.AllowCredentials[0].ID != b64.EncodeToString(a.credID) ||
		o.AllowCredentials[1].ID != b64.EncodeToString(second.credID) || o.AllowCredentials[0].Type != "public-key" ||
		len(o.AllowCredentials[0].Transports) != 2 {
		t.Fatalf("allowCredentials = %+v", o.AllowCredentials)
	}
	resp, err := second.get(options)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.FinishLogin(session, resp, db.lookup)
	if err != nil {
		t.Fatalf("FinishLogin: %v", err)
	}
	if !bytes.Equal(res.UserHandle, u.ID) || !bytes.Equal(res.Credential.ID, second.credID) ||
		res.Credential.BackupEligible || res.Credential.BackedUp {
		t.Fatalf("result = %+v", res)
	}
	if len(db.calls) != 1 || !bytes.Equal(db.calls[0][0], u.ID) {
		t.Fatalf("lookup calls = %x", db.calls)
	}

	// Without a userHandle in the response (allowed for a known user) the
	// session's user is used.
	options, session, _ = s.BeginLogin(*u)
	handle := a.userHandle
	a.userHandle = nil
	resp, _ = a.get(options)
	a.userHandle = handle
	if _, err := s.FinishLogin(session, resp, db.lookup); err != nil {
		t.Fatalf("login without userHandle: %v", err)
	}
}

func TestBeginLoginWithoutCredentials(t *testing.T) {
	s, _ := newTestService(t, nil)
	_, _, err := s.BeginLogin(*newUser("ada"))
	if !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("BeginLogin error = %v, want ErrNoCredentials", err)
	}
}

func TestLoginUnknownCredential(t *testing.T) {
	tests := []struct {
		name   string
		bound  bool // BeginLogin rather than BeginDiscoverableLogin
		lookup func(db *userDB, u *User, stranger *User) func(h, id []byte) (User, error)
		use    func(a, strangerKey *softAuthenticator) *softAuthenticator
		also   error // wrapped too
	}{
		{
			name:   "not in the store",
			lookup: func(db *userDB, _, _ *User) func(h, id []byte) (User, error) { db.users = nil; return db.lookup },
			also:   errNotFound,
		},
		{
			name: "deleted from the user",
			lookup: func(db *userDB, u, _ *User) func(h, id []byte) (User, error) {
				return func([]byte, []byte) (User, error) { v := *u; v.Credentials = nil; return v, nil }
			},
		},
		{
			name: "lookup answers with another user",
			lookup: func(_ *userDB, _, stranger *User) func(h, id []byte) (User, error) {
				return func([]byte, []byte) (User, error) { return *stranger, nil }
			},
		},
		{
			name:  "another user's passkey for a known user",
			bound: true,
			use: func(_, strangerKey *softAuthenticator) *softAuthenticator {
				strangerKey.ignoreAllow = true
				return strangerKey
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, a, u, db := setup(t, nil)
			stranger := newUser("mallory")
			strangerKey := newSoftAuthenticator(testOrigin)
			register(t, s, strangerKey, stranger)
			db.users = append(db.users, stranger)
			lookup := db.lookup
			if tt.lookup != nil {
				lookup = tt.lookup(db, u, stranger)
			}
			signer := a
			if tt.use != nil {
				signer = tt.use(a, strangerKey)
			}
			begin := s.BeginDiscoverableLogin
			if tt.bound {
				begin = func() ([]byte, []byte, error) { return s.BeginLogin(*u) }
			}
			options, session, err := begin()
			if err != nil {
				t.Fatal(err)
			}
			resp, err := signer.get(options)
			if err != nil {
				t.Fatal(err)
			}
			res, err := s.FinishLogin(session, resp, lookup)
			wantErr(t, err, ErrUnknownCredential)
			if tt.also != nil && !errors.Is(err, tt.also) {
				t.Fatalf("error %v does not wrap %v", err, tt.also)
			}
			if res.UserHandle != nil {
				t.Fatalf("refused login returned %+v", res)
			}
		})
	}
}

func TestLoginRefusals(t *testing.T) {
	tests := []struct {
		name    string
		uv      string
		tamper  func(a *softAuthenticator)
		resp    func(resp []byte) []byte
		session func(t *testing.T, s *Service, session []byte) []byte
		clock   time.Duration
		want    error
	}{
		{name: "wrong origin", tamper: func(a *softAuthenticator) { a.origin = "https://localhost:8080" }, want: ErrInvalidResponse},
		{name: "wrong RP ID hash", tamper: func(a *softAuthenticator) { a.rpID = "example.com" }, want: ErrInvalidResponse},
		{name: "wrong challenge", tamper: func(a *softAuthenticator) { a.challenge = b64.EncodeToString([]byte("0123456789abcdef0123")) }, want: ErrInvalidResponse},
		{name: "create instead of get", tamper: func(a *softAuthenticator) { a.ceremonyType = "webauthn.create" }, want: ErrInvalidResponse},
		{name: "user not present", tamper: func(a *softAuthenticator) { a.up = false }, want: ErrInvalidResponse},
		{name: "backup eligibility changed", tamper: func(a *softAuthenticator) { a.be, a.bs = false, false }, want: ErrInvalidResponse},
		{name: "another key signs", tamper: func(a *softAuthenticator) { a.key = newSoftAuthenticator(testOrigin).key }, want: ErrInvalidResponse},
		{name: "no user handle", tamper: func(a *softAuthenticator) { a.userHandle = nil }, want: ErrInvalidResponse},
		{name: "UV required, not done", uv: UVRequired, tamper: func(a *softAuthenticator) { a.uv = false }, want: ErrUserVerification},
		{
			name: "UV required, not done, bad signature", uv: UVRequired,
			tamper: func(a *softAuthenticator) { a.uv = false; a.key = newSoftAuthenticator(testOrigin).key },
			want:   ErrInvalidResponse,
		},
		{name: "expired", clock: DefaultTimeout + sessionGrace, want: ErrExpired},
		{name: "long expired", clock: 24 * time.Hour, want: ErrExpired},
		{name: "just in time", clock: DefaultTimeout + sessionGrace - time.Nanosecond},
		{name: "UV preferred, not done", tamper: func(a *softAuthenticator) { a.uv = false }},
		{name: "not JSON", resp: func([]byte) []byte { return []byte("not json") }, want: ErrInvalidResponse},
		{name: "empty", resp: func([]byte) []byte { return nil }, want: ErrInvalidResponse},
		{name: "trailing data", resp: func(r []byte) []byte { return append(r, []byte(`{}`)...) }, want: ErrInvalidResponse},
		{
			name: "signature flipped",
			resp: func(r []byte) []byte {
				var m map[string]any
				_ = json.Unmarshal(r, &m)
				resp := m["response"].(map[string]any)
				sig, _ := b64.DecodeString(resp["signature"].(string))
				sig[len(sig)-1] ^= 1
				resp["signature"] = b64.EncodeToString(sig)
				out, _ := json.Marshal(m)
				return out
			},
			want: ErrInvalidResponse,
		},
		{
			name: "registration session",
			session: func(t *testing.T, s *Service, _ []byte) []byte {
				_, session, err := s.BeginRegistration(*newUser("eve"))
				if err != nil {
					t.Fatal(err)
				}
				return session
			},
			want: ErrInvalidSession,
		},
		{
			name:    "session not JSON",
			session: func(*testing.T, *Service, []byte) []byte { return []byte("\x00") },
			want:    ErrInvalidSession,
		},
		{
			name: "session without expiry",
			session: func(t *testing.T, _ *Service, session []byte) []byte {
				var m map[string]any
				_ = json.Unmarshal(session, &m)
				delete(m, "expires")
				out, _ := json.Marshal(m)
				return out
			},
			want: ErrInvalidSession,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clk, a, _, db := setup(t, func(c *Config) { c.UserVerification = tt.uv })
			if tt.tamper != nil {
				tt.tamper(a)
			}
			options, session, err := s.BeginDiscoverableLogin()
			if err != nil {
				t.Fatal(err)
			}
			resp, err := a.get(options)
			if err != nil {
				t.Fatal(err)
			}
			if tt.resp != nil {
				resp = tt.resp(resp)
			}
			if tt.session != nil {
				session = tt.session(t, s, session)
			}
			clk.Advance(tt.clock)
			res, err := s.FinishLogin(session, resp, db.lookup)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("FinishLogin: %v", err)
				}
				if res.UserVerified != a.uv {
					t.Fatalf("UserVerified = %v, authenticator uv %v", res.UserVerified, a.uv)
				}
				return
			}
			wantErr(t, err, tt.want)
			if res.UserHandle != nil {
				t.Fatalf("refused login returned %+v", res)
			}
		})
	}
}

// UserVerified on the stored credential only ever goes from false to true;
// Result.UserVerified is this assertion's flag.
func TestLoginUserVerifiedFlag(t *testing.T) {
	s, _, a, u, db := setup(t, nil)
	login := func() Result {
		t.Helper()
		options, session, _ := s.BeginDiscoverableLogin()
		resp, err := a.get(options)
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.FinishLogin(session, resp, db.lookup)
		if err != nil {
			t.Fatal(err)
		}
		u.store(res.Credential)
		return res
	}
	a.uv = false
	if res := login(); res.UserVerified || !res.Credential.UserVerified {
		t.Fatalf("UV=0 after UV=1 registration: result UV %v, credential UV %v; want false, true", res.UserVerified, res.Credential.UserVerified)
	}
	u.Credentials[0].UserVerified = false
	if res := login(); res.UserVerified || res.Credential.UserVerified {
		t.Fatalf("UV=0 throughout: %+v", res)
	}
	a.uv = true
	if res := login(); !res.UserVerified || !res.Credential.UserVerified {
		t.Fatalf("UV=1: %+v", res)
	}
}

func TestLoginBackupFlags(t *testing.T) {
	for _, f := range []struct{ be, bs bool }{{false, false}, {true, false}, {true, true}} {
		s, _ := newTestService(t, nil)
		a := newSoftAuthenticator(testOrigin)
		a.be, a.bs = f.be, f.bs
		u := newUser("ada")
		c := register(t, s, a, u)
		if c.BackupEligible != f.be || c.BackedUp != f.bs {
			t.Errorf("registered BE %v BS %v, want %v %v", c.BackupEligible, c.BackedUp, f.be, f.bs)
		}
		db := &userDB{users: []*User{u}}
		options, session, _ := s.BeginDiscoverableLogin()
		resp, _ := a.get(options)
		res, err := s.FinishLogin(session, resp, db.lookup)
		if err != nil {
			t.Fatal(err)
		}
		if res.Credential.BackupEligible != f.be || res.Credential.BackedUp != f.bs {
			t.Errorf("login BE %v BS %v, want %v %v", res.Credential.BackupEligible, res.Credential.BackedUp, f.be, f.bs)
		}
	}

	// A backup-eligible passkey that gets synced after registration reports
	// BS=1 at the next sign-in; one that stops being synced reports BS=0.
	s, _, a, u, db := setup(t, nil)
	for _, bs := range []bool{false, true, false} {
		a.bs = bs
		options, session, _ := s.BeginDiscoverableLogin()
		resp, _ := a.get(options)
		res, err := s.FinishLogin(session, resp, db.lookup)
		if err != nil {
			t.Fatal(err)
		}
		if res.Credential.BackedUp != bs {
			t.Fatalf("BS=%v reported as %v", bs, res.Credential.BackedUp)
		}
		u.store(res.Credential)
	}
}

func TestLoginSignCount(t *testing.T) {
	tests := []struct {
		name          string
		stored, next  uint32
		step          uint32
		wantClone     bool
		wantSignCount uint32
	}{
		{name: "increases", stored: 10, next: 10, step: 1, wantSignCount: 11},
		{name: "jumps ahead", stored: 10, next: 1000, step: 1, wantSignCount: 1001},
		{name: "goes backwards", stored: 10, next: 4, step: 1, wantClone: true, wantSignCount: 10},
		{name: "repeats", stored: 10, next: 9, step: 1, wantClone: true, wantSignCount: 10},
		{name: "drops to zero", stored: 10, next: 0, step: 0, wantClone: true, wantSignCount: 10},
		{name: "never counts", stored: 0, next: 0, step: 0, wantSignCount: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, a, u, db := setup(t, nil)
			u.Credentials[0].SignCount = tt.stored
			a.signCount, a.countStep = tt.next, tt.step
			options, session, _ := s.BeginDiscoverableLogin()
			resp, err := a.get(options)
			if err != nil {
				t.Fatal(err)
			}
			res, err := s.FinishLogin(session, resp, db.lookup)
			if tt.wantClone {
				wantErr(t, err, ErrCloned)
			} else if err != nil {
				t.Fatalf("FinishLogin: %v", err)
			}
			if res.CloneWarning != tt.wantClone || res.Credential.SignCount != tt.wantSignCount ||
				!bytes.Equal(res.UserHandle, u.ID) || !bytes.Equal(res.Credential.ID, a.credID) {
				t.Fatalf("result = %+v", res)
			}
		})
	}
}

// Sessions are single use by the caller's store; if one is replayed anyway,
// the replayed response carries a counter the store has already seen.
func TestLoginReplay(t *testing.T) {
	s, _, a, u, db := setup(t, nil)
	options, session, _ := s.BeginDiscoverableLogin()
	resp, err := a.get(options)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.FinishLogin(session, resp, db.lookup)
	if err != nil {
		t.Fatal(err)
	}
	u.store(res.Credential)
	res, err = s.FinishLogin(session, resp, db.lookup)
	wantErr(t, err, ErrCloned)
	if !res.CloneWarning || res.Credential.SignCount != 1 {
		t.Fatalf("replay result = %+v", res)
	}

	// A response to one session does not verify against another.
	_, other, _ := s.BeginDiscoverableLogin()
	_, err = s.FinishLogin(other, resp, db.lookup)
	wantErr(t, err, ErrInvalidResponse)
}

func TestFinishLoginNilLookup(t *testing.T) {
	s, _, a, _, _ := setup(t, nil)
	options, session, _ := s.BeginDiscoverableLogin()
	resp, _ := a.get(options)
	if _, err := s.FinishLogin(session, resp, nil); err == nil {
		t.Fatal("FinishLogin with a nil lookup succeeded")
	}
}
