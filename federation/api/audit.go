package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// auditSpec says how a route's calls are audited: the kind of object it
// acts on and the verb ("" for PUT: create or update, told apart by the
// stored object's indexes).
type auditSpec struct {
	kind, verb string
}

// audited lists the routes whose calls leave an audit event: every change
// of tenancy, catalog, infrastructure, policy and replicas, every job
// action (REST and JARVICE). Agents' own calls (status, registration) and
// replica-to-replica calls are not audited.
var audited = map[string]auditSpec{
	"PUT /v1/tenants/{tenant}":                  {"tenant", ""},
	"DELETE /v1/tenants/{tenant}":               {"tenant", "delete"},
	"PUT /v1/tenants/{tenant}/teams/{team}":     {"team", ""},
	"DELETE /v1/tenants/{tenant}/teams/{team}":  {"team", "delete"},
	"PUT /v1/users/{username}":                  {"user", ""},
	"DELETE /v1/users/{username}":               {"user", "delete"},
	"POST /v1/users/{username}/apikeys":         {"apikey", "create"},
	"DELETE /v1/users/{username}/apikeys/{id}":  {"apikey", "revoke"},
	"PUT /v1/machinetypes/{name}":               {"machinetype", ""},
	"DELETE /v1/machinetypes/{name}":            {"machinetype", "delete"},
	"PUT /v1/clusters/{name}":                   {"cluster", ""},
	"DELETE /v1/clusters/{name}":                {"cluster", "delete"},
	"POST /v1/clusters/{name}/agentkey":         {"cluster", "agentkey"},
	"POST /v1/clusters/{name}/bootstraptoken":   {"cluster", "bootstraptoken"},
	"PUT /v1/tenants/{tenant}/vaults/{name}":    {"vault", ""},
	"DELETE /v1/tenants/{tenant}/vaults/{name}": {"vault", "delete"},
	"PUT /v1/apps/{name}":                       {"app", ""},
	"DELETE /v1/apps/{name}":                    {"app", "delete"},
	"PUT /v1/apps/{name}/pull-secret":           {"app", "pull-secret.set"},
	"DELETE /v1/apps/{name}/pull-secret":        {"app", "pull-secret.remove"},
	"PUT /v1/limits/{name}":                     {"limit", ""},
	"DELETE /v1/limits/{name}":                  {"limit", "delete"},
	"PUT /v1/burstrules/{name}":                 {"burstrule", ""},
	"DELETE /v1/burstrules/{name}":              {"burstrule", "delete"},
	"PUT /v1/accessrules/{name}":                {"accessrule", ""},
	"DELETE /v1/accessrules/{name}":             {"accessrule", "delete"},
	"PUT /v1/claimrules/{name}":                 {"claimrule", ""},
	"DELETE /v1/claimrules/{name}":              {"claimrule", "delete"},
	"DELETE /v1/replicas/{id}":                  {"replica", "delete"},
	"POST /v1/jobs":                             {"job", "submit"},
	"POST /v1/jobs/{id}/cancel":                 {"job", "cancel"},
	"POST /v1/jobs/{id}/terminate":              {"job", "terminate"},
	"POST /v1/jobs/{id}/signal":                 {"job", "signal"},
	"POST /v1/webhooks/rotate-key":              {"webhooks", "rotate-key"},
	"POST /v1/jobs/{id}/shares":                 {"job", "share.create"},
	"DELETE /v1/jobs/{id}/shares/{name}":        {"job", "share.revoke"},
	"/jarvice/submit":                           {"job", "submit"},
	"/jarvice/batch":                            {"job", "submit"},
	"/jarvice/shutdown":                         {"job", "cancel"},
	"/jarvice/terminate":                        {"job", "terminate"},
	"/jarvice/signal":                           {"job", "signal"},
	"/jarvice/pull":                             {"app", "pull"},
}

// auditSpecOf returns the audit spec of a route pattern, if it has one.
// JARVICE routes are audited whatever the method.
func auditSpecOf(pattern string) (auditSpec, bool) {
	if sp, ok := audited[pattern]; ok {
		return sp, true
	}
	if _, path, ok := strings.Cut(pattern, " "); ok && strings.HasPrefix(path, "/jarvice/") {
		sp, ok := audited[path]
		return sp, ok
	}
	return auditSpec{}, false
}

// auditTimeout bounds writing one audit event.
const auditTimeout = 10 * time.Second

