package api_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestArraySubmitAndTasks: an array job submitted through REST in either
// form and through the JARVICE extension is stored with its spec; bad
// specs get 400 and store nothing; the progress an agent reports shows on
// the job and in GET /v1/jobs/{id}/tasks.
func TestArraySubmitAndTasks(t *testing.T) {
	e := newEnv(t)
	key := seedSmall(e)
	ctx := e.ctx()
	alice := e.client(key)

	want := &structs.ArrayJob{Spec: structs.ArraySpec{Start: 1, End: 10, MaxRunning: 4}, TaskRetries: 2,
		TaskWalltime: structs.Duration(time.Minute)}
	var ids []string
	for name, body := range map[string]string{
		"string": `{"app":"pub","machine_type":"n1","nodes":1,"array":"1-10%4","task_retries":2,"task_walltime":"1m"}`,
		"object": `{"app":"pub","machine_type":"n1","nodes":1,"array":{"start":1,"end":10,"max_running":4},"task_retries":2,"task_walltime":"1m"}`,
	} {
		code, out := e.do("POST", "/v1/jobs", key, []byte(body))
		if code != http.StatusOK && code != http.StatusCreated {
			t.Fatalf("%s: %d %s", name, code, out)
		}
		var j structs.Job
		if err := json.Unmarshal(out, &j); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, j.Array); diff != "" {
			t.Errorf("%s: stored array (-want +got):\n%s", name, diff)
		}
		ids = append(ids, j.ID)
	}
	reply := value[*structs.JarviceSubmitReply](t)(e.client("").JarviceSubmit(ctx, &structs.JarviceSubmit{App: "pub",
		Application: structs.JarviceApplication{Command: "Run"}, Machine: structs.JarviceMachine{Type: "n1", Nodes: 1},
		User:          structs.JarviceUser{Username: "alice", APIKey: key},
		FlotillaArray: &structs.JarviceArray{Array: structs.ArraySpec{Start: 1, End: 10, MaxRunning: 4}, TaskRetries: 2, TaskWalltime: "00:01:00"}}))
	jobs := value[*structs.JobList](t)(alice.ListJobs(ctx, client.JobQuery{}))
	for _, j := range jobs.Jobs {
		if j.Number == reply.Number {
			if diff := cmp.Diff(want, j.Array); diff != "" {
				t.Errorf("JARVICE: stored array (-want +got):\n%s", diff)
			}
		}
	}

	before := e.index()
	for name, body := range map[string]string{
		"reversed":             `{"app":"pub","machine_type":"n1","nodes":1,"array":"10-1"}`,
		"throttle 0":           `{"app":"pub","machine_type":"n1","nodes":1,"array":"1-10%0"}`,
		"object out of bounds": `{"app":"pub","machine_type":"n1","nodes":1,"array":{"start":-1,"end":3}}`,
		"unknown object field": `{"app":"pub","machine_type":"n1","nodes":1,"array":{"start":1,"end":3,"every":2}}`,
		"retries, no array":    `{"app":"pub","machine_type":"n1","nodes":1,"task_retries":1}`,
		"too many tasks":       `{"app":"pub","machine_type":"n1","nodes":1,"array":"0-2000000"}`,
	} {
		if code, out := e.do("POST", "/v1/jobs", key, []byte(body)); code != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", name, code, out)
		}
	}
	if e.index() != before {
		t.Error("a refused submission changed the state")
	}

	// An agent's report of progress lands on the job and its task list.
	id := ids[0]
	if _, err := e.c.Hub(0).Write(ctx, &fsm.JobAssignment{ID: id, Cluster: "east", Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	prog := &structs.ArrayProgress{Total: 10, Pending: 3, Running: 2, Succeeded: 4, Failed: 1, Retried: 3,
		Done: "1-3,5", RunningTasks: []int{6, 7},
		Failures: []structs.TaskResult{{Index: 4, State: structs.TaskFailed, ExitCode: 3, Attempts: 3, Tail: "boom"}}}
	if _, err := e.c.Hub(0).Write(ctx, &fsm.JobStateUpdate{ID: id, Cluster: "east", State: structs.JobRunning, Array: prog, Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	j := value[*structs.Job](t)(alice.GetJob(ctx, id, true))
	if diff := cmp.Diff(prog, j.Array.Progress); diff != "" {
		t.Errorf("progress on the job (-want +got):\n%s", diff)
	}
	for state, wantIdx := range map[structs.TaskState][]int{
		structs.TaskSucceeded: {1, 2, 3, 5}, structs.TaskRunning: {6, 7}, structs.TaskFailed: {4},
		structs.TaskPending: {8, 9, 10}, "": {1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
	} {
		l := value[*structs.TaskList](t)(alice.JobTasks(ctx, id, state, 0))
		var got []int
		for _, tk := range l.Tasks {
			got = append(got, tk.Index)
			if tk.Index == 4 && (tk.ExitCode != 3 || tk.Tail != "boom") {
				t.Errorf("failed task 4 = %+v", tk)
			}
		}
		if diff := cmp.Diff(wantIdx, got); diff != "" {
			t.Errorf("tasks in state %q (-want +got):\n%s", state, diff)
		}
	}
	if l := value[*structs.TaskList](t)(alice.JobTasks(ctx, id, "", 3)); len(l.Tasks) != 3 || !l.Truncated {
		t.Errorf("limit 3: %+v", l)
	}
	if code, _ := e.do("GET", "/v1/jobs/"+id+"/tasks?state=lost", key, nil); code != http.StatusBadRequest {
		t.Errorf("bad state: %d, want 400", code)
	}
	plain := value[*structs.Job](t)(alice.SubmitJob(ctx, structs.JobSubmitRequest{App: "pub", MachineType: "n1", Nodes: 1}))
	if code, _ := e.do("GET", "/v1/jobs/"+plain.ID+"/tasks", key, nil); code != http.StatusBadRequest {
		t.Errorf("tasks of a job that is not an array: %d, want 400", code)
	}
}

// TestArrayCancelTasks: POST /v1/jobs/{id}/tasks/cancel adds tasks to the
// array's canceled ones (the client and the CLI send it); bad lists, jobs
// that are not arrays and ended jobs get 400 and change nothing.
func TestArrayCancelTasks(t *testing.T) {
	e := newEnv(t)
	key := seedSmall(e)
	ctx := e.ctx()
	alice := e.client(key)
	spec := structs.ArraySpec{Start: 1, End: 10}
	j := value[*structs.Job](t)(alice.SubmitJob(ctx, structs.JobSubmitRequest{App: "pub", MachineType: "n1", Nodes: 1, Array: &spec}))
	if got := value[*structs.Job](t)(alice.CancelTasks(ctx, j.ID, "2, 4-5")); got.Array.CancelTasks != "2,4-5" {
		t.Errorf("canceled %q, want 2,4-5", got.Array.CancelTasks)
	}
	if got := value[*structs.Job](t)(alice.CancelTasks(ctx, j.ID, "5,3")); got.Array.CancelTasks != "2-5" {
		t.Errorf("canceled %q after a second cancel, want 2-5", got.Array.CancelTasks)
	}
	plain := value[*structs.Job](t)(alice.SubmitJob(ctx, structs.JobSubmitRequest{App: "pub", MachineType: "n1", Nodes: 1}))
	ended := value[*structs.Job](t)(alice.SubmitJob(ctx, structs.JobSubmitRequest{App: "pub", MachineType: "n1", Nodes: 1, Array: &spec}))
	value[*structs.Job](t)(alice.CancelJob(ctx, ended.ID, ""))
	before := e.index()
	for name, c := range map[string]struct{ id, body string }{
		"not in the array":   {j.ID, `{"tasks":"11"}`},
		"malformed":          {j.ID, `{"tasks":"2-x"}`},
		"reversed range":     {j.ID, `{"tasks":"5-2"}`},
		"empty":              {j.ID, `{"tasks":""}`},
		"unknown field":      {j.ID, `{"tasks":"1","all":true}`},
		"not an array job":   {plain.ID, `{"tasks":"1"}`},
		"an ended array job": {ended.ID, `{"tasks":"1"}`},
	} {
		if code, out := e.do("POST", "/v1/jobs/"+c.id+"/tasks/cancel", key, []byte(c.body)); code != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", name, code, out)
		}
	}
	if e.index() != before {
		t.Error("a refused cancel changed the state")
	}
	if got := value[*structs.Job](t)(alice.GetJob(ctx, j.ID, false)); got.Array.CancelTasks != "2-5" {
		t.Errorf("after refused cancels: %q, want 2-5", got.Array.CancelTasks)
	}
}
