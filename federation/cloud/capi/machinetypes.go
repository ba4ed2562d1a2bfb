package capi

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// The annotations (or labels; an annotation wins) on a MachineDeployment
// that make it a machine type at the hub. A MachineDeployment without
// AnnotMachineType is not one.
const (
	// AnnotMachineType is the machine type's name at the hub (unique in the federation).
	AnnotMachineType = "flotilla.io/machine-type"
	// AnnotCores is the CPU cores a job may request per node (required).
	AnnotCores = "flotilla.io/cores"
	// AnnotSlots is the CPU limit per node (default: cores).
	AnnotSlots = "flotilla.io/slots"
	// AnnotMemory is the memory per node in GB (required).
	AnnotMemory = "flotilla.io/memory"
	// AnnotGPUs is the GPUs per node (default 0).
	AnnotGPUs = "flotilla.io/gpus"
	// AnnotPrice is the price per node-hour (default 0).
	AnnotPrice = "flotilla.io/price"
	// AnnotScaleMax is the most nodes one job may use (default: the
	// autoscaler's max-size annotation, else spec.replicas, else 1).
	AnnotScaleMax = "flotilla.io/scale-max"
	// AnnotNodeSelector is the machine type's node selectors,
	// comma-separated key=value (default none: every node of the cluster).
	AnnotNodeSelector = "flotilla.io/node-selector"
	// AnnotDescription is the machine type's description.
	AnnotDescription = "flotilla.io/description"

	// autoscalerMaxSize is the cluster-autoscaler's Cluster API provider
	// annotation of a node group's maximum size.
	autoscalerMaxSize = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size"
)

// MachineTypeOf turns a MachineDeployment of the Cluster into the machine
// type it describes, pinned to cluster (its name at the hub). ok is false
// for a MachineDeployment that describes none; err says what is wrong
// with one that does.
func MachineTypeOf(md *clusterv1.MachineDeployment, cluster string) (mt *structs.MachineType, ok bool, err error) {
	get := func(k string) string {
		if v, found := md.Annotations[k]; found {
			return strings.TrimSpace(v)
		}
		return strings.TrimSpace(md.Labels[k])
	}
	name := get(AnnotMachineType)
	if name == "" {
		return nil, false, nil
	}
	where := fmt.Sprintf("MachineDeployment %s/%s", md.Namespace, md.Name)
	num := func(k string, required bool, def int) (int, error) {
		s := get(k)
		if s == "" {
			if required {
				return 0, fmt.Errorf("%s: annotation %s is required", where, k)
			}
			return def, nil
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%s: annotation %s=%q is not a whole number >= 0", where, k, s)
		}
		return n, nil
	}
	m := &structs.MachineType{Name: name, Cluster: cluster, Description: get(AnnotDescription), ScaleMin: 1}
	if m.Cores, err = num(AnnotCores, true, 0); err != nil {
		return nil, true, err
	}
	if m.Slots, err = num(AnnotSlots, false, m.Cores); err != nil {
		return nil, true, err
	}
	if m.RAM, err = num(AnnotMemory, true, 0); err != nil {
		return nil, true, err
	}
	if m.GPUs, err = num(AnnotGPUs, false, 0); err != nil {
		return nil, true, err
	}
	scaleDefault := 1
	if s := strings.TrimSpace(md.Annotations[autoscalerMaxSize]); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			scaleDefault = n
		}
	} else if md.Spec.Replicas != nil && *md.Spec.Replicas > 0 {
		scaleDefault = int(*md.Spec.Replicas)
	}
	if m.ScaleMax, err = num(AnnotScaleMax, false, scaleDefault); err != nil {
		return nil, true, err
	}
	if s := get(AnnotPrice); s != "" {
		p, err := strconv.ParseFloat(s, 64)
		if err != nil || p < 0 {
			return nil, true, fmt.Errorf("%s: annotation %s=%q is not a price >= 0", where, AnnotPrice, s)
		}
		m.Price = p
	}
	if s := get(AnnotNodeSelector); s != "" {
		var sel []string
		for _, kv := range strings.Split(s, ",") {
			kv = strings.TrimSpace(kv)
			if k, v, found := strings.Cut(kv, "="); !found || k == "" || v == "" {
				return nil, true, fmt.Errorf("%s: annotation %s: %q is not key=value", where, AnnotNodeSelector, kv)
			}
			sel = append(sel, kv)
		}
		m.Properties = strings.Join(sel, ",")
	}
	if err := m.Validate(); err != nil {
		return nil, true, fmt.Errorf("%s: %w", where, err)
	}
	return m, true, nil
}

// machineTypesOf returns the machine types of a Cluster's
// MachineDeployments, by name, and a problem for each one that is
// malformed or names a machine type another of them names too.
func machineTypesOf(mds []*clusterv1.MachineDeployment, cluster string) (map[string]*structs.MachineType, []string) {
	sorted := append([]*clusterv1.MachineDeployment(nil), mds...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	out := map[string]*structs.MachineType{}
	var problems []string
	for _, md := range sorted {
		mt, ok, err := MachineTypeOf(md, cluster)
		switch {
		case err != nil:
			problems = append(problems, err.Error())
		case !ok:
		case out[mt.Name] != nil:
			problems = append(problems, fmt.Sprintf("MachineDeployment %s/%s: machine type %q is named by another MachineDeployment too", md.Namespace, md.Name, mt.Name))
		default:
			out[mt.Name] = mt
		}
	}
	return out, problems
}
