package podgroup_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/clusteragent/scheduler"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// capacityOf is the capacity report under test.
var capacityOf = podgroup.Capacity

// TestCapacityMatchesScheduler: on random snapshots (node shapes, labels,
// cordons, taints of every effect including one Kubernetes does not know,
// agent tolerations, scheduler weights), the capacity reported for a
// machine type equals the largest job of it that level 2 binds: a gang of
// n of its pods, built by level 1, binds exactly when n ≤ Free. Free equals
// Total on an idle snapshot; with other pods running, Total is what the
// empty cluster binds.
func TestCapacityMatchesScheduler(t *testing.T) {
	const cases = 1200
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	checked := 0
	for seed := range uint64(cases) {
		rng := rand.New(rand.NewPCG(seed, 0x5eed))
		snap := randomNodes(rng)
		idle := seed%2 == 0
		if !idle {
			snap.Pods = randomPods(rng, snap.Nodes)
		}
		mts := randomMachineTypes(rng)
		opts := podgroup.Options{Namespace: "jobs", Image: "app", Tolerations: randomTolerations(rng)}
		var sched scheduler.Options
		if rng.IntN(2) == 0 {
			sched.Weights = map[string]float64{scheduler.ResourceCPU: 1, scheduler.ResourceMemory: 0.25, scheduler.ResourceGPU: 8}
		}
		got := capacityOf(snap, mts, opts, sched)
		for _, mt := range mts {
			c, ok := got[mt.Name]
			if !ok {
				t.Fatalf("seed %d: no capacity for %s", seed, mt.Name)
			}
			if idle && c.Free != c.Total {
				t.Errorf("seed %d, %s: idle cluster, free %d != total %d", seed, mt.Name, c.Free, c.Total)
			}
			empty := scheduler.Snapshot{Nodes: snap.Nodes}
			for n := 1; n <= len(snap.Nodes)+1; n++ {
				if b := binds(t, snap, mt, opts, sched, n, now); b != (n <= c.Free) {
					t.Fatalf("seed %d, %s: capacity free %d, but a gang of %d binds: %v\nnodes %+v\nmachine type %+v\ntolerations %+v",
						seed, mt.Name, c.Free, n, b, snap.Nodes, mt, opts.Tolerations)
				}
				if !idle {
					if b := binds(t, empty, mt, opts, sched, n, now); b != (n <= c.Total) {
						t.Fatalf("seed %d, %s: capacity total %d, but on the empty cluster a gang of %d binds: %v", seed, mt.Name, c.Total, n, b)
					}
				}
			}
			checked++
		}
	}
	t.Logf("%d cases, %d machine types checked", cases, checked)
}

// binds reports whether level 2 binds a job of n pods of mt (built by
// level 1, converted as the agent's cache converts pending pods).
func binds(t *testing.T, snap scheduler.Snapshot, mt *structs.MachineType, opts podgroup.Options, sched scheduler.Options, n int, now time.Time) bool {
	t.Helper()
	job := &structs.Job{ID: "probe", Number: 7, Nodes: n, Tenant: "acme", SubmitTime: now}
	pods, err := podgroup.Build(job, mt, opts)
	if err != nil {
		return false
	}
	g := scheduler.Gang{ID: "jobs/7", OnePodPerNode: n > 1, Created: now}
	for _, p := range pods {
		g.Pods = append(g.Pods, podgroup.SchedulerPod(p))
	}
	res := scheduler.Schedule(snap, []scheduler.Gang{g}, sched, now)
	return len(res.Bindings) == 1 && len(res.Bindings[0].Nodes) == n
}

var taintChoices = []scheduler.Taint{
	{Key: "nvidia.com/gpu", Value: "present", Effect: scheduler.TaintNoSchedule},
	{Key: "dedicated", Value: "hpc", Effect: scheduler.TaintNoExecute},
	{Key: "busy", Value: "yes", Effect: scheduler.TaintPreferNoSchedule},
	{Key: "odd", Value: "x", Effect: "SomeFutureEffect"}, // an effect Kubernetes does not know (yet)
	{Key: "maintenance", Effect: scheduler.TaintNoSchedule},
}

