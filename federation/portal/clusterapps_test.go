package portal_test

import (
	"strings"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestPortalClusterApps: the clusters page shows the catalog report an
// agent pushed: per app and machine type its state, the nodes ready and
// why an image cannot run there; and the agent's version and features.
func TestPortalClusterApps(t *testing.T) {
	ctx, hubs, adm := startHubs(t, 1)
	if _, err := adm.PutCluster(ctx, "east", &structs.ClusterSpec{}); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.PutUser(ctx, "root", &structs.UserSpec{Tenant: "system", Role: structs.RoleAdmin, Password: "pw-root-secret"}); err != nil {
		t.Fatal(err)
	}
	k, err := adm.CreateAgentKey(ctx, "east")
	if err != nil {
		t.Fatal(err)
	}
	agent, err := client.New(hubs.URLs(), k.Key)
	if err != nil {
		t.Fatal(err)
	}
	rep := &structs.ClusterCatalog{Apps: map[string]structs.ClusterApp{
		"solver": {Image: "r/solver:1", MachineTypes: map[string]structs.AppOnMachineType{"cpu16": {State: structs.AppReady, Nodes: 2, Ready: 2}}},
		"armsolver": {Image: "r/arm:1", MachineTypes: map[string]structs.AppOnMachineType{
			"cpu16": {State: structs.AppNotRunnable, Reason: "image r/arm:1 is built for linux/arm64; the nodes of machine type cpu16 are amd64"}}},
	}}
	if _, err := agent.PushStatus(ctx, "east", &structs.ClusterStatusReport{Status: structs.ClusterReady, Catalog: rep,
		Agent: &structs.AgentInfo{Version: "v3.1.0", Features: []structs.AgentFeature{structs.FeatureJobEnv, structs.FeatureArrayJobs}}}); err != nil {
		t.Fatal(err)
	}
	root := newBrowser(t, hubs.URL(0))
	root.login("root", "pw-root-secret")
	code, page, _ := root.do("GET", "/ui/admin/clusters", nil)
	for _, want := range []string{
		"<td>armsolver</td><td>cpu16</td><td>r/arm:1</td><td>not_runnable</td><td>0 of 0</td><td>image r/arm:1 is built for linux/arm64; the nodes of machine type cpu16 are amd64</td>",
		"<td>solver</td><td>cpu16</td><td>r/solver:1</td><td>ready</td><td>2 of 2</td>",
		"<dt>Agent</dt><dd>v3.1.0; features: array-jobs, job-env</dd>",
	} {
		if code != 200 || !strings.Contains(page, want) {
			t.Errorf("clusters page (%d) lacks %q", code, want)
		}
	}
}
