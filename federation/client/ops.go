package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// AccountingQuery selects an accounting report (GET /v1/accounting).
type AccountingQuery struct {
	// Start and End bound the jobs' end times: [Start, End); zero is open.
	Start, End time.Time
	// Group lists group names (tenant, team, user, project, machine_type,
	// cluster, day, week, month); nil lists records, an empty non-nil
	// slice sums everything.
	Group  []string
	Tenant string
	User   string
}

func (q AccountingQuery) values(format string) url.Values {
	v := url.Values{}
	if !q.Start.IsZero() {
		v.Set("start", q.Start.UTC().Format(time.RFC3339Nano))
	}
	if !q.End.IsZero() {
		v.Set("end", q.End.UTC().Format(time.RFC3339Nano))
	}
	if q.Group != nil {
		v.Set("group", strings.Join(q.Group, ","))
	}
	if q.Tenant != "" {
		v.Set("tenant", q.Tenant)
	}
	if q.User != "" {
		v.Set("user", q.User)
	}
	if format != "" {
		v.Set("format", format)
	}
	return v
}

// Accounting returns an accounting report as JSON.
func (c *Client) Accounting(ctx context.Context, q AccountingQuery) (*structs.AccountingReport, error) {
	return call[structs.AccountingReport](ctx, c, http.MethodGet, "/v1/accounting", q.values(""), nil)
}

// AccountingCSV returns an accounting report as CSV.
func (c *Client) AccountingCSV(ctx context.Context, q AccountingQuery) ([]byte, error) {
	var out []byte
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/accounting", query: q.values("csv"), raw: &out})
	return out, err
}

// AuditQuery selects audit events (GET /v1/audit).
type AuditQuery struct {
	Since, Until time.Time
	Actor        string
	Object       string // name, "kind/name" or "kind/"
	Action       string // exact, or a prefix ending in "."
	Tenant       string
	Limit        int
}

// Audit returns the audit events the query selects, oldest first.
func (c *Client) Audit(ctx context.Context, q AuditQuery) ([]*structs.AuditEvent, error) {
	v := url.Values{}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if !q.Until.IsZero() {
		v.Set("until", q.Until.UTC().Format(time.RFC3339Nano))
	}
	for k, s := range map[string]string{"actor": q.Actor, "object": q.Object, "action": q.Action, "tenant": q.Tenant} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	out, err := call[structs.AuditList](ctx, c, http.MethodGet, "/v1/audit", v, nil)
	if err != nil {
		return nil, err
	}
	return out.Events, nil
}

// ListClaimRules returns the portal's claim rules in the order they apply.
func (c *Client) ListClaimRules(ctx context.Context) ([]*structs.ClaimRule, error) {
	return list[*structs.ClaimRule](ctx, c, "/v1/claimrules", nil)
}

// PutClaimRule creates or replaces a claim rule.
func (c *Client) PutClaimRule(ctx context.Context, r *structs.ClaimRule, opts ...WriteOption) (*structs.ClaimRule, error) {
	return call[structs.ClaimRule](ctx, c, http.MethodPut, "/v1/claimrules/"+esc(r.Name), writeQuery(opts), r)
}

// DeleteClaimRule deletes a claim rule.
func (c *Client) DeleteClaimRule(ctx context.Context, name string, opts ...WriteOption) error {
	return c.del(ctx, "/v1/claimrules/"+esc(name), opts...)
}