func randomNodes(rng *rand.Rand) scheduler.Snapshot {
	var snap scheduler.Snapshot
	for i := range 1 + rng.IntN(14) {
		gpus := []int64{0, 0, 0, 2, 4, 8}[rng.IntN(6)]
		n := scheduler.Node{
			Name: fmt.Sprintf("n%02d", i),
			Allocatable: scheduler.Resources{
				MilliCPU: []int64{2, 4, 8, 16, 32, 64}[rng.IntN(6)] * 1000,
				Memory:   []int64{8, 16, 64, 256}[rng.IntN(4)] << 30,
				GPU:      gpus,
				Pods:     []int64{0, 110, 110, 2}[rng.IntN(4)],
			},
			Labels: map[string]string{
				"class":              []string{"cpu", "gpu", "mem"}[rng.IntN(3)],
				"kubernetes.io/arch": []string{"amd64", "amd64", "arm64"}[rng.IntN(3)],
			},
			Unschedulable: rng.IntN(7) == 0,
		}
		if rng.IntN(2) == 0 {
			n.Allocatable.EphemeralStorage = []int64{20, 200}[rng.IntN(2)] << 30
		}
		for _, tn := range taintChoices {
			if rng.IntN(6) == 0 {
				n.Taints = append(n.Taints, tn)
			}
		}
		snap.Nodes = append(snap.Nodes, n)
	}
	return snap
}

// randomPods places pods of other schedulers and of earlier jobs.
func randomPods(rng *rand.Rand, nodes []scheduler.Node) []scheduler.Pod {
	var out []scheduler.Pod
	for range rng.IntN(2 * len(nodes)) {
		n := nodes[rng.IntN(len(nodes))]
		out = append(out, scheduler.Pod{Node: n.Name, Tenant: []string{"", "acme"}[rng.IntN(2)], Requests: scheduler.Resources{
			MilliCPU: []int64{500, 2000, 8000}[rng.IntN(3)], Memory: []int64{1, 4, 32}[rng.IntN(3)] << 30,
			GPU: min(n.Allocatable.GPU, int64(rng.IntN(3))), Pods: 1,
		}})
	}
	return out
}

func randomMachineTypes(rng *rand.Rand) []*structs.MachineType {
	var out []*structs.MachineType
	for i := range 1 + rng.IntN(4) {
		mt := &structs.MachineType{
			Name:  fmt.Sprintf("mt%d", i),
			Cores: []int{1, 2, 4, 8, 16, 33}[rng.IntN(6)],
			RAM:   []int{1, 4, 16, 64, 300}[rng.IntN(5)],
			GPUs:  []int{0, 0, 1, 4}[rng.IntN(4)],
		}
		mt.Slots = mt.Cores + rng.IntN(2)*mt.Cores
		if rng.IntN(4) == 0 {
			mt.Scratch = 10
		}
		switch rng.IntN(4) {
		case 0:
			mt.Properties = "class=cpu"
		case 1:
			mt.Properties = "class=gpu"
		}
		if rng.IntN(4) == 0 {
			mt.Arch = "amd64"
		}
		out = append(out, mt)
	}
	return out
}

func randomTolerations(rng *rand.Rand) []corev1.Toleration {
	all := []corev1.Toleration{
		{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "hpc", Effect: corev1.TaintEffectNoExecute},
		{Key: "odd", Operator: corev1.TolerationOpExists}, // every effect, the unknown one too
		{Key: "node.kubernetes.io/unschedulable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: "busy", Operator: corev1.TolerationOpEqual, Value: "no"}, // does not match busy=yes
	}
	var out []corev1.Toleration
	for _, tol := range all {
		if rng.IntN(3) == 0 {
			out = append(out, tol)
		}
	}
	return out
}
