package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// jarviceAuditCategories are the reference's audit categories; "ip"
// (address assignments) has no event in Flotilla.
var jarviceAuditCategories = []string{"apps", "dockerpull", "ip", "job", "limit", "settings", "team", "user", "vault"}

// jarviceAuditCategory is the reference's category of an audit event:
// app changes are apps and pulls dockerpull; tenants go with teams, API
// keys and portal sessions with users; the hub's configuration (machine
// types, clusters, rules, replicas, webhooks) is settings.
func jarviceAuditCategory(e *structs.AuditEvent) string {
	switch e.ObjectKind {
	case "app":
		if e.Action == "app.pull" {
			return "dockerpull"
		}
		return "apps"
	case "job", "limit", "team", "user", "vault":
		return e.ObjectKind
	case "tenant":
		return "team"
	case "apikey", "session":
		return "user"
	}
	return "settings"
}

// auditWindows are the spans /jarvice/audit reads back from now, one
// after the other until one holds the lines asked for: a query of the
// newest events reads (and copies) those of its span only.
var auditWindows = []time.Duration{time.Minute, time.Hour, 24 * time.Hour, 30 * 24 * time.Hour, 0}

// jarviceAudit is /jarvice/audit (system administrators): the audit
// trail as text, one event a line, oldest first: the last lines events
// (default 100, at most MaxAuditLimit; 0 is that most) of those that
// match quser (the actor; "root" also the hub's own actors, the agents'
// "cluster:NAME"), category and resource (the object: a name,
// "kind/name" or "kind/", as /v1/audit's object). Fields are
// tab-separated: time (RFC 3339, UTC), actor, category, action, object,
// outcome, HTTP status, source address, detail; an empty field is "-".
func (s *Server) jarviceAudit(c *call) (any, error) {
	a, err := s.jarviceLogin(c)
	if err != nil {
		return nil, err
	}
	if err := c.id.CheckGlobalAdmin("the audit log"); err != nil {
		return nil, err
	}
	lines, err := a.intArg("lines", 100)
	if err != nil || lines > MaxAuditLimit {
		return nil, invalid("lines: want 1..%d (0: %d)", MaxAuditLimit, MaxAuditLimit)
	}
	if lines == 0 {
		lines = MaxAuditLimit
	}
	cat := a.Get("category")
	if cat != "" && !slices.Contains(jarviceAuditCategories, cat) {
		return nil, invalid("category %q: want one of %s", cat, strings.Join(jarviceAuditCategories, ", "))
	}
	user := a.Get("quser")
	q := state.AuditQuery{Object: a.Get("resource")}
	if user != "root" {
		q.Actor = user
	}
	txn, err := c.view()
	if err != nil {
		return nil, err
	}
	var out []*structs.AuditEvent
	now := s.now()
	for _, w := range auditWindows {
		q.Since = time.Time{}
		if w > 0 {
			q.Since = now.Add(-w)
		}
		evs, err := txn.QueryAudit(q)
		if err != nil {
			return nil, err
		}
		out = out[:0]
		for _, e := range evs {
			if (user == "root" && e.Actor != "root" && !strings.HasPrefix(e.Actor, "cluster:")) ||
				(cat != "" && jarviceAuditCategory(e) != cat) {
				continue
			}
			out = append(out, e)
		}
		if len(out) >= lines {
			break
		}
	}
	if len(out) > lines {
		out = out[len(out)-lines:]
	}
	var b strings.Builder
	for _, e := range out {
		status := ""
		if e.Status != 0 {
			status = strconv.Itoa(e.Status)
		}
		for i, f := range []string{e.Time.UTC().Format(time.RFC3339), e.Actor, jarviceAuditCategory(e), e.Action,
			e.ObjectName, e.Outcome, status, e.Source, e.Detail} {
			if i > 0 {
				b.WriteByte('\t')
			}
			if f = strings.Join(strings.Fields(f), " "); f == "" {
				f = "-"
			}
			b.WriteString(f)
		}
		b.WriteByte('\n')
	}
	return &rawReply{contentType: jarviceText, body: []byte(b.String())}, nil
}

// jarviceLicense is /jarvice/license (system administrators): JARVICE
// answers its license; Flotilla has none to show, so the answer is 404
// saying so.
func (s *Server) jarviceLicense(c *call) (any, error) {
	if _, err := s.jarviceLogin(c); err != nil {
		return nil, err
	}
	if err := c.id.CheckGlobalAdmin("the license"); err != nil {
		return nil, err
	}
	return nil, structs.Errorf(structs.ErrNotFound, "no license: Flotilla runs without a license key")
}

// jarviceScreenshot is /jarvice/screenshot: the screen of a running
// graphical job as PNG in the reference. The hub captures no screens, so
// a running interactive job's answer is the reference's 501 "no image"
// (in the error shape, saying what to use instead); width, height and
// emphatic are checked as the reference takes them. A job not running is
// 404 "Running job is not found", a batch job 400.
func (s *Server) jarviceScreenshot(c *call) (any, error) {
	a, j, err := s.jarviceNamedJob(c)
	if err != nil {
		return nil, err
	}
	for _, k := range []string{"width", "height"} {
		if _, err := a.intArg(k, 0); err != nil {
			return nil, err
		}
	}
	if _, err := a.flag("emphatic"); err != nil {
		return nil, err
	}
	if j.State != structs.JobRunning {
		return nil, errRunningJobNotFound
	}
	if !s.interactive(j) {
		return nil, invalid("job %q does not run an interactive command: it has no screen", j.Name)
	}
	body, err := json.MarshalIndent(structs.ErrorBody{Error: "job " + strconv.Quote(j.Name) +
		": no screenshot available: Flotilla does not capture job screens; open the job with /jarvice/connect"}, "", "    ")
	if err != nil {
		return nil, err
	}
	return &rawReply{contentType: "application/json", body: append(body, '\n'), status: http.StatusNotImplemented}, nil
}
