package e2e

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/clusteragent/runtime"
	"github.com/flotilla-hpc/flotilla/federation/cli"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/internal/version"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

// TestAgentFeaturesSteerPlacement: two clusters on real control planes,
// each with its agent; east's agent stands in for an older release that
// does not set a job's environment (it does not report job-env). The hub
// records what each agent reports (the CLI's cluster list shows it); a
// job with an environment (--export) on east's machine type goes to west
// by the burst rule, a plain one runs on east, and a job with an
// environment whose only cluster is east stays queued with the reason
// `flotilla why` prints.
func TestAgentFeaturesSteerPlacement(t *testing.T) {
	if testing.Short() {
		t.Skip("needs real control planes (FLOTILLA_BIN tools); skipped in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	f := startFed(t, 1, map[string][]k8senv.NodeSpec{"east": nodes("east", 2, "16"), "west": nodes("west", 2, "16")})
	f.agentWithout = map[string][]structs.AgentFeature{"east": {structs.FeatureJobEnv}}
	f.addCluster(ctx, "east", nil)
	f.addCluster(ctx, "west", nil)

	adm := f.admin
	if _, err := adm.PutTenant(ctx, &structs.Tenant{Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	for _, mt := range []*structs.MachineType{
		{Name: "cpu-east", Cores: 16, Slots: 16, RAM: 32, Cluster: "east", ScaleMax: 2},
		{Name: "cpu-east-only", Cores: 16, Slots: 16, RAM: 32, Cluster: "east", ScaleMax: 2},
		{Name: "cpu-west", Cores: 16, Slots: 16, RAM: 32, Cluster: "west", ScaleMax: 2},
	} {
		if _, err := adm.PutMachineType(ctx, mt); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := adm.PutApp(ctx, &structs.App{Name: "solver", Visibility: structs.VisibilityPublic, Image: "solver:1",
		AppDef: structs.AppDef{Name: "solver", Commands: map[string]structs.Command{"run": {Path: "/opt/run.sh", Name: "Run"}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.PutBurstRule(ctx, &structs.BurstRule{Name: "east-to-west", From: "cpu-east", To: []string{"cpu-west"}}); err != nil {
		t.Fatal(err)
	}
	alice := f.userClient(ctx, "alice", "acme")

	// The hub records what each agent reports.
	want := map[string]*structs.AgentInfo{
		"east": {Version: version.Version, Features: runtime.Features(structs.FeatureJobEnv)},
		"west": {Version: version.Version, Features: runtime.Features()},
	}
	for name, a := range want {
		waitFor(ctx, t, "cluster "+name+"'s agent recorded", func() bool {
			c, err := adm.GetCluster(ctx, name)
			return err == nil && c.Agent.Equal(a)
		})
	}
	code, out, errOut := f.cli(ctx, f.hubs.AdminKey, "admin", "clusters", "list")
	list := func(fs []structs.AgentFeature) string {
		s := make([]string, len(fs))
		for i, f := range fs {
			s[i] = string(f)
		}
		return strings.Join(s, ",")
	}
	if code != 0 || !strings.Contains(out, "FEATURES") || !strings.Contains(out, list(want["west"].Features)) ||
		!strings.Contains(out, list(want["east"].Features)) {
		t.Errorf("admin clusters list: exit %d\n%s%s", code, out, errOut)
	}

	env := map[string]string{"CASE": "wing 3"}
	sub := func(mt string, env map[string]string) *structs.Job {
		t.Helper()
		j, err := alice.SubmitJob(ctx, structs.JobSubmitRequest{ID: structs.NewJobID(), App: "solver", Command: "run",
			MachineType: mt, Nodes: 1, Env: env})
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	withEnv := sub("cpu-east", env)
	plain := sub("cpu-east", nil)
	stuck := sub("cpu-east-only", env)

	if j := waitJob(ctx, t, alice, withEnv.ID, "running", running); j.Cluster != "west" || j.BurstRule != "east-to-west" {
		t.Errorf("job with an environment ran on %q (rule %q), want west by east-to-west", j.Cluster, j.BurstRule)
	}
	if j := waitJob(ctx, t, alice, plain.ID, "running", running); j.Cluster != "east" {
		t.Errorf("plain job ran on %q, want east", j.Cluster)
	}
	reason := "cluster east's agent does not run jobs with an environment (--export): upgrade its agent"
	j := waitJob(ctx, t, alice, stuck.ID, "queued with the reason", func(j *structs.Job) bool { return strings.Contains(j.Substatus, reason) })
	if j.State != structs.JobQueued || j.Cluster != "" {
		t.Errorf("job with only east allowed: %s on %q, want QUEUED", j.State, j.Cluster)
	}
	key := f.userKey(ctx, "alice")
	code, out, errOut = f.cli(ctx, key, "why", stuck.ID)
	if code != 0 || !strings.Contains(out, reason) {
		t.Errorf("flotilla why: exit %d\n%s%s", code, out, errOut)
	}
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not reached", what)
		case <-tick.C:
		}
	}
}

// cli runs the flotilla command against the hub with an API key.
func (f *fed) cli(ctx context.Context, key string, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	env := map[string]string{cli.EnvHub: strings.Join(f.hubs.URLs(), ","), cli.EnvAPIKey: key}
	code := cli.Run(ctx, args, &out, &errOut, func(k string) string { return env[k] })
	return code, out.String(), errOut.String()
}

// userKey creates another API key of a user.
func (f *fed) userKey(ctx context.Context, username string) string {
	f.t.Helper()
	k, err := f.admin.CreateAPIKey(ctx, username, "cli")
	if err != nil {
		f.t.Fatal(err)
	}
	return k.Key
}
