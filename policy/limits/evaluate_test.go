package limits

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func machineTypes() map[string]*structs.MachineType {
	return map[string]*structs.MachineType{
		"cpu-east": {Name: "cpu-east", Cores: 8, Cluster: "east"},
		"cpu-west": {Name: "cpu-west", Cores: 16, Cluster: "west"},
		"gpu-east": {Name: "gpu-east", Cores: 32, GPUs: 4, Cluster: "east"},
	}
}

// job returns a job of acme/cfd owned by alice; opts adjust it.
func job(id, mt string, nodes int, state structs.JobState, opts ...func(*structs.Job)) *structs.Job {
	j := &structs.Job{ID: id, Tenant: "acme", Team: "cfd", Owner: "alice", MachineType: mt, Nodes: nodes,
		State: state, SubmitTime: t0, Priority: structs.PriorityNormal}
	for _, o := range opts {
		o(j)
	}
	return j
}

func owner(tenant, team, user string) func(*structs.Job) {
	return func(j *structs.Job) { j.Tenant, j.Team, j.Owner = tenant, team, user }
}

func at(d time.Duration) func(*structs.Job) { return func(j *structs.Job) { j.SubmitTime = t0.Add(d) } }

func limit(name string, scope structs.LimitScope, who string, kind structs.LimitKind, mt string, v int64) *structs.Limit {
	l := &structs.Limit{Name: name, Scope: scope, Tenant: "acme", Kind: kind, MachineType: mt, Value: v}
	switch scope {
	case structs.ScopeTeam:
		l.Team = who
	case structs.ScopeUser:
		l.User = who
	}
	return l
}

func TestEvaluate(t *testing.T) {
	tenantCores := limit("acme-cores", structs.ScopeTenant, "", structs.LimitTotalCores, "", 64)
	running := []*structs.Job{
		job("r1", "cpu-east", 4, structs.JobRunning),                              // 32 cores
		job("r2", "cpu-west", 2, structs.JobStarting, owner("acme", "ml", "bob")), // 32 cores
		job("r3", "cpu-east", 8, structs.JobQueued),                               // not usage
		job("r4", "cpu-east", 8, structs.JobCompleted),                            // not usage
		job("r5", "cpu-east", 1, structs.JobAssigned, owner("globex", "", "gus")),
	}
	tests := map[string]struct {
		job    *structs.Job
		mt     string
		limits []*structs.Limit
		want   *Hold
	}{
		"no limits": {job("j", "cpu-east", 1, structs.JobQueued), "cpu-east", nil, nil},
		"tenant cores full": {job("j", "cpu-east", 1, structs.JobQueued), "cpu-east",
			[]*structs.Limit{tenantCores},
			&Hold{Limit: "acme-cores", Reason: "tenant acme: 64 cores in use, limit 64 (job needs 8)"}},
		"tenant cores fits": {job("j", "cpu-east", 1, structs.JobQueued), "cpu-east",
			[]*structs.Limit{limit("acme-cores", structs.ScopeTenant, "", structs.LimitTotalCores, "", 72)}, nil},
		"other tenant's limit": {job("j", "cpu-east", 1, structs.JobQueued, owner("globex", "", "gus")), "cpu-east",
			[]*structs.Limit{tenantCores}, nil},
		"team limit counts only the team": {job("j", "cpu-west", 1, structs.JobQueued, owner("acme", "ml", "carol")), "cpu-west",
			[]*structs.Limit{limit("cfd-cores", structs.ScopeTeam, "cfd", structs.LimitTotalCores, "", 32),
				limit("ml-cores", structs.ScopeTeam, "ml", structs.LimitTotalCores, "", 40)},
			&Hold{Limit: "ml-cores", Reason: "team acme/ml: 32 cores in use, limit 40 (job needs 16)"}},
		"team limit skips jobs without a team": {job("j", "cpu-east", 8, structs.JobQueued, owner("acme", "", "alice")), "cpu-east",
			[]*structs.Limit{limit("cfd-cores", structs.ScopeTeam, "cfd", structs.LimitTotalCores, "", 32)}, nil},
		"user concurrent jobs per machine type": {job("j", "cpu-east", 1, structs.JobQueued), "cpu-east",
			[]*structs.Limit{limit("alice-east", structs.ScopeUser, "alice", structs.LimitConcurrentJobs, "cpu-east", 1)},
			&Hold{Limit: "alice-east", MachineType: "cpu-east", Reason: "user acme/alice: 1 cpu-east jobs running, limit 1"}},
		"wildcard counts each machine type apart": {job("j", "cpu-west", 1, structs.JobQueued), "cpu-west",
			[]*structs.Limit{limit("alice-each", structs.ScopeUser, "alice", structs.LimitConcurrentJobs, "*", 1)}, nil},
		"wildcard holds the busy type": {job("j", "cpu-east", 1, structs.JobQueued), "cpu-east",
			[]*structs.Limit{limit("alice-each", structs.ScopeUser, "alice", structs.LimitConcurrentJobs, "*", 1)},
			&Hold{Limit: "alice-each", MachineType: "cpu-east", Reason: "user acme/alice: 1 cpu-east jobs running, limit 1"}},
		"pattern limit": {job("j", "gpu-east", 1, structs.JobQueued), "gpu-east",
			[]*structs.Limit{limit("gpus-nodes", structs.ScopeTenant, "", structs.LimitMaxNodes, "gpu-*", 0)},
			&Hold{Limit: "gpus-nodes", MachineType: "gpu-east", Exceeds: true, Reason: "tenant acme: job needs 1 gpu-east nodes, limit 0"}},
		"max nodes over on its own": {job("j", "cpu-east", 16, structs.JobQueued), "cpu-east",
			[]*structs.Limit{limit("east-nodes", structs.ScopeTeam, "cfd", structs.LimitMaxNodes, "cpu-east", 8)},
			&Hold{Limit: "east-nodes", MachineType: "cpu-east", Exceeds: true, Reason: "team acme/cfd: job needs 16 cpu-east nodes, limit 8"}},
		"max nodes with usage": {job("j", "cpu-east", 5, structs.JobQueued), "cpu-east",
			[]*structs.Limit{limit("east-nodes", structs.ScopeTeam, "cfd", structs.LimitMaxNodes, "cpu-east", 8)},
			&Hold{Limit: "east-nodes", MachineType: "cpu-east", Reason: "team acme/cfd: 4 cpu-east nodes in use, limit 8 (job needs 5)"}},
		"gpus": {job("j", "gpu-east", 2, structs.JobQueued), "gpu-east",
			[]*structs.Limit{limit("gpus", structs.ScopeTenant, "", structs.LimitTotalGPUs, "", 6)},
			&Hold{Limit: "gpus", Exceeds: true, Reason: "tenant acme: job needs 8 GPUs, limit 6"}},
		"zero concurrent pauses": {job("j", "cpu-east", 1, structs.JobQueued), "cpu-east",
			[]*structs.Limit{limit("pause", structs.ScopeUser, "alice", structs.LimitConcurrentJobs, "*", 0)},
			&Hold{Limit: "pause", MachineType: "cpu-east", Exceeds: true, Reason: "user acme/alice: no cpu-east jobs allowed (limit 0)"}},
		"tenant before user": {job("j", "cpu-east", 1, structs.JobQueued), "cpu-east",
			[]*structs.Limit{limit("a-user", structs.ScopeUser, "alice", structs.LimitTotalCores, "", 8), tenantCores},
			&Hold{Limit: "acme-cores", Reason: "tenant acme: 64 cores in use, limit 64 (job needs 8)"}},
		"burst target counts its own machine type": {job("j", "cpu-east", 1, structs.JobQueued), "cpu-west",
			[]*structs.Limit{limit("acme-cores", structs.ScopeTenant, "", structs.LimitTotalCores, "", 72)},
			&Hold{Limit: "acme-cores", Reason: "tenant acme: 64 cores in use, limit 72 (job needs 16)"}},
	}
	mts := machineTypes()
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			u := NewUsage(running, mts)
			got := Evaluate(tc.job, mts[tc.mt], u, tc.limits)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Evaluate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEvaluateGPUsInUse(t *testing.T) {
	mts := machineTypes()
	bursted := job("g1", "cpu-east", 1, structs.JobRunning, func(j *structs.Job) { j.AssignedMachineType = "gpu-east" })
	u := NewUsage([]*structs.Job{bursted}, mts)
	got := Evaluate(job("j", "gpu-east", 1, structs.JobQueued), mts["gpu-east"], u,
		[]*structs.Limit{limit("gpus", structs.ScopeTenant, "", structs.LimitTotalGPUs, "", 6)})
	want := &Hold{Limit: "gpus", Reason: "tenant acme: 4 GPUs in use, limit 6 (job needs 4)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Evaluate (-want +got):\n%s", diff)
	}
}

