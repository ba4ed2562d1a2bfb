package fsm

import (
	"bytes"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

var t0 = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)

func newFSM(t testing.TB) *FSM {
	t.Helper()
	s, err := state.New()
	if err != nil {
		t.Fatal(err)
	}
	return New(s)
}

// entry is one raft log entry: an index and its encoded commands.
type entry struct {
	index uint64
	cmds  [][]byte
}

func enc(t testing.TB, cmds ...Command) [][]byte {
	t.Helper()
	out := make([][]byte, len(cmds))
	for i, c := range cmds {
		b, err := Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

// applyAll applies entries and fails on any error result.
func applyAll(t testing.TB, f *FSM, log []entry) {
	t.Helper()
	for _, e := range log {
		for i, r := range f.ApplyCommands(e.index, e.cmds) {
			if err, ok := r.(error); ok {
				t.Fatalf("entry %d command %d: %v", e.index, i, err)
			}
		}
	}
}

// baseLog sets up two tenants, three clusters (idle has no machine types),
// hub replica hub0, machine types, a user, team, vault, app, limit and burst rule, and jobs:
// j-1 SUBMITTED, j-2 RUNNING on east, j-3 CANCELED.
func baseLog(t testing.TB) []entry {
	return []entry{
		{1, enc(t,
			&TenantUpsert{Tenant: structs.Tenant{Name: "acme"}},
			&TenantUpsert{Tenant: structs.Tenant{Name: "beta"}},
			&ClusterUpsert{Cluster: structs.Cluster{Name: "east", Zone: "z1"}},
			&ClusterUpsert{Cluster: structs.Cluster{Name: "west", Zone: "z2"}},
			&ClusterUpsert{Cluster: structs.Cluster{Name: "idle", Zone: "z2"}},
			&ReplicaUpsert{Replica: structs.Replica{ID: "hub0", RaftAddress: "10.0.0.1:7000", APIAddress: "http://10.0.0.1:8080"}},
		)},
		{2, enc(t,
			&MachineTypeUpsert{MachineType: structs.MachineType{Name: "n3", Cores: 16, Slots: 16, RAM: 64, Cluster: "east"}},
			&MachineTypeUpsert{MachineType: structs.MachineType{Name: "g3", Cores: 8, GPUs: 1, RAM: 64, Cluster: "west"}},
			&MachineTypeUpsert{MachineType: structs.MachineType{Name: "spare", Cores: 2, RAM: 4}},
			&UserUpsert{User: structs.User{Username: "alice", Tenant: "acme", Role: structs.RoleAdmin, Teams: []string{"cfd"}}},
			&TeamUpsert{Team: structs.Team{Tenant: "acme", Name: "cfd"}},
			&VaultUpsert{Vault: structs.Vault{Tenant: "acme", Name: "data", Kind: structs.VaultFile, AccessMode: structs.AccessRWX}},
			&AppUpsert{App: structs.App{Name: "solver", Visibility: structs.VisibilityPublic}},
			&LimitUpsert{Limit: structs.Limit{Name: "acme-gpus", Scope: structs.ScopeTenant, Tenant: "acme", Kind: structs.LimitTotalGPUs, Value: 4}},
			&BurstRuleUpsert{Rule: structs.BurstRule{Name: "n3-to-g3", From: "n3", To: []string{"g3"}, WhenFull: true}},
		)},
		{3, enc(t,
			&JobSubmit{Job: testJob("j-1")},
			&JobSubmit{Job: testJob("j-2")},
			&JobSubmit{Job: testJob("j-3")},
		)},
		{4, enc(t,
			&JobAssignment{ID: "j-2", Cluster: "east", Time: t0.Add(time.Minute)},
			&JobStateUpdate{ID: "j-2", Cluster: "east", State: structs.JobRunning, Time: t0.Add(2 * time.Minute)},
			&JobCancel{ID: "j-3", Reason: "changed my mind", Time: t0.Add(time.Minute)},
		)},
	}
}

func testJob(id string) structs.Job {
	return structs.Job{ID: id, Tenant: "acme", Team: "cfd", Owner: "alice", App: "solver", Command: "run",
		Parameters: map[string]string{"np": "32"}, MachineType: "n3", Nodes: 2,
		Walltime: structs.Duration(time.Hour), SubmitTime: t0}
}

// extend gives j the fields only JobSubmitExt carries: waiting in HELD
// for job 1, with an environment and a working directory.
func extend(j *structs.Job) {
	j.Dependency = &structs.JobDependency{Conditions: []structs.DependencyCondition{{Type: structs.DependAfterOK, Job: 1}}}
	j.State, j.Substatus = structs.JobHeld, structs.DependencyReason+": waits for afterok:1"
	j.Env = map[string]string{"CASE": "a b", "OMP_NUM_THREADS": "4"}
	j.Workdir = "/data/run"
}

// withList makes j an array job of the index list 1,3,7-9%2.
func withList(j *structs.Job) {
	spec, err := structs.ParseArraySpec("1,3,7-9%2")
	if err != nil {
		panic(err)
	}
	j.Array = &structs.ArrayJob{Spec: spec, TaskRetries: 1}
}

// memSink is an in-memory raft.SnapshotSink.
type memSink struct {
	bytes.Buffer
	closed, canceled bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Close() error  { s.closed = true; return nil }
func (s *memSink) Cancel() error { s.canceled = true; return nil }

// snapshotBytes takes and persists a snapshot of f.
func snapshotBytes(t testing.TB, f *FSM) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	if !sink.closed || sink.canceled {
		t.Fatalf("sink closed=%v canceled=%v", sink.closed, sink.canceled)
	}
	return sink.Bytes()
}

// restored returns a fresh FSM restored from snapshot bytes.
func restored(t testing.TB, b []byte) *FSM {
	t.Helper()
	f := newFSM(t)
	if err := f.Restore(readCloser{bytes.NewReader(b)}); err != nil {
		t.Fatal(err)
	}
	return f
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }
