package hub

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestSubmitCommandMatchesFSM: submitCommand logs the command
// fsm.SubmitCommand would (its type and its bytes) for a plain job, an
// index-list array job and each submit extension, and reuses the
// admission's command (no copy of the job) only for a plain JobSubmit.
func TestSubmitCommandMatchesFSM(t *testing.T) {
	list, err := structs.ParseArraySpec("1,3,7-9")
	if err != nil {
		t.Fatal(err)
	}
	rng, err := structs.ParseArraySpec("1-10")
	if err != nil {
		t.Fatal(err)
	}
	plain := structs.Job{ID: "j-1", Tenant: "acme", Owner: "alice", App: "solver", Command: "run",
		MachineType: "n1", Nodes: 1, State: structs.JobQueued}
	cases := map[string]func(*structs.Job){
		"plain":       func(*structs.Job) {},
		"array range": func(j *structs.Job) { j.Array = &structs.ArrayJob{Spec: rng} },
		"array list":  func(j *structs.Job) { j.Array = &structs.ArrayJob{Spec: list} },
		"env":         func(j *structs.Job) { j.Env = map[string]string{"A": "1"} },
		"workdir":     func(j *structs.Job) { j.Workdir = "/scratch" },
		"dependency": func(j *structs.Job) {
			j.Dependency = &structs.JobDependency{Conditions: []structs.DependencyCondition{{Type: structs.DependAfter, Job: 3}}}
		},
		"list and env": func(j *structs.Job) { j.Array = &structs.ArrayJob{Spec: list}; j.Env = map[string]string{"A": "1"} },
	}
	for name, mut := range cases {
		t.Run(name, func(t *testing.T) {
			sub := &fsm.JobSubmit{Job: plain}
			mut(&sub.Job)
			want := fsm.SubmitCommand(&sub.Job)
			got := submitCommand(sub)
			if reflect.TypeOf(got) != reflect.TypeOf(want) {
				t.Fatalf("submitCommand = %T, fsm.SubmitCommand = %T", got, want)
			}
			if !bytes.Equal(fsm.MustEncode(got), fsm.MustEncode(want)) {
				t.Errorf("submitCommand's bytes differ from fsm.SubmitCommand's")
			}
			if reused := got == fsm.Command(sub); reused != (reflect.TypeOf(want) == reflect.TypeOf(sub)) {
				t.Errorf("the admission's command reused: %v, want it reused only for a plain JobSubmit", reused)
			}
		})
	}
}
