package jobs

import (
	"errors"
	"strings"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestAdmitDependency: a dependency names jobs the caller may read (any
// other is "not found", never revealed), starts the job HELD with the
// Dependency reason while it waits, QUEUED when it holds already, and is
// refused when it can never hold.
func TestAdmitDependency(t *testing.T) {
	st := world(t) // job 1, j-old: alice's, QUEUED
	f := fsm.New(st)
	next := st.LatestIndex() + 1
	apply := func(c fsm.Command) {
		t.Helper()
		for _, r := range f.ApplyCommands(next, [][]byte{fsm.MustEncode(c)}) {
			if err, ok := r.(error); ok {
				t.Fatalf("%T: %v", c, err)
			}
		}
		next++
	}
	sub := func(id, tenant, owner string) *fsm.JobSubmit {
		return &fsm.JobSubmit{Job: structs.Job{ID: id, Tenant: tenant, Owner: owner, App: "solver", Command: "run",
			MachineType: "n3", Nodes: 1, State: structs.JobQueued, SubmitTime: now}}
	}
	apply(sub("j-done", "acme", "alice")) // 2: COMPLETED
	apply(&fsm.JobAssignment{ID: "j-done", Cluster: "east", Time: now})
	apply(&fsm.JobStateUpdate{ID: "j-done", Cluster: "east", State: structs.JobCompleted, Time: now})
	apply(sub("j-fail", "acme", "alice")) // 3: CANCELED
	apply(&fsm.JobCancel{ID: "j-fail", Reason: "x", Time: now})
	apply(sub("j-gx", "globex", "gus")) // 4: another tenant's
	apply(sub("j-bob", "acme", "bob"))  // 5: another user's

	cases := map[string]struct {
		caller, dep string
		state       structs.JobState
		substatus   string
		refused     string
	}{
		"waits for a queued job":          {caller: "alice", dep: "afterok:1", state: structs.JobHeld, substatus: "Dependency: waits for afterok:1"},
		"by id":                           {caller: "alice", dep: "afterany:j-old", state: structs.JobHeld, substatus: "Dependency: waits for afterany:1"},
		"holds already":                   {caller: "alice", dep: "afterok:2", state: structs.JobQueued},
		"any: one holds already":          {caller: "alice", dep: "afterok:1?afterok:2", state: structs.JobQueued},
		"all: one waits":                  {caller: "alice", dep: "afterok:2,after:1", state: structs.JobHeld, substatus: "Dependency: waits for after:1"},
		"never: afterok a canceled job":   {caller: "alice", dep: "afterok:3", refused: "can never be satisfied: afterok:3 (job 3 is CANCELED)"},
		"never: afternotok a completed":   {caller: "alice", dep: "afternotok:2", refused: "can never be satisfied"},
		"unknown job":                     {caller: "alice", dep: "afterok:99", refused: "job 99 not found"},
		"unknown id":                      {caller: "alice", dep: "afterok:j-nope", refused: "job j-nope not found"},
		"another tenant's job: not found": {caller: "alice", dep: "afterok:4", refused: "job 4 not found"},
		"another user's job: not found":   {caller: "alice", dep: "afterok:5", refused: "job 5 not found"},
		"tenant admin reads the user's":   {caller: "ada", dep: "afterok:5", state: structs.JobHeld},
		"the other tenant's user cannot":  {caller: "gus", dep: "afterok:1", refused: "job 1 not found"},
		"bad syntax":                      {caller: "alice", dep: "afterok", refused: "names no job"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := req("solver", "n3", 1, func(r *structs.JobSubmitRequest) { r.Dependency = tc.dep })
			adm, err := Admit(st.Read(), callers[tc.caller], &r, now)
			if tc.refused != "" {
				var fe *structs.FieldError
				if !errors.Is(err, structs.ErrInvalid) || !errors.As(err, &fe) || fe.Field != "dependency" || !strings.Contains(err.Error(), tc.refused) {
					t.Fatalf("Admit = %v, want a dependency error saying %q", err, tc.refused)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			j := &adm.Submit.Job
			if j.State != tc.state || (tc.substatus != "" && j.Substatus != tc.substatus) || j.Dependency == nil {
				t.Fatalf("job %s %q %v, want %s %q", j.State, j.Substatus, j.Dependency, tc.state, tc.substatus)
			}
			if j.State == structs.JobHeld && !j.WaitsForDependency() {
				t.Error("a job held for its dependency does not say so")
			}
			if _, ok := fsm.SubmitCommand(j).(*fsm.JobSubmitExt); !ok {
				t.Error("a job with a dependency is not stored by JobSubmitExt")
			}
			if err := j.ValidateSubmit(); err != nil {
				t.Error(err)
			}
		})
	}
}
