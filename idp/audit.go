package idp

import (
	"net/http"

	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/idp/web"
)

// audit appends a security event. The audit log must not take a sign-in
// down with it: a failed write is logged loudly and the request goes on.
func (p *Provider) audit(r *http.Request, typ, userID, clientID string, details map[string]string) {
	ctx := r.Context()
	e := storage.AuditEvent{
		Time: p.now().UTC(), Type: typ, UserID: userID, ClientID: clientID,
		IP: web.ClientIP(r, p.proxies), RequestID: web.RequestIDFrom(ctx), Details: details,
	}
	if err := p.store.AppendAudit(ctx, e); err != nil {
		p.log.ErrorContext(ctx, "audit write failed", "type", typ, "err", err)
	}
}
