package api_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// runningOn makes job id RUNNING on cluster east, whose agent lists
// features.
func (e *env) runningOn(id string, features ...structs.AgentFeature) {
	e.t.Helper()
	ctx := e.ctx()
	for _, cmd := range []fsm.Command{
		&fsm.ClusterAgent{Cluster: "east", Agent: structs.AgentInfo{Version: "v9.9.9", Features: features}},
		&fsm.JobAssignment{ID: id, Cluster: "east", Time: time.Now()},
		&fsm.JobStateUpdate{ID: id, Cluster: "east", State: structs.JobRunning, Time: time.Now()},
	} {
		if _, err := e.c.Hub(0).Write(ctx, cmd); err != nil {
			e.t.Fatal(err)
		}
	}
}

// TestSignalJob: POST /v1/jobs/{id}/signal records the request on a
// running job (the client sends it), numbered, the last 16 kept; every
// refusal (not running, not allowed, bad signal or scope, an agent that
// does not deliver signals, unknown fields) is a 4xx with the reason and
// changes nothing.
func TestSignalJob(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx()
	key, bob, alice, submit := e.aliceAndBob()
	queued, old, j := submit(), submit(), submit()
	e.runningOn(old.ID, structs.FeatureJobEnv) // east's agent is older: no job-signals
	post := func(id, k, body string) (int, string) {
		code, out := e.do("POST", "/v1/jobs/"+id+"/signal", k, []byte(body))
		return code, string(out)
	}
	if code, out := post(old.ID, key, `{"signal":"USR1"}`); code != http.StatusBadRequest ||
		!strings.Contains(out, "cluster east's agent does not deliver signals: upgrade its agent (it runs v9.9.9)") {
		t.Errorf("old agent: %d %s, want 400 naming the cluster", code, out)
	}
	e.runningOn(j.ID, structs.FeatureJobSignals)

	before := e.index()
	for name, c := range map[string]struct {
		id, key, body, want string
		code                int
	}{
		"not running":       {queued.ID, key, `{"signal":"USR1"}`, "is QUEUED: only a running job takes signals", http.StatusConflict},
		"not allowed":       {j.ID, bob, `{"signal":"USR1"}`, "", http.StatusForbidden},
		"no such job":       {"nope", key, `{"signal":"USR1"}`, "", http.StatusNotFound},
		"bad signal name":   {j.ID, key, `{"signal":"USR9"}`, "not a signal name", http.StatusBadRequest},
		"signal 0":          {j.ID, key, `{"signal":"0"}`, "want a number 1..64", http.StatusBadRequest},
		"signal 65":         {j.ID, key, `{"signal":"65"}`, "want a number 1..64", http.StatusBadRequest},
		"no signal":         {j.ID, key, `{}`, "no signal", http.StatusBadRequest},
		"bad scope":         {j.ID, key, `{"signal":"USR1","scope":"some"}`, "want all", http.StatusBadRequest},
		"unknown field":     {j.ID, key, `{"signal":"USR1","full":true}`, "", http.StatusBadRequest},
		"signal not string": {j.ID, key, `{"signal":10}`, "", http.StatusBadRequest},
	} {
		code, out := post(c.id, c.key, c.body)
		if code != c.code || !strings.Contains(out, c.want) {
			t.Errorf("%s: %d %s, want %d %q", name, code, out, c.code, c.want)
		}
	}
	if e.index() != before {
		t.Error("a refused signal changed the state")
	}

	got := value[*structs.Job](t)(alice.SignalJob(ctx, j.ID, "SIGUSR1", structs.SignalBatch))
	want := []structs.JobSignal{{Seq: 1, Signal: 10, Scope: structs.SignalBatch, By: "alice"}}
	if diff := cmp.Diff(want, got.Signals, cmpopts.IgnoreFields(structs.JobSignal{}, "Time")); diff != "" {
		t.Errorf("first signal (-want +got):\n%s", diff)
	}
	for i := range 17 {
		got = value[*structs.Job](t)(alice.SignalJob(ctx, j.ID, "12", ""))
		if last := got.Signals[len(got.Signals)-1]; last.Seq != i+2 || last.Signal != 12 || last.Scope != structs.SignalAll {
			t.Fatalf("signal %d: last request %+v", i+2, last)
		}
	}
	if len(got.Signals) != structs.MaxJobSignals || got.Signals[0].Seq != 3 {
		t.Errorf("after 18 signals: %d kept, oldest %d; want 16 from 3", len(got.Signals), got.Signals[0].Seq)
	}
	// The administrator may signal it too.
	if got = value[*structs.Job](t)(e.admin.SignalJob(ctx, j.ID, "term", "")); got.Signals[15].By == "alice" || got.Signals[15].Signal != 15 {
		t.Errorf("admin's signal: %+v", got.Signals[15])
	}
}

