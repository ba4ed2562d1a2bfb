package cloud

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Labels and taints of the machine-type nodes: what the agent's node
// selector and tolerations and the machine types' properties expect (the
// same as the Terraform modules').
const (
	LabelPool        = "flotilla.io/pool"
	LabelMachineType = "flotilla.io/machine-type"
	LabelCloud       = "flotilla.io/cloud"
	LabelRegion      = "flotilla.io/region"
	DefaultPool      = "hpc"
	// GPUTaintKey is the taint GPU nodes carry; GPU machine types' pods
	// tolerate it (clusteragent/podgroup).
	GPUTaintKey = "nvidia.com/gpu"
)

// Spec is what `flotilla cloud up` is asked to make.
type Spec struct {
	Provider structs.CloudProvider
	Name     string // the cluster's name, in the cloud and at the hub
	Region   string
	Project  string // GKE project
	// KubernetesVersion is the control plane's version (empty: the
	// cloud's default).
	KubernetesVersion string
	MachineTypes      []MachineType
}

// MachineType is one entry of the machine types file: a Flotilla machine
// type (its mc_* fields) and the node group or pool that provides it.
type MachineType struct {
	structs.MachineType
	// InstanceType is the cloud's machine type: m6i.4xlarge, n2-standard-16.
	InstanceType string `json:"instance_type"`
	// Accelerator is GKE's accelerator type for GPU machine types
	// (nvidia-tesla-t4); EKS instance types carry their GPUs.
	Accelerator string `json:"accelerator,omitempty"`
	// Nodes is the group's size at creation; MinNodes and MaxNodes bound
	// it (MaxNodes 0: Nodes).
	Nodes    int `json:"nodes"`
	MinNodes int `json:"min_nodes,omitempty"`
	MaxNodes int `json:"max_nodes,omitempty"`
	DiskGB   int `json:"disk_gb,omitempty"`
	// Elastic: the agent resizes the group between MinNodes and MaxNodes
	// for the jobs that wait for it (usually nodes 0, min 0).
	Elastic bool `json:"elastic,omitempty"`
}

// NodeGroup is the node group (EKS) or node pool (GKE) of a machine type.
type NodeGroup struct {
	Name         string // mt-<machine type>
	MachineType  string
	InstanceType string
	Accelerator  string
	GPUs         int
	Nodes        int
	MinNodes     int
	MaxNodes     int
	DiskGB       int
	Elastic      bool
	Labels       map[string]string
	Taints       []Taint
	Price        float64 // per node-hour
}

// Taint is a node taint; Effect is Kubernetes' spelling (NoSchedule).
type Taint struct{ Key, Value, Effect string }

// ReadMachineTypes decodes a machine types file (JSON or YAML, one entry
// or a list), strictly: unknown fields are errors.
func ReadMachineTypes(data []byte) ([]MachineType, error) {
	js := bytes.TrimSpace(data)
	if len(js) > 0 && js[0] != '{' && js[0] != '[' {
		var err error
		if js, err = yaml.YAMLToJSON(data); err != nil {
			return nil, err
		}
		js = bytes.TrimSpace(js)
	}
	if len(js) == 0 || string(js) == "null" {
		return nil, errors.New("no machine types")
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	var out []MachineType
	var err error
	if js[0] == '[' {
		err = dec.Decode(&out)
	} else {
		var one MachineType
		err = dec.Decode(&one)
		out = []MachineType{one}
	}
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after the first value")
	}
	if len(out) == 0 {
		return nil, errors.New("no machine types")
	}
	return out, nil
}

// Validate checks the spec before anything is created.
func (s *Spec) Validate() error {
	switch s.Provider {
	case structs.CloudEKS:
	case structs.CloudGKE:
		if s.Project == "" {
			return errors.New("gke needs --project")
		}
	default:
		return fmt.Errorf("provider %q: want eks or gke", s.Provider)
	}
	probe := structs.Cluster{Name: s.Name}
	if err := probe.Validate(); err != nil {
		return err
	}
	if s.Region == "" {
		return errors.New("--region is required")
	}
	if len(s.MachineTypes) == 0 {
		return errors.New("no machine types")
	}
	seen := map[string]bool{}
	for _, m := range s.MachineTypes {
		mt := m.HubMachineType(s.Name)
		if err := mt.Validate(); err != nil {
			return err
		}
		switch {
		case seen[m.Name]:
			return fmt.Errorf("machine type %q twice", m.Name)
		case m.InstanceType == "":
			return fmt.Errorf("machine type %q: instance_type is required", m.Name)
		case m.Nodes < 0 || m.MinNodes < 0 || m.MaxNodes < 0:
			return fmt.Errorf("machine type %q: node counts must not be negative", m.Name)
		case m.MaxNodes > 0 && (m.Nodes > m.MaxNodes || m.MinNodes > m.MaxNodes):
			return fmt.Errorf("machine type %q: nodes %d, min %d, max %d", m.Name, m.Nodes, m.MinNodes, m.MaxNodes)
		case m.Elastic && m.MaxNodes == 0:
			return fmt.Errorf("machine type %q: an elastic machine type needs max_nodes", m.Name)
		case m.GPUs > 0 && s.Provider == structs.CloudGKE && m.Accelerator == "":
			return fmt.Errorf("machine type %q: a GPU machine type on GKE needs accelerator", m.Name)
		}
		seen[m.Name] = true
	}
	return nil
}

// HubMachineType is the machine type as the hub stores it: pinned to the
// cluster, its pods selecting its own node group's nodes.
func (m MachineType) HubMachineType(cluster string) *structs.MachineType {
	mt := m.MachineType.Copy()
	mt.RaftIndex = structs.RaftIndex{}
	mt.Cluster = cluster
	sel := LabelMachineType + "=" + m.Name
	if mt.Properties == "" {
		mt.Properties = sel
	} else if !slices.Contains(strings.Split(mt.Properties, ","), sel) {
		mt.Properties += "," + sel
	}
	return mt
}

// NodeGroups returns the node group of every machine type, in file order.
func (s *Spec) NodeGroups() []NodeGroup {
	out := make([]NodeGroup, 0, len(s.MachineTypes))
	for _, m := range s.MachineTypes {
		g := NodeGroup{Name: "mt-" + m.Name, MachineType: m.Name, InstanceType: m.InstanceType, Accelerator: m.Accelerator,
			GPUs: m.GPUs, Nodes: m.Nodes, MinNodes: m.MinNodes, MaxNodes: m.MaxNodes, DiskGB: m.DiskGB, Price: m.Price, Elastic: m.Elastic,
			Labels: map[string]string{LabelPool: DefaultPool, LabelMachineType: m.Name},
			Taints: []Taint{{Key: LabelPool, Value: DefaultPool, Effect: "NoSchedule"}}}
		if g.MaxNodes == 0 {
			g.MaxNodes = max(g.Nodes, 1)
		}
		if g.GPUs > 0 {
			g.Taints = append(g.Taints, Taint{Key: GPUTaintKey, Value: "present", Effect: "NoSchedule"})
		}
		out = append(out, g)
	}
	return out
}
