package api_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// agentEnv is a hub with tenant ta, cluster east (machine type n1 pinned
// to it, app pub), alice's client and east's agent client.
type agentEnv struct {
	*env
	alice, agent *client.Client
}

func newAgentEnv(t *testing.T) *agentEnv {
	e := newEnv(t)
	aliceKey := seedSmall(e)
	e.keys["alice"] = aliceKey
	alice := e.client(aliceKey)
	key := value[*structs.APIKeyCreated](t)(e.admin.CreateAgentKey(e.ctx(), "east")).Key
	e.keys["agent"] = key
	return &agentEnv{env: e, alice: alice, agent: e.client(key)}
}

// submit submits a job of app pub on n1 and assigns it to cluster.
func (e *agentEnv) submit(req structs.JobSubmitRequest, cluster string) *structs.Job {
	e.t.Helper()
	if req.App == "" {
		req.App, req.MachineType, req.Nodes = "pub", "n1", 1
	}
	j := value[*structs.Job](e.t)(e.alice.SubmitJob(e.ctx(), req))
	if cluster != "" {
		e.write(&fsm.JobAssignment{ID: j.ID, Cluster: cluster, Time: time.Now()})
	}
	return value[*structs.Job](e.t)(e.alice.GetJob(e.ctx(), j.ID, true))
}

func (e *agentEnv) write(cmd fsm.Command) {
	e.t.Helper()
	if _, err := e.c.Hub(0).Write(e.ctx(), cmd); err != nil {
		e.t.Fatalf("%T: %v", cmd, err)
	}
}

func (e *agentEnv) list(q client.AssignmentQuery) *structs.AssignmentList {
	e.t.Helper()
	return value[*structs.AssignmentList](e.t)(e.agent.Assignments(e.ctx(), "east", q))
}

// TestAssignmentsSelfContained: an assignment carries what the agent needs
// to run its job, resolved at the hub; when its app, command, machine type
// or vault is gone, a Problem names it and nothing else is resolved.
func TestAssignmentsSelfContained(t *testing.T) {
	e := newAgentEnv(t)
	ctx := e.ctx()
	e.must(e.admin.PutApp(ctx, &structs.App{Name: "solver", Visibility: structs.VisibilityPublic, Image: "solver:2",
		AppDef: structs.AppDef{Name: "App", Commands: map[string]structs.Command{"run": {Path: "/opt/run.sh"}, "post": {Path: "/opt/post.sh"}}}}))
	e.must(e.admin.PutVault(ctx, vault("ta", "data")))
	e.must(e.admin.PutUser(ctx, "alice", &structs.UserSpec{Tenant: "ta", Role: structs.RoleUser,
		Identity: structs.Identity{UID: 1500, GID: 1600}}))
	j := e.submit(structs.JobSubmitRequest{App: "solver", Command: "run", MachineType: "n1", Nodes: 2, Vault: "data"}, "east")
	e.submit(structs.JobSubmitRequest{}, "") // queued: not in east's listing

	l := e.list(client.AssignmentQuery{})
	if len(l.Assignments) != 1 {
		t.Fatalf("full listing holds %d assignments, want 1", len(l.Assignments))
	}
	a := l.Assignments[0]
	switch {
	case a.Job.ID != j.ID || a.Problem != "":
		t.Errorf("assignment = %+v", a)
	case a.MachineType == nil || a.MachineType.Name != "n1" || a.MachineType.Cores != 2:
		t.Errorf("machine type = %+v", a.MachineType)
	case a.Command == nil || a.Command.Path != "/opt/run.sh" || a.Image != "solver:2":
		t.Errorf("command %+v image %q", a.Command, a.Image)
	case a.Vault == nil || a.Vault.Name != "data" || a.Identity == nil || a.Identity.UID != 1500:
		t.Errorf("vault %+v identity %+v", a.Vault, a.Identity)
	}
	if len(l.MachineTypes) != 1 || l.MachineTypes[0].Name != "n1" || l.Index == 0 {
		t.Errorf("machine types %+v index %d", l.MachineTypes, l.Index)
	}

	problem := func(what string) string {
		t.Helper()
		l := e.list(client.AssignmentQuery{})
		if len(l.Assignments) != 1 {
			t.Fatalf("%s: %d assignments", what, len(l.Assignments))
		}
		a := l.Assignments[0]
		if a.MachineType != nil || a.Command != nil || a.Image != "" || a.Vault != nil || a.Identity != nil {
			t.Errorf("%s: resolved fields beside the problem: %+v", what, a)
		}
		return a.Problem
	}
	e.must(nil, e.admin.DeleteVault(ctx, "ta", "data"))
	if p := problem("vault deleted"); p != `vault "data" of tenant "ta" no longer exists` {
		t.Errorf("vault deleted: problem %q", p)
	}
	e.must(e.admin.PutApp(ctx, &structs.App{Name: "solver", Visibility: structs.VisibilityPublic, Image: "solver:3",
		AppDef: structs.AppDef{Name: "App", Commands: map[string]structs.Command{"post": {Path: "/opt/post.sh"}}}}))
	if p := problem("command dropped"); p != `app "solver" has no command "run"` {
		t.Errorf("command dropped: problem %q", p)
	}
	e.must(nil, e.admin.DeleteApp(ctx, "solver"))
	if p := problem("app deleted"); p != `app "solver" no longer exists` {
		t.Errorf("app deleted: problem %q", p)
	}
	e.must(e.admin.PutApp(ctx, &structs.App{Name: "solver", Visibility: structs.VisibilityPublic,
		AppDef: structs.AppDef{Name: "App", Commands: map[string]structs.Command{"run": {Path: "/opt/run.sh"}}}}))
	e.must(e.admin.PutVault(ctx, vault("ta", "data")))
	e.must(nil, e.admin.DeleteMachineType(ctx, "n1", client.Force())) // job 2 still waits for n1
	if p := problem("machine type deleted"); p != `machine type "n1" no longer exists` {
		t.Errorf("machine type deleted: problem %q", p)
	}
}

