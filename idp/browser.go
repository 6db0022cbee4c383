package idp

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/sessions"

	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/mfa"
)

// browserSessions keeps the browser session in the store and only a random
// session id in the cookie (sealed by gorilla/sessions), so any node can
// serve it and logout ends it everywhere. The store holds a hash of the id:
// a copy of the database cannot be replayed as cookies.
type browserSessions struct {
	store   storage.Store
	cookies *sessions.CookieStore
	name    string
	life    Lifetimes
	now     func() time.Time
}

const sessionIDKey = "sid"

func newBrowserSessions(st storage.Store, hashKey, blockKey []byte, secure bool, life Lifetimes, now func() time.Time, basePath string) *browserSessions {
	cs := sessions.NewCookieStore(hashKey, blockKey)
	path := basePath + "/"
	cs.Options = &sessions.Options{
		Path:     path,
		MaxAge:   int(life.Session / time.Second),
		Secure:   secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
	name := "latchkey_session"
	switch {
	case secure && path == "/":
		name = "__Host-latchkey_session"
	case secure:
		name = "__Secure-latchkey_session"
	}
	return &browserSessions{store: st, cookies: cs, name: name, life: life, now: now}
}

func hashSessionID(raw string) string {
	sum := sha256.Sum256([]byte("latchkey-session:" + raw))
	return hex.EncodeToString(sum[:])
}

// current returns the live session of the request, or nil. A cookie that
// fails to decode, names no session, or belongs to an expired or idle
// session is treated as no session.
func (b *browserSessions) current(r *http.Request) (*storage.Session, error) {
	cs, err := b.cookies.Get(r, b.name)
	if err != nil {
		return nil, nil //nolint:nilerr // a tampered or stale cookie is simply no session
	}
	raw, _ := cs.Values[sessionIDKey].(string)
	if raw == "" {
		return nil, nil
	}
	now := b.now()
	s, err := b.store.GetSession(r.Context(), hashSessionID(raw), now)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load browser session: %w", err)
	}
	if b.life.SessionIdle > 0 && now.Sub(s.LastSeenAt) > b.life.SessionIdle {
		if err := b.store.DeleteSession(r.Context(), s.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return nil, fmt.Errorf("end idle session: %w", err)
		}
		return nil, nil
	}
	// Touch at most once a minute: idle tracking does not need a write
	// per request.
	if now.Sub(s.LastSeenAt) > time.Minute {
		s.LastSeenAt = now
		if err := b.store.UpdateSession(r.Context(), s); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return nil, fmt.Errorf("touch session: %w", err)
		}
	}
	return &s, nil
}

// start creates a new session after a successful first factor. The id is
// always new (renewed at sign-in, against fixation) and the previous session
// of this browser, if any, is ended.
func (b *browserSessions) start(w http.ResponseWriter, r *http.Request, previous *storage.Session, userID string, proofs []mfa.Proof, pol mfa.Policy) (storage.Session, error) {
	now := b.now().UTC()
	s := storage.Session{UserID: userID, AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(b.life.Session)}
	s.Factors, s.AMR, s.ACR = encodeProofs(proofs, pol)
	return b.issue(w, r, s, previous)
}

// elevate replaces a session by one holding more proofs, under a new id:
// OWASP's rule to renew the id whenever the privilege level changes. The
// session keeps its sign-in time and absolute expiry.
func (b *browserSessions) elevate(w http.ResponseWriter, r *http.Request, old *storage.Session, proofs []mfa.Proof, pol mfa.Policy) (storage.Session, error) {
	s := *old
	s.LastSeenAt = b.now().UTC()
	s.Factors, s.AMR, s.ACR = encodeProofs(proofs, pol)
	return b.issue(w, r, s, old)
}

// issue stores s under a fresh random id, ends previous and sets the cookie.
func (b *browserSessions) issue(w http.ResponseWriter, r *http.Request, s storage.Session, previous *storage.Session) (storage.Session, error) {
	rawBytes := make([]byte, 32)
	if _, err := rand.Read(rawBytes); err != nil {
		return storage.Session{}, fmt.Errorf("start session: %w", err)
	}
	raw := base64.RawURLEncoding.EncodeToString(rawBytes)
	s.ID = hashSessionID(raw)
	if err := b.store.CreateSession(r.Context(), s); err != nil {
		return storage.Session{}, fmt.Errorf("start session: %w", err)
	}
	if previous != nil {
		if err := b.store.DeleteSession(r.Context(), previous.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return storage.Session{}, fmt.Errorf("end previous session: %w", err)
		}
	}
	cs, _ := b.cookies.New(r, b.name)
	cs.Values = map[interface{}]interface{}{sessionIDKey: raw}
	if err := cs.Save(r, w); err != nil {
		return storage.Session{}, fmt.Errorf("set session cookie: %w", err)
	}
	return s, nil
}

// end deletes the session (if any) and expires the cookie.
func (b *browserSessions) end(w http.ResponseWriter, r *http.Request, s *storage.Session) error {
	if s != nil {
		if err := b.store.DeleteSession(r.Context(), s.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("end session: %w", err)
		}
	}
	cs, _ := b.cookies.New(r, b.name)
	cs.Options.MaxAge = -1
	if err := cs.Save(r, w); err != nil {
		return fmt.Errorf("clear session cookie: %w", err)
	}
	return nil
}
