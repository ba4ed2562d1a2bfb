package limits

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

func TestRelease(t *testing.T) {
	held := structs.JobHeld
	high := func(j *structs.Job) { j.Priority = structs.PriorityHigh }
	tests := map[string]struct {
		jobs   []*structs.Job
		limits []*structs.Limit
		want   Released
	}{
		"nothing held": {
			jobs: []*structs.Job{job("r", "cpu-east", 1, structs.JobRunning), job("q", "cpu-east", 1, structs.JobQueued)},
			want: Released{},
		},
		"releases in queue order up to the limit": {
			jobs: []*structs.Job{
				job("run", "cpu-east", 1, structs.JobRunning),
				job("h1", "cpu-east", 1, held, at(time.Minute)),
				job("h2", "cpu-east", 1, held, at(2*time.Minute)),
				job("h3", "cpu-east", 1, held, at(3*time.Minute), high),
				job("h4", "cpu-east", 1, held, at(4*time.Minute)),
			},
			limits: []*structs.Limit{limit("east3", structs.ScopeTenant, "", structs.LimitConcurrentJobs, "cpu-east", 3)},
			want: Released{
				Released: []string{"h3", "h1"},
				Held: []HeldJob{
					{"h2", Hold{Limit: "east3", MachineType: "cpu-east", Reason: "tenant acme: 3 cpu-east jobs running, limit 3"}},
					{"h4", Hold{Limit: "east3", MachineType: "cpu-east", Behind: "h2",
						Reason: "tenant acme: waiting behind earlier job h2, held by limit east3"}},
				},
			},
		},
		"a large job is not starved by small ones": {
			jobs: []*structs.Job{
				job("run", "cpu-east", 5, structs.JobRunning), // 40 cores
				job("big", "cpu-east", 4, held, at(time.Minute)),
				job("small", "cpu-east", 1, held, at(2*time.Minute)),
			},
			limits: []*structs.Limit{limit("cores", structs.ScopeTenant, "", structs.LimitTotalCores, "", 64)},
			want: Released{Held: []HeldJob{
				{"big", Hold{Limit: "cores", Reason: "tenant acme: 40 cores in use, limit 64 (job needs 32)"}},
				{"small", Hold{Limit: "cores", Behind: "big", Reason: "tenant acme: waiting behind earlier job big, held by limit cores"}},
			}},
		},
		"a job over the limit on its own blocks nobody": {
			jobs: []*structs.Job{
				job("huge", "cpu-east", 9, held, at(time.Minute)),
				job("small", "cpu-east", 1, held, at(2*time.Minute)),
			},
			limits: []*structs.Limit{limit("cores", structs.ScopeTenant, "", structs.LimitTotalCores, "", 64)},
			want: Released{
				Released: []string{"small"},
				Held:     []HeldJob{{"huge", Hold{Limit: "cores", Exceeds: true, Reason: "tenant acme: job needs 72 cores, limit 64"}}},
			},
		},
		"blocking is per limit and machine type": {
			jobs: []*structs.Job{
				job("run", "cpu-east", 1, structs.JobRunning),
				job("east", "cpu-east", 1, held, at(time.Minute)),
				job("west", "cpu-west", 1, held, at(2*time.Minute)),
				job("bob", "cpu-east", 1, held, at(3*time.Minute), owner("acme", "cfd", "bob")),
			},
			limits: []*structs.Limit{limit("one-each", structs.ScopeUser, "alice", structs.LimitConcurrentJobs, "*", 1)},
			want: Released{
				Released: []string{"west", "bob"},
				Held:     []HeldJob{{"east", Hold{Limit: "one-each", MachineType: "cpu-east", Reason: "user acme/alice: 1 cpu-east jobs running, limit 1"}}},
			},
		},
		"raised limit releases": {
			jobs: []*structs.Job{
				job("run", "cpu-east", 8, structs.JobRunning),
				job("h", "cpu-east", 8, held, at(time.Minute)),
			},
			limits: []*structs.Limit{limit("cores", structs.ScopeTenant, "", structs.LimitTotalCores, "", 128)},
			want:   Released{Released: []string{"h"}},
		},
	}
	mts := machineTypes()
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := Release(tc.jobs, mts, NewUsage(tc.jobs, mts), tc.limits)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Release (-want +got):\n%s", diff)
			}
		})
	}
}
