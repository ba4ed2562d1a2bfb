package limits

import (
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Subject is whom a limit applies to and usage is counted for.
type Subject struct {
	Scope  structs.LimitScope
	Tenant string
	Name   string // team or username; empty for a tenant
}

// String names s for humans: "tenant acme", "team acme/cfd", "user acme/alice".
func (s Subject) String() string {
	if s.Scope == structs.ScopeTenant {
		return "tenant " + s.Tenant
	}
	return string(s.Scope) + " " + s.Tenant + "/" + s.Name
}

// SubjectOf returns the subject a limit counts.
func SubjectOf(l *structs.Limit) Subject {
	switch l.Scope {
	case structs.ScopeTeam:
		return Subject{Scope: structs.ScopeTeam, Tenant: l.Tenant, Name: l.Team}
	case structs.ScopeUser:
		return Subject{Scope: structs.ScopeUser, Tenant: l.Tenant, Name: l.User}
	}
	return Subject{Scope: structs.ScopeTenant, Tenant: l.Tenant}
}

// jobSubjects returns the subjects a job counts for: its tenant, its team
// (when it has one) and its owner.
func jobSubjects(j *structs.Job) []Subject {
	out := make([]Subject, 0, 3)
	out = append(out, Subject{Scope: structs.ScopeTenant, Tenant: j.Tenant})
	if j.Team != "" {
		out = append(out, Subject{Scope: structs.ScopeTeam, Tenant: j.Tenant, Name: j.Team})
	}
	return append(out, Subject{Scope: structs.ScopeUser, Tenant: j.Tenant, Name: j.Owner})
}

// Amount is what jobs use.
type Amount struct {
	Jobs, Nodes, Cores, GPUs int64
}

func (a Amount) plus(b Amount) Amount {
	return Amount{Jobs: a.Jobs + b.Jobs, Nodes: a.Nodes + b.Nodes, Cores: a.Cores + b.Cores, GPUs: a.GPUs + b.GPUs}
}

// of returns the field of a that kind counts.
func (a Amount) of(kind structs.LimitKind) int64 {
	switch kind {
	case structs.LimitConcurrentJobs:
		return a.Jobs
	case structs.LimitMaxNodes:
		return a.Nodes
	case structs.LimitTotalCores:
		return a.Cores
	case structs.LimitTotalGPUs:
		return a.GPUs
	}
	return 0
}

// Demand is what job j uses on machine type mt: one job, its nodes, and
// the cores and GPUs of those nodes. A nil mt (deleted) counts no cores or GPUs.
func Demand(j *structs.Job, mt *structs.MachineType) Amount {
	a := Amount{Jobs: 1, Nodes: int64(j.Nodes)}
	if mt != nil {
		a.Cores = int64(j.Nodes) * int64(mt.Cores)
		a.GPUs = int64(j.Nodes) * int64(mt.GPUs)
	}
	return a
}

// Active reports whether a job in state s counts as usage: it was placed
// and holds, or is about to hold, nodes.
func Active(s structs.JobState) bool {
	return s == structs.JobAssigned || s == structs.JobStarting || s == structs.JobRunning
}

type usageKey struct {
	Subject
	machineType string // "" for the total over machine types
}

// Usage is what the active jobs of each tenant, team and user use, in
// total and per machine type. The zero Usage is empty and ready to use.
type Usage struct {
	m map[usageKey]Amount
}

// NewUsage counts the active jobs (see Active) among jobs, each on its
// effective machine type, looked up in mts.
func NewUsage(jobs []*structs.Job, mts map[string]*structs.MachineType) *Usage {
	u := &Usage{m: make(map[usageKey]Amount)}
	for _, j := range jobs {
		if Active(j.State) {
			u.Add(j, mts[j.EffectiveMachineType()])
		}
	}
	return u
}

// Add counts job j on machine type mt, whatever the job's state.
func (u *Usage) Add(j *structs.Job, mt *structs.MachineType) {
	if u.m == nil {
		u.m = make(map[usageKey]Amount)
	}
	d := Demand(j, mt)
	name := j.EffectiveMachineType()
	if mt != nil {
		name = mt.Name
	}
	for _, s := range jobSubjects(j) {
		k := usageKey{Subject: s}
		u.m[k] = u.m[k].plus(d)
		k.machineType = name
		u.m[k] = u.m[k].plus(d)
	}
}

// Get returns what subject s uses on one machine type, or in total when
// machineType is empty. A nil Usage is empty.
func (u *Usage) Get(s Subject, machineType string) Amount {
	if u == nil {
		return Amount{}
	}
	return u.m[usageKey{Subject: s, machineType: machineType}]
}
