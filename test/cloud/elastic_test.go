package cloud

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/federation/cloud"
	"github.com/flotilla-hpc/flotilla/federation/cloud/cloudtest"
	"github.com/flotilla-hpc/flotilla/federation/cloud/eks"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// elasticMachineTypes: one elastic machine type of the instance type,
// its node group at size 0 and at most 3 nodes.
func elasticMachineTypes(instanceType string) string {
	return `
- mc_name: cloud8
  mc_cores: 8
  mc_slots: 8
  mc_ram: 32
  mc_scale_max: 8
  mc_price: 0.68
  instance_type: ` + instanceType + `
  nodes: 0
  min_nodes: 0
  max_nodes: 3
  elastic: true
`
}

// TestElasticNodeGroup: `cloud up` makes an EKS cluster whose cloud8 node
// group is elastic (size 0, at most 3) and installs the agent set up to
// resize it. The agent reports cloud8 as "can grow to 3", so a job for an
// on-prem machine type whose cluster takes no jobs bursts there while the
// group is at 0; the agent scales the group by the whole gang at once
// (UpdateNodegroupConfig to 2, through the SDK against the fake), the new
// kwok nodes join the control plane with the group's labels and taints,
// the job runs on them, and after the idle time the group returns to 0 and
// the nodes leave. A gang larger than the group's maximum is not scaled
// for and the job's reason says so. The same on GKE (SetNodePoolSize; the
// agent's identity there is its custom role granted by Workload Identity).
func TestElasticNodeGroup(t *testing.T) {
	t.Run("eks", func(t *testing.T) { elasticNodeGroup(t, "eks", "c7i.4xlarge") })
	t.Run("gke", func(t *testing.T) { elasticNodeGroup(t, "gke", "c2-standard-16") })
}

