package accounting

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Group names a report may group by: record fields, then periods of the
// job's end time (UTC).
const (
	GroupTenant      = "tenant"
	GroupTeam        = "team"
	GroupUser        = "user"
	GroupProject     = "project"
	GroupMachineType = "machine_type"
	GroupCluster     = "cluster"
	GroupDay         = "day"   // 2026-12-01
	GroupWeek        = "week"  // ISO week, 2026-W49
	GroupMonth       = "month" // 2026-12
)

// Groups lists every group name, in the order a report's key columns take.
var Groups = []string{GroupTenant, GroupTeam, GroupUser, GroupProject, GroupMachineType, GroupCluster,
	GroupDay, GroupWeek, GroupMonth}

// ParseGroups parses a comma-separated list of group names ("" is none)
// into their canonical order, without repeats. "account" (Slurm's name
// for a team) and "partition" (for a machine type) are accepted too.
func ParseGroups(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	seen := map[string]bool{}
	for _, g := range strings.Split(s, ",") {
		g = strings.ToLower(strings.TrimSpace(g))
		switch g {
		case "account":
			g = GroupTeam
		case "partition", "machinetype", "machine-type":
			g = GroupMachineType
		}
		if !slices.Contains(Groups, g) {
			return nil, structs.Errorf(structs.ErrInvalid, "group %q: want some of %s", g, strings.Join(Groups, ", "))
		}
		seen[g] = true
	}
	var out []string
	for _, g := range Groups {
		if seen[g] {
			out = append(out, g)
		}
	}
	return out, nil
}

// keyOf is a record's value for group g.
func keyOf(r *structs.AccountingRecord, g string) string {
	end := r.End.UTC()
	switch g {
	case GroupTenant:
		return r.Tenant
	case GroupTeam:
		return r.Team
	case GroupUser:
		return r.User
	case GroupProject:
		return r.Project
	case GroupMachineType:
		return r.MachineType
	case GroupCluster:
		return r.Cluster
	case GroupDay:
		return end.Format(time.DateOnly)
	case GroupWeek:
		y, w := end.ISOWeek()
		return fmt.Sprintf("%04d-W%02d", y, w)
	case GroupMonth:
		return end.Format("2006-01")
	}
	return ""
}

// Summarize sums records by groups (parsed by ParseGroups); no groups is
// one summary of everything. Summaries come sorted by their keys.
func Summarize(recs []*structs.AccountingRecord, groups []string) []*structs.AccountingSummary {
	byKey := map[string]*structs.AccountingSummary{}
	var order []string
	for _, r := range recs {
		vals := make([]string, len(groups))
		for i, g := range groups {
			vals[i] = keyOf(r, g)
		}
		k := strings.Join(vals, "\x00")
		s := byKey[k]
		if s == nil {
			s = &structs.AccountingSummary{Key: map[string]string{}}
			for i, g := range groups {
				s.Key[g] = vals[i]
			}
			byKey[k] = s
			order = append(order, k)
		}
		u := r.Usage()
		s.Jobs++
		s.NodeHours += u.NodeHours
		s.CoreHours += u.CoreHours
		s.GPUHours += u.GPUHours
		s.Cost += u.Cost
		s.Tasks += r.Tasks
		s.TaskNodeHours += r.TaskNodeHours
	}
	slices.Sort(order)
	out := make([]*structs.AccountingSummary, len(order))
	for i, k := range order {
		out[i] = byKey[k]
	}
	return out
}

// Sort orders records by end time, then job number: the report's order.
func Sort(recs []*structs.AccountingRecord) {
	slices.SortStableFunc(recs, func(a, b *structs.AccountingRecord) int {
		if c := a.End.Compare(b.End); c != 0 {
			return c
		}
		return cmp.Compare(a.JobNumber, b.JobNumber)
	})
}

// Window is a report's time range: jobs that ended at or after Start and
// before End; a zero bound is open.
type Window struct{ Start, End time.Time }

// Contains reports whether a job that ended at end is in the window.
func (w Window) Contains(end time.Time) bool {
	return (w.Start.IsZero() || !end.Before(w.Start)) && (w.End.IsZero() || end.Before(w.End))
}

// Validate refuses a window that ends before it starts.
func (w Window) Validate() error {
	if !w.Start.IsZero() && !w.End.IsZero() && !w.Start.Before(w.End) {
		return structs.Errorf(structs.ErrInvalid, "window: end %s is not after start %s",
			w.End.Format(time.RFC3339), w.Start.Format(time.RFC3339))
	}
	return nil
}

// slurmLayouts are the time formats sacct's --starttime takes that a
// report accepts, most precise first.
var slurmLayouts = []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"}

// ParseTime parses a report bound: Slurm's YYYY-MM-DD[THH:MM[:SS]] (in
// loc, UTC when nil) or RFC 3339. "" is the zero time (an open bound).
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if loc == nil {
		loc = time.UTC
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	for _, l := range slurmLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, structs.Errorf(structs.ErrInvalid, "time %q: want YYYY-MM-DD[THH:MM[:SS]] or RFC 3339", s)
}
