package runtime

import (
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/google/go-cmp/cmp"
)

// TestFeatures: the runtime lists every feature a job can need that it
// honours — each need structs.Job.NeedsFeatures names for a job this
// runtime renders — sorted, and drops those a test removes.
func TestFeatures(t *testing.T) {
	all := Features()
	info := &structs.AgentInfo{Features: all}
	if err := info.Validate(); err != nil {
		t.Fatalf("runtime features: %v", err)
	}
	list, err := structs.ParseArraySpec("1,3,7-9")
	if err != nil {
		t.Fatal(err)
	}
	job := structs.Job{Env: map[string]string{"A": "1", structs.ArrayTaskCPUBindVar: "slots", structs.JobSignalAtVar: "USR1@60"},
		Workdir: "/w", Array: &structs.ArrayJob{Spec: list}}
	if len(job.NeedsFeatures()) != 6 {
		t.Errorf("a job with everything needs %v", job.NeedsFeatures())
	}
	for _, f := range job.NeedsFeatures() {
		if !info.Has(f) {
			t.Errorf("a job needing %s is rendered by this runtime, yet it does not list the feature", f)
		}
	}
	if diff := cmp.Diff([]structs.AgentFeature{structs.FeatureArrayCPUBind, structs.FeatureArrayIndexLists, structs.FeatureArrayJobs, structs.FeatureJobShares, structs.FeatureJobSignalAt, structs.FeatureJobSignals, structs.FeatureJobWorkdir}, Features(structs.FeatureJobEnv)); diff != "" {
		t.Errorf("without job-env (-want +got):\n%s", diff)
	}
	if len(Features()) != len(all) {
		t.Errorf("Features(without) changed the list")
	}
}
