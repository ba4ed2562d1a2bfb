package localnodes

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/clusteragent/runtime/initproc/arraytask"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestArrayTaskCPUBind: an array job submitted with task_cpu_bind slots
// runs every task on its slot's CPUs through the whole path (the hub's
// job variable, the agent's pod, flotilla-init): each task reads the CPUs
// the kernel lets it use (/proc/self/status) and FLOTILLA_TASK_CPUS, and
// both name the same single CPU (8 slots on a node of fewer CPUs share
// them round robin); the same array without a binding runs on every CPU
// and gets no variable.
func TestArrayTaskCPUBind(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	a := startArrayEnv(ctx, t, "cpubind", `c=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status)
echo "$FLOTILLA_ARRAY_TASK_ID $c ${FLOTILLA_TASK_CPUS-unset}" >> $S/cpus-$SLURM_ARRAY_JOB_ID
`)
	all, err := arraytask.AllowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) > arraySlots {
		t.Fatalf("%d CPUs: the test expects a node of at most %d (one CPU per slot)", len(all), arraySlots)
	}
	single := map[string]bool{}
	for _, c := range all {
		single[strconv.Itoa(c)] = true
	}
	for _, bind := range []string{structs.TaskCPUBindSlots, ""} {
		spec, _ := structs.ParseArraySpec("1-64")
		j, err := a.alice.SubmitJob(ctx, structs.JobSubmitRequest{ID: structs.NewJobID(), App: a.app, Command: "run",
			MachineType: "l8", Nodes: arrayNodes, Array: &spec, TaskCPUBind: bind,
			Parameters: map[string]string{"index": "%TASKID%"}})
		if err != nil {
			t.Fatal(err)
		}
		final := a.waitEnd(ctx, t, j.ID, nil)
		if final.State != structs.JobCompleted {
			t.Fatalf("bind %q: job ended %s (%s); tail:\n%s", bind, final.State, final.Substatus, final.LogTail)
		}
		lines := readLines(t, filepath.Join(a.shared, "cpus-"+strconv.FormatUint(j.Number, 10)))
		seen := map[string]bool{}
		for _, l := range lines {
			f := strings.Fields(l)
			if len(f) != 3 {
				t.Fatalf("bind %q: line %q", bind, l)
			}
			seen[f[0]] = true
			cpus, v := f[1], f[2]
			switch {
			case bind == "" && (cpus != arraytask.FormatCPUList(all) || v != "unset"):
				t.Errorf("unbound task %s ran on %s with FLOTILLA_TASK_CPUS %s, want %s and none", f[0], cpus, v, arraytask.FormatCPUList(all))
			case bind != "" && (!single[cpus] || v != cpus):
				t.Errorf("bound task %s ran on %s with FLOTILLA_TASK_CPUS %s, want one of %v and the same", f[0], cpus, v, all)
			}
		}
		if len(seen) != 64 {
			t.Errorf("bind %q: %d tasks reported, want 64", bind, len(seen))
		}
	}
}
