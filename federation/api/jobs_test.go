package api_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestJobWatchAndAgentFlow follows a job from submission through an
// agent's watch of its cluster's assignments and its status reports, with
// a blocking watch of the jobs table along the way.
func TestJobWatchAndAgentFlow(t *testing.T) {
	e := newEnv(t)
	alice := e.client(seedSmall(e))
	ctx := e.ctx()
	agentKey := value[*structs.APIKeyCreated](t)(e.admin.CreateAgentKey(ctx, "east")).Key
	agent := e.client(agentKey)

	value[*structs.Job](t)(alice.SubmitJob(ctx, structs.JobSubmitRequest{App: "pub", MachineType: "n1", Nodes: 1}))
	first := value[*structs.JobList](t)(alice.ListJobs(ctx, client.JobQuery{}))
	watched := make(chan *structs.JobList, 1)
	go func() {
		l, err := alice.WatchJobs(ctx, client.JobQuery{}, first.Index, 20*time.Second)
		if err != nil {
			t.Error(err)
		}
		watched <- l
	}()
	j := value[*structs.Job](t)(alice.SubmitJob(ctx, structs.JobSubmitRequest{App: "pub", MachineType: "n1", Nodes: 2,
		Walltime: structs.Duration(2 * time.Hour), Parameters: map[string]string{"np": "8"}}))
	select {
	case l := <-watched:
		if l == nil || l.Index <= first.Index || len(l.Jobs) != 2 || l.Jobs[1].ID != j.ID {
			t.Fatalf("watch = %+v, want the new job past index %d", l, first.Index)
		}
	case <-ctx.Done():
		t.Fatal("watch did not return")
	}

	// Nothing is assigned to east yet.
	a := value[*structs.AssignmentList](t)(agent.Assignments(ctx, "east", client.AssignmentQuery{}))
	if len(a.Assignments) != 0 {
		t.Fatalf("assignments before placement = %+v", a.Assignments)
	}
	// Placement is another engineer's; assign the job as it would.
	if _, err := e.c.Hub(0).Write(ctx, &fsm.JobAssignment{ID: j.ID, Cluster: "east", Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	a = value[*structs.AssignmentList](t)(agent.Assignments(ctx, "east", client.AssignmentQuery{Index: a.Index, Wait: 10 * time.Second}))
	if len(a.Assignments) != 1 || a.Assignments[0].Job.ID != j.ID || a.Assignments[0].Job.State != structs.JobAssigned {
		t.Fatalf("assignments = %+v", a.Assignments)
	}
	rep := &structs.ClusterStatusReport{Status: structs.ClusterReady,
		Capacity: map[string]structs.Capacity{"n1": {Free: 2, Total: 4}},
		Jobs:     []structs.JobReport{{ID: j.ID, Number: j.Number, State: structs.JobRunning}}}
	res := value[*structs.ClusterStatusResult](t)(agent.PushStatus(ctx, "east", rep))
	if len(res.Jobs) != 1 || res.Jobs[0].Outcome != structs.ReportApplied {
		t.Fatalf("status result = %+v", res)
	}
	done := &structs.ClusterStatusReport{Jobs: []structs.JobReport{{ID: j.ID, Number: j.Number, State: structs.JobCompletedWithError,
		ExitCode: 3, LogTail: "boom"}}}
	for range 2 { // a repeated final report is applied again
		res = value[*structs.ClusterStatusResult](t)(agent.PushStatus(ctx, "east", done))
		if res.Jobs[0].Outcome != structs.ReportApplied {
			t.Fatalf("final report: %+v", res.Jobs[0])
		}
	}
	got := value[*structs.Job](t)(alice.GetJob(ctx, j.ID, true))
	if got.State != structs.JobCompletedWithError || got.ExitCode != 3 || got.StartTime.IsZero() || got.EndTime.IsZero() {
		t.Errorf("finished job = %+v", got)
	}
	cl := value[*structs.Cluster](t)(e.admin.GetCluster(ctx, "east"))
	if cl.Status != structs.ClusterReady || cl.Capacity["n1"].Total != 4 || cl.LastHeartbeat.IsZero() {
		t.Errorf("cluster after heartbeat = %+v", cl)
	}
	// A report for a job of another cluster is stale, job by job.
	other := value[*structs.Job](t)(alice.SubmitJob(ctx, structs.JobSubmitRequest{App: "pub", MachineType: "n1", Nodes: 1}))
	res = value[*structs.ClusterStatusResult](t)(agent.PushStatus(ctx, "east", &structs.ClusterStatusReport{
		Jobs: []structs.JobReport{{ID: other.ID, Number: other.Number, State: structs.JobRunning}}}))
	if res.Jobs[0].Outcome != structs.ReportStale || res.Jobs[0].Error == "" {
		t.Errorf("report about a job not assigned to the cluster: %+v, want stale", res.Jobs[0])
	}
}

func TestJobListPaging(t *testing.T) {
	e := newEnv(t)
	alice := e.client(seedSmall(e))
	ctx := e.ctx()
	var ids []string
	for range 5 {
		ids = append(ids, value[*structs.Job](t)(alice.SubmitJob(ctx, structs.JobSubmitRequest{App: "pub", MachineType: "n1", Nodes: 1})).ID)
	}
	value[*structs.Job](t)(alice.CancelJob(ctx, ids[1], "test"))
	page := value[*structs.JobList](t)(alice.ListJobs(ctx, client.JobQuery{Limit: 2}))
	if len(page.Jobs) != 2 || page.Next == 0 {
		t.Fatalf("first page = %+v", page)
	}
	all := value[[]*structs.Job](t)(alice.AllJobs(ctx, client.JobQuery{Limit: 2}))
	if len(all) != 5 {
		t.Errorf("all pages hold %d jobs, want 5", len(all))
	}
	for i, j := range all {
		if j.ID != ids[i] {
			t.Errorf("job %d = %s, want %s (number order)", i, j.ID, ids[i])
		}
	}
	canceled := value[*structs.JobList](t)(alice.ListJobs(ctx, client.JobQuery{State: structs.JobCanceled}))
	if len(canceled.Jobs) != 1 || canceled.Jobs[0].ID != ids[1] {
		t.Errorf("canceled jobs = %+v", canceled.Jobs)
	}
	active := value[*structs.JobList](t)(alice.ListJobs(ctx, client.JobQuery{Active: true}))
	if len(active.Jobs) != 4 {
		t.Errorf("%d active jobs, want 4", len(active.Jobs))
	}
	for _, q := range []string{"limit=0", "limit=x", "after=-1", "state=BOGUS", "index=x", "wait=forever", "consistent=maybe"} {
		if status, body := e.do("GET", "/v1/jobs?"+q, e.keys["global"], nil); status != http.StatusBadRequest {
			t.Errorf("GET /v1/jobs?%s: %d %s, want 400", q, status, body)
		}
	}
}

func TestJarviceSurface(t *testing.T) {
	e := newEnv(t)
	key := seedSmall(e)
	ctx := e.ctx()
	c := e.client("")
	sub := &structs.JarviceSubmit{App: "pub",
		Application: structs.JarviceApplication{Command: "Run", Walltime: "02:00:00",
			Parameters: map[string]json.RawMessage{"np": json.RawMessage(`8`), "verbose": json.RawMessage(`true`), "input": json.RawMessage(`"case.cas"`)}},
		Machine: structs.JarviceMachine{Type: "n1", Nodes: 2}, User: structs.JarviceUser{Username: "alice", APIKey: key},
		JobLabel: "lbl", JobProject: "proj", JobPriority: "high"}
	reply := value[*structs.JarviceSubmitReply](t)(c.JarviceSubmit(ctx, sub))
	if reply.Number == 0 || reply.Name == "" {
		t.Fatalf("submit reply = %+v", reply)
	}
	ref := client.JarviceJobRef{Number: reply.Number}
	st := value[map[string]structs.JarviceJobStatus](t)(c.JarviceStatus(ctx, "alice", key, ref))
	s, ok := st[strconv.FormatUint(reply.Number, 10)]
	if !ok || s.JobName != reply.Name || s.JobStatus != "SUBMITTED" || s.JobSubstatus != structs.JarviceSubstatusQueued || s.JobSubstatusText != "Queued" ||
		s.JobWalltime != "02:00:00" || s.JobApplication != "pub" || s.JobCommand != "Run" ||
		s.JobProject != "proj" || s.JobSubmitTime == 0 || s.JobEndTime != 0 {
		t.Errorf("status = %+v", st)
	}
	job := value[*structs.JobList](t)(e.client(key).ListJobs(ctx, client.JobQuery{})).Jobs[0]
	if job.Parameters["np"] != "8" || job.Parameters["verbose"] != "true" || job.Parameters["input"] != "case.cas" ||
		job.Priority != structs.PriorityHigh || job.Label != "lbl" {
		t.Errorf("stored job = %+v", job)
	}
	byName := value[map[string]structs.JarviceJobStatus](t)(c.JarviceStatus(ctx, "alice", key, client.JarviceJobRef{Name: reply.Name}))
	if len(byName) != 1 {
		t.Errorf("status by name = %+v", byName)
	}
	if jobs := value[map[string]structs.JarviceJobStatus](t)(c.JarviceJobs(ctx, "alice", key, false)); len(jobs) != 1 {
		t.Errorf("jobs = %+v", jobs)
	}
	if info := value[*structs.JarviceJobInfo](t)(c.JarviceInfo(ctx, "alice", key, ref)); info.Actions == nil || info.URL != nil {
		t.Errorf("info = %+v", info)
	}
	if apps := value[map[string]structs.JarviceApp](t)(c.JarviceApps(ctx, "alice", key, "")); len(apps) != 1 {
		t.Errorf("apps = %+v", apps)
	}
	if m := value[map[string]*structs.MachineType](t)(c.JarviceMachines(ctx, "alice", key, "n1")); m["n1"] == nil || m["n1"].Cores != 2 {
		t.Errorf("machines = %+v", m)
	}
	if act := value[*structs.JarviceAction](t)(c.JarviceTerminate(ctx, "alice", key, ref)); act.Status != "terminated" {
		t.Errorf("terminate = %+v", act)
	}
	st = value[map[string]structs.JarviceJobStatus](t)(c.JarviceStatus(ctx, "alice", key, ref))
	if s := st[strconv.FormatUint(reply.Number, 10)]; s.JobStatus != "CANCELED" || s.JobEndTime == 0 {
		t.Errorf("status after terminate = %+v", s)
	}
	if jobs := value[map[string]structs.JarviceJobStatus](t)(c.JarviceJobs(ctx, "alice", key, false)); len(jobs) != 0 {
		t.Errorf("active jobs after terminate = %+v", jobs)
	}
	// The wrong key differs from the real one in its last hex digit (a
	// fixed replacement digit equals the real one in 1 of 16 runs).
	wrong := key[:len(key)-1] + "0"
	if key[len(key)-1] == '0' {
		wrong = key[:len(key)-1] + "1"
	}
	for name, tc := range map[string]struct{ user, key string }{
		"wrong key": {"alice", wrong}, "other user": {hubtest.Admin, key}, "no key": {"alice", ""},
	} {
		_, err := c.JarviceStatus(ctx, tc.user, tc.key, ref)
		if !errors.Is(err, structs.ErrUnauthorized) {
			t.Errorf("%s: %v, want unauthorized", name, err)
		}
	}
}

// TestSubmitIDOfAnotherUser refuses a submission reusing another user's job
// ID and leaves that job alone.
func TestSubmitIDOfAnotherUser(t *testing.T) {
	e := newEnv(t)
	alice := e.client(seedSmall(e))
	ctx := e.ctx()
	e.must(e.admin.PutUser(ctx, "bob", &structs.UserSpec{Tenant: "ta", Role: structs.RoleUser}))
	bob := e.client(value[*structs.APIKeyCreated](t)(e.admin.CreateAPIKey(ctx, "bob", "")).Key)
	req := structs.JobSubmitRequest{ID: "j-shared", App: "pub", MachineType: "n1", Nodes: 1}
	j := value[*structs.Job](t)(alice.SubmitJob(ctx, req))
	if _, err := bob.SubmitJob(ctx, req); !errors.Is(err, structs.ErrConflict) {
		t.Errorf("bob reusing alice's job id: %v, want conflict", err)
	}
	if got := value[*structs.Job](t)(alice.GetJob(ctx, "j-shared", false)); got.Owner != "alice" || got.Number != j.Number {
		t.Errorf("job after bob's attempt = %+v", got)
	}
}
