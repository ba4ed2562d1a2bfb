package cli

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/accounting"
	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// reportColumns are sacct's default-like columns, then the cost.
var reportColumns = []string{"JobID", "User", "Account", "Partition", "Cluster", "NNodes", "NCPUS",
	"Submit", "Start", "End", "Elapsed", "State", "Cost"}

// timeFlag is a report bound in Slurm's formats, in local time.
type timeFlag struct {
	t   *time.Time
	loc *time.Location
}

func (f timeFlag) String() string {
	if f.t == nil || f.t.IsZero() {
		return ""
	}
	return f.t.Format("2006-01-02T15:04:05")
}

func (f timeFlag) Set(s string) error {
	t, err := accounting.ParseTime(s, f.loc)
	if err != nil {
		return fmt.Errorf("want YYYY-MM-DD[THH:MM[:SS]]")
	}
	*f.t = t
	return nil
}

// runReport is flotilla report: the accounting records of jobs that ended
// between --starttime and --endtime, or with --summary their sums by
// --group (team and user unless told).
func runReport(ctx context.Context, s *session, path, args []string) error {
	fs := s.flagSet("report")
	var q client.AccountingQuery
	fs.Var(timeFlag{&q.Start, time.Local}, "starttime", "jobs that ended at or after this time (YYYY-MM-DD[THH:MM[:SS]], local time)")
	fs.Var(timeFlag{&q.End, time.Local}, "endtime", "jobs that ended before this time (same format)")
	fs.StringVar(&q.User, "user", "", "only jobs of this user")
	fs.StringVar(&q.Tenant, "tenant", "", "only jobs of this tenant (system administrators)")
	stateList := fs.String("state", "", "only jobs that ended in these states, comma-separated: COMPLETED, COMPLETED_WITH_ERROR, ... or Slurm's CD, F, CA (sacct -s)")
	summary := fs.Bool("summary", false, "sums instead of jobs, grouped by --group")
	group := fs.String("group", "team,user", "with --summary: some of tenant, team (account), user, project, machine_type (partition), cluster, day, week, month")
	s.csvOK = true
	if _, err := s.leaf(fs, path, "", 0, 0, args); err != nil {
		return err
	}
	if !q.Start.IsZero() && !q.End.IsZero() && !q.Start.Before(q.End) {
		return usagef("report: --endtime must be after --starttime")
	}
	var states []structs.JobState
	if *stateList != "" {
		var err error
		if states, err = parseStates(*stateList); err != nil {
			return usagef("report: --state %v", err)
		}
	}
	if *summary {
		groups, err := accounting.ParseGroups(*group)
		if err != nil {
			return usagef("report: --group: %v", err)
		}
		q.Group = append([]string{}, groups...)
	}
	cl, err := s.client()
	if err != nil {
		return err
	}
	if states != nil {
		return reportStates(ctx, s, cl, q, states, *summary)
	}
	if s.output == "csv" {
		b, err := cl.AccountingCSV(ctx, q)
		if err != nil {
			return err
		}
		_, err = s.stdout.Write(b)
		return err
	}
	rep, err := cl.Accounting(ctx, q)
	if err != nil {
		return err
	}
	if *summary {
		return s.showSummaries(rep.Summaries, q.Group)
	}
	return s.showRecords(rep.Records)
}

// reportStates is report --state: the hub's records, kept by state here,
// then printed or summed (accounting.Summarize) as the hub would.
func reportStates(ctx context.Context, s *session, cl *client.Client, q client.AccountingQuery, states []structs.JobState, summary bool) error {
	groups := q.Group
	q.Group = nil
	rep, err := cl.Accounting(ctx, q)
	if err != nil {
		return err
	}
	recs := make([]*structs.AccountingRecord, 0, len(rep.Records))
	for _, r := range rep.Records {
		if slices.Contains(states, r.State) {
			recs = append(recs, r)
		}
	}
	if summary {
		sums := accounting.Summarize(recs, groups)
		if s.output == "csv" {
			_, err := s.stdout.Write(accounting.SummariesCSV(sums, groups))
			return err
		}
		return s.showSummaries(sums, groups)
	}
	if s.output == "csv" {
		_, err := s.stdout.Write(accounting.RecordsCSV(recs))
		return err
	}
	return s.showRecords(recs)
}

