package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestSignalAtSubmit: a submission's signal before the walltime ends (v1
// "signal", JARVICE's flotilla_signal) is stored, canonical, as the job
// variable that carries it to the pods; a bad signal, a TIME of 0 or not
// shorter than the walltime, a job without a walltime, a request the job
// variable contradicts is a 400 naming the field, and stores nothing.
func TestSignalAtSubmit(t *testing.T) {
	e := newEnv(t)
	key := seedSmall(e)
	ctx := e.ctx()
	alice := e.client(key)

	stored := e.submitV1(key, alice, `{"app":"pub","machine_type":"n1","nodes":1,"walltime":"1h","signal":"B:SIGUSR1@120","env":{"A":"1"}}`)
	if a, ok := stored.SignalAt(); !ok || a.String() != "B:USR1@120" || stored.Env["A"] != "1" || stored.Env[structs.JobSignalAtVar] != "B:USR1@120" {
		t.Errorf("v1: stored %+v %v, env %v; want B:USR1@120 and A kept", a, ok, stored.Env)
	}
	if got := stored.NeedsFeatures(); len(got) != 2 || got[1] != structs.FeatureJobSignalAt {
		t.Errorf("the job needs %v", got)
	}

	reply := value[*structs.JarviceSubmitReply](t)(e.client("").JarviceSubmit(ctx, &structs.JarviceSubmit{App: "pub",
		Application: structs.JarviceApplication{Command: "Run", Walltime: "00:20:00"}, Machine: structs.JarviceMachine{Type: "n1", Nodes: 1},
		User: structs.JarviceUser{Username: "alice", APIKey: key}, FlotillaSignal: "usr2"}))
	found := false
	for _, j := range value[*structs.JobList](t)(alice.ListJobs(ctx, client.JobQuery{})).Jobs {
		if j.Number == reply.Number {
			found = true
			if j.Env[structs.JobSignalAtVar] != "USR2@60" {
				t.Errorf("JARVICE: stored %q, want USR2@60", j.Env[structs.JobSignalAtVar])
			}
		}
	}
	if !found {
		t.Fatal("JARVICE: job not listed")
	}

	before := e.index()
	for name, c := range map[string]struct{ body, want string }{
		"bad name":            {`{"app":"pub","machine_type":"n1","nodes":1,"walltime":"1h","signal":"USR9"}`, "signal"},
		"TIME 0":              {`{"app":"pub","machine_type":"n1","nodes":1,"walltime":"1h","signal":"USR1@0"}`, "at least 1 second"},
		"TIME is walltime":    {`{"app":"pub","machine_type":"n1","nodes":1,"walltime":"1m","signal":"USR1"}`, "not shorter than the walltime"},
		"TIME beyond it":      {`{"app":"pub","machine_type":"n1","nodes":1,"walltime":"20s","signal":"USR1@30"}`, "not shorter than the walltime"},
		"no walltime":         {`{"app":"pub","machine_type":"n1","nodes":1,"signal":"USR1@10"}`, "needs a walltime"},
		"bad flag":            {`{"app":"pub","machine_type":"n1","nodes":1,"walltime":"1h","signal":"X:USR1"}`, "want R: or B:"},
		"contradicted":        {`{"app":"pub","machine_type":"n1","nodes":1,"walltime":"1h","signal":"USR1","env":{"` + structs.JobSignalAtVar + `":"USR2"}}`, "differs"},
		"bad variable":        {`{"app":"pub","machine_type":"n1","nodes":1,"walltime":"1h","env":{"` + structs.JobSignalAtVar + `":"now"}}`, structs.JobSignalAtVar},
		"not a string":        {`{"app":"pub","machine_type":"n1","nodes":1,"walltime":"1h","signal":10}`, ""},
		"object form refused": {`{"app":"pub","machine_type":"n1","nodes":1,"walltime":"1h","signal":{"signal":"USR1"}}`, ""},
	} {
		code, out := e.do("POST", "/v1/jobs", key, []byte(c.body))
		if code != http.StatusBadRequest || !strings.Contains(string(out), c.want) || (c.want != "" && !strings.Contains(string(out), "signal")) {
			t.Errorf("%s: %d %s, want 400 saying %q", name, code, out, c.want)
		}
	}
	if _, err := e.client("").JarviceSubmit(ctx, &structs.JarviceSubmit{App: "pub",
		Application: structs.JarviceApplication{Command: "Run"}, Machine: structs.JarviceMachine{Type: "n1", Nodes: 1},
		User: structs.JarviceUser{Username: "alice", APIKey: key}, FlotillaSignal: "USR1@30"}); err == nil || !strings.Contains(err.Error(), "needs a walltime") {
		t.Errorf("JARVICE without a walltime: %v", err)
	}
	if e.index() != before {
		t.Error("a refused submission changed the state")
	}
}