// audit records the outcome of an audited call: actor and tenant, action,
// object, the caller's address and the status answered. It is a write of
// its own after the call's (a follow-up raft apply; concurrent calls'
// events share raft entries through the batcher), made before the reply
// so a caller who saw the answer finds the event. A call nobody
// authenticated leaves none. Failing to write is logged, not answered:
// the call itself has happened.
func (s *Server) audit(c *call, sp auditSpec, v any, err error) {
	if c.id == nil {
		return
	}
	var id string
	if pa := c.pending; pa != nil {
		if err == nil && pa.recorded.Load() {
			return // stored with the call's job command
		}
		id = pa.Event.ID // an attempt that carried it may have been applied
	} else {
		id = structs.NewAuditID()
	}
	ev := structs.AuditEvent{ID: id, Time: s.now().UTC(), Actor: c.id.Subject(), Tenant: c.id.Tenant,
		ObjectKind: sp.kind, ObjectName: c.auditObject(v), Source: SourceAddress(c.r), Outcome: "ok", Status: http.StatusOK}
	verb := sp.verb
	if verb == "" {
		verb = "update"
		if err == nil && c.written != nil && c.written.CreateIndex == c.written.ModifyIndex {
			verb = "create"
		}
	}
	ev.Action = sp.kind + "." + verb
	ev.Detail = truncate(c.detail, structs.MaxAuditDetail)
	if err != nil {
		ev.Status, ev.Outcome = statusOf(err), "error"
		if ev.Status == http.StatusInternalServerError {
			ev.Detail = "internal error"
		} else {
			ev.Detail = truncate(err.Error(), structs.MaxAuditDetail)
		}
	}
	ev.ObjectName = truncate(ev.ObjectName, structs.MaxAuditDetail)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.r.Context()), auditTimeout)
	defer cancel()
	_, werr := s.writes.Write(ctx, &fsm.AuditAppend{Event: ev})
	if c.pending != nil && errors.Is(werr, structs.ErrConflict) {
		werr = nil // the job command stored it after all
	}
	if werr != nil {
		log := s.log
		if ev.ObjectKind == "job" {
			log = log.With(structs.LogJob, ev.ObjectName)
		}
		log.Warn("writing an audit event", "action", ev.Action, "actor", ev.Actor, "error", werr)
	}
}

// PendingAudit is the audit event of an audited job call (submit,
// cancel, terminate) in flight, handed through the request's context to
// the replica's write of the call's job command, which logs both in one
// raft entry (fsm.JobAudited) and marks the event recorded when it knows
// the entry applied (on the leader, or as the leader answered a forwarded
// write). Otherwise (the call failed or wrote no job command) the API
// writes the event on its own, under the same ID, so it is never stored
// twice.
type PendingAudit struct {
	// Event is the event of a successful call; the writer names the job.
	Event    structs.AuditEvent
	taken    atomic.Bool
	recorded atomic.Bool
}

type pendingAuditKey struct{}

// PendingAuditOf returns the pending audit event of the call ctx belongs
// to, nil if none.
func PendingAuditOf(ctx context.Context) *PendingAudit {
	if ri := requestOf(ctx); ri != nil && ri.pending != nil {
		return ri.pending
	}
	pa, _ := ctx.Value(pendingAuditKey{}).(*PendingAudit)
	return pa
}

// Take claims the event for one job command; only the first caller gets it.
func (p *PendingAudit) Take() bool { return p.taken.CompareAndSwap(false, true) }

// Recorded marks the event stored with the job command.
func (p *PendingAudit) Recorded() { p.recorded.Store(true) }

// folded lists the routes whose job command carries the call's audit
// event (see PendingAudit).
var folded = map[string]bool{
	"POST /v1/jobs":                true,
	"POST /v1/jobs/{id}/cancel":    true,
	"POST /v1/jobs/{id}/terminate": true,
}

// auditActions holds the action (kind.verb) of every audited route with
// a verb, made once: a folded call's event names it without building the
// string per call.
var auditActions = func() map[auditSpec]string {
	m := make(map[auditSpec]string, len(audited))
	for _, sp := range audited {
		if sp.verb != "" {
			m[sp] = sp.kind + "." + sp.verb
		}
	}
	return m
}()

// pendAudit gives an audited call of a folded route its pending event.
func (s *Server) pendAudit(c *call, sp auditSpec) {
	if c.id == nil {
		return
	}
	c.pending = s.pendingAudit(c, sp)
	if ri := requestOf(c.r.Context()); ri != nil {
		ri.pending = c.pending // the request's context carries it already
		return
	}
	c.r = c.r.WithContext(context.WithValue(c.r.Context(), pendingAuditKey{}, c.pending))
}

// pendingAudit is the pending event of an audited job call of c (nil
// when nobody authenticated it): pendAudit's, and each item's of a batch.
func (s *Server) pendingAudit(c *call, sp auditSpec) *PendingAudit {
	if c.id == nil {
		return nil
	}
	action, ok := auditActions[sp]
	if !ok {
		action = sp.kind + "." + sp.verb
	}
	return &PendingAudit{Event: structs.AuditEvent{ID: structs.NewAuditID(), Time: s.now().UTC(),
		Actor: c.id.Subject(), Tenant: c.id.Tenant, Action: action, ObjectKind: sp.kind,
		Source: SourceAddress(c.r), Outcome: "ok", Status: http.StatusOK}}
}

// auditObject names the object of a call: the job it made or named, the
// owner and id of a key it made (user/key id, cluster/key id), else the
// route's path values joined by "/" (tenant/team).
func (c *call) auditObject(v any) string {
	if c.object != "" {
		return c.object
	}
	switch o := v.(type) {
	case *structs.Job:
		if o != nil {
			return o.ID
		}
	case *structs.APIKeyCreated:
		if o != nil { // a user's key, or a cluster's agent key or bootstrap token
			owner := c.r.PathValue("username")
			if owner == "" {
				owner = c.r.PathValue("name")
			}
			return owner + "/" + o.ID
		}
	}
	var parts []string
	for _, k := range []string{"tenant", "team", "username", "name", "id"} {
		if p := c.r.PathValue(k); p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "/")
}

// SourceAddress is the caller's address as audit records it: the host of
// the connection's remote address (the hub has no trusted-proxy setting,
// so forwarded-for headers, which any client can forge, are ignored).
func SourceAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