func elasticNodeGroup(t *testing.T, provider, instanceType string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	w := newWorld(t, provider)
	w.startCluster()
	const idle = 3 * time.Second
	args := append(w.upArgs("up", w.machineTypes(elasticMachineTypes(instanceType))), "--elastic-idle", idle.String())
	if code, out, errOut := w.run(ctx, args...); code != 0 {
		t.Fatalf("up: exit %d: %s\n%s", code, errOut, out)
	}
	if size, max, _ := w.group(); size != 0 || max != 3 {
		t.Fatalf("node group after up: size %d max %d, want 0 and 3", size, max)
	}
	if w.aws != nil {
		// The agent's identity: its ServiceAccount bound (EKS Pod
		// Identity) to a role that may resize the cluster's node groups.
		want := []string{"CreateRole flotilla-burst-1-agent", "PutRolePolicy flotilla-burst-1-agent flotilla-elastic-node-groups",
			"CreateAddon " + eks.PodIdentityAddon, "CreatePodIdentityAssociation " + cloud.AgentNamespace + "/" + cloud.AgentName}
		for _, c := range want {
			if !slices.Contains(w.aws.Calls(), c) {
				t.Errorf("up did not call %s: %v", c, w.aws.Calls())
			}
		}
		if ids := w.aws.PodIdentities(); len(ids) != 1 || !strings.HasSuffix(ids[0], "=arn:aws:iam::123456789012:role/flotilla-burst-1-agent") {
			t.Errorf("pod identity associations %v", ids)
		}
		// The association works only with EKS's Pod Identity Agent.
		if diff := cmp.Diff([]string{clusterName + "/" + eks.PodIdentityAddon + " ACTIVE"}, w.aws.Addons()); diff != "" {
			t.Errorf("add-ons (-want +got):\n%s", diff)
		}
	}
	if w.gke != nil {
		// The agent's identity: its ServiceAccount, as a Workload
		// Identity principal, granted a role that may resize node pools.
		if r, ok := w.gke.Role(agentRole); !ok || r.Deleted {
			t.Errorf("no agent role: %v", w.gke.Resources())
		}
		if !slices.ContainsFunc(w.gke.Policy().Bindings, func(b cloudtest.IAMBinding) bool {
			return b.Role == agentRole && slices.Equal(b.Members, []string{agentPrincipal})
		}) {
			t.Errorf("policy without the agent's binding: %+v", w.gke.Policy().Bindings)
		}
	}

	// An on-prem machine type whose cluster has no agent (it takes no
	// jobs), and a rule bursting it to the cloud machine type.
	adm := w.admin
	if _, err := adm.PutCluster(ctx, "onprem", &structs.ClusterSpec{}); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.PutMachineType(ctx, &structs.MachineType{Name: "onprem8", Cluster: "onprem", Cores: 8, Slots: 8, RAM: 32, ScaleMax: 8}); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.PutBurstRule(ctx, &structs.BurstRule{Name: "to-cloud", From: "onprem8", To: []string{"cloud8"}, WhenFull: true}); err != nil {
		t.Fatal(err)
	}
	w.startInstalledAgent(ctx)
	alice := w.user(ctx)

	// The hub sees the empty group as capacity that can grow to 3.
	waitFor(ctx, t, "cloud8 reported as growable to 3", func() bool {
		c, err := adm.GetCluster(ctx, clusterName)
		return err == nil && c.Status == structs.ClusterReady && c.Capacity["cloud8"].Grow == 3
	})
	if n := w.groupNodes(ctx); n != 0 {
		t.Fatalf("%d nodes of the group before any job", n)
	}

	// The burst job runs on nodes the agent provisioned for its gang.
	start := time.Now()
	j, err := alice.SubmitJob(ctx, structs.JobSubmitRequest{ID: structs.NewJobID(), App: "solver", Command: "run", MachineType: "onprem8", Nodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	j = waitJob(ctx, t, alice, j.ID, "RUNNING", func(j *structs.Job) bool { return j.State == structs.JobRunning })
	t.Logf("burst job running after %s (scale-up included)", time.Since(start).Round(time.Millisecond))
	if j.Cluster != clusterName || j.BurstRule != "to-cloud" {
		t.Errorf("job on cluster %q by burst rule %q", j.Cluster, j.BurstRule)
	}
	if got := w.resizes(); !slices.Equal(got, []string{"mt-cloud8 2"}) {
		t.Errorf("resizes %v, want one to the gang's 2 nodes", got)
	}
	nodes, err := w.env.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: cloud.LabelMachineType + "=cloud8"})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes.Items) != 2 {
		t.Errorf("%d cloud8 nodes joined, want 2", len(nodes.Items))
	}
	for _, n := range nodes.Items {
		if n.Labels[cloud.LabelPool] != cloud.DefaultPool || !slices.ContainsFunc(n.Spec.Taints, func(t corev1.Taint) bool {
			return t.Key == cloud.LabelPool && t.Effect == corev1.TaintEffectNoSchedule
		}) {
			t.Errorf("node %s: labels %v taints %v", n.Name, n.Labels, n.Spec.Taints)
		}
	}
	pods, err := w.env.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: "flotilla.io/managed=true"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if !strings.HasPrefix(p.Spec.NodeName, "mt-cloud8-") {
			t.Errorf("pod %s on node %q, not the elastic group's", p.Name, p.Spec.NodeName)
		}
	}

	// A gang larger than the group's maximum: no scale-up, and the reason.
	big, err := alice.SubmitJob(ctx, structs.JobSubmitRequest{ID: structs.NewJobID(), App: "solver", Command: "run", MachineType: "onprem8", Nodes: 4})
	if err != nil {
		t.Fatal(err)
	}
	big = waitJob(ctx, t, alice, big.ID, "a reason naming the group's maximum", func(j *structs.Job) bool {
		return strings.Contains(j.Substatus, "node group grows to at most 3 nodes, job needs 4")
	})
	t.Logf("oversized job: %s: %s", big.State, big.Substatus)
	if big.State != structs.JobQueued || big.Cluster != "" {
		t.Errorf("oversized job %s on %q", big.State, big.Cluster)
	}
	if _, err := alice.CancelJob(ctx, big.ID, "test"); err != nil {
		t.Fatal(err)
	}

	// The job ends; after the idle time the group goes back to 0. The
	// clock starts before the job is terminated: the agent may find the
	// group idle (its pods gone) before the hub shows the job ended.
	ended := time.Now()
	if _, err := alice.TerminateJob(ctx, j.ID, "done"); err != nil {
		t.Fatal(err)
	}
	waitJob(ctx, t, alice, j.ID, "ended", func(j *structs.Job) bool { return j.State.IsTerminal() })
	waitFor(ctx, t, "the group back at 0 with its nodes gone", func() bool {
		size, _, ready := w.group()
		return size == 0 && ready && w.groupNodes(ctx) == 0
	})
	t.Logf("group back at 0 %s after the job ended (idle time %s)", time.Since(ended).Round(time.Millisecond), idle)
	if time.Since(ended) < idle {
		t.Errorf("the group shrank %s after the job ended, before the idle time %s", time.Since(ended), idle)
	}
	if got := w.resizes(); !slices.Equal(got, []string{"mt-cloud8 2", "mt-cloud8 0"}) {
		t.Errorf("resizes %v, want up to 2 then down to 0", got)
	}
	waitFor(ctx, t, "cloud8 growable to 3 again", func() bool {
		c, err := adm.GetCluster(ctx, clusterName)
		return err == nil && c.Capacity["cloud8"].Grow == 3
	})

	// down removes the agent's identity with the rest (the burst rule
	// naming cloud8 goes first: the hub keeps machine types rules use).
	w.stopAgent()
	if err := adm.DeleteBurstRule(ctx, "to-cloud"); err != nil {
		t.Fatal(err)
	}
	var before int
	if w.aws != nil {
		before = len(w.aws.Calls())
	}
	if code, out, errOut := w.run(ctx, w.downArgs()...); code != 0 {
		t.Fatalf("down: exit %d: %s\n%s", code, errOut, out)
	}
	if w.aws != nil {
		// The association, then the add-on, then the cluster.
		var order []string
		for _, c := range w.aws.Calls()[before:] {
			if strings.HasPrefix(c, "DeletePodIdentityAssociation ") || strings.HasPrefix(c, "DeleteAddon ") || strings.HasPrefix(c, "DeleteCluster ") {
				order = append(order, strings.Fields(c)[0])
			}
		}
		if diff := cmp.Diff([]string{"DeletePodIdentityAssociation", "DeleteAddon", "DeleteCluster"}, order); diff != "" {
			t.Errorf("down's order (-want +got):\n%s", diff)
		}
		if res := w.aws.Resources(); len(res) != 0 {
			t.Errorf("left in the cloud after down: %v", res)
		}
	}
	if w.gke != nil {
		if res := w.gke.Resources(); len(res) != 0 {
			t.Errorf("left in the cloud after down: %v", res)
		}
		if b := w.gke.Policy().Bindings; len(b) != 0 {
			t.Errorf("policy after down: %+v", b)
		}
	}
}