func TestUsage(t *testing.T) {
	mts := machineTypes()
	jobs := []*structs.Job{
		job("a", "cpu-east", 2, structs.JobRunning),
		job("b", "cpu-east", 1, structs.JobAssigned, func(j *structs.Job) { j.AssignedMachineType = "gpu-east" }),
		job("c", "cpu-east", 5, structs.JobHeld),
		job("d", "gone", 3, structs.JobRunning),
	}
	u := NewUsage(jobs, mts)
	tenant := Subject{Scope: structs.ScopeTenant, Tenant: "acme"}
	tests := map[string]struct {
		s    Subject
		mt   string
		want Amount
	}{
		"tenant total":               {tenant, "", Amount{Jobs: 3, Nodes: 6, Cores: 48, GPUs: 4}},
		"tenant cpu-east":            {tenant, "cpu-east", Amount{Jobs: 1, Nodes: 2, Cores: 16}},
		"burst counts where it runs": {tenant, "gpu-east", Amount{Jobs: 1, Nodes: 1, Cores: 32, GPUs: 4}},
		"unknown type":               {tenant, "gone", Amount{Jobs: 1, Nodes: 3}},
		"team":                       {Subject{Scope: structs.ScopeTeam, Tenant: "acme", Name: "cfd"}, "", Amount{Jobs: 3, Nodes: 6, Cores: 48, GPUs: 4}},
		"user":                       {Subject{Scope: structs.ScopeUser, Tenant: "acme", Name: "alice"}, "cpu-east", Amount{Jobs: 1, Nodes: 2, Cores: 16}},
		"nobody":                     {Subject{Scope: structs.ScopeUser, Tenant: "acme", Name: "bob"}, "", Amount{}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, u.Get(tc.s, tc.mt)); diff != "" {
				t.Errorf("Get (-want +got):\n%s", diff)
			}
		})
	}
	var nilUsage *Usage
	if nilUsage.Get(tenant, "") != (Amount{}) {
		t.Errorf("nil usage is not empty")
	}
}
