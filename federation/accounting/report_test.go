package accounting

import (
	"errors"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 12, 31, 22, 0, 0, 0, time.UTC)

func rec(user, team, mt string, nodes, cores int, start time.Time, d time.Duration, price float64) *structs.AccountingRecord {
	u := structs.UsageOf(nodes, cores, 0, start, start.Add(d), price)
	return &structs.AccountingRecord{Tenant: "acme", User: user, Team: team, MachineType: mt, Cluster: "east", Nodes: nodes,
		Cores: cores, Start: start, End: start.Add(d), Price: price, Cost: u.Cost}
}

func TestSummarize(t *testing.T) {
	recs := []*structs.AccountingRecord{
		rec("alice", "cfd", "c16", 2, 32, t0, time.Hour, 2),                    // ends 2026-12-31 23:00
		rec("bob", "cfd", "c16", 1, 16, t0, 3*time.Hour, 2),                    // ends 2027-01-01 01:00
		rec("alice", "", "g8", 1, 8, t0.Add(24*time.Hour), 30*time.Minute, 10), // ends 2027-01-01 22:30
	}
	type row struct {
		Key             map[string]string
		Jobs            int
		NodeHours, Cost float64
	}
	tests := map[string]struct {
		groups []string
		want   []row
	}{
		"everything": {nil, []row{{map[string]string{}, 3, 5.5, 15}}},
		"by user": {[]string{GroupUser}, []row{
			{map[string]string{"user": "alice"}, 2, 2.5, 9}, {map[string]string{"user": "bob"}, 1, 3, 6}}},
		"by team and machine type": {[]string{GroupTeam, GroupMachineType}, []row{
			{map[string]string{"team": "", "machine_type": "g8"}, 1, 0.5, 5},
			{map[string]string{"team": "cfd", "machine_type": "c16"}, 2, 5, 10}}},
		"by day": {[]string{GroupDay}, []row{
			{map[string]string{"day": "2026-12-31"}, 1, 2, 4}, {map[string]string{"day": "2027-01-01"}, 2, 3.5, 11}}},
		"by month": {[]string{GroupMonth}, []row{
			{map[string]string{"month": "2026-12"}, 1, 2, 4}, {map[string]string{"month": "2027-01"}, 2, 3.5, 11}}},
		"by ISO week": {[]string{GroupWeek}, []row{{map[string]string{"week": "2026-W53"}, 3, 5.5, 15}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got []row
			for _, s := range Summarize(recs, tc.groups) {
				got = append(got, row{s.Key, s.Jobs, s.NodeHours, s.Cost})
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseGroups(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    []string
		wantErr bool
	}{
		"none":               {"", nil, false},
		"canonical order":    {"month, user,tenant", []string{"tenant", "user", "month"}, false},
		"slurm names":        {"Account,partition", []string{"team", "machine_type"}, false},
		"repeats collapse":   {"user,user", []string{"user"}, false},
		"unknown":            {"colour", nil, true},
		"empty item refused": {"user,", nil, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseGroups(tc.in)
			if (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, structs.ErrInvalid)) {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseTime(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	tests := map[string]struct {
		in      string
		loc     *time.Location
		want    time.Time
		wantErr bool
	}{
		"empty is open":    {"", nil, time.Time{}, false},
		"date":             {"2026-12-01", nil, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), false},
		"minutes":          {"2026-12-01T08:30", nil, time.Date(2026, 12, 1, 8, 30, 0, 0, time.UTC), false},
		"seconds":          {"2026-12-01T08:30:15", nil, time.Date(2026, 12, 1, 8, 30, 15, 0, time.UTC), false},
		"local zone":       {"2026-12-01T08:30", cet, time.Date(2026, 12, 1, 7, 30, 0, 0, time.UTC), false},
		"rfc3339":          {"2026-12-01T08:30:00+01:00", nil, time.Date(2026, 12, 1, 7, 30, 0, 0, time.UTC), false},
		"not a time":       {"yesterday", nil, time.Time{}, true},
		"no such month":    {"2026-13-01", nil, time.Time{}, true},
		"american refused": {"12/01/2026", nil, time.Time{}, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseTime(tc.in, tc.loc)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			if !got.Equal(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestWindowAndElapsed(t *testing.T) {
	w := Window{Start: t0, End: t0.Add(time.Hour)}
	for at, want := range map[time.Time]bool{t0.Add(-time.Second): false, t0: true, t0.Add(59 * time.Minute): true, t0.Add(time.Hour): false} {
		if w.Contains(at) != want {
			t.Errorf("window contains %v: %v, want %v", at, !want, want)
		}
	}
	if (Window{Start: t0, End: t0}).Validate() == nil {
		t.Error("an empty window is valid")
	}
	for d, want := range map[time.Duration]string{0: "00:00:00", 90 * time.Minute: "01:30:00", 26*time.Hour + 5*time.Second: "1-02:00:05", -time.Hour: "00:00:00"} {
		if got := Elapsed(d); got != want {
			t.Errorf("Elapsed(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestRecordsCSV(t *testing.T) {
	r := rec("alice", "cfd", "c16", 2, 32, t0, 90*time.Minute, 2)
	r.JobID, r.State = "j-1", structs.JobCompleted
	r.Tasks, r.TaskNodeHours, r.TaskSlotHours = 1000, 2.5, 40
	want := "JobID,JobName,User,Tenant,Account,Project,App,Command,Partition,Cluster,NNodes,NCPUS,NGPUS,Submit,Start,End,Elapsed,State,ExitCode,BurstRule,Price,NodeHours,CoreHours,GPUHours,Cost,Tasks,TaskNodeHours,TaskSlotHours\n" +
		"j-1,,alice,acme,cfd,,,,c16,east,2,32,0,Unknown,2026-12-31T22:00:00,2026-12-31T23:30:00,01:30:00,COMPLETED,0,,2,3,48,0,6,1000,2.5,40\n"
	if got := string(RecordsCSV([]*structs.AccountingRecord{r})); got != want {
		t.Errorf("CSV:\n%s\nwant\n%s", got, want)
	}
}
