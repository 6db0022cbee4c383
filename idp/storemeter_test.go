package idp_test

import (
	"context"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
)

// meteredStore counts the calls into a store and the time they take, so a
// benchmark can report how much of an operation is the store.
type meteredStore struct {
	storage.Store
	calls atomic.Int64
	nanos atomic.Int64

	mu       sync.Mutex
	byMethod map[string]int64
}

var _ storage.Store = (*meteredStore)(nil)

func (m *meteredStore) track(method string, start time.Time) {
	m.calls.Add(1)
	m.nanos.Add(int64(time.Since(start)))
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byMethod == nil {
		m.byMethod = map[string]int64{}
	}
	m.byMethod[method]++
}

// methods returns the calls per method so far.
func (m *meteredStore) methods() map[string]int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.byMethod)
}

func (m *meteredStore) Ping(ctx context.Context) error {
	defer m.track("Ping", time.Now())
	return m.Store.Ping(ctx)
}

func (m *meteredStore) CreateClient(ctx context.Context, c storage.Client) error {
	defer m.track("CreateClient", time.Now())
	return m.Store.CreateClient(ctx, c)
}

func (m *meteredStore) GetClient(ctx context.Context, id string) (storage.Client, error) {
	defer m.track("GetClient", time.Now())
	return m.Store.GetClient(ctx, id)
}

func (m *meteredStore) ListClients(ctx context.Context) ([]storage.Client, error) {
	defer m.track("ListClients", time.Now())
	return m.Store.ListClients(ctx)
}

func (m *meteredStore) DeleteClient(ctx context.Context, id string) error {
	defer m.track("DeleteClient", time.Now())
	return m.Store.DeleteClient(ctx, id)
}

func (m *meteredStore) CreateUser(ctx context.Context, u storage.User) error {
	defer m.track("CreateUser", time.Now())
	return m.Store.CreateUser(ctx, u)
}

func (m *meteredStore) GetUser(ctx context.Context, id string) (storage.User, error) {
	defer m.track("GetUser", time.Now())
	return m.Store.GetUser(ctx, id)
}

func (m *meteredStore) GetUserByEmail(ctx context.Context, email string) (storage.User, error) {
	defer m.track("GetUserByEmail", time.Now())
	return m.Store.GetUserByEmail(ctx, email)
}

func (m *meteredStore) ListUsers(ctx context.Context) ([]storage.User, error) {
	defer m.track("ListUsers", time.Now())
	return m.Store.ListUsers(ctx)
}

func (m *meteredStore) DeleteUser(ctx context.Context, id string) error {
	defer m.track("DeleteUser", time.Now())
	return m.Store.DeleteUser(ctx, id)
}

func (m *meteredStore) SetPasswordHash(ctx context.Context, userID, hash string, now time.Time) error {
	defer m.track("SetPasswordHash", time.Now())
	return m.Store.SetPasswordHash(ctx, userID, hash, now)
}

func (m *meteredStore) CreateSigningKey(ctx context.Context, k storage.SigningKey) error {
	defer m.track("CreateSigningKey", time.Now())
	return m.Store.CreateSigningKey(ctx, k)
}

func (m *meteredStore) RotateSigningKey(ctx context.Context, k storage.SigningKey, removeOldAfter time.Time) error {
	defer m.track("RotateSigningKey", time.Now())
	return m.Store.RotateSigningKey(ctx, k, removeOldAfter)
}

func (m *meteredStore) ListSigningKeys(ctx context.Context) ([]storage.SigningKey, error) {
	defer m.track("ListSigningKeys", time.Now())
	return m.Store.ListSigningKeys(ctx)
}

func (m *meteredStore) DeleteRemovedSigningKeys(ctx context.Context, now time.Time) (int64, error) {
	defer m.track("DeleteRemovedSigningKeys", time.Now())
	return m.Store.DeleteRemovedSigningKeys(ctx, now)
}

func (m *meteredStore) CreateToken(ctx context.Context, t storage.Token) error {
	defer m.track("CreateToken", time.Now())
	return m.Store.CreateToken(ctx, t)
}

func (m *meteredStore) GetToken(ctx context.Context, kind storage.TokenKind, signature string) (storage.Token, error) {
	defer m.track("GetToken", time.Now())
	return m.Store.GetToken(ctx, kind, signature)
}

func (m *meteredStore) DeleteToken(ctx context.Context, kind storage.TokenKind, signature string) error {
	defer m.track("DeleteToken", time.Now())
	return m.Store.DeleteToken(ctx, kind, signature)
}

func (m *meteredStore) DeactivateToken(ctx context.Context, kind storage.TokenKind, signature string) error {
	defer m.track("DeactivateToken", time.Now())
	return m.Store.DeactivateToken(ctx, kind, signature)
}

func (m *meteredStore) DeactivateTokensByRequestID(ctx context.Context, kind storage.TokenKind, requestID string) (int64, error) {
	defer m.track("DeactivateTokensByRequestID", time.Now())
	return m.Store.DeactivateTokensByRequestID(ctx, kind, requestID)
}

