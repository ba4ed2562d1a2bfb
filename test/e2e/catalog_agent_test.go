package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/catalog-sync/source"
	"github.com/flotilla-hpc/flotilla/clusteragent/prepull"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

// TestAgentCatalogSync: a real registry on loopback holds an amd64 app
// image and an arm64-only one; cluster east has two amd64 nodes of
// machine type cpu16 (the apps' AppDefs allow cpu*) and one of big16.
// Apps added at the hub (by a catalog sync) reach the agent, which reads
// each image's platforms from the registry: the amd64 app is pulled by
// short-lived pods onto exactly the two cpu16 nodes (never big16's) and
// reported ready there; the arm64 app is reported not runnable on cpu16
// with the reason, nothing is pulled for it, and a job of it is never
// placed on east: it stays queued with that reason (what `flotilla why`
// shows), while a job of the amd64 app runs.
func TestAgentCatalogSync(t *testing.T) {
	if testing.Short() {
		t.Skip("needs real control planes (FLOTILLA_BIN tools); skipped in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	host := testRegistry(t, "", "")
	amdRef, armRef := host+"/apps/solver:1", host+"/apps/armsolver:1"
	pushImage(t, amdRef, "amd64", map[string][]byte{"etc/NAE/AppDef.json": []byte(solverAppDef)}, nil)
	pushImage(t, armRef, "arm64", map[string][]byte{"etc/NAE/AppDef.json": []byte(strings.Replace(solverAppDef, "Registry Solver", "Arm Solver", 1))}, nil)

	pool := func(name, p string) k8senv.NodeSpec {
		return k8senv.NodeSpec{Name: name, CPU: "16", Memory: "64Gi", Labels: map[string]string{"pool": p}}
	}
	f, pulls := catalogFed(ctx, t, []k8senv.NodeSpec{pool("east-0", "cpu"), pool("east-1", "cpu"), pool("east-2", "big")}, nil,
		&structs.MachineType{Name: "cpu16", Cores: 16, Slots: 16, RAM: 32, Cluster: "east", ScaleMax: 2, Properties: "pool=cpu"},
		&structs.MachineType{Name: "big16", Cores: 16, Slots: 16, RAM: 32, Cluster: "east", ScaleMax: 1, Properties: "pool=big"})
	// The apps are added at the hub while the agent runs.
	src := &source.Images{ID: "e2e-arch", Refs: []string{amdRef, armRef}}
	if rep, err := source.Sync(ctx, src, source.HubCatalog{Client: f.admin}); err != nil || !slices.Equal(rep.Added, []string{"armsolver", "solver"}) {
		t.Fatalf("sync: %+v %v", rep, err)
	}

	var cat *structs.ClusterCatalog
	waitCond(ctx, t, "east reports solver ready on cpu16 and armsolver not runnable", func() bool {
		c, err := f.admin.GetCluster(ctx, "east")
		if err != nil || c.Catalog == nil {
			return false
		}
		cat = c.Catalog
		return cat.Apps["solver"].MachineTypes["cpu16"].State == structs.AppReady &&
			cat.Apps["armsolver"].MachineTypes["cpu16"].State == structs.AppNotRunnable
	})
	solver, arm := cat.Apps["solver"], cat.Apps["armsolver"]
	if on := solver.MachineTypes["cpu16"]; on.Nodes != 2 || on.Ready != 2 {
		t.Errorf("solver on cpu16: %+v, want 2 of 2 nodes ready", on)
	}
	if _, ok := solver.MachineTypes["big16"]; ok || !slices.Equal(solver.Platforms, []string{"linux/amd64"}) || solver.Image != amdRef {
		t.Errorf("solver at east: %+v (its AppDef allows cpu* only; platforms linux/amd64)", solver)
	}
	why := arm.MachineTypes["cpu16"].Reason
	if !strings.Contains(why, "linux/arm64") || !strings.Contains(why, "amd64") || !slices.Equal(arm.Platforms, []string{"linux/arm64"}) {
		t.Errorf("armsolver on cpu16: %+v", arm)
	}
	if !slices.Equal(cat.Arches["cpu16"], []string{"amd64"}) {
		t.Errorf("arches reported: %v", cat.Arches)
	}
	// Pulled onto the right nodes only, by pods that are gone afterwards.
	waitCond(ctx, t, "the pull pods are deleted", func() bool {
		l, err := f.envs["east"].Client.CoreV1().Pods(prepull.DefaultNamespace).List(ctx, metav1.ListOptions{})
		return err == nil && len(l.Items) == 0
	})
	if got := pulls.nodes(amdRef); !slices.Equal(got, []string{"east-0", "east-1"}) {
		t.Errorf("solver pulled on nodes %v, want east-0 and east-1", got)
	}
	if got := pulls.nodes(armRef); len(got) > 0 {
		t.Errorf("armsolver pulled on %v: it cannot run there", got)
	}

	alice := f.userClient(ctx, "alice", "acme")
	armJob, err := alice.SubmitJob(ctx, structs.JobSubmitRequest{ID: structs.NewJobID(), App: "armsolver", Command: "run", MachineType: "cpu16",
		Nodes: 1, Parameters: map[string]string{"steps": "3"}})
	if err != nil {
		t.Fatal(err)
	}
	j := waitJob(ctx, t, alice, armJob.ID, "queued with the architecture reason", func(j *structs.Job) bool {
		return strings.Contains(j.Substatus, "cannot run on cpu16")
	})
	if j.State != structs.JobQueued || j.Cluster != "" || !strings.Contains(j.Substatus, "linux/arm64") {
		t.Errorf("arm job: state %s cluster %q substatus %q", j.State, j.Cluster, j.Substatus)
	}
	amdJob, err := alice.SubmitJob(ctx, structs.JobSubmitRequest{ID: structs.NewJobID(), App: "solver", Command: "run", MachineType: "cpu16",
		Nodes: 1, Parameters: map[string]string{"steps": "3"}})
	if err != nil {
		t.Fatal(err)
	}
	waitJob(ctx, t, alice, amdJob.ID, "running on east", func(j *structs.Job) bool { return running(j) && j.Cluster == "east" })
	if j, err := alice.GetJob(ctx, armJob.ID, false); err != nil || j.State != structs.JobQueued || j.Cluster != "" {
		t.Errorf("arm job after the other ran: %+v %v", j, err)
	}
}
