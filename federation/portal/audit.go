package portal

import (
	"context"
	"net/http"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// srcKey carries the browser's address to the in-process API transport,
// so the audit events of the calls a page makes name it.
type srcKey struct{}

func withSource(ctx context.Context, r *http.Request) context.Context {
	return context.WithValue(ctx, srcKey{}, r.RemoteAddr)
}

// auditSession records a sign-in or sign-out (action "session.login",
// "session.logout") of username in the audit trail, as the API records its
// calls. code is the HTTP status of the outcome; detail a short reason
// when it failed. A failure to write is logged: the sign-in stands.
func (p *Portal) auditSession(r *http.Request, username, tenant, action string, code int, detail string) {
	ev := structs.AuditEvent{ID: structs.NewAuditID(), Time: p.hub.Now().UTC(), Actor: username, Tenant: tenant,
		Action: action, ObjectKind: "session", ObjectName: username, Source: addrOf(r), Status: code, Outcome: "ok"}
	if code != http.StatusOK {
		ev.Outcome, ev.Detail = "error", detail
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
	defer cancel()
	if _, err := p.hub.Write(ctx, &fsm.AuditAppend{Event: ev}); err != nil {
		p.log.Warn("writing an audit event", "action", action, "actor", username, "error", err)
	}
}

// tenantOf is the tenant of a stored user, "" when unknown.
func (p *Portal) tenantOf(username string) string {
	if u, err := p.hub.Store().Read().User(username); err == nil {
		return u.Tenant
	}
	return ""
}
