package cloud

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/rest"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// stepsOnly is a provider with one cluster step and a group step per
// machine type; it never creates anything.
type stepsOnly struct{}

func (stepsOnly) Steps(spec *Spec) []Step {
	out := []Step{{ID: "cluster", Kind: KindCluster, Title: "cluster " + spec.Name}}
	for _, g := range spec.NodeGroups() {
		out = append(out, Step{ID: "nodegroup/" + g.MachineType, Kind: KindNodeGroup, Title: "node group " + g.Name, Group: &g})
	}
	return out
}
func (stepsOnly) Create(context.Context, *Spec, Step, func(string)) (string, error) { return "", nil }
func (stepsOnly) Delete(context.Context, *Spec, structs.CloudResource, func(string)) error {
	return nil
}
func (stepsOnly) Access(context.Context, *Spec) (*rest.Config, error) { return nil, nil }

const twoTypes = `
- {mc_name: cpu, mc_cores: 8, mc_ram: 32, mc_price: 0.5, instance_type: c7i.2xlarge, nodes: 2, max_nodes: 4}
- {mc_name: gpu, mc_cores: 8, mc_ram: 32, mc_gpus: 1, mc_price: 2, instance_type: g5.2xlarge, accelerator: nvidia-l4, nodes: 0, max_nodes: 2}
`

func TestSpecValidate(t *testing.T) {
	mts, err := ReadMachineTypes([]byte(twoTypes))
	if err != nil {
		t.Fatal(err)
	}
	ok := func() Spec {
		return Spec{Provider: structs.CloudEKS, Name: "aws-1", Region: "us-east-1", MachineTypes: mts}
	}
	cases := map[string]struct {
		edit func(*Spec)
		want string // "" valid, else part of the error
	}{
		"valid eks":         {edit: func(*Spec) {}},
		"valid gke":         {edit: func(s *Spec) { s.Provider, s.Project = structs.CloudGKE, "p" }},
		"gke needs project": {edit: func(s *Spec) { s.Provider = structs.CloudGKE }, want: "gke needs --project"},
		"aks":               {edit: func(s *Spec) { s.Provider = "aks" }, want: `provider "aks"`},
		"no region":         {edit: func(s *Spec) { s.Region = "" }, want: "--region is required"},
		"bad name":          {edit: func(s *Spec) { s.Name = "" }, want: "empty"},
		"no instance type": {edit: func(s *Spec) {
			s.MachineTypes = append([]MachineType(nil), s.MachineTypes...)
			s.MachineTypes[0].InstanceType = ""
		}, want: "instance_type is required"},
		"twice": {edit: func(s *Spec) { s.MachineTypes = append(s.MachineTypes, s.MachineTypes[0]) }, want: `"cpu" twice`},
		"above max": {edit: func(s *Spec) {
			s.MachineTypes = append([]MachineType(nil), s.MachineTypes...)
			s.MachineTypes[0].Nodes = 5
		}, want: "nodes 5, min 0, max 4"},
		"elastic without max": {edit: func(s *Spec) {
			s.MachineTypes = append([]MachineType(nil), s.MachineTypes...)
			s.MachineTypes[0].Elastic, s.MachineTypes[0].MaxNodes = true, 0
		}, want: "an elastic machine type needs max_nodes"},
		"gke gpu without accelerator": {edit: func(s *Spec) {
			s.Provider, s.Project = structs.CloudGKE, "p"
			s.MachineTypes = append([]MachineType(nil), s.MachineTypes...)
			s.MachineTypes[1].Accelerator = ""
		}, want: "needs accelerator"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			s := ok()
			c.edit(&s)
			err := s.Validate()
			switch {
			case c.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("error %v, want one saying %q", err, c.want)
			}
		})
	}
}

func TestReadMachineTypesStrict(t *testing.T) {
	if _, err := ReadMachineTypes([]byte("- {mc_name: a, mc_cores: 1, instance_type: x, nodes: 1, bogus: 1}")); err == nil ||
		!strings.Contains(err.Error(), "bogus") {
		t.Errorf("unknown field: %v", err)
	}
	if _, err := ReadMachineTypes([]byte("")); err == nil {
		t.Error("empty file accepted")
	}
}

