package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestArrayTaskCPUBindSubmit: task_cpu_bind (v1, and JARVICE's
// flotilla_array) is stored as the job variable that carries it to the
// pods; a binding without an array, an unknown one or one the job
// variable contradicts is a 400 that stores nothing.
func TestArrayTaskCPUBindSubmit(t *testing.T) {
	e := newEnv(t)
	key := seedSmall(e)
	ctx := e.ctx()
	alice := e.client(key)

	stored := e.submitV1(key, alice, `{"app":"pub","machine_type":"n1","nodes":1,"array":"1-10","task_cpu_bind":"slots","env":{"A":"1"}}`)
	if stored.TaskCPUBind() != "slots" || stored.Env["A"] != "1" || stored.Env[structs.ArrayTaskCPUBindVar] != "slots" {
		t.Errorf("v1: stored binding %q, env %v; want slots and A kept", stored.TaskCPUBind(), stored.Env)
	}

	reply := value[*structs.JarviceSubmitReply](t)(e.client("").JarviceSubmit(ctx, &structs.JarviceSubmit{App: "pub",
		Application: structs.JarviceApplication{Command: "Run"}, Machine: structs.JarviceMachine{Type: "n1", Nodes: 1},
		User:          structs.JarviceUser{Username: "alice", APIKey: key},
		FlotillaArray: &structs.JarviceArray{Array: structs.ArraySpec{Start: 1, End: 10}, TaskCPUBind: "none"}}))
	found := false
	for _, j := range value[*structs.JobList](t)(alice.ListJobs(ctx, client.JobQuery{})).Jobs {
		if j.Number == reply.Number {
			found = true
			if j.TaskCPUBind() != "none" {
				t.Errorf("JARVICE: stored binding %q, want none", j.TaskCPUBind())
			}
		}
	}
	if !found {
		t.Fatal("JARVICE: job not listed")
	}

	before := e.index()
	for name, body := range map[string]string{
		"no array":     `{"app":"pub","machine_type":"n1","nodes":1,"task_cpu_bind":"slots"}`,
		"unknown":      `{"app":"pub","machine_type":"n1","nodes":1,"array":"1-10","task_cpu_bind":"cores"}`,
		"contradicted": `{"app":"pub","machine_type":"n1","nodes":1,"array":"1-10","task_cpu_bind":"slots","env":{"` + structs.ArrayTaskCPUBindVar + `":"none"}}`,
		"bad variable": `{"app":"pub","machine_type":"n1","nodes":1,"array":"1-10","env":{"` + structs.ArrayTaskCPUBindVar + `":"yes"}}`,
		"not a string": `{"app":"pub","machine_type":"n1","nodes":1,"array":"1-10","task_cpu_bind":1}`,
		"in the spec":  `{"app":"pub","machine_type":"n1","nodes":1,"array":{"start":1,"end":10,"cpu_bind":"slots"}}`,
	} {
		if code, out := e.do("POST", "/v1/jobs", key, []byte(body)); code != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", name, code, out)
		}
	}
	if e.index() != before {
		t.Error("a refused submission changed the state")
	}
}

// submitV1 posts body to POST /v1/jobs as key's user, who must be
// accepted, and returns the job as stored, read back through alice.
func (e *env) submitV1(key string, alice *client.Client, body string) *structs.Job {
	e.t.Helper()
	code, out := e.do("POST", "/v1/jobs", key, []byte(body))
	if code != http.StatusOK && code != http.StatusCreated {
		e.t.Fatalf("v1: %d %s", code, out)
	}
	var j structs.Job
	if err := json.Unmarshal(out, &j); err != nil {
		e.t.Fatal(err)
	}
	return value[*structs.Job](e.t)(alice.GetJob(e.ctx(), j.ID, false))
}
