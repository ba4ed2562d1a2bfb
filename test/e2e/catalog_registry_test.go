package e2e

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/flotilla-hpc/flotilla/catalog-sync/source"
	"github.com/flotilla-hpc/flotilla/clusteragent/prepull"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

// pushImage pushes an image to ref whose file system holds files and
// whose config has labels and the platform linux/arch (opts: e.g. the
// registry's credentials).
func pushImage(t *testing.T, ref, arch string, files map[string][]byte, labels map[string]string, opts ...remote.Option) {
	t.Helper()
	img, err := crane.Image(files)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config.Labels = labels
	cf.Config.Cmd = []string{"/bin/true"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, opts...); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
}

var _ v1.Image // the images pushed are v1 images

const solverAppDef = `{"name":"Registry Solver","description":"carried in its image","author":"e2e","licensed":false,
 "classifications":["Simulation"],"machines":["cpu*"],"vault-types":["NONE"],
 "commands":{"run":{"path":"/opt/solver/run.sh","name":"Run","description":"batch run","interactive":false,
   "parameters":{"steps":{"name":"Steps","type":"INT","value":"10","min":"1","max":"100","required":true,"positional":true}}}}}`

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
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	host := strings.TrimPrefix(reg.URL, "http://")
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
	pods, err := f.envs["east"].Client.CoreV1().Pods("").List(ctx, listOpts())
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

func listOpts() metav1.ListOptions { return metav1.ListOptions{} }
