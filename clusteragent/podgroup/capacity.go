package podgroup

import (
	"github.com/flotilla-hpc/flotilla/clusteragent/scheduler"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Capacity returns, for each machine type, the capacity the agent reports
// to the hub: the largest job of that machine type level 2 binds now
// (Free) and on the cluster without pods (Total). It builds the machine
// type's pod as level 1 does (Build with opts) and asks the scheduler with
// its own filter and fit (scheduler.Capacity, with the agent's scheduler
// options): one machine-type → requests mapping, one fit check. A machine
// type level 1 cannot build pods for has no capacity.
func Capacity(snap scheduler.Snapshot, mts []*structs.MachineType, opts Options, sched scheduler.Options) map[string]structs.Capacity {
	out := make(map[string]structs.Capacity, len(mts))
	probe := &structs.Job{ID: "capacity", Number: 1, Nodes: 1}
	for _, mt := range mts {
		pods, err := Build(probe, mt, opts)
		if err != nil {
			out[mt.Name] = structs.Capacity{}
			continue
		}
		free, total := scheduler.Capacity(snap, SchedulerPod(pods[0]), sched)
		out[mt.Name] = structs.Capacity{Free: free, Total: total}
	}
	return out
}
