package scheduler

import (
	"fmt"
	"math/rand"
	"testing"
	"time"
)

// benchCluster draws a cluster of n nodes in four weight classes: 16-core,
// 32-core, 64-core CPU nodes and tainted 4-GPU nodes. Every node runs a
// small pod of another scheduler (a daemon set); a third of them also run
// a pod of one of ten tenants.
func benchCluster(r *rand.Rand, n int) Snapshot {
	var snap Snapshot
	for i := range n {
		name := fmt.Sprintf("node-%05d", i)
		var nd Node
		switch k := r.Intn(10); {
		case k < 1:
			nd = node(name, 16, 64, 0)
		case k < 7:
			nd = node(name, 32, 128, 0)
		case k < 9:
			nd = node(name, 64, 256, 0)
		default:
			nd = withTaint(withLabels(node(name, 32, 256, 4), "gpu", "a100"), "nvidia.com/gpu", "", TaintNoSchedule)
		}
		nd.Labels = map[string]string{"zone": []string{"a", "b", "c"}[r.Intn(3)], "kubernetes.io/hostname": name}
		snap.Nodes = append(snap.Nodes, nd)
		snap.Pods = append(snap.Pods, Pod{Node: name, Requests: Resources{MilliCPU: 100, Memory: 128 << 20}})
		if r.Intn(3) == 0 {
			snap.Pods = append(snap.Pods, Pod{
				Node:     name,
				Requests: res(int64(1+r.Intn(12)), int64(1+r.Intn(48)), 0),
				Tenant:   fmt.Sprintf("tenant-%d", r.Intn(10)),
			})
		}
	}
	return snap
}

// benchSinglePodGangs draws count single-pod gangs: 1–8 cores, 2–32 GiB,
// one in ten wanting a GPU, ten tenants, three priorities.
func benchSinglePodGangs(r *rand.Rand, count int) []Gang {
	gpuTol := []Toleration{{Key: "nvidia.com/gpu", Operator: TolerationExists, Effect: TaintNoSchedule}}
	gangs := make([]Gang, count)
	for i := range gangs {
		sp := PodSpec{Requests: res(int64(1+r.Intn(8)), int64(2+r.Intn(31)), 0)}
		if r.Intn(10) == 0 {
			sp.Requests.GPU = 1
			sp.Tolerations = gpuTol
		}
		gangs[i] = Gang{
			ID:       fmt.Sprintf("job-%06d", i),
			Tenant:   fmt.Sprintf("tenant-%d", r.Intn(10)),
			Priority: r.Intn(3),
			Created:  t0.Add(time.Duration(r.Intn(3600)) * time.Second),
			Pods:     []PodSpec{sp},
		}
	}
	return gangs
}

// benchSchedule schedules twice as many single-pod gangs as there are nodes,
// with tenant isolation and backfill on, and reports placements per second
// over whole cycles (setup included).
func benchSchedule(b *testing.B, nodes int) {
	r := rand.New(rand.NewSource(1))
	snap := benchCluster(r, nodes)
	gangs := benchSinglePodGangs(r, 2*nodes)
	opts := Options{TenantIsolation: true, Backfill: true}
	placed := 0
	for b.Loop() {
		res := Schedule(snap, gangs, opts, t0)
		placed += len(res.Bindings)
	}
	b.ReportMetric(float64(placed)/b.Elapsed().Seconds(), "placements/s")
	b.ReportMetric(float64(placed)/float64(b.N), "placed/op")
}

func BenchmarkSchedule5000Nodes(b *testing.B)  { benchSchedule(b, 5000) }
func BenchmarkSchedule10000Nodes(b *testing.B) { benchSchedule(b, 10000) }

// BenchmarkGang1000On10000Nodes places one 1,000-pod multi-node gang (one
// pod of 16 cores and 64 GiB per node) on a 10,000-node cluster.
func BenchmarkGang1000On10000Nodes(b *testing.B) {
	r := rand.New(rand.NewSource(1))
	snap := benchCluster(r, 10000)
	g := multiNode(ofTenant(gang("mpi", 1000, res(16, 64, 0)), "tenant-0"))
	gangs := []Gang{g}
	opts := Options{TenantIsolation: true, Backfill: true}
	for b.Loop() {
		res := Schedule(snap, gangs, opts, t0)
		if len(res.Bindings) != 1 {
			b.Fatalf("gang not placed: %+v", res.Pending)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/gang")
}

// BenchmarkScheduleFullCluster schedules 20,000 gangs onto 10,000 nodes of
// which nearly all are full, so most gangs fail and are explained.
func BenchmarkScheduleFullCluster(b *testing.B) {
	r := rand.New(rand.NewSource(1))
	snap := benchCluster(r, 10000)
	for i := range snap.Nodes {
		snap.Pods = append(snap.Pods, Pod{Node: snap.Nodes[i].Name, Requests: res(15, 60, 0), Tenant: "tenant-0"})
	}
	big := multiNode(ofTenant(gang("big", 200, res(32, 64, 0)), "tenant-1"))
	gangs := append([]Gang{prio(big, 9)}, benchSinglePodGangs(r, 20000)...)
	opts := Options{TenantIsolation: true, Backfill: true}
	placed := 0
	for b.Loop() {
		res := Schedule(snap, gangs, opts, t0)
		placed += len(res.Bindings)
	}
	b.ReportMetric(float64(placed)/float64(b.N), "placed/op")
}

// benchPrePlacedPass is a pre-placed create's pass: one single-pod gang
// placed on a cluster of n nodes, its pod then counted on its node, with
// the cluster rebuilt per pass (Schedule on a snapshot) or kept between
// passes (State).
func benchPrePlacedPass(b *testing.B, n int, kept bool) {
	r := rand.New(rand.NewSource(1))
	snap := benchCluster(r, n)
	gangs := benchSinglePodGangs(r, 4096)
	opts := Options{TenantIsolation: true, Backfill: true}
	st := NewState(snap.Nodes, opts)
	byNode := map[string][]Pod{}
	for _, p := range snap.Pods {
		byNode[p.Node] = append(byNode[p.Node], p)
	}
	for node, pods := range byNode {
		st.SetLoads(node, pods)
	}
	i := 0
	for b.Loop() {
		g := gangs[i%len(gangs) : i%len(gangs)+1]
		i++
		var res Result
		if kept {
			res = st.Schedule(g, opts, t0)
		} else {
			res = Schedule(st.Snapshot(), g, opts, t0)
		}
		for _, bd := range res.Bindings {
			node := bd.Nodes[0]
			byNode[node] = append(byNode[node], Pod{Node: node, Requests: g[0].Pods[0].Requests, Tenant: g[0].Tenant})
			st.SetLoads(node, byNode[node])
		}
		if i%1024 == 0 { // the pods end again: the cluster does not fill up
			for node := range byNode {
				byNode[node] = byNode[node][:1]
				st.SetLoads(node, byNode[node])
			}
		}
	}
}

func BenchmarkPrePlacedPass1000NodesSnapshot(b *testing.B) { benchPrePlacedPass(b, 1000, false) }
func BenchmarkPrePlacedPass1000NodesState(b *testing.B)    { benchPrePlacedPass(b, 1000, true) }
func BenchmarkPrePlacedPass5000NodesSnapshot(b *testing.B) { benchPrePlacedPass(b, 5000, false) }
func BenchmarkPrePlacedPass5000NodesState(b *testing.B)    { benchPrePlacedPass(b, 5000, true) }