// resizes are the resize calls the cloud got: "GROUP SIZE".
func (w *world) resizes() []string {
	var out []string
	for _, c := range w.cloudCalls() {
		if r, ok := strings.CutPrefix(c, "UpdateNodegroupConfig "); ok {
			out = append(out, r)
		} else if r, ok := strings.CutPrefix(c, "SetNodePoolSize "); ok {
			out = append(out, r)
		}
	}
	return out
}

// group is the elastic group's size and maximum in the cloud, and whether
// it is ready (no resize under way).
func (w *world) group() (size, max int, ready bool) {
	if w.aws != nil {
		g, _ := w.aws.Group(clusterName, "mt-cloud8")
		return g.Desired, g.Max, g.Status == "ACTIVE"
	}
	p, ok := w.gke.Pool(clusterName, "mt-cloud8")
	if !ok {
		return -1, -1, false
	}
	return p.Size, int(p.Pool.GetAutoscaling().GetMaxNodeCount()), p.Pool.GetStatus() == containerpb.NodePool_RUNNING
}

// groupNodes counts the cloud8 nodes in the control plane.
func (w *world) groupNodes(ctx context.Context) int {
	nodes, err := w.env.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: cloud.LabelMachineType + "=cloud8"})
	if err != nil {
		return -1
	}
	return len(nodes.Items)
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