// TestAssignmentsWatch: the watch returns the cluster's jobs changed past
// its index — also one moved away, which no longer names the cluster —
// and wakes on a machine type change with the new machine types.
func TestAssignmentsWatch(t *testing.T) {
	e := newAgentEnv(t)
	ctx := e.ctx()
	j := e.submit(structs.JobSubmitRequest{}, "east")
	at := e.list(client.AssignmentQuery{}).Index

	watch := func(index uint64) <-chan *structs.AssignmentList {
		ch := make(chan *structs.AssignmentList, 1)
		go func() {
			l, err := e.agent.Assignments(ctx, "east", client.AssignmentQuery{Index: index, Wait: 20 * time.Second})
			if err != nil {
				t.Error(err)
			}
			ch <- l
		}()
		return ch
	}
	got := func(ch <-chan *structs.AssignmentList) *structs.AssignmentList {
		t.Helper()
		select {
		case l := <-ch:
			if l == nil {
				t.FailNow()
			}
			return l
		case <-time.After(15 * time.Second):
			t.Fatal("watch did not return")
			return nil
		}
	}
	// Back to the queue, not taken up in time: east's watch still sees it.
	ch := watch(at)
	e.write(&fsm.JobStateUpdate{ID: j.ID, State: structs.JobQueued, Substatus: "not accepted", Time: time.Now()})
	l := got(ch)
	if len(l.Assignments) != 1 || l.Assignments[0].Job.ID != j.ID || l.Assignments[0].Job.Cluster != "" ||
		l.Assignments[0].Job.PreviousCluster != "east" || l.Index <= at {
		t.Fatalf("watch after the requeue = %+v", l)
	}
	if a := l.Assignments[0]; a.Command != nil || a.MachineType != nil {
		t.Errorf("a job that left is resolved: %+v", a)
	}
	// A job of another cluster changing does not wake it; a machine type
	// of east changing does, with no assignment and the new types.
	e.must(e.admin.PutCluster(ctx, "west", &structs.ClusterSpec{}))
	e.must(e.admin.PutMachineType(ctx, &structs.MachineType{Name: "w1", Cores: 2, RAM: 8, ScaleMax: 8, Cluster: "west"}))
	at = e.list(client.AssignmentQuery{}).Index
	ch = watch(at)
	w := e.submit(structs.JobSubmitRequest{App: "pub", MachineType: "w1", Nodes: 1}, "west")
	e.must(e.admin.PutMachineType(ctx, &structs.MachineType{Name: "n2", Cores: 4, RAM: 16, ScaleMax: 8, Cluster: "east"}))
	l = got(ch)
	if len(l.Assignments) != 0 {
		t.Errorf("watch returned %d assignments (west's job %s?), want none", len(l.Assignments), w.ID)
	}
	if len(l.MachineTypes) != 2 || l.MachineTypes[0].Name != "n1" || l.MachineTypes[1].Name != "n2" {
		t.Errorf("machine types after the change: %d", len(l.MachineTypes))
	}
}

