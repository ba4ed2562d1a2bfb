package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// batch posts body to /v1/jobs/batch with key and decodes its 200 reply.
func (e *env) batch(key string, req []byte) structs.JobBatchReply {
	t := e.t
	t.Helper()
	code, body := e.do("POST", "/v1/jobs/batch", key, req)
	if code != http.StatusOK {
		t.Fatalf("batch: %d %s", code, body)
	}
	var r structs.JobBatchReply
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("batch reply %s: %v", body, err)
	}
	return r
}

// storedJobs is every job the replica stores, by id.
func storedJobs(t *testing.T, e *env) map[string]*structs.Job {
	t.Helper()
	jobs, _, err := e.c.Hub(0).Store().Read().ListJobs(state.JobFilter{})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]*structs.Job{}
	for _, j := range jobs {
		m[j.ID] = j
	}
	return m
}

// TestJobBatchMixedItems sends good and bad items in one batch: each
// good one is stored, each bad one gets what POST /v1/jobs answers for
// it alone (status, message, field path rooted at the batch), in the
// items' order, and changes nothing; a retry of the batch returns the
// stored jobs and makes none twice.
func TestJobBatchMixedItems(t *testing.T) {
	e := newEnv(t)
	alice := seedSmall(e)
	items := []string{
		`{"id":"b-ok-1","app":"pub","machine_type":"n1","nodes":1}`,
		`{"id":"b-bad-nodes","app":"pub","machine_type":"n1","nodes":0}`,
		`{"id":"b-bad-mt","app":"pub","machine_type":"nope","nodes":1}`,
		`{"id":"b-unknown","app":"pub","machine_type":"n1","nodes":1,"colour":"red"}`,
		`{"id":"b-dep","app":"pub","machine_type":"n1","nodes":1,"dependency":"afterok:b-ok-1"}`,
		`{"id":"b-fwd","app":"pub","machine_type":"n1","nodes":1,"dependency":"afterok:b-later"}`,
		`{"id":"b-ok-1","app":"pub","machine_type":"n1","nodes":2}`,
		`{"id":"b-dep-bad","app":"pub","machine_type":"n1","nodes":1,"dependency":"afterany:b-bad-mt"}`,
		`{"id":"b-later","app":"pub","machine_type":"n1","nodes":1,"parameters":{"np":"4"}}`,
		`null`,
	}
	body := []byte(`{"jobs":[` + strings.Join(items, ",") + `]}`)

	// What each bad item gets alone.
	single := map[int]int{}
	for _, i := range []int{1, 2, 3} {
		code, _ := e.do("POST", "/v1/jobs", alice, []byte(items[i]))
		single[i] = code
	}
	before := storedJobs(t, e)
	if len(before) != 0 {
		t.Fatalf("refused single submissions stored %d jobs", len(before))
	}

	r := e.batch(alice, body)
	if len(r.Jobs) != len(items) {
		t.Fatalf("%d results for %d items", len(r.Jobs), len(items))
	}
	type outcome struct {
		ID     string
		Status int
		Path   string
	}
	got := make([]outcome, len(r.Jobs))
	for i, it := range r.Jobs {
		if it.Job != nil {
			got[i] = outcome{ID: it.Job.ID, Status: 200}
			continue
		}
		got[i] = outcome{Status: it.Status}
		if len(it.Errors) > 0 {
			got[i].Path = it.Errors[0].Path
		}
		if it.Error == "" {
			t.Errorf("item %d: refused without a message: %+v", i, it)
		}
	}
	want := []outcome{
		{ID: "b-ok-1", Status: 200},
		{Status: single[1], Path: "$.jobs[1].nodes"},
		{Status: single[2]}, // an unknown machine type: no field named, as alone
		{Status: single[3]},
		{ID: "b-dep", Status: 200},
		{Status: 400, Path: "$.jobs[5].dependency"},
		{Status: 400, Path: "$.jobs[6].id"},
		{Status: 400, Path: "$.jobs[7].dependency"},
		{ID: "b-later", Status: 200},
		{Status: 400, Path: "$.jobs[9].app"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("outcomes (-want +got):\n%s", d)
	}
	stored := storedJobs(t, e)
	if len(stored) != 3 || stored["b-ok-1"] == nil || stored["b-dep"] == nil || stored["b-later"] == nil {
		t.Fatalf("stored %v, want b-ok-1, b-dep, b-later", keysOf(stored))
	}
	dep := stored["b-dep"].Dependency
	if dep == nil || len(dep.Conditions) != 1 || dep.Conditions[0].Job != stored["b-ok-1"].Number {
		t.Errorf("b-dep's dependency %+v, want afterok on job %d", dep, stored["b-ok-1"].Number)
	}
	if stored["b-ok-1"].Nodes != 1 {
		t.Errorf("b-ok-1 has %d nodes: the repeated id changed it", stored["b-ok-1"].Nodes)
	}

	// The same batch again: the same jobs, none new.
	again := e.batch(alice, body)
	for i, it := range again.Jobs {
		if (it.Job == nil) != (r.Jobs[i].Job == nil) || (it.Job != nil && it.Job.Number != r.Jobs[i].Job.Number) {
			t.Errorf("retry, item %d: %+v, first %+v", i, it, r.Jobs[i])
		}
	}
	if n := len(storedJobs(t, e)); n != 3 {
		t.Errorf("after the retry %d jobs, want 3", n)
	}

	// Every item is audited as its single submission would be.
	evs, err := e.admin.Audit(e.ctx(), client.AuditQuery{Action: "job.submit", Actor: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	outcomes := map[string][]string{}
	for _, ev := range evs {
		outcomes[ev.ObjectName] = append(outcomes[ev.ObjectName], fmt.Sprintf("%s %d", ev.Outcome, ev.Status))
	}
	// (b-ok-1 also names the refused item that repeated its id)
	wantEvents := map[string][]string{"b-ok-1": {"error 400", "error 400", "ok 200", "ok 200"},
		"b-dep": {"ok 200", "ok 200"}, "b-later": {"ok 200", "ok 200"}}
	for id, want := range wantEvents {
		slices.Sort(outcomes[id])
		if d := cmp.Diff(want, outcomes[id]); d != "" {
			t.Errorf("audit of %s (-want +got):\n%s", id, d)
		}
	}
	if d := cmp.Diff([]string{"error 400", "error 400"}, outcomes["b-fwd"]); d != "" {
		t.Errorf("audit of refused b-fwd (-want +got):\n%s", d)
	}
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestJobBatchBadBodies: a body that is not {"jobs": [1..1000 items]} is
// one refusal (400, 413 past the batch limit) and stores nothing.
func TestJobBatchBadBodies(t *testing.T) {
	e := newEnv(t)
	alice := seedSmall(e)
	item := `{"app":"pub","machine_type":"n1","nodes":1}`
	many := func(n int) string { return `{"jobs":[` + strings.TrimSuffix(strings.Repeat(item+",", n), ",") + `]}` }
	cases := map[string]struct {
		body string
		code int
	}{
		"empty":          {"", 400},
		"not json":       {"jobs", 400},
		"a list":         {"[" + item + "]", 400},
		"no jobs":        {`{}`, 400},
		"null jobs":      {`{"jobs":null}`, 400},
		"jobs not list":  {`{"jobs":5}`, 400},
		"no items":       {`{"jobs":[]}`, 400},
		"unknown member": {`{"jobs":[` + item + `],"dry_run":true}`, 400},
		"trailing data":  {`{"jobs":[` + item + `]} {}`, 400},
		"1001 items":     {many(structs.MaxBatchJobs + 1), 400},
		"over the limit": {`{"jobs":["` + strings.Repeat("x", 16<<20) + `"]}`, 413},
	}
	at := e.index()
	for name, tc := range cases {
		code, body := e.do("POST", "/v1/jobs/batch", alice, []byte(tc.body))
		var eb structs.ErrorBody
		if code != tc.code || json.Unmarshal(body, &eb) != nil || eb.Error == "" {
			t.Errorf("%s: %d %s, want %d with a message", name, code, body, tc.code)
		}
	}
	if now := e.index(); now != at {
		t.Errorf("refused batches moved the state from index %d to %d", at, now)
	}
	// 1000 items is a batch.
	r := e.batch(alice, []byte(many(structs.MaxBatchJobs)))
	for i, it := range r.Jobs {
		if it.Job == nil {
			t.Fatalf("item %d of 1000: %+v", i, it)
		}
	}
	if n := len(storedJobs(t, e)); n != structs.MaxBatchJobs {
		t.Errorf("%d jobs stored, want %d", n, structs.MaxBatchJobs)
	}
	// An item over the single submission's limit is refused alone.
	big := `{"app":"pub","machine_type":"n1","nodes":1,"label":"` + strings.Repeat("x", 1<<20) + `"}`
	r = e.batch(alice, []byte(`{"jobs":[`+item+`,`+big+`]}`))
	if r.Jobs[0].Job == nil || r.Jobs[1].Status != http.StatusRequestEntityTooLarge {
		t.Errorf("an item over 1 MiB beside a good one: %+v", r.Jobs)
	}
}

// TestJobBatchAuthorizedPerItem: each item is admitted for the caller as
// it would be alone — an app another user keeps private, a team the
// caller is not in, are refused with the single submission's status —
// and a limit makes items queue, not fail.
func TestJobBatchAuthorizedPerItem(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx()
	keys := seedSubmitters(ctx, t, e.admin, "alice", "bob")
	e.must(e.admin.PutTeam(ctx, &structs.Team{Tenant: "ta", Name: "physics", Members: []string{"bob"}}))
	bob := e.client(keys["bob"])
	e.must(bob.PutApp(ctx, &structs.App{Name: "bobs", Visibility: structs.VisibilityPrivate, AppDef: tinyAppDef}))
	e.must(e.admin.PutLimit(ctx, &structs.Limit{Name: "one", Scope: structs.ScopeTenant, Tenant: "ta",
		Kind: structs.LimitConcurrentJobs, MachineType: "c16", Value: 1}))

	items := []string{
		`{"app":"pub","machine_type":"c16","nodes":1}`,
		`{"app":"bobs","machine_type":"c16","nodes":1}`,
		`{"app":"pub","machine_type":"c16","nodes":1,"team":"physics"}`,
		`{"app":"pub","machine_type":"c16","nodes":1}`,
		`{"app":"pub","machine_type":"c16","nodes":1}`,
	}
	single := map[int]int{}
	for _, i := range []int{1, 2} {
		code, body := e.do("POST", "/v1/jobs", keys["alice"], []byte(items[i]))
		if code/100 != 4 {
			t.Fatalf("alice alone, item %d: %d %s, want a refusal", i, code, body)
		}
		single[i] = code
	}
	r := e.batch(keys["alice"], []byte(`{"jobs":[`+strings.Join(items, ",")+`]}`))
	for i, it := range r.Jobs {
		switch i {
		case 1, 2:
			if it.Job != nil || it.Status != single[i] {
				t.Errorf("item %d: %+v, want status %d as alone", i, it, single[i])
			}
		default:
			if it.Job == nil || it.Job.Owner != "alice" || it.Job.State != structs.JobQueued {
				t.Errorf("item %d: %+v, want a QUEUED job of alice (the limit queues)", i, it)
			}
		}
	}
	// Bob may submit the same items.
	r = e.batch(keys["bob"], []byte(`{"jobs":[`+items[1]+`,`+items[2]+`]}`))
	for i, it := range r.Jobs {
		if it.Job == nil || it.Job.Owner != "bob" {
			t.Errorf("bob's item %d: %+v", i, it)
		}
	}
	// Without a key: one 401, nothing stored.
	at := e.index()
	if code, _ := e.do("POST", "/v1/jobs/batch", "", []byte(`{"jobs":[`+items[0]+`]}`)); code != http.StatusUnauthorized {
		t.Errorf("no key: %d, want 401", code)
	}
	if e.index() != at {
		t.Error("an unauthenticated batch changed the state")
	}
}

// TestJobBatchScriptsAndArrays: job scripts (two of one image: one batch
// app, made once) and arrays go through a batch as they go alone.
func TestJobBatchScriptsAndArrays(t *testing.T) {
	e := newEnv(t)
	alice := seedSmall(e)
	items := []string{
		`{"id":"s-1","script":"#!/bin/sh\necho one\n","image":"alpine:3","machine_type":"n1","nodes":1}`,
		`{"id":"s-2","script":"#!/bin/sh\necho two\n","image":"alpine:3","machine_type":"n1","nodes":1,"script_args":["a b"]}`,
		`{"id":"s-bad","script":"echo no interpreter line\n","image":"alpine:3","machine_type":"n1","nodes":1}`,
		`{"id":"a-1","app":"pub","machine_type":"n1","nodes":1,"array":"1-100%8"}`,
	}
	r := e.batch(alice, []byte(`{"jobs":[`+strings.Join(items, ",")+`]}`))
	s1, s2, arr := r.Jobs[0].Job, r.Jobs[1].Job, r.Jobs[3].Job
	if s1 == nil || s2 == nil || arr == nil {
		t.Fatalf("items: %+v", r.Jobs)
	}
	if !strings.HasPrefix(s1.App, "batch-") || s1.App != s2.App {
		t.Errorf("script jobs run apps %q and %q, want one batch app", s1.App, s2.App)
	}
	if s2.Parameters["args"] != "'a b'" {
		t.Errorf("script arguments %q", s2.Parameters["args"])
	}
	code, single := e.do("POST", "/v1/jobs", alice, []byte(items[2]))
	if r.Jobs[2].Job != nil || r.Jobs[2].Status != code || !strings.Contains(string(single), r.Jobs[2].Error) {
		t.Errorf("script without #!: %+v, alone %d %s", r.Jobs[2], code, single)
	}
	if arr.Array == nil || arr.Array.Spec.Count() != 100 {
		t.Errorf("array item: %+v", arr.Array)
	}
	for _, id := range []string{"s-1", "s-2"} {
		code, body := e.do("GET", "/v1/jobs/"+id+"/script", alice, nil)
		if code != 200 || !strings.HasPrefix(string(body), "#!/bin/sh\necho ") {
			t.Errorf("script of %s: %d %q", id, code, body)
		}
	}
}