// showRecords prints accounting records as sacct's columns (or JSON).
func (s *session) showRecords(recs []*structs.AccountingRecord) error {
	return s.show(orEmpty(recs), func() error {
		if len(recs) == 0 {
			_, err := fmt.Fprintln(s.stdout, "No jobs.")
			return err
		}
		rows := make([][]string, len(recs))
		for i, r := range recs {
			rows[i] = reportRow(r)
		}
		return s.table(reportColumns, rows)
	})
}

// reportRow is one record under reportColumns, times in local time as
// sacct shows them.
func reportRow(r *structs.AccountingRecord) []string {
	local := func(t time.Time) string {
		if t.IsZero() {
			return "Unknown"
		}
		return t.Local().Format("2006-01-02T15:04:05")
	}
	u := r.Usage()
	return []string{strconv.FormatUint(r.JobNumber, 10), r.User, dash(r.Team), r.MachineType, dash(r.Cluster),
		strconv.Itoa(r.Nodes), strconv.Itoa(r.Cores), local(r.Submit), local(r.Start), local(r.End),
		accounting.Elapsed(u.Elapsed), string(r.State), figure(u.Cost)}
}

// figure is a number as the report's tables show it: six decimals at
// most, trailing zeros dropped ("0.004479", not the float's
// "0.004478035059666667"). -o csv and -o json keep every digit.
func figure(f float64) string {
	s := strconv.FormatFloat(f, 'f', 6, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		return "0"
	}
	return s
}

// showSummaries prints sums by groups sreport-style (or JSON).
func (s *session) showSummaries(sums []*structs.AccountingSummary, groups []string) error {
	return s.show(orEmpty(sums), func() error {
		rows := make([][]string, len(sums))
		for i, sum := range sums {
			rows[i] = accounting.SummaryRow(sum, groups)
			for j := range rows[i] {
				if j < len(groups) {
					rows[i][j] = dash(rows[i][j])
				} else if f, err := strconv.ParseFloat(rows[i][j], 64); err == nil && strings.Contains(rows[i][j], ".") {
					rows[i][j] = figure(f)
				}
			}
		}
		return s.table(upper(accounting.SummaryColumns(groups)), rows)
	})
}

func upper(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = strings.ToUpper(x)
	}
	return out
}

// runAudit is flotilla admin audit: the audit trail, oldest first.
func runAudit(ctx context.Context, s *session, path, args []string) error {
	fs := s.flagSet("audit")
	var q client.AuditQuery
	fs.Var(timeFlag{&q.Since, time.Local}, "since", "events at or after this time (YYYY-MM-DD[THH:MM[:SS]], local time)")
	fs.Var(timeFlag{&q.Until, time.Local}, "until", "events before this time (same format)")
	fs.StringVar(&q.Actor, "actor", "", "only events of this user (or cluster:NAME)")
	fs.StringVar(&q.Object, "object", "", "only events on this object: NAME, KIND/NAME or KIND/ (e.g. user/alice, job/)")
	fs.StringVar(&q.Action, "action", "", "only this action (e.g. user.delete), or a prefix ending in '.' (job.)")
	fs.StringVar(&q.Tenant, "tenant", "", "only events of this tenant's users (system administrators)")
	fs.IntVar(&q.Limit, "limit", 0, "at most this many events (default 1000)")
	if _, err := s.leaf(fs, path, "", 0, 0, args); err != nil {
		return err
	}
	if q.Limit < 0 {
		return usagef("admin audit: --limit must be positive")
	}
	cl, err := s.client()
	if err != nil {
		return err
	}
	evs, err := cl.Audit(ctx, q)
	if err != nil {
		return err
	}
	return s.show(orEmpty(evs), func() error {
		if len(evs) == 0 {
			_, err := fmt.Fprintln(s.stdout, "No events.")
			return err
		}
		rows := make([][]string, len(evs))
		for i, e := range evs {
			result := e.Outcome
			if e.Status != 0 && e.Status != 200 {
				result = strconv.Itoa(e.Status) + " " + e.Detail
			}
			rows[i] = []string{stamp(e.Time), e.Actor, dash(e.Tenant), e.Action, dash(strings.Trim(e.ObjectKind+"/"+e.ObjectName, "/")),
				dash(e.Source), result}
		}
		return s.table([]string{"TIME", "ACTOR", "TENANT", "ACTION", "OBJECT", "SOURCE", "RESULT"}, rows)
	})
}
