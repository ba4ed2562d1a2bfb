package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestSubmitDependencyEnvWorkdir: POST /v1/jobs and the JARVICE submit
// take a dependency, an environment and a working directory; the job
// shows them (the dependency resolved to job numbers) and waits HELD for
// its dependency; bad values are 400s that name the field and never a
// value, and store nothing.
func TestSubmitDependencyEnvWorkdir(t *testing.T) {
	e := newEnv(t)
	key := seedSmall(e)
	ctx := e.ctx()
	code, out := e.do("POST", "/v1/jobs", key, []byte(`{"app":"pub","machine_type":"n1","nodes":1}`))
	if code != http.StatusOK && code != http.StatusCreated {
		t.Fatalf("%d %s", code, out)
	}
	var first structs.Job
	if err := json.Unmarshal(out, &first); err != nil {
		t.Fatal(err)
	}
	code, out = e.do("POST", "/v1/jobs", key, []byte(`{"app":"pub","machine_type":"n1","nodes":1,
		"dependency":"afterok:`+first.ID+`","env":{"CASE":"wing 3"},"workdir":"/data/run"}`))
	if code != http.StatusOK && code != http.StatusCreated {
		t.Fatalf("%d %s", code, out)
	}
	var j structs.Job
	if err := json.Unmarshal(out, &j); err != nil {
		t.Fatal(err)
	}
	if j.State != structs.JobHeld || j.Dependency.String() != "afterok:1" || j.Env["CASE"] != "wing 3" || j.Workdir != "/data/run" ||
		!strings.Contains(string(out), `"dependency":{"conditions":[{"type":"afterok","job":1}]}`) {
		t.Errorf("stored %s", out)
	}
	reply, err := e.client("").JarviceSubmit(ctx, &structs.JarviceSubmit{App: "pub",
		Application: structs.JarviceApplication{Command: "Run"}, Machine: structs.JarviceMachine{Type: "n1", Nodes: 1},
		User:               structs.JarviceUser{Username: "alice", APIKey: key},
		FlotillaDependency: "afterany:1", FlotillaEnv: map[string]string{"A": "1"}, FlotillaWorkdir: "/w"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := e.client(key).ListJobs(ctx, client.JobQuery{}); err != nil {
		t.Fatal(err)
	} else {
		for _, j := range got.Jobs {
			if j.Number == reply.Number && (j.Dependency.String() != "afterany:1" || j.Env["A"] != "1" || j.Workdir != "/w") {
				t.Errorf("JARVICE job %+v", j)
			}
		}
	}

	before := e.index()
	for name, body := range map[string]string{
		"reserved variable": `{"app":"pub","machine_type":"n1","nodes":1,"env":{"SLURM_JOB_ID":"s3cret"}}`,
		"bad name":          `{"app":"pub","machine_type":"n1","nodes":1,"env":{"A-B":"s3cret"}}`,
		"newline":           `{"app":"pub","machine_type":"n1","nodes":1,"env":{"A":"s3cret\nx"}}`,
		"relative workdir":  `{"app":"pub","machine_type":"n1","nodes":1,"workdir":"run"}`,
		"unknown job":       `{"app":"pub","machine_type":"n1","nodes":1,"dependency":"afterok:77"}`,
		"never satisfiable": `{"app":"pub","machine_type":"n1","nodes":1,"dependency":"afternotok:1?afterok:77"}`,
		"unsupported type":  `{"app":"pub","machine_type":"n1","nodes":1,"dependency":"singleton"}`,
		"env not an object": `{"app":"pub","machine_type":"n1","nodes":1,"env":["A=1"]}`,
		"mixed all and any": `{"app":"pub","machine_type":"n1","nodes":1,"dependency":"afterok:1,afterany:1?after:1"}`,
	} {
		code, out := e.do("POST", "/v1/jobs", key, []byte(body))
		if code != http.StatusBadRequest || strings.Contains(string(out), "s3cret") {
			t.Errorf("%s: %d %s, want 400 without the value", name, code, out)
		}
	}
	if e.index() != before {
		t.Error("a refused submission changed the state")
	}
}
