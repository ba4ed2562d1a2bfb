package api_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
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

// arrayEnv is newEnv with seedSmall's user alice (her key and client),
// her array job of tasks 1-10 and a job of hers that is not an array,
// both of app pub on one n1 node.
func arrayEnv(t *testing.T) (e *env, key string, alice *client.Client, array, plain *structs.Job) {
	t.Helper()
	e = newEnv(t)
	key = seedSmall(e)
	alice = e.client(key)
	submit := func(spec *structs.ArraySpec) *structs.Job {
		return value[*structs.Job](t)(alice.SubmitJob(e.ctx(), structs.JobSubmitRequest{App: "pub", MachineType: "n1", Nodes: 1, Array: spec}))
	}
	return e, key, alice, submit(&structs.ArraySpec{Start: 1, End: 10}), submit(nil)
}

// TestArrayCancelTasks: POST /v1/jobs/{id}/tasks/cancel adds tasks to the
// array's canceled ones (the client and the CLI send it); bad lists, jobs
// that are not arrays and ended jobs get 400 and change nothing.
func TestArrayCancelTasks(t *testing.T) {
	e, key, alice, j, plain := arrayEnv(t)
	ctx := e.ctx()
	spec := j.Array.Spec
	if got := value[*structs.Job](t)(alice.CancelTasks(ctx, j.ID, "2, 4-5")); got.Array.CancelTasks != "2,4-5" {
		t.Errorf("canceled %q, want 2,4-5", got.Array.CancelTasks)
	}
	if got := value[*structs.Job](t)(alice.CancelTasks(ctx, j.ID, "5,3")); got.Array.CancelTasks != "2-5" {
		t.Errorf("canceled %q after a second cancel, want 2-5", got.Array.CancelTasks)
	}
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

// TestArrayTaskOutputAPI: GET /v1/jobs/{id}/tasks/{n}/output records a
// request for a task the hub has no output of and answers 202 when the
// head does not answer within the wait; an answer reported meanwhile ends
// a waiting call with it (the long poll); bad indices, jobs that are not
// arrays and jobs not running are 4xx and change nothing.
func TestArrayTaskOutputAPI(t *testing.T) {
	e, key, alice, j, plain := arrayEnv(t)
	ctx := e.ctx()

	before := e.index()
	for name, c := range map[string]struct {
		id, n string
		want  int
	}{
		"not a number":     {j.ID, "x", http.StatusBadRequest},
		"negative":         {j.ID, "-2", http.StatusBadRequest},
		"not in the array": {j.ID, "11", http.StatusNotFound},
		"not an array job": {plain.ID, "1", http.StatusBadRequest},
		"not running yet":  {j.ID, "1", http.StatusConflict},
		"no such job":      {"nope", "1", http.StatusNotFound},
	} {
		if code, out := e.do("GET", "/v1/jobs/"+c.id+"/tasks/"+c.n+"/output?wait=1ms", key, nil); code != c.want {
			t.Errorf("%s: %d %s, want %d", name, code, out, c.want)
		}
	}
	if e.index() != before {
		t.Error("a refused request changed the state")
	}

	for _, cmd := range []fsm.Command{&fsm.JobAssignment{ID: j.ID, Cluster: "east", Time: time.Now()},
		&fsm.JobStateUpdate{ID: j.ID, Cluster: "east", State: structs.JobRunning, Time: time.Now()}} {
		if _, err := e.c.Hub(0).Write(ctx, cmd); err != nil {
			t.Fatal(err)
		}
	}
	code, out := e.do("GET", "/v1/jobs/"+j.ID+"/tasks/3/output?wait=1ms", key, nil)
	var pending structs.TaskOutputPending
	if code != http.StatusAccepted || json.Unmarshal(out, &pending) != nil || !pending.Requested || pending.Index != 3 {
		t.Fatalf("first request: %d %s, want 202 requested", code, out)
	}
	got := value[*structs.Job](t)(alice.GetJob(ctx, j.ID, true))
	if len(got.Array.OutputRequests) != 1 || got.Array.OutputRequests[0].Index != 3 || got.Array.OutputSeq != 1 {
		t.Fatalf("requests on the job: %+v", got.Array.OutputRequests)
	}

	// A waiting call ends with the answer the agent reports meanwhile.
	type reply struct {
		o   *structs.TaskOutput
		err error
	}
	done := make(chan reply, 1)
	go func() {
		o, _, err := alice.TaskOutput(ctx, j.ID, 3, 20*time.Second)
		done <- reply{o, err}
	}()
	answer := structs.TaskOutput{Index: 3, State: structs.TaskSucceeded, Attempts: 1, Tail: "three\n", Seq: 1}
	if _, err := e.c.Hub(0).Write(ctx, &fsm.JobStateUpdate{ID: j.ID, Cluster: "east", State: structs.JobRunning,
		Outputs: []structs.TaskOutput{answer}, Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.o == nil || r.o.Tail != "three\n" || r.o.State != structs.TaskSucceeded || r.o.Time.IsZero() {
		t.Fatalf("waiting call: %+v %v", r.o, r.err)
	}
	got = value[*structs.Job](t)(alice.GetJob(ctx, j.ID, true))
	if len(got.Array.OutputRequests) != 0 || len(got.Array.Outputs) != 1 {
		t.Errorf("after the answer: requests %+v, outputs %d", got.Array.OutputRequests, len(got.Array.Outputs))
	}
	// The agent's assignments carry the requests, not the answers.
	agentKey := value[*structs.APIKeyCreated](t)(e.admin.CreateAgentKey(ctx, "east")).Key
	code, out = e.do("GET", "/v1/clusters/east/assignments", agentKey, nil)
	if code != http.StatusOK || strings.Contains(string(out), "three") {
		t.Errorf("assignments: %d, carry the task output: %v", code, strings.Contains(string(out), "three"))
	}
}

// TestTaskIndexErrors: one rule for task indices outside an array — a
// read of one task (its output) is a 404, a write listing tasks (a
// cancel) a 400 naming every index that is not in it — with the same
// words; a cancel takes what --array takes (steps too, no %MAX), stored
// as plain ranges.
func TestTaskIndexErrors(t *testing.T) {
	e, key, alice, j, _ := arrayEnv(t)
	ctx := e.ctx()
	n := strconv.FormatUint(j.Number, 10)
	before := e.index()
	for name, c := range map[string]struct {
		method, path, body string
		code               int
		says               string
	}{
		"output of a task not in the array": {"GET", "/tasks/11/output?wait=1ms", "", http.StatusNotFound,
			"task 11 is not in job " + n + "'s array (1-10)"},
		"cancel of one task not in the array": {"POST", "/tasks/cancel", `{"tasks":"3,11"}`, http.StatusBadRequest,
			"task 11 is not in job " + n + "'s array (1-10)"},
		"cancel of several": {"POST", "/tasks/cancel", `{"tasks":"0,1-20:3"}`, http.StatusBadRequest,
			"tasks 0,13,16,19 are not in job " + n + "'s array (1-10)"},
		"cancel with a %MAX":     {"POST", "/tasks/cancel", `{"tasks":"1-4%2"}`, http.StatusBadRequest, "a %MAX belongs to --array"},
		"cancel with step 0":     {"POST", "/tasks/cancel", `{"tasks":"1-4:0"}`, http.StatusBadRequest, `part \"1-4:0\": step 0`},
		"cancel above the bound": {"POST", "/tasks/cancel", `{"tasks":"1-100000001"}`, http.StatusBadRequest, "above 100000000"},
	} {
		code, out := e.do(c.method, "/v1/jobs/"+j.ID+c.path, key, []byte(c.body))
		if code != c.code || !strings.Contains(string(out), c.says) {
			t.Errorf("%s: %d %s, want %d saying %q", name, code, out, c.code, c.says)
		}
	}
	if e.index() != before {
		t.Error("a refused request changed the state")
	}
	if got := value[*structs.Job](t)(alice.CancelTasks(ctx, j.ID, "1-10:3")); got.Array.CancelTasks != "1,4,7,10" {
		t.Errorf("cancel 1-10:3: canceled %q, want 1,4,7,10", got.Array.CancelTasks)
	}
}
