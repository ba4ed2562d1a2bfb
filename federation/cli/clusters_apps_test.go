package cli

import (
	"context"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestClustersApps: `admin clusters apps NAME` lists the agent's catalog
// report, the reason an image cannot run included; an unknown cluster is
// not found.
func TestClustersApps(t *testing.T) {
	hubs, url := testHub(t)
	admin := map[string]string{EnvAPIKey: hubs.AdminKey}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm, err := client.New(hubs.URLs(), hubs.AdminKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.PutCluster(ctx, "east", &structs.ClusterSpec{}); err != nil {
		t.Fatal(err)
	}
	runCLI(t, admin, "--hub", url, "admin", "clusters", "apps", "east").check(t, ExitOK, "cluster east: its agent reported no apps")
	k, err := adm.CreateAgentKey(ctx, "east")
	if err != nil {
		t.Fatal(err)
	}
	agent, err := client.New(hubs.URLs(), k.Key)
	if err != nil {
		t.Fatal(err)
	}
	rep := &structs.ClusterCatalog{Apps: map[string]structs.ClusterApp{
		"solver":    {Image: "r/solver:1", MachineTypes: map[string]structs.AppOnMachineType{"n1": {State: structs.AppReady, Nodes: 2, Ready: 2}}},
		"armsolver": {Image: "r/arm:1", MachineTypes: map[string]structs.AppOnMachineType{"n1": {State: structs.AppNotRunnable, Reason: "built for linux/arm64"}}},
	}}
	if _, err := agent.PushStatus(ctx, "east", &structs.ClusterStatusReport{Status: structs.ClusterReady, Catalog: rep}); err != nil {
		t.Fatal(err)
	}
	runCLI(t, admin, "--hub", url, "admin", "clusters", "apps", "east").check(t, ExitOK,
		"APP", "armsolver  n1            not_runnable  0/0    built for linux/arm64", "solver     n1            ready         2/2    -")
	runCLI(t, admin, "--hub", url, "-o", "json", "admin", "clusters", "apps", "east").check(t, ExitOK, `"state": "not_runnable"`)
	runCLI(t, admin, "--hub", url, "admin", "clusters", "apps", "nope").check(t, ExitNotFound)
}
