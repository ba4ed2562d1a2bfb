package scheduler

import (
	"fmt"
	"math/rand"
	"time"
)

// randomCase draws a small random cluster, queue and options. Equal seeds
// give equal cases.
func randomCase(r *rand.Rand) (Snapshot, []Gang, Options) {
	shapes := []Resources{
		res(8, 32, 0),
		res(16, 64, 0),
		res(32, 128, 0),
		res(32, 128, 4),
		{MilliCPU: 12000, Memory: 48 * gib, Extended: map[string]int64{"rdma/hca": 2}},
	}
	var snap Snapshot
	nodeCount := r.Intn(40)
	for i := range nodeCount {
		shape := shapes[r.Intn(len(shapes))]
		alloc := shape
		alloc.Extended = nil
		for k, v := range shape.Extended {
			alloc.Set(k, v)
		}
		alloc.Pods = []int64{0, 3, 110}[r.Intn(3)]
		name := fmt.Sprintf("n%02d", i)
		if r.Intn(30) == 0 && i > 0 {
			name = fmt.Sprintf("n%02d", i-1) // an ambiguous duplicate
		}
		n := Node{Name: name, Allocatable: alloc, Labels: map[string]string{"zone": []string{"a", "b"}[r.Intn(2)]}}
		if alloc.GPU > 0 {
			n.Labels["gpu"] = []string{"t4", "a100"}[r.Intn(2)]
		}
		switch r.Intn(20) {
		case 0, 1, 2:
			n.Taints = append(n.Taints, Taint{Key: "dedicated", Value: "ml", Effect: TaintNoSchedule})
		case 3, 4:
			n.Taints = append(n.Taints, Taint{Key: "spot", Effect: TaintPreferNoSchedule})
		case 5:
			n.Taints = append(n.Taints, Taint{Key: "maintenance", Effect: TaintNoExecute})
		case 6:
			n.Unschedulable = true
		}
		snap.Nodes = append(snap.Nodes, n)

		// Pods already running, within allocatable.
		free := alloc
		slots := alloc.Pods
		for range r.Intn(4) {
			if alloc.Pods > 0 && slots == 0 {
				break
			}
			req := Resources{
				MilliCPU: r.Int63n(free.MilliCPU/2 + 1),
				Memory:   r.Int63n(free.Memory/2 + 1),
			}
			if free.GPU > 0 {
				req.GPU = r.Int63n(free.GPU + 1)
			}
			free.Sub(req)
			slots--
			snap.Pods = append(snap.Pods, Pod{Node: name, Requests: req, Tenant: []string{"", "acme", "globex", "initech"}[r.Intn(4)]})
		}
	}
	if r.Intn(5) == 0 {
		snap.Pods = append(snap.Pods, Pod{Node: "gone", Requests: res(1, 1, 0), Tenant: "acme"})
	}

	var gangs []Gang
	for i := range r.Intn(25) {
		g := Gang{
			ID:            fmt.Sprintf("g%02d", i),
			Tenant:        []string{"", "acme", "globex", "initech"}[r.Intn(4)],
			Priority:      r.Intn(4),
			Created:       t0.Add(time.Duration(r.Intn(10)) * time.Minute),
			OnePodPerNode: r.Intn(2) == 0,
		}
		podCount := 1 + r.Intn(6)
		mixed := r.Intn(3) == 0
		var spec PodSpec
		for p := range podCount {
			if p == 0 || mixed {
				spec = randomPodSpec(r)
			}
			g.Pods = append(g.Pods, spec)
		}
		gangs = append(gangs, g)
	}

	opts := Options{
		TenantIsolation: r.Intn(2) == 0,
		Backfill:        r.Intn(2) == 0,
	}
	if r.Intn(3) == 0 {
		opts.Weights = map[string]float64{
			ResourceCPU:    float64(r.Intn(4)),
			ResourceMemory: r.Float64(),
			ResourceGPU:    float64(r.Intn(100)),
			"rdma/hca":     float64(r.Intn(10)),
		}
	}
	if r.Intn(10) == 0 {
		opts.MaxGangsPerCycle = 1 + r.Intn(5)
	}
	return snap, gangs, opts
}

func randomPodSpec(r *rand.Rand) PodSpec {
	sp := PodSpec{Requests: Resources{
		MilliCPU: 250 * (1 + r.Int63n(64)),
		Memory:   (1 + r.Int63n(64)) * gib / 2,
	}}
	if r.Intn(5) == 0 {
		sp.Requests.GPU = 1 + r.Int63n(2)
	}
	if r.Intn(20) == 0 {
		sp.Requests.Extended = map[string]int64{"rdma/hca": 1}
	}
	switch r.Intn(10) {
	case 0:
		sp.NodeSelector = map[string]string{"zone": "a"}
	case 1:
		sp.NodeSelector = map[string]string{"gpu": "a100"}
	}
	switch r.Intn(10) {
	case 0:
		sp.Tolerations = []Toleration{{Key: "dedicated", Operator: TolerationEqual, Value: "ml", Effect: TaintNoSchedule}}
	case 1:
		sp.Tolerations = []Toleration{{Operator: TolerationExists}}
	case 2:
		sp.Tolerations = []Toleration{{Key: "spot", Operator: TolerationExists}}
	}
	return sp
}
