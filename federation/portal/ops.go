package portal

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/accounting"
	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Operations pages: the audit trail (administrators) and accounting (every
// user: their own jobs; administrators: their tenant or all).

// auditData is the audit page: its filters as typed and the events.
type auditData struct {
	Since, Until, Actor, Object, Action string
	Events                              []*structs.AuditEvent
}

// formTime parses a filter field: Slurm's YYYY-MM-DD[THH:MM[:SS]] (or a
// datetime-local value) in UTC.
func formTime(r *http.Request, name string) (time.Time, error) {
	t, err := accounting.ParseTime(strings.TrimSpace(r.URL.Query().Get(name)), time.UTC)
	if err != nil {
		return t, structs.Errorf(structs.ErrInvalid, "%s: %v", name, err)
	}
	return t, nil
}

func (p *Portal) adminAudit(w http.ResponseWriter, r *http.Request, s *session) error {
	q := r.URL.Query()
	d := &auditData{Since: q.Get("since"), Until: q.Get("until"), Actor: q.Get("actor"), Object: q.Get("object"), Action: q.Get("action")}
	aq := client.AuditQuery{Actor: d.Actor, Object: d.Object, Action: d.Action, Limit: 500}
	var err error
	if aq.Since, err = formTime(r, "since"); err == nil {
		aq.Until, err = formTime(r, "until")
	}
	v := p.newView(s, "Audit trail", "admin", d)
	if err != nil {
		v.Error = err.Error()
		return p.render(w, http.StatusBadRequest, "admin_audit.html", v)
	}
	if d.Events, err = p.api.Audit(withIdentity(r.Context(), s.id), aq); err != nil {
		return err
	}
	// Newest first on the page.
	for i, j := 0, len(d.Events)-1; i < j; i, j = i+1, j-1 {
		d.Events[i], d.Events[j] = d.Events[j], d.Events[i]
	}
	return p.render(w, http.StatusOK, "admin_audit.html", v)
}

// accountingData is the accounting page.
type accountingData struct {
	Start, End, Group string
	Groups            []string
	Columns           []string
	Rows              [][]string
	CSV               string // the download link of the same report
	SummaryCSV        string
}

// accountingQuery reads the page's window and grouping.
func accountingQuery(r *http.Request) (client.AccountingQuery, []string, error) {
	var q client.AccountingQuery
	var err error
	if q.Start, err = formTime(r, "start"); err != nil {
		return q, nil, err
	}
	if q.End, err = formTime(r, "end"); err != nil {
		return q, nil, err
	}
	groups, err := accounting.ParseGroups(r.URL.Query().Get("group"))
	if err != nil {
		return q, nil, err
	}
	return q, groups, (accounting.Window{Start: q.Start, End: q.End}).Validate()
}

func (p *Portal) accountingPage(w http.ResponseWriter, r *http.Request, s *session) error {
	q := r.URL.Query()
	d := &accountingData{Start: q.Get("start"), End: q.Get("end"), Group: q.Get("group"), Groups: accounting.Groups}
	if d.Group == "" {
		d.Group = "user"
	}
	link := url.Values{"start": {d.Start}, "end": {d.End}}
	d.CSV = Prefix + "/accounting.csv?" + link.Encode()
	link.Set("group", d.Group)
	d.SummaryCSV = Prefix + "/accounting.csv?" + link.Encode()
	v := p.newView(s, "Accounting", "accounting", d)
	aq, _, err := accountingQuery(r)
	groups, gerr := accounting.ParseGroups(d.Group)
	if err == nil {
		err = gerr
	}
	if err != nil {
		v.Error = err.Error()
		return p.render(w, http.StatusBadRequest, "accounting.html", v)
	}
	aq.Group = groups
	rep, err := p.api.Accounting(withIdentity(r.Context(), s.id), aq)
	if err != nil {
		return err
	}
	d.Columns = accounting.SummaryColumns(groups)
	for _, sum := range rep.Summaries {
		d.Rows = append(d.Rows, accounting.SummaryRow(sum, groups))
	}
	return p.render(w, http.StatusOK, "accounting.html", v)
}

// accountingCSV is the CSV download of the accounting page: the records,
// or with group the sums, of what the caller may see.
func (p *Portal) accountingCSV(w http.ResponseWriter, r *http.Request, s *session) error {
	aq, groups, err := accountingQuery(r)
	if err != nil {
		return err
	}
	if r.URL.Query().Has("group") {
		aq.Group = append([]string{}, groups...)
	}
	b, err := p.api.AccountingCSV(withIdentity(r.Context(), s.id), aq)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="flotilla-accounting.csv"`)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("Cache-Control", "no-store")
	_, err = w.Write(b)
	return err
}
