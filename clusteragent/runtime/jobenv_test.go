package runtime

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// TestRenderJobEnvAndWorkdir: the job's own variables are in the job
// Secret and reach every pod's container through secret references (their
// values never in a pod spec), before the AppDef's; every pod's
// flotilla-init gets the working directory and the variables' names.
func TestRenderJobEnvAndWorkdir(t *testing.T) {
	tc := goldenCases()["multinode"]
	in := tc.in
	in.Random = fixedRandom()
	job := *in.Job
	job.Env = map[string]string{"CASE_NAME": "s3cr3t wing", "OMP_NUM_THREADS": "4"}
	job.Workdir = "/data/run 1"
	in.Job = &job
	objs, err := Render(in, tc.opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(objs.Secret.Data["env.CASE_NAME"]); got != "s3cr3t wing" {
		t.Errorf("secret env.CASE_NAME = %q", got)
	}
	for rank, p := range objs.Pods {
		spec, _ := json.Marshal(p)
		if strings.Contains(string(spec), "s3cr3t") {
			t.Errorf("pod %d shows a value of the job's environment", rank)
		}
		c := p.Spec.Containers[0]
		var names []string
		for _, e := range c.Env {
			if e.Name == "CASE_NAME" || e.Name == "OMP_NUM_THREADS" {
				if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != objs.Secret.Name ||
					e.ValueFrom.SecretKeyRef.Key != "env."+e.Name {
					t.Errorf("pod %d: %s = %+v, want a reference to the job Secret", rank, e.Name, e)
				}
				names = append(names, e.Name)
			}
		}
		if !slices.Equal(names, []string{"CASE_NAME", "OMP_NUM_THREADS"}) {
			t.Errorf("pod %d job variables %v", rank, names)
		}
		i := slices.Index(c.Args, "--workdir")
		if i < 0 || c.Args[i+1] != "/data/run 1" {
			t.Errorf("pod %d args %q: no --workdir", rank, c.Args)
		}
		if j := slices.Index(c.Args, "--job-env"); j < 0 || c.Args[j+1] != "CASE_NAME,OMP_NUM_THREADS" {
			t.Errorf("pod %d args %q: no --job-env", rank, c.Args)
		}
		if dd := slices.Index(c.Args, "--"); dd >= 0 && dd < i {
			t.Errorf("pod %d: --workdir after the command: %q", rank, c.Args)
		}
	}
}
