package passkey

import (
	"bytes"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"
)

const testOrigin = "http://localhost:8080"

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newTestService builds a Service for RP ID localhost with a settable clock;
// mod, if given, adjusts the config first.
func newTestService(t testing.TB, mod func(*Config)) (*Service, *clock) {
	t.Helper()
	clk := newClock()
	cfg := Config{
		RPID:    "localhost",
		RPName:  "Latchkey",
		Origins: []string{testOrigin},
		Now:     clk.Now,
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s, clk
}

var errNotFound = errors.New("test store: not found")

// userDB is the caller's store as FinishLogin's lookup sees it.
type userDB struct {
	users []*User
	// calls records the lookup arguments.
	calls [][2][]byte
}

func newUser(name string) *User {
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	return &User{ID: id, Name: name + "@example.com", DisplayName: name}
}

func (db *userDB) lookup(userHandle, credentialID []byte) (User, error) {
	db.calls = append(db.calls, [2][]byte{userHandle, credentialID})
	for _, u := range db.users {
		if bytes.Equal(u.ID, userHandle) {
			return *u, nil
		}
	}
	return User{}, errNotFound
}

// register runs a full registration of a's credential for u and stores it.
func register(t testing.TB, s *Service, a *softAuthenticator, u *User) Credential {
	t.Helper()
	options, session, err := s.BeginRegistration(*u)
	if err != nil {
		t.Fatalf("BeginRegistration: %v", err)
	}
	resp, err := a.create(options)
	if err != nil {
		t.Fatalf("authenticator create: %v", err)
	}
	c, err := s.FinishRegistration(*u, session, resp)
	if err != nil {
		t.Fatalf("FinishRegistration: %v", err)
	}
	u.Credentials = append(u.Credentials, c)
	return c
}

// store applies a login result to the user's stored credential, as the
// caller's UsePasskey does.
func (u *User) store(c Credential) {
	for i := range u.Credentials {
		if bytes.Equal(u.Credentials[i].ID, c.ID) {
			u.Credentials[i] = c
		}
	}
}

// sentinels are the errors a refused response or session must wrap.
var sentinels = []error{
	ErrInvalidResponse, ErrUnknownCredential, ErrUserVerification, ErrExpired,
	ErrCloned, ErrAlreadyRegistered, ErrInvalidSession,
}

// classified reports how many sentinels err wraps.
func classified(err error) int {
	n := 0
	for _, s := range sentinels {
		if errors.Is(err, s) {
			n++
		}
	}
	return n
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	t.Logf("error: %v", err)
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
	if n := classified(err); n != 1 {
		t.Fatalf("error %v wraps %d sentinels, want exactly 1", err, n)
	}
}
