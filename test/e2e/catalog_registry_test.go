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

// TestCatalogFromRegistry: a real OCI registry on loopback
// (go-containerregistry's registry) holds a JARVICE-style image with
// /etc/NAE/AppDef.json, one carrying its AppDef in a label, and one
// with none. The image source registers the first two (named after
// their repositories, the image as the app's image, tagged with the
// source), refuses the third with the reason; a user sees them in the
// catalog and a job of the registered app runs on a real control plane
// with the app's command line. A second sync changes nothing; an image
// no longer listed is removed.
func TestCatalogFromRegistry(t *testing.T) {
	if testing.Short() {
		t.Skip("needs real control planes (FLOTILLA_BIN tools); skipped in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	host := testRegistry(t, "", "")
	solverRef, labelRef, bareRef := host+"/apps/solver:1", host+"/apps/labelled:2", host+"/apps/bare:1"
	pushImage(t, solverRef, "amd64", map[string][]byte{"etc/NAE/AppDef.json": []byte(solverAppDef), "opt/solver/run.sh": []byte("#!/bin/sh\n")}, nil)
	pushImage(t, labelRef, "amd64", map[string][]byte{"opt/x": []byte("x")},
		map[string]string{source.LabelAppDef: strings.Replace(solverAppDef, "Registry Solver", "Labelled", 1)})
	pushImage(t, bareRef, "amd64", map[string][]byte{"opt/x": []byte("x")}, nil)

	f := startFed(t, 1, map[string][]k8senv.NodeSpec{"east": nodes("east", 2, "16")})
	f.addCluster(ctx, "east", nil)
	if _, err := f.admin.PutTenant(ctx, &structs.Tenant{Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.admin.PutMachineType(ctx, &structs.MachineType{Name: "cpu16", Cores: 16, Slots: 16, RAM: 32, Cluster: "east", ScaleMax: 2}); err != nil {
		t.Fatal(err)
	}
	src := &source.Images{ID: "e2e-registry", Refs: []string{solverRef, labelRef, bareRef}}
	rep, err := source.Sync(ctx, src, source.HubCatalog{Client: f.admin})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Added, []string{"labelled", "solver"}) || len(rep.Refused) != 1 || rep.Refused[0].App != "bare" ||
		!strings.Contains(rep.Refused[0].Reason, "carries no AppDef") {
		t.Fatalf("sync report %+v", rep)
	}
	alice := f.userClient(ctx, "alice", "acme")
	apps, err := alice.ListApps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var solver *structs.App
	for _, a := range apps {
		if a.Name == "solver" {
			solver = a
		}
	}
	if solver == nil || solver.Image != solverRef || solver.Origin != src.Origin() || solver.AppDef.Name != "Registry Solver" ||
		solver.AppDef.Commands["run"].Path != "/opt/solver/run.sh" {
		t.Fatalf("solver in alice's catalog: %+v", solver)
	}

	j, err := alice.SubmitJob(ctx, structs.JobSubmitRequest{ID: structs.NewJobID(), App: "solver", Command: "run", MachineType: "cpu16",
		Nodes: 1, Parameters: map[string]string{"steps": "42"}})
	if err != nil {
		t.Fatal(err)
	}
	waitJob(ctx, t, alice, j.ID, "running on east", func(j *structs.Job) bool { return running(j) && j.Cluster == "east" })
	pods, err := f.envs["east"].Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range pods.Items {
		if p.Namespace == prepull.DefaultNamespace {
			continue // the agent's pull pods run the image too
		}
		for _, c := range p.Spec.Containers {
			if c.Image == solverRef {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("no pod runs the registry's image %s", solverRef)
	}

	// Idempotent; a source that no longer lists an image removes its app.
	if rep, err := source.Sync(ctx, src, source.HubCatalog{Client: f.admin}); err != nil || rep.Changed() {
		t.Errorf("second sync changed something: %+v %v", rep, err)
	}
	src.Refs = []string{solverRef}
	rep, err = source.Sync(ctx, src, source.HubCatalog{Client: f.admin})
	if err != nil || !slices.Equal(rep.Removed, []string{"labelled"}) {
		t.Errorf("sync without the labelled image: %+v %v", rep, err)
	}
}