// TestJarviceSignal: /jarvice/signal delivers the reference's default
// SIGTSTP (20) or the number given to a running job, answering the
// reference's {"signal", "pid"} (and the request's number); a job not
// running is 404 "Running job is not found", a bad number 400. SIGTSTP
// sets the reference's substatus "Suspended by user" in /jarvice/status
// and /jarvice/jobs, SIGCONT clears it.
func TestJarviceSignal(t *testing.T) {
	e := newEnv(t)
	key := seedSmall(e)
	ctx := e.ctx()
	alice := e.client(key)
	j := value[*structs.Job](t)(alice.SubmitJob(ctx, structs.JobSubmitRequest{App: "pub", MachineType: "n1", Nodes: 1}))
	call := func(args ...string) (int, map[string]any) {
		q := url.Values{"username": {"alice"}, "apikey": {key}, "number": {strconv.FormatUint(j.Number, 10)}}
		for i := 0; i < len(args); i += 2 {
			q.Set(args[i], args[i+1])
		}
		code, out := e.do("GET", "/jarvice/signal?"+q.Encode(), "", nil)
		var m map[string]any
		json.Unmarshal(out, &m)
		return code, m
	}
	if code, m := call(); code != http.StatusNotFound || !strings.HasPrefix(m["error"].(string), "Running job is not found") {
		t.Errorf("not running: %d %v", code, m)
	}
	e.runningOn(j.ID, structs.FeatureJobSignals)
	if code, m := call("signal", "99"); code != http.StatusBadRequest {
		t.Errorf("signal 99: %d %v", code, m)
	}
	num := strconv.FormatUint(j.Number, 10)
	substatus := func(endpoint string) (float64, string) {
		code, out := e.do("GET", "/jarvice/"+endpoint+"?"+url.Values{"username": {"alice"}, "apikey": {key}, "number": {num}}.Encode(), "", nil)
		var m map[string]map[string]any
		if err := json.Unmarshal(out, &m); err != nil || code != http.StatusOK {
			t.Fatalf("/jarvice/%s: %d %s", endpoint, code, out)
		}
		sub, _ := m[num]["job_substatus"].(float64)
		text, _ := m[num]["job_substatus_text"].(string)
		return sub, text
	}
	if sub, text := substatus("status"); sub != structs.JarviceSubstatusRunning || strings.Contains(text, "Suspended") {
		t.Errorf("running: %v %q", sub, text)
	}
	if code, m := call(); code != http.StatusOK || m["signal"] != 20.0 || m["pid"] != 0.0 || m["flotilla_request"] != 1.0 {
		t.Errorf("default signal: %d %v", code, m)
	}
	for _, endpoint := range []string{"status", "jobs"} {
		if sub, text := substatus(endpoint); sub != structs.JarviceSubstatusSuspended || text != "Suspended by user" {
			t.Errorf("/jarvice/%s after SIGTSTP: %v %q", endpoint, sub, text)
		}
	}
	if code, m := call("signal", "18"); code != http.StatusOK || m["signal"] != 18.0 || m["flotilla_request"] != 2.0 {
		t.Errorf("SIGCONT: %d %v", code, m)
	}
	if sub, text := substatus("status"); sub != structs.JarviceSubstatusRunning {
		t.Errorf("/jarvice/status after SIGCONT: %v %q", sub, text)
	}
	got := value[*structs.Job](t)(alice.GetJob(ctx, j.ID, true))
	if len(got.Signals) != 2 || got.Signals[0].Signal != 20 || got.Signals[0].Scope != structs.SignalAll {
		t.Errorf("requests on the job: %+v", got.Signals)
	}
}

// TestSignalGated: while a replica in the directory does not list
// JobSignal (a rolling upgrade), a signal is refused with 409 naming it
// and changes nothing; once it lists it, the signal is recorded.
func TestSignalGated(t *testing.T) {
	e := newEnv(t)
	key := seedSmall(e)
	ctx := e.ctx()
	alice := e.client(key)
	j := value[*structs.Job](t)(alice.SubmitJob(ctx, structs.JobSubmitRequest{App: "pub", MachineType: "n1", Nodes: 1}))
	e.runningOn(j.ID, structs.FeatureJobSignals)
	listOld := func(commands string) {
		rep := structs.Replica{ID: "old", RaftAddress: "127.0.0.1:1", APIAddress: "http://127.0.0.1:1", Commands: commands}
		if _, err := e.c.Hub(0).Write(ctx, &fsm.ReplicaUpsert{Replica: rep}); err != nil {
			t.Fatal(err)
		}
	}
	listOld("1-33,41-42,60-71,80,95,96,100-102")
	before := e.index()
	if code, out := e.do("POST", "/v1/jobs/"+j.ID+"/signal", key, []byte(`{"signal":"USR1"}`)); code != http.StatusConflict ||
		!strings.Contains(string(out), "JobSignal") {
		t.Errorf("with a replica lacking JobSignal: %d %s, want 409 naming it", code, out)
	}
	if e.index() != before {
		t.Error("a refused signal changed the state")
	}
	listOld(fsm.KnownCommands())
	if got := value[*structs.Job](t)(alice.SignalJob(ctx, j.ID, "USR1", "")); len(got.Signals) != 1 {
		t.Errorf("after the upgrade: %+v", got.Signals)
	}
}

// aliceAndBob seeds the small catalog (alice's key) and a second user bob
// of alice's tenant; submit submits a one-node job of app pub as alice.
func (e *env) aliceAndBob() (key, bob string, alice *client.Client, submit func() *structs.Job) {
	e.t.Helper()
	ctx := e.ctx()
	key = seedSmall(e)
	alice = e.client(key)
	e.must(e.admin.PutUser(ctx, "bob", &structs.UserSpec{Tenant: "ta", Role: structs.RoleUser}))
	bob = value[*structs.APIKeyCreated](e.t)(e.admin.CreateAPIKey(ctx, "bob", "")).Key
	submit = func() *structs.Job {
		e.t.Helper()
		return value[*structs.Job](e.t)(alice.SubmitJob(ctx, structs.JobSubmitRequest{App: "pub", MachineType: "n1", Nodes: 1}))
	}
	return key, bob, alice, submit
}
