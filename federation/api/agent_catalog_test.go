package api_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestAgentCatalogRead: an agent reads the apps with an image whose
// AppDef allows one of its cluster's machine types, with those machine
// types; a watch by index wakes on an app change; another cluster's agent
// and users are refused. The catalog report of a status push is stored on
// the cluster; a report with an unknown state is refused and changes
// nothing.
func TestAgentCatalogRead(t *testing.T) {
	e := newAgentEnv(t)
	ctx := e.ctx()
	e.must(e.admin.PutMachineType(ctx, machineType("gpu1")))
	app := func(name, image string, machines ...string) *structs.App {
		return &structs.App{Name: name, Visibility: structs.VisibilityPublic, Image: image,
			AppDef: structs.AppDef{Name: name, Machines: machines, Commands: map[string]structs.Command{"run": {Path: "/run"}}}}
	}
	e.must(e.admin.PutApp(ctx, app("solver", "r/solver:1", "n*")))
	e.must(e.admin.PutApp(ctx, app("any", "r/any:1")))
	e.must(e.admin.PutApp(ctx, app("elsewhere", "r/else:1", "x*")))
	quiet := app("quiet", "r/quiet:1", "n1")
	quiet.NoPrePull = true
	e.must(e.admin.PutApp(ctx, quiet))
	cat := value[*structs.AgentCatalog](t)(e.agent.AgentCatalog(ctx, "east", 0, 0))
	want := []structs.AgentApp{{Name: "any", Image: "r/any:1", MachineTypes: []string{"gpu1", "n1"}},
		{Name: "quiet", Image: "r/quiet:1", MachineTypes: []string{"n1"}, NoPrePull: true},
		{Name: "solver", Image: "r/solver:1", MachineTypes: []string{"n1"}}}
	if !slices.EqualFunc(cat.Apps, want, func(a, b structs.AgentApp) bool {
		return a.Name == b.Name && a.Image == b.Image && slices.Equal(a.MachineTypes, b.MachineTypes) && a.NoPrePull == b.NoPrePull
	}) || cat.Index == 0 {
		t.Errorf("catalog = %+v, want %+v (pub has no image, elsewhere no machine type here; quiet opted out)", cat, want)
	}

	done := make(chan *structs.AgentCatalog, 1)
	go func() {
		c, _ := e.agent.AgentCatalog(ctx, "east", cat.Index, 20*time.Second)
		done <- c
	}()
	e.must(e.admin.PutApp(ctx, app("late", "r/late:1", "n1")))
	select {
	case c := <-done:
		if c == nil || !slices.ContainsFunc(c.Apps, func(a structs.AgentApp) bool { return a.Name == "late" }) {
			t.Errorf("watch answered %+v, want the new app", c)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the watch did not wake on an app change")
	}

	if _, err := e.alice.AgentCatalog(ctx, "east", 0, 0); !errors.Is(err, structs.ErrForbidden) {
		t.Errorf("a user reading an agent's catalog: %v, want forbidden", err)
	}

	rep := &structs.ClusterCatalog{Arches: map[string][]string{"n1": {"amd64"}}, Apps: map[string]structs.ClusterApp{
		"solver": {Image: "r/solver:1", Platforms: []string{"linux/arm64"},
			MachineTypes: map[string]structs.AppOnMachineType{"n1": {State: structs.AppNotRunnable, Reason: "arm64 only", Nodes: 0}}}}}
	e.must(e.agent.PushStatus(ctx, "east", &structs.ClusterStatusReport{Status: structs.ClusterReady, Catalog: rep}))
	bad := &structs.ClusterCatalog{Apps: map[string]structs.ClusterApp{"solver": {
		MachineTypes: map[string]structs.AppOnMachineType{"n1": {State: "bogus"}}}}}
	if _, err := e.agent.PushStatus(ctx, "east", &structs.ClusterStatusReport{Status: structs.ClusterReady, Catalog: bad}); !errors.Is(err, structs.ErrInvalid) {
		t.Errorf("a bad catalog report: %v, want invalid", err)
	}
	cl := value[*structs.Cluster](t)(e.admin.GetCluster(ctx, "east"))
	if why, no := cl.Catalog.NotRunnable("solver", "n1"); !no || why != "arm64 only" {
		t.Errorf("stored catalog = %+v", cl.Catalog)
	}
}
