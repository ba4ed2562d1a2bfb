package accounting

import (
	"bytes"
	"encoding/csv"
	"strconv"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// RecordColumns are the columns of the records CSV: sacct's names where
// Slurm has the field, then what a bill needs.
var RecordColumns = []string{"JobID", "JobName", "User", "Tenant", "Account", "Project", "App", "Command",
	"Partition", "Cluster", "NNodes", "NCPUS", "NGPUS", "Submit", "Start", "End", "Elapsed", "State", "ExitCode",
	"BurstRule", "Price", "NodeHours", "CoreHours", "GPUHours", "Cost", "Tasks", "TaskNodeHours", "TaskSlotHours"}

// stamp formats a time as sacct does (UTC), "Unknown" when unset.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "Unknown"
	}
	return t.UTC().Format("2006-01-02T15:04:05")
}

// Elapsed formats a duration as sacct does: [D-]HH:MM:SS.
func Elapsed(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	days, h, m, sec := s/86400, s%86400/3600, s%3600/60, s%60
	out := ""
	if days > 0 {
		out = strconv.FormatInt(days, 10) + "-"
	}
	return out + pad2(h) + ":" + pad2(m) + ":" + pad2(sec)
}

func pad2(n int64) string {
	if n < 10 {
		return "0" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}

// Num formats a figure: shortest exact decimal.
func Num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// RecordRow is one record under RecordColumns.
func RecordRow(r *structs.AccountingRecord) []string {
	u := r.Usage()
	return []string{r.JobID, r.JobName, r.User, r.Tenant, r.Team, r.Project, r.App, r.Command,
		r.MachineType, r.Cluster, strconv.Itoa(r.Nodes), strconv.Itoa(r.Cores), strconv.Itoa(r.GPUs),
		stamp(r.Submit), stamp(r.Start), stamp(r.End), Elapsed(u.Elapsed), string(r.State), strconv.Itoa(r.ExitCode),
		r.BurstRule, Num(r.Price), Num(u.NodeHours), Num(u.CoreHours), Num(u.GPUHours), Num(u.Cost),
		strconv.Itoa(r.Tasks), Num(r.TaskNodeHours), Num(r.TaskSlotHours)}
}

// RecordsCSV writes records as CSV with a header line.
func RecordsCSV(recs []*structs.AccountingRecord) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(RecordColumns)
	for _, r := range recs {
		_ = w.Write(RecordRow(r))
	}
	w.Flush()
	return b.Bytes()
}

// SummaryColumns are the columns of a summary under groups.
func SummaryColumns(groups []string) []string {
	return append(append([]string{}, groups...), "Jobs", "NodeHours", "CoreHours", "GPUHours", "Cost", "Tasks", "TaskNodeHours")
}

// SummaryRow is one summary under SummaryColumns(groups).
func SummaryRow(s *structs.AccountingSummary, groups []string) []string {
	row := make([]string, 0, len(groups)+7)
	for _, g := range groups {
		row = append(row, s.Key[g])
	}
	return append(row, strconv.Itoa(s.Jobs), Num(s.NodeHours), Num(s.CoreHours), Num(s.GPUHours), Num(s.Cost),
		strconv.Itoa(s.Tasks), Num(s.TaskNodeHours))
}

// SummariesCSV writes summaries as CSV with a header line.
func SummariesCSV(sums []*structs.AccountingSummary, groups []string) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(SummaryColumns(groups))
	for _, s := range sums {
		_ = w.Write(SummaryRow(s, groups))
	}
	w.Flush()
	return b.Bytes()
}
