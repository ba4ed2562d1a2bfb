package cloud

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/federation/cloud"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

const eksMachineTypes = `
- mc_name: cpu16
  mc_cores: 8
  mc_slots: 8
  mc_ram: 32
  mc_scale_max: 4
  mc_price: 0.68
  instance_type: c7i.4xlarge
  nodes: 2
  max_nodes: 4
- mc_name: gpu16
  mc_cores: 8
  mc_slots: 8
  mc_gpus: 1
  mc_ram: 32
  mc_price: 1.62
  instance_type: g5.4xlarge
  nodes: 1
  max_nodes: 2
`

const gkeMachineTypes = `
- mc_name: cpu16
  mc_cores: 8
  mc_slots: 8
  mc_ram: 32
  mc_scale_max: 4
  mc_price: 0.68
  instance_type: c2-standard-16
  nodes: 2
  max_nodes: 4
- mc_name: gpu16
  mc_cores: 8
  mc_slots: 8
  mc_gpus: 1
  mc_ram: 32
  mc_price: 1.62
  instance_type: g2-standard-16
  accelerator: nvidia-l4
  nodes: 1
  max_nodes: 2
`

// progressLine is a progress line with the elapsed time.
var progressLine = regexp.MustCompile(`^\[\d+/\d+\] .+: .+ \(\d+(m\d\d)?s\)$`)

