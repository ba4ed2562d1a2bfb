package e2e

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

func submit(ctx context.Context, t *testing.T, c *client.Client, app, mt string, nodes int) *structs.Job {
	t.Helper()
	j, err := c.SubmitJob(ctx, structs.JobSubmitRequest{ID: structs.NewJobID(), App: app, Command: "run", MachineType: mt, Nodes: nodes})
	if err != nil {
		t.Fatalf("submit %s on %s: %v", app, mt, err)
	}
	return j
}

func running(j *structs.Job) bool { return j.State == structs.JobRunning }

// TestBurstAcrossClusters: machine type cpu-east is pinned to a full east; a
// rule lets its jobs run as cpu-west after 5 s, and they do, in west, with
// the rule visible in the API. A machine type without a rule waits on east;
// an app restricted to region=us never lands outside that region; a user
// over a limit sees HELD with the limit's name and starts by itself when a
// job of theirs ends.
func TestBurstAcrossClusters(t *testing.T) {
	if testing.Short() {
		t.Skip("needs real control planes (FLOTILLA_BIN tools); skipped in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	f := startFed(t, 3, map[string][]k8senv.NodeSpec{"east": nodes("east", 2, "16"), "west": nodes("west", 4, "16")})
	f.addCluster(ctx, "east", map[string]string{"region": "us"})
	f.addCluster(ctx, "west", map[string]string{"region": "eu"})

	adm := f.admin
	if _, err := adm.PutTenant(ctx, &structs.Tenant{Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	for _, mt := range []*structs.MachineType{
		{Name: "cpu-east", Cores: 16, Slots: 16, RAM: 32, Cluster: "east", ScaleMax: 8},
		{Name: "cpu-east-norule", Cores: 16, Slots: 16, RAM: 32, Cluster: "east", ScaleMax: 8},
		{Name: "cpu-west", Cores: 16, Slots: 16, RAM: 32, Cluster: "west", ScaleMax: 8},
	} {
		if _, err := adm.PutMachineType(ctx, mt); err != nil {
			t.Fatal(err)
		}
	}
	for _, app := range []string{"solver", "itar-solver"} {
		if _, err := adm.PutApp(ctx, &structs.App{Name: app, Visibility: structs.VisibilityPublic, Image: "solver:1",
			AppDef: structs.AppDef{Name: app, Commands: map[string]structs.Command{"run": {Path: "/opt/run.sh", Name: "Run"}}}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := adm.PutBurstRule(ctx, &structs.BurstRule{Name: "east-to-west", From: "cpu-east", To: []string{"cpu-west"},
		After: structs.Duration(5 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.PutAccessRule(ctx, &structs.AccessRule{Name: "itar-us-only", Object: structs.AccessObjectApp, Match: "itar-*",
		Groups: []string{"us-persons"}, ClusterLabels: map[string]string{"region": "us"}}); err != nil {
		t.Fatal(err)
	}
	alice := f.userClient(ctx, "alice", "acme", "us-persons")
	bob := f.userClient(ctx, "bob", "acme")
	if _, err := adm.PutLimit(ctx, &structs.Limit{Name: "bob-one-west", Scope: structs.ScopeUser, Tenant: "acme", User: "bob",
		Kind: structs.LimitConcurrentJobs, MachineType: "cpu-west", Value: 1}); err != nil {
		t.Fatal(err)
	}

	// Fill east.
	filler := submit(ctx, t, alice, "solver", "cpu-east", 2)
	if j := waitJob(ctx, t, alice, filler.ID, "running on east", running); j.Cluster != "east" {
		t.Fatalf("filler ran on %q", j.Cluster)
	}
	itar := submit(ctx, t, alice, "itar-solver", "cpu-east", 1)
	// Outside the group the rule names, the submit is refused with a 403
	// that names the rule, and nothing is stored.
	_, err := bob.SubmitJob(ctx, structs.JobSubmitRequest{ID: "bob-itar", App: "itar-solver", Command: "run", MachineType: "cpu-east", Nodes: 1})
	if !errors.Is(err, structs.ErrForbidden) || !strings.Contains(err.Error(), "itar-us-only") {
		t.Errorf("submit of a restricted app outside its group: %v; want 403 naming itar-us-only", err)
	}
	if _, err := adm.GetJob(ctx, "bob-itar", true); !errors.Is(err, structs.ErrNotFound) {
		t.Errorf("refused job stored: %v", err)
	}
	norule := submit(ctx, t, alice, "solver", "cpu-east-norule", 1)
	burst := submit(ctx, t, alice, "solver", "cpu-east", 2)

	j := waitJob(ctx, t, alice, burst.ID, "running in west by the rule", running)
	if j.Cluster != "west" || j.BurstRule != "east-to-west" || j.AssignedMachineType != "cpu-west" {
		t.Fatalf("burst job: cluster %q rule %q machine %q", j.Cluster, j.BurstRule, j.AssignedMachineType)
	}
	if waited := j.AssignTime.Sub(j.SubmitTime); waited < 5*time.Second {
		t.Errorf("burst after %s, rule says 5s", waited)
	}
	pods, err := f.envs["west"].Client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{LabelSelector: podgroup.LabelJob + "=" + itoa(j.Number)})
	if err != nil || len(pods.Items) != 2 {
		t.Fatalf("west pods of the burst job: %d, %v", len(pods.Items), err)
	}
	for _, p := range pods.Items {
		if p.Spec.NodeName == "" {
			t.Errorf("pod %s not bound", p.Name)
		}
	}
	// Submitted before the burst job, still waiting on east.
	for _, id := range []string{norule.ID, itar.ID} {
		nj, err := alice.GetJob(ctx, id, true)
		if err != nil {
			t.Fatal(err)
		}
		if nj.State != structs.JobQueued || nj.Cluster != "" {
			t.Errorf("job %s: %s on %q (%s), want QUEUED on no cluster", id, nj.State, nj.Cluster, nj.Substatus)
		}
	}
	if nj, err := alice.GetJob(ctx, norule.ID, false); err != nil || !strings.Contains(nj.Substatus, "no burst rule") {
		t.Errorf("no-rule job's reason: %+v, %v", nj, err)
	}

	// Limits: bob's second cpu-west job is HELD by the limit, then runs.
	b1 := submit(ctx, t, bob, "solver", "cpu-west", 1)
	waitJob(ctx, t, bob, b1.ID, "running", running)
	b2 := submit(ctx, t, bob, "solver", "cpu-west", 1)
	held := waitJob(ctx, t, bob, b2.ID, "held", func(j *structs.Job) bool { return j.State == structs.JobHeld })
	if !strings.Contains(held.Substatus, "bob-one-west") {
		t.Errorf("held reason %q does not name the limit", held.Substatus)
	}
	if _, err := bob.CancelJob(ctx, b1.ID, "done with it"); err != nil {
		t.Fatal(err)
	}
	waitJob(ctx, t, bob, b2.ID, "released and running", running)

	// East frees up: the region-restricted job runs there, never in west.
	if _, err := alice.CancelJob(ctx, filler.ID, "make room"); err != nil {
		t.Fatal(err)
	}
	if j := waitJob(ctx, t, alice, itar.ID, "running", running); j.Cluster != "east" {
		t.Errorf("region=us app ran on %q", j.Cluster)
	}
}
