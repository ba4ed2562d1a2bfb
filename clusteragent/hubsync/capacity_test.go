package hubsync

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/clusteragent/scheduler"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

func node(name string, cpu, memGiB, gpus int64, labels map[string]string, taints ...scheduler.Taint) scheduler.Node {
	return scheduler.Node{Name: name, Labels: labels, Taints: taints,
		Allocatable: scheduler.Resources{MilliCPU: cpu * 1000, Memory: memGiB << 30, GPU: gpus, Pods: 110}}
}

func TestCapacity(t *testing.T) {
	gpuTaint := scheduler.Taint{Key: "nvidia.com/gpu", Value: "present", Effect: scheduler.TaintNoSchedule}
	snap := scheduler.Snapshot{
		Nodes: []scheduler.Node{
			node("c1", 32, 128, 0, map[string]string{"class": "cpu"}),
			node("c2", 32, 128, 0, map[string]string{"class": "cpu"}),
			node("c3", 32, 128, 0, map[string]string{"class": "cpu"}),
			node("g1", 64, 512, 8, map[string]string{"class": "gpu"}, gpuTaint),
		},
		Pods: []scheduler.Pod{
			{Node: "c1", Requests: scheduler.Resources{MilliCPU: 20000, Memory: 8 << 30, Pods: 1}},
			{Node: "g1", Requests: scheduler.Resources{MilliCPU: 8000, Memory: 8 << 30, GPU: 6, Pods: 1}},
		},
	}
	mts := []*structs.MachineType{
		{Name: "cpu16", Cores: 16, RAM: 60, Properties: "class=cpu"},
		{Name: "any8", Cores: 8, RAM: 16},
		{Name: "gpu4", Cores: 16, GPUs: 4, RAM: 100, Properties: "class=gpu"},
		{Name: "huge", Cores: 128, RAM: 16},
	}
	got := Capacity(snap, mts, podgroup.Options{})
	want := map[string]structs.Capacity{
		"cpu16": {Free: 2, Total: 3}, // c1 has 12 cores left
		"any8":  {Free: 3, Total: 3}, // no GPUs: its pods stay off the tainted GPU node
		"gpu4":  {Free: 0, Total: 1}, // 2 GPUs left on g1
		"huge":  {Free: 0, Total: 0},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("capacity (-want +got):\n%s", d)
	}
}
