package structs

import (
	"errors"
	"maps"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestTaskCPUBind: a submission's binding is checked (a known value, on
// an array, agreeing with the job variable that carries it) and stored
// as that variable, the request's own environment left as it was.
func TestTaskCPUBind(t *testing.T) {
	arr := func(r *JobSubmitRequest) { r.Array = &ArraySpec{Start: 1, End: 2} }
	cases := map[string]struct {
		mod     func(*JobSubmitRequest)
		field   string
		wantEnv map[string]string
	}{
		"unset": {arr, "", nil},
		"slots": {func(r *JobSubmitRequest) { arr(r); r.TaskCPUBind = "slots" }, "", map[string]string{ArrayTaskCPUBindVar: "slots"}},
		"none, with env": {func(r *JobSubmitRequest) { arr(r); r.TaskCPUBind = "none"; r.Env = map[string]string{"A": "1"} }, "",
			map[string]string{"A": "1", ArrayTaskCPUBindVar: "none"}},
		"variable alone": {func(r *JobSubmitRequest) { arr(r); r.Env = map[string]string{ArrayTaskCPUBindVar: "slots"} }, "",
			map[string]string{ArrayTaskCPUBindVar: "slots"}},
		"both, the same": {func(r *JobSubmitRequest) {
			arr(r)
			r.TaskCPUBind, r.Env = "slots", map[string]string{ArrayTaskCPUBindVar: "slots"}
		}, "", map[string]string{ArrayTaskCPUBindVar: "slots"}},
		"both, different": {func(r *JobSubmitRequest) {
			arr(r)
			r.TaskCPUBind, r.Env = "slots", map[string]string{ArrayTaskCPUBindVar: "none"}
		}, "task_cpu_bind", nil},
		"without array":      {func(r *JobSubmitRequest) { r.TaskCPUBind = "slots" }, "task_cpu_bind", nil},
		"unknown value":      {func(r *JobSubmitRequest) { arr(r); r.TaskCPUBind = "cores" }, "task_cpu_bind", nil},
		"bad variable value": {func(r *JobSubmitRequest) { arr(r); r.Env = map[string]string{ArrayTaskCPUBindVar: "1"} }, "env", nil},
		"variable of a plain job": {func(r *JobSubmitRequest) { r.Env = map[string]string{ArrayTaskCPUBindVar: "anything"} }, "",
			map[string]string{ArrayTaskCPUBindVar: "anything"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r, j, ok := validatedJobEnv(t, tc.mod, tc.field, tc.wantEnv)
			if !ok {
				return
			}
			if r.Array != nil {
				j.Array = &ArrayJob{Spec: *r.Array}
			}
			if got, want := j.TaskCPUBind(), tc.wantEnv[ArrayTaskCPUBindVar]; r.Array != nil && got != want {
				t.Errorf("TaskCPUBind() = %q, want %q", got, want)
			}
			if r.Array == nil && j.TaskCPUBind() != "" {
				t.Errorf("TaskCPUBind() of a plain job = %q, want none", j.TaskCPUBind())
			}
		})
	}
}

// validatedJobEnv validates the request mod makes: with field set, it
// must be refused with a FieldError on field (ok false); else accepted,
// its JobEnv equal to wantEnv and its own Env left as it was. It returns
// the request and a job with that environment.
func validatedJobEnv(t *testing.T, mod func(*JobSubmitRequest), field string, wantEnv map[string]string) (JobSubmitRequest, Job, bool) {
	t.Helper()
	r := JobSubmitRequest{App: "a", MachineType: "m", Nodes: 1}
	mod(&r)
	before := maps.Clone(r.Env)
	err := r.Validate()
	var fe *FieldError
	switch {
	case field == "" && err != nil:
		t.Fatal(err)
	case field != "":
		if !errors.As(err, &fe) || fe.Field != field {
			t.Fatalf("Validate() = %v, want a FieldError on %s", err, field)
		}
		return r, Job{}, false
	}
	if diff := cmp.Diff(wantEnv, r.JobEnv()); diff != "" {
		t.Errorf("JobEnv (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, r.Env); diff != "" {
		t.Errorf("JobEnv changed the request's Env (-before +after):\n%s", diff)
	}
	return r, Job{Env: r.JobEnv()}, true
}