// TestAssignmentsPaging: both the listing and the watch page by job
// number.
func TestAssignmentsPaging(t *testing.T) {
	e := newAgentEnv(t)
	before := e.list(client.AssignmentQuery{}).Index
	var want []uint64
	for range 5 {
		want = append(want, e.submit(structs.JobSubmitRequest{}, "east").Number)
	}
	for name, index := range map[string]uint64{"listing": 0, "watch": before} {
		var got []uint64
		q := client.AssignmentQuery{Index: index, Limit: 2}
		for page := 0; ; page++ {
			l := e.list(q)
			if page < 2 && (len(l.Assignments) != 2 || l.Next == 0) {
				t.Fatalf("%s page %d: %d assignments, next %d", name, page, len(l.Assignments), l.Next)
			}
			for _, a := range l.Assignments {
				got = append(got, a.Job.Number)
			}
			if l.Next == 0 {
				break
			}
			q.After = l.Next
		}
		if len(got) != len(want) {
			t.Fatalf("%s: pages hold %v, want %v", name, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s: pages hold %v, want %v in number order", name, got, want)
				break
			}
		}
	}
	for _, q := range []string{"limit=0", "limit=10001", "limit=x", "after=-1", "index=x", "wait=forever"} {
		code, body := e.do(http.MethodGet, "/v1/clusters/east/assignments?"+q, e.keys["agent"], nil)
		if code != http.StatusBadRequest {
			t.Errorf("?%s: %d %s, want 400", q, code, body)
		}
	}
	if code, _ := e.do(http.MethodGet, "/v1/clusters/east/assignments", e.keys["alice"], nil); code != http.StatusForbidden {
		t.Errorf("a user reading east's assignments: %d, want 403", code)
	}
}

