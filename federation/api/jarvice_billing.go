package api

import (
	"bytes"
	"encoding/csv"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// billingColumns is the header of the /jarvice/billing CSV.
var billingColumns = []string{"job_number", "job_name", "user", "tenant", "team", "application", "machine_type", "cluster",
	"nodes", "cores", "gpus", "status", "start_time", "end_time", "seconds", "price", "cost"}

// billingStatuses are the statuses the reference's statuses filter
// takes.
var billingStatuses = []string{"COMPLETED", "COMPLETED WITH ERROR", "SUBMITTED", "PROCESSING STARTING", "CANCELED",
	"EXEMPT", "SEQUENTIALLY QUEUED", "TERMINATED"}

// jarviceBilling is /jarvice/billing: a CSV report of ended jobs, for
// system administrators only. The jobs are the accounting records
// (written as a job ends) and the ended jobs the hub holds without one
// (priced at their machine type's price per node-hour), one row each
// (the report is always itemized). Filters, comma-separated lists: reportuser,
// statuses (JARVICE statuses; another is 400), machtypes; and jobapp
// (the app), zone (the cluster's), timeperiod (last or current month, or
// range with startdate/enddate YYYY-MM-DD; default current) on the job's
// end. Flotilla has no billing codes: a billingcode is 400.
func (s *Server) jarviceBilling(c *call) (any, error) {
	a, err := s.jarviceLogin(c)
	if err != nil {
		return nil, err
	}
	if !c.id.IsGlobalAdmin() {
		return nil, structs.Errorf(structs.ErrForbidden, "billing is for system administrators only")
	}
	from, to, err := billingPeriod(a, s.now().UTC())
	if err != nil {
		return nil, err
	}
	split := func(k string) []string {
		var out []string
		for _, v := range strings.Split(a.Get(k), ",") {
			if v = strings.TrimSpace(v); v != "" {
				out = append(out, v)
			}
		}
		return out
	}
	statuses, machtypes, users, app, zone := split("statuses"), split("machtypes"), split("reportuser"), a.Get("jobapp"), a.Get("zone")
	for _, st := range statuses {
		if !slices.Contains(billingStatuses, st) {
			return nil, invalid("statuses: %q is not one of %s", st, strings.Join(billingStatuses, ", "))
		}
	}
	if a.Get("billingcode") != "" {
		return nil, invalid("billingcode: Flotilla has no billing codes")
	}
	if _, err := a.flag("itemized"); err != nil {
		return nil, err
	}
	txn := s.reads.Store().Read()
	keep := func(r *structs.AccountingRecord) bool {
		if zone != "" {
			if cl, err := txn.Cluster(r.Cluster); err != nil || cl.Zone != zone {
				return false
			}
		}
		return !r.End.Before(from) && r.End.Before(to) && (len(users) == 0 || slices.Contains(users, r.User)) &&
			(len(statuses) == 0 || slices.Contains(statuses, jarviceStatus(r.State))) &&
			(len(machtypes) == 0 || slices.Contains(machtypes, r.MachineType)) && (app == "" || r.App == app)
	}
	recs, _, err := txn.ListAccounting(state.RecordFilter{})
	if err != nil {
		return nil, err
	}
	jobs, _, err := txn.ListJobs(state.JobFilter{Match: func(j *structs.Job) bool { return j.State.IsTerminal() }})
	if err != nil {
		return nil, err
	}
	// A job is accounted when it ends and kept until it is purged: it is
	// billed once, by its record when it has one.
	billed := make(map[uint64]bool, len(recs))
	for _, r := range recs {
		billed[r.JobNumber] = true
	}
	for _, j := range jobs {
		if billed[j.Number] {
			continue
		}
		r := &structs.AccountingRecord{JobNumber: j.Number, JobName: j.Name, Tenant: j.Tenant, Team: j.Team, User: j.Owner,
			App: j.App, MachineType: j.MachineType, Cluster: j.Cluster, Nodes: j.Nodes, State: j.State, Start: j.StartTime, End: j.EndTime}
		if j.AssignedMachineType != "" {
			r.MachineType = j.AssignedMachineType
		}
		if mt, err := txn.MachineTypeRef(r.MachineType); err == nil {
			r.Cores, r.GPUs, r.Price = mt.Cores*j.Nodes, mt.GPUs*j.Nodes, mt.Price
			if !r.Start.IsZero() && r.End.After(r.Start) {
				r.Cost = mt.Price * float64(j.Nodes) * r.End.Sub(r.Start).Hours()
			}
		}
		recs = append(recs, r)
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write(billingColumns)
	slices.SortFunc(recs, func(x, y *structs.AccountingRecord) int { return int(x.JobNumber) - int(y.JobNumber) })
	for _, r := range recs {
		if !keep(r) {
			continue
		}
		secs := int64(0)
		if !r.Start.IsZero() && r.End.After(r.Start) {
			secs = int64(r.End.Sub(r.Start).Seconds())
		}
		_ = w.Write([]string{strconv.FormatUint(r.JobNumber, 10), r.JobName, r.User, r.Tenant, r.Team, r.App, r.MachineType,
			r.Cluster, strconv.Itoa(r.Nodes), strconv.Itoa(r.Cores), strconv.Itoa(r.GPUs), jarviceStatus(r.State),
			unixText(r.Start), unixText(r.End), strconv.FormatInt(secs, 10),
			strconv.FormatFloat(r.Price, 'f', -1, 64), strconv.FormatFloat(r.Cost, 'f', 4, 64)})
	}
	w.Flush()
	return &rawReply{contentType: "text/csv; charset=utf-8", body: buf.Bytes()}, nil
}

func unixText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.Unix(), 10)
}

// billingPeriod is the [from, to) range of a billing report's end times.
func billingPeriod(a *jarviceArgs, now time.Time) (time.Time, time.Time, error) {
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	switch p := a.Get("timeperiod"); p {
	case "", "current":
		return month, month.AddDate(0, 1, 0), nil
	case "last":
		return month.AddDate(0, -1, 0), month, nil
	case "range":
		from, err1 := time.Parse(time.DateOnly, a.Get("startdate"))
		to, err2 := time.Parse(time.DateOnly, a.Get("enddate"))
		if err1 != nil || err2 != nil {
			return time.Time{}, time.Time{}, invalid("timeperiod range needs startdate and enddate as YYYY-MM-DD")
		}
		return from, to.AddDate(0, 0, 1), nil
	default:
		return time.Time{}, time.Time{}, invalid("timeperiod %q: want last, current or range", p)
	}
}

func jarviceStatus(s structs.JobState) string {
	st, _, _ := structs.JarviceStatusOf(s)
	return st
}