// upAndRun plans, brings the cluster up with the command, and runs a job
// there through the hub.
func upAndRun(t *testing.T, provider, machineTypes string, cloudStatus []string) *world {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	w := newWorld(t, provider)
	w.startCluster()
	mt := w.machineTypes(machineTypes)

	// plan: what up would make and its price; nothing is made.
	code, out, errOut := w.run(ctx, w.upArgs("plan", mt)...)
	if code != 0 {
		t.Fatalf("plan: exit %d: %s", code, errOut)
	}
	for _, want := range []string{"mt-cpu16", "mt-gpu16", "$2.98 per hour at the initial size", "up to $5.96 per hour"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan does not say %q:\n%s", want, out)
		}
	}
	if w.cloudCalls() != nil {
		t.Errorf("plan called the cloud: %v", w.cloudCalls())
	}

	start := time.Now()
	code, out, errOut = w.run(ctx, w.upArgs("up", mt)...)
	if code != 0 {
		t.Fatalf("up: exit %d: %s\n%s", code, errOut, out)
	}
	t.Logf("up took %s:\n%s", time.Since(start).Round(time.Millisecond), out)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(line, "[") && !progressLine.MatchString(line) {
			t.Errorf("progress line without elapsed time: %q", line)
		}
	}
	for _, st := range cloudStatus {
		if !strings.Contains(out, ": "+st+" (") {
			t.Errorf("progress does not show the cloud's status %s", st)
		}
	}

	// At the hub: the cluster and its machine types, pinned, selecting
	// their own node group's nodes.
	cl, err := w.admin.GetCluster(ctx, clusterName)
	if err != nil {
		t.Fatalf("cluster at the hub: %v", err)
	}
	if cl.Labels[cloud.LabelCloud] != provider {
		t.Errorf("cluster labels %v", cl.Labels)
	}
	for _, name := range []string{"cpu16", "gpu16"} {
		m, err := w.admin.GetMachineType(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if m.Cluster != clusterName || m.Properties != cloud.LabelMachineType+"="+name {
			t.Errorf("machine type %s: cluster %q properties %q", name, m.Cluster, m.Properties)
		}
	}

	// The agent was applied to the new cluster with the cloud's token;
	// it runs there and a job lands on the node group's nodes.
	w.startInstalledAgent(ctx)
	alice := w.user(ctx)
	j, err := alice.SubmitJob(ctx, structs.JobSubmitRequest{ID: structs.NewJobID(), App: "solver", Command: "run", MachineType: "cpu16", Nodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	j = waitJob(ctx, t, alice, j.ID, "RUNNING", func(j *structs.Job) bool { return j.State == structs.JobRunning })
	if j.Cluster != clusterName {
		t.Errorf("job runs on %q", j.Cluster)
	}
	pods, err := w.env.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: "flotilla.io/managed=true"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if !strings.HasPrefix(p.Spec.NodeName, "mt-cpu16-") {
			t.Errorf("pod %s on node %q, not the cpu16 node group's", p.Name, p.Spec.NodeName)
		}
	}
	if len(pods.Items) != 2 {
		t.Errorf("%d job pods, want 2", len(pods.Items))
	}
	return w
}

func (w *world) cloudCalls() []string {
	if w.aws != nil {
		return w.aws.Calls()
	}
	return w.gke.Calls()
}

// TestCloudUpEKS: plan prints the node groups and the price and makes
// nothing; up makes the IAM roles with their policies, the cluster
// (CREATING → ACTIVE over several polls) and a node group per machine
// type (the NVIDIA AMI for the GPU type, the agent's labels and taints),
// reaches the API server with a presigned-STS token, installs the agent,
// registers cluster and machine types, and a job runs there.
func TestCloudUpEKS(t *testing.T) {
	w := upAndRun(t, "eks", eksMachineTypes, []string{"CREATING", "ACTIVE"})
	want := []string{"CreateRole flotilla-burst-1-cluster", "CreateRole flotilla-burst-1-node", "CreateCluster burst-1",
		"CreateNodegroup mt-cpu16", "CreateNodegroup mt-gpu16"}
	if diff := cmp.Diff(want, w.aws.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	cpu, _ := w.aws.Group(clusterName, "mt-cpu16")
	gpu, _ := w.aws.Group(clusterName, "mt-gpu16")
	if cpu.AMIType != "AL2023_x86_64_STANDARD" || gpu.AMIType != "AL2023_x86_64_NVIDIA" {
		t.Errorf("AMI types %s, %s", cpu.AMIType, gpu.AMIType)
	}
	if cpu.InstanceType != "c7i.4xlarge" || cpu.Desired != 2 || cpu.Max != 4 {
		t.Errorf("cpu group %+v", cpu)
	}
	wantLabels := map[string]string{cloud.LabelPool: cloud.DefaultPool, cloud.LabelMachineType: "gpu16"}
	if diff := cmp.Diff(wantLabels, gpu.Labels); diff != "" {
		t.Errorf("gpu labels (-want +got):\n%s", diff)
	}
	wantTaints := []map[string]string{{"key": cloud.LabelPool, "value": cloud.DefaultPool, "effect": "NO_SCHEDULE"},
		{"key": cloud.GPUTaintKey, "value": "present", "effect": "NO_SCHEDULE"}}
	if diff := cmp.Diff(wantTaints, gpu.Taints); diff != "" {
		t.Errorf("gpu taints (-want +got):\n%s", diff)
	}
}

// TestCloudUpGKE: the same on GKE: the cluster and a node pool per
// machine type (accelerators for the GPU type), PROVISIONING → RUNNING,
// a token from the application default credentials (a service account
// key exchanged at the token endpoint), the agent, the hub, a job.
func TestCloudUpGKE(t *testing.T) {
	w := upAndRun(t, "gke", gkeMachineTypes, []string{"PROVISIONING", "RUNNING"})
	want := []string{"CreateCluster burst-1", "CreateNodePool mt-cpu16", "CreateNodePool mt-gpu16"}
	if diff := cmp.Diff(want, w.gke.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	gpu, ok := w.gke.NodePool(clusterName, "mt-gpu16")
	if !ok {
		t.Fatalf("no pool mt-gpu16: %v", w.gke.Resources())
	}
	cfg := gpu.GetConfig()
	if cfg.GetMachineType() != "g2-standard-16" || len(cfg.GetAccelerators()) != 1 ||
		cfg.GetAccelerators()[0].GetAcceleratorType() != "nvidia-l4" || cfg.GetAccelerators()[0].GetAcceleratorCount() != 1 {
		t.Errorf("gpu pool config %v", cfg)
	}
	if cfg.GetLabels()[cloud.LabelMachineType] != "gpu16" || len(cfg.GetTaints()) != 2 {
		t.Errorf("gpu pool labels %v taints %v", cfg.GetLabels(), cfg.GetTaints())
	}
	if gpu.GetInitialNodeCount() != 1 || gpu.GetAutoscaling().GetMaxNodeCount() != 2 {
		t.Errorf("gpu pool size %d max %d", gpu.GetInitialNodeCount(), gpu.GetAutoscaling().GetMaxNodeCount())
	}
}
