package hubsync

import (
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/clusteragent/scheduler"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Capacity computes, for each machine type pinned to this cluster, how many
// nodes could host one of its pods: Total on an empty cluster, Free now
// (every pod counted, ours and other schedulers'). One pod per node, as
// multi-node jobs run. Pure: snapshot in, numbers out.
func Capacity(snap scheduler.Snapshot, mts []*structs.MachineType, opts podgroup.Options) map[string]structs.Capacity {
	used := make(map[string]scheduler.Resources, len(snap.Nodes))
	for _, p := range snap.Pods {
		r := used[p.Node]
		r.Add(p.Requests)
		used[p.Node] = r
	}
	out := make(map[string]structs.Capacity, len(mts))
	sorted := append([]*structs.MachineType(nil), mts...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, mt := range sorted {
		req := machineRequest(mt)
		sel, err := mt.NodeSelector()
		if err != nil {
			continue
		}
		if mt.Arch != "" {
			if sel == nil {
				sel = map[string]string{}
			}
			sel["kubernetes.io/arch"] = mt.Arch
		}
		tols := podgroup.Tolerations(mt, opts)
		var c structs.Capacity
		for i := range snap.Nodes {
			n := &snap.Nodes[i]
			if n.Unschedulable || !matches(n.Labels, sel) || !tolerated(n, tols) {
				continue
			}
			if !req.FitsIn(n.Allocatable) {
				continue
			}
			c.Total++
			free := n.Allocatable.Clone()
			free.Sub(used[n.Name])
			if req.FitsIn(free) {
				c.Free++
			}
		}
		out[mt.Name] = c
	}
	return out
}

// machineRequest is one pod of the machine type, as level 1 requests it.
func machineRequest(mt *structs.MachineType) scheduler.Resources {
	var r scheduler.Resources
	r.Set(scheduler.ResourceCPU, int64(mt.Cores)*1000)
	r.Set(scheduler.ResourceMemory, int64(mt.RAM)<<30)
	r.Set(scheduler.ResourcePods, 1)
	if mt.GPUs > 0 {
		r.Set(scheduler.ResourceGPU, int64(mt.GPUs))
	}
	if mt.Scratch > 0 {
		r.Set(scheduler.ResourceEphemeralStorage, int64(mt.Scratch)<<30)
	}
	return r
}

func matches(labels, sel map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// tolerated reports whether every NoSchedule/NoExecute taint of the node is
// tolerated.
func tolerated(n *scheduler.Node, tols []corev1.Toleration) bool {
	for _, t := range n.Taints {
		if t.Effect != scheduler.TaintNoSchedule && t.Effect != scheduler.TaintNoExecute {
			continue
		}
		ok := false
		for _, tol := range tols {
			if tol.Effect != "" && string(tol.Effect) != string(t.Effect) {
				continue
			}
			if tol.Operator == corev1.TolerationOpExists && (tol.Key == "" || tol.Key == t.Key) ||
				tol.Key == t.Key && tol.Value == t.Value {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