func (m *meteredStore) DeactivateTokensByGrant(ctx context.Context, subject, clientID string) (int64, error) {
	defer m.track("DeactivateTokensByGrant", time.Now())
	return m.Store.DeactivateTokensByGrant(ctx, subject, clientID)
}

func (m *meteredStore) DeleteExpiredTokens(ctx context.Context, now time.Time) (int64, error) {
	defer m.track("DeleteExpiredTokens", time.Now())
	return m.Store.DeleteExpiredTokens(ctx, now)
}

func (m *meteredStore) CreateSession(ctx context.Context, s storage.Session) error {
	defer m.track("CreateSession", time.Now())
	return m.Store.CreateSession(ctx, s)
}

func (m *meteredStore) GetSession(ctx context.Context, id string, now time.Time) (storage.Session, error) {
	defer m.track("GetSession", time.Now())
	return m.Store.GetSession(ctx, id, now)
}

func (m *meteredStore) UpdateSession(ctx context.Context, s storage.Session) error {
	defer m.track("UpdateSession", time.Now())
	return m.Store.UpdateSession(ctx, s)
}

func (m *meteredStore) DeleteSession(ctx context.Context, id string) error {
	defer m.track("DeleteSession", time.Now())
	return m.Store.DeleteSession(ctx, id)
}

func (m *meteredStore) DeleteUserSessions(ctx context.Context, userID string) (int64, error) {
	defer m.track("DeleteUserSessions", time.Now())
	return m.Store.DeleteUserSessions(ctx, userID)
}

func (m *meteredStore) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	defer m.track("DeleteExpiredSessions", time.Now())
	return m.Store.DeleteExpiredSessions(ctx, now)
}

func (m *meteredStore) CreateLoginTx(ctx context.Context, tx storage.LoginTx) error {
	defer m.track("CreateLoginTx", time.Now())
	return m.Store.CreateLoginTx(ctx, tx)
}

func (m *meteredStore) GetLoginTx(ctx context.Context, id string, now time.Time) (storage.LoginTx, error) {
	defer m.track("GetLoginTx", time.Now())
	return m.Store.GetLoginTx(ctx, id, now)
}

func (m *meteredStore) UpdateLoginTx(ctx context.Context, tx storage.LoginTx) error {
	defer m.track("UpdateLoginTx", time.Now())
	return m.Store.UpdateLoginTx(ctx, tx)
}

func (m *meteredStore) CompleteLoginTx(ctx context.Context, id string, now time.Time) error {
	defer m.track("CompleteLoginTx", time.Now())
	return m.Store.CompleteLoginTx(ctx, id, now)
}

func (m *meteredStore) DeleteExpiredLoginTxs(ctx context.Context, now time.Time) (int64, error) {
	defer m.track("DeleteExpiredLoginTxs", time.Now())
	return m.Store.DeleteExpiredLoginTxs(ctx, now)
}

func (m *meteredStore) GetConsent(ctx context.Context, userID, clientID string) (storage.Consent, error) {
	defer m.track("GetConsent", time.Now())
	return m.Store.GetConsent(ctx, userID, clientID)
}

func (m *meteredStore) SaveConsent(ctx context.Context, c storage.Consent) error {
	defer m.track("SaveConsent", time.Now())
	return m.Store.SaveConsent(ctx, c)
}

func (m *meteredStore) ListConsents(ctx context.Context, userID string) ([]storage.Consent, error) {
	defer m.track("ListConsents", time.Now())
	return m.Store.ListConsents(ctx, userID)
}

func (m *meteredStore) DeleteConsent(ctx context.Context, userID, clientID string) error {
	defer m.track("DeleteConsent", time.Now())
	return m.Store.DeleteConsent(ctx, userID, clientID)
}

func (m *meteredStore) RecordFailure(ctx context.Context, key string, now time.Time, resetAfter time.Duration) (storage.Throttle, error) {
	defer m.track("RecordFailure", time.Now())
	return m.Store.RecordFailure(ctx, key, now, resetAfter)
}

func (m *meteredStore) GetThrottle(ctx context.Context, key string) (storage.Throttle, error) {
	defer m.track("GetThrottle", time.Now())
	return m.Store.GetThrottle(ctx, key)
}

func (m *meteredStore) ResetThrottle(ctx context.Context, key string) error {
	defer m.track("ResetThrottle", time.Now())
	return m.Store.ResetThrottle(ctx, key)
}

func (m *meteredStore) AppendAudit(ctx context.Context, e storage.AuditEvent) error {
	defer m.track("AppendAudit", time.Now())
	return m.Store.AppendAudit(ctx, e)
}

func (m *meteredStore) ListAudit(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEvent, error) {
	defer m.track("ListAudit", time.Now())
	return m.Store.ListAudit(ctx, f)
}
