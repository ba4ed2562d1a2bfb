package api

import (
	"strconv"

	"github.com/flotilla-hpc/flotilla/federation/accounting"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// MaxAuditLimit bounds the events one audit query returns.
const MaxAuditLimit = 10000

// window reads start and end (RFC 3339 or Slurm's YYYY-MM-DD[THH:MM[:SS]],
// UTC) from the query.
func (c *call) window(startKey, endKey string) (accounting.Window, error) {
	q := c.r.URL.Query()
	var w accounting.Window
	var err error
	if w.Start, err = accounting.ParseTime(q.Get(startKey), nil); err != nil {
		return w, invalid("%s: %v", startKey, err)
	}
	if w.End, err = accounting.ParseTime(q.Get(endKey), nil); err != nil {
		return w, invalid("%s: %v", endKey, err)
	}
	return w, w.Validate()
}

// accountingReport is GET /v1/accounting: the records of jobs that ended
// in [start, end), or with group=... their sums, as JSON or (format=csv)
// CSV. System administrators see every tenant (tenant= and user= narrow
// it), tenant administrators their tenant, other users their own jobs.
func (s *Server) accountingReport(c *call) (any, error) {
	q := c.r.URL.Query()
	groups, err := accounting.ParseGroups(q.Get("group"))
	if err != nil {
		return nil, err
	}
	w, err := c.window("start", "end")
	if err != nil {
		return nil, err
	}
	format := q.Get("format")
	if format != "" && format != "json" && format != "csv" {
		return nil, invalid("format %q: want json or csv", format)
	}
	aq := state.AccountingQuery{Tenant: q.Get("tenant"), User: q.Get("user"), Start: w.Start, End: w.End}
	switch id := c.id; {
	case id.IsGlobalAdmin():
	case aq.Tenant != "" && aq.Tenant != id.Tenant:
		return nil, structs.Errorf(structs.ErrForbidden, "accounting of tenant %q", aq.Tenant)
	case id.AdminsTenant(id.Tenant):
		aq.Tenant = id.Tenant
	case aq.User != "" && aq.User != id.Username:
		return nil, structs.Errorf(structs.ErrForbidden, "accounting of user %q", aq.User)
	default:
		aq.Tenant, aq.User = id.Tenant, id.Username
	}
	txn, err := c.view()
	if err != nil {
		return nil, err
	}
	recs, err := txn.QueryAccounting(aq)
	if err != nil {
		return nil, err
	}
	accounting.Sort(recs)
	rep := &structs.AccountingReport{Start: w.Start, End: w.End, Group: groups}
	if q.Has("group") {
		rep.Summaries = accounting.Summarize(recs, groups)
		if format == "csv" {
			return &rawReply{contentType: "text/csv; charset=utf-8", body: accounting.SummariesCSV(rep.Summaries, groups)}, nil
		}
		if rep.Summaries == nil {
			rep.Summaries = []*structs.AccountingSummary{}
		}
		return rep, nil
	}
	if format == "csv" {
		return &rawReply{contentType: "text/csv; charset=utf-8", body: accounting.RecordsCSV(recs)}, nil
	}
	rep.Records = recs
	if rep.Records == nil {
		rep.Records = []*structs.AccountingRecord{}
	}
	for _, r := range rep.Records {
		u := r.Usage() // hours of records older hubs wrote
		r.NodeHours, r.CoreHours, r.GPUHours = u.NodeHours, u.CoreHours, u.GPUHours
	}
	return rep, nil
}

// auditTrail is GET /v1/audit: events in [since, until) by actor, object
// and action (see state.AuditQuery), oldest first, at most limit. System
// administrators read every event, tenant administrators their tenant's
// (events of its users); anyone else is refused.
func (s *Server) auditTrail(c *call) (any, error) {
	q := c.r.URL.Query()
	id := c.id
	if !id.AdminsTenant(id.Tenant) {
		return nil, structs.Errorf(structs.ErrForbidden, "the audit trail is for administrators")
	}
	w, err := c.window("since", "until")
	if err != nil {
		return nil, err
	}
	aq := state.AuditQuery{Tenant: q.Get("tenant"), Since: w.Start, Until: w.End, Actor: q.Get("actor"),
		Object: q.Get("object"), Action: q.Get("action"), Limit: DefaultPageLimit}
	if v := q.Get("limit"); v != "" {
		if aq.Limit, err = strconv.Atoi(v); err != nil || aq.Limit < 1 || aq.Limit > MaxAuditLimit {
			return nil, invalid("limit: want 1..%d", MaxAuditLimit)
		}
	}
	if !id.IsGlobalAdmin() {
		if aq.Tenant != "" && aq.Tenant != id.Tenant {
			return nil, structs.Errorf(structs.ErrForbidden, "audit of tenant %q", aq.Tenant)
		}
		aq.Tenant = id.Tenant
	}
	txn, err := c.view()
	if err != nil {
		return nil, err
	}
	evs, err := txn.QueryAudit(aq)
	if err != nil {
		return nil, err
	}
	if evs == nil {
		evs = []*structs.AuditEvent{}
	}
	return &structs.AuditList{Events: evs}, nil
}