// TestReportGuard: a late report about a purged job whose id a newer job
// reuses changes nothing: its number is not the newer job's, so the
// report is stale.
func TestReportGuard(t *testing.T) {
	e := newAgentEnv(t)
	old := e.submit(structs.JobSubmitRequest{ID: "j-reused"}, "east")
	push := func(reps ...structs.JobReport) []structs.JobReportResult {
		t.Helper()
		return value[*structs.ClusterStatusResult](t)(e.agent.PushStatus(e.ctx(), "east",
			&structs.ClusterStatusReport{Status: structs.ClusterReady, Jobs: reps})).Jobs
	}
	res := push(structs.JobReport{ID: old.ID, Number: old.Number, State: structs.JobRunning},
		structs.JobReport{ID: old.ID, Number: old.Number, State: structs.JobCompleted})
	if res[0].Outcome != structs.ReportApplied || res[1].Outcome != structs.ReportApplied {
		t.Fatalf("reports of the first job: %+v", res)
	}
	// Retention purges it (the leader's command, cutoff in the future).
	e.write(&fsm.JobPurge{EndedBefore: time.Now().Add(time.Hour), Limit: 100})
	if _, err := e.admin.GetJob(e.ctx(), old.ID, true); structs.KindOf(err) != structs.ErrNotFound {
		t.Fatalf("purged job still there: %v", err)
	}
	newer := e.submit(structs.JobSubmitRequest{ID: "j-reused"}, "east")
	if newer.Number == old.Number {
		t.Fatalf("the reused id got the old number %d", old.Number)
	}
	// The late reports: a repeat of the first job's end, and a state it
	// went through.
	res = push(structs.JobReport{ID: old.ID, Number: old.Number, State: structs.JobCompleted, ExitCode: 0},
		structs.JobReport{ID: old.ID, Number: old.Number, State: structs.JobRunning})
	for i, r := range res {
		if r.Outcome != structs.ReportStale || r.Number != old.Number {
			t.Errorf("late report %d: %+v, want stale", i, r)
		}
	}
	got := value[*structs.Job](t)(e.alice.GetJob(e.ctx(), newer.ID, true))
	if got.State != structs.JobAssigned || got.ModifyIndex != newer.ModifyIndex {
		t.Errorf("newer job changed by the late reports: %s (modify %d, was %d)", got.State, got.ModifyIndex, newer.ModifyIndex)
	}
	// The purged job left its accounting record.
	rec := value[*structs.AccountingRecord](t)(accountingRecord(e, "job-"+strconv.FormatUint(old.Number, 10)))
	if rec.JobID != old.ID || rec.State != structs.JobCompleted || rec.Cluster != "east" {
		t.Errorf("accounting record of the purged job = %+v", rec)
	}
}

// accountingRecord reads a record from the replica's state.
func accountingRecord(e *agentEnv, id string) (*structs.AccountingRecord, error) {
	return e.c.Hub(0).Store().Read().Accounting(id)
}

// TestReportOutcomes: every job report of a push gets its outcome.
func TestReportOutcomes(t *testing.T) {
	e := newAgentEnv(t)
	j := e.submit(structs.JobSubmitRequest{}, "east")
	queued := e.submit(structs.JobSubmitRequest{}, "")
	res := value[*structs.ClusterStatusResult](t)(e.agent.PushStatus(e.ctx(), "east", &structs.ClusterStatusReport{
		Jobs: []structs.JobReport{
			{ID: j.ID, Number: j.Number, State: structs.JobAssigned, Substatus: "waiting for 1 node"}, // a reason
			{ID: j.ID, Number: j.Number, State: structs.JobRunning},
			{ID: j.ID, Number: j.Number, State: structs.JobCompleted},
			{ID: j.ID, Number: j.Number, State: structs.JobRunning},           // after the end: stale
			{ID: j.ID, Number: j.Number, State: structs.JobCompleted},         // the end again: applied
			{ID: queued.ID, Number: queued.Number, State: structs.JobRunning}, // not east's
			{ID: "j-none", Number: 999, State: structs.JobRunning},            // unknown
			{ID: j.ID, Number: j.Number + 1000, State: structs.JobCompleted},  // wrong number
		}})).Jobs
	want := []structs.ReportOutcome{structs.ReportApplied, structs.ReportApplied, structs.ReportApplied, structs.ReportStale,
		structs.ReportApplied, structs.ReportStale, structs.ReportStale, structs.ReportStale}
	for i := range want {
		if res[i].Outcome != want[i] {
			t.Errorf("report %d: %+v, want %s", i, res[i], want[i])
		}
	}
	// A report without a job number is bad input: 400, nothing changes.
	before := e.index()
	code, body := e.do(http.MethodPost, "/v1/clusters/east/status", e.keys["agent"],
		jsonOf(t, structs.ClusterStatusReport{Jobs: []structs.JobReport{{ID: queued.ID, State: structs.JobRunning}}}))
	if code != http.StatusBadRequest || e.index() != before {
		t.Errorf("report without a number: %d %s, index %d → %d", code, body, before, e.index())
	}
}