func TestNodeGroupsAndPlan(t *testing.T) {
	mts, err := ReadMachineTypes([]byte(twoTypes))
	if err != nil {
		t.Fatal(err)
	}
	spec := &Spec{Provider: structs.CloudGKE, Name: "gcp-1", Region: "us-central1", Project: "p", MachineTypes: mts}
	gs := spec.NodeGroups()
	if diff := cmp.Diff([]Taint{{LabelPool, DefaultPool, "NoSchedule"}, {GPUTaintKey, "present", "NoSchedule"}}, gs[1].Taints); diff != "" {
		t.Errorf("gpu taints (-want +got):\n%s", diff)
	}
	if gs[0].Labels[LabelMachineType] != "cpu" || len(gs[0].Taints) != 1 {
		t.Errorf("cpu group %+v", gs[0])
	}
	if hm := mts[0].HubMachineType("gcp-1"); hm.Cluster != "gcp-1" || hm.Properties != LabelMachineType+"=cpu" {
		t.Errorf("hub machine type %+v", hm)
	}
	var b strings.Builder
	PrintPlan(&b, stepsOnly{}, spec)
	want := `GKE cluster gcp-1 in us-central1 (project p):
  1. cluster gcp-1
  2. node group mt-cpu
  3. node group mt-gpu
  4. kubeconfig of gcp-1
  5. cluster gcp-1 and 2 machine types at the hub
  6. agent in namespace flotilla-system

MACHINE TYPE  NODE GROUP  INSTANCE TYPE           GPUS  NODES  MIN..MAX  PRICE/NODE-HOUR
cpu           mt-cpu      c7i.2xlarge             0     2      0..4      $0.50
gpu           mt-gpu      g5.2xlarge + nvidia-l4  1     0      0..2      $2.00

Estimated price: $1.00 per hour at the initial size, up to $6.00 per hour at the maximum (machine type prices; the control plane is billed by the cloud on top).
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
}

// TestElasticPlanAndAgentArgs: an elastic machine type shows as such in
// the plan with the price when idle, and the installed agent is told to
// resize its group between its bounds; without one, no elastic flags.
func TestElasticPlanAndAgentArgs(t *testing.T) {
	mts, err := ReadMachineTypes([]byte(twoTypes))
	if err != nil {
		t.Fatal(err)
	}
	spec := &Spec{Provider: structs.CloudGKE, Name: "gcp-1", Region: "us-central1", Project: "p", MachineTypes: mts}
	if args := ElasticArgs(spec, AgentOptions{}); args != nil {
		t.Errorf("no elastic machine type, args %v", args)
	}
	spec.MachineTypes[1].Elastic = true
	var b strings.Builder
	PrintPlan(&b, stepsOnly{}, spec)
	for _, want := range []string{"0..2 elastic", "$1.00 per hour with every elastic group idle"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("plan does not say %q:\n%s", want, b.String())
		}
	}
	got := ElasticArgs(spec, AgentOptions{Endpoint: "https://container.example", PollInterval: 2e9, ElasticIdle: 300e9})
	want := []string{"-elastic-cloud=gke", "-elastic-region=us-central1", "-elastic-groups=mt-gpu=gpu:0:2", "-elastic-project=p",
		"-elastic-endpoint=https://container.example", "-elastic-poll=2s", "-elastic-idle=5m0s"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("agent args (-want +got):\n%s", diff)
	}
	v := AgentValues(AgentSettings{Spec: spec, HubURLs: []string{"https://hub"}, BootstrapToken: "t"})
	if v.Namespace != AgentNamespace || v.NodeSelector != LabelPool+"="+DefaultPool || len(v.Tolerate) != 1 || len(v.ExtraArgs) != 4 {
		t.Errorf("agent values %+v", v)
	}
}
