package main

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/clusteragent/scheduler"
)

// syntheticCluster makes n nodes in three shapes (CPU, big-memory, GPU).
func syntheticCluster(n int, rng *rand.Rand) scheduler.Snapshot {
	var snap scheduler.Snapshot
	for i := range n {
		var r scheduler.Resources
		switch i % 10 {
		case 0:
			r = scheduler.Resources{MilliCPU: 64000, Memory: 512 << 30, GPU: 8, Pods: 110}
		case 1, 2:
			r = scheduler.Resources{MilliCPU: 64000, Memory: 256 << 30, Pods: 110}
		default:
			r = scheduler.Resources{MilliCPU: 32000, Memory: 128 << 30, Pods: 110}
		}
		snap.Nodes = append(snap.Nodes, scheduler.Node{Name: fmt.Sprintf("node-%05d", i), Allocatable: r,
			Labels: map[string]string{"zone": fmt.Sprintf("z%d", rng.IntN(3))}})
	}
	return snap
}

func singlePodGangs(n int) []scheduler.Gang {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	gangs := make([]scheduler.Gang, n)
	for i := range gangs {
		gangs[i] = scheduler.Gang{ID: fmt.Sprintf("g%06d", i), Tenant: fmt.Sprintf("t%d", i%4), Created: t0.Add(time.Duration(i) * time.Millisecond),
			Pods: []scheduler.PodSpec{{Requests: scheduler.Resources{MilliCPU: 4000, Memory: 8 << 30, Pods: 1}}}}
	}
	return gangs
}

// pureTable measures the scheduler alone: placements per second for
// single-pod gangs at 5,000, 10,000 and 50,000 nodes, one 1,000-pod gang,
// and one pre-placed create's placement (one new 8-pod gang) at 50,000
// nodes.
func pureTable() *report {
	r := &report{title: "Pure gang scheduler (no API server)"}
	now := time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC)
	for _, n := range []int{5000, 10000, 50000} {
		snap := syntheticCluster(n, rand.New(rand.NewPCG(1, 2)))
		gangs := singlePodGangs(2 * n)
		res := testing.Benchmark(func(b *testing.B) {
			for range b.N {
				scheduler.Schedule(snap, gangs, scheduler.Options{}, now)
			}
		})
		perOp := float64(res.T.Nanoseconds()) / float64(res.N)
		r.add(fmt.Sprintf("pure_placements_per_sec_%dnodes", n), float64(len(gangs))/(perOp/1e9), "placements/s",
			fmt.Sprintf("placements/s, %d single-pod gangs on %d nodes", len(gangs), n))
	}
	snap := syntheticCluster(10000, rand.New(rand.NewPCG(3, 4)))
	gang := scheduler.Gang{ID: "big", Created: now, OnePodPerNode: true}
	for range 1000 {
		gang.Pods = append(gang.Pods, scheduler.PodSpec{Requests: scheduler.Resources{MilliCPU: 16000, Memory: 32 << 30, Pods: 1}})
	}
	res := testing.Benchmark(func(b *testing.B) {
		for range b.N {
			out := scheduler.Schedule(snap, []scheduler.Gang{gang}, scheduler.Options{}, now)
			if len(out.Bindings) != 1 {
				b.Fatal("gang not placed")
			}
		}
	})
	big := syntheticCluster(50000, rand.New(rand.NewPCG(5, 6)))
	eight := scheduler.Gang{ID: "new", Created: now, OnePodPerNode: true}
	for range 8 {
		eight.Pods = append(eight.Pods, scheduler.PodSpec{Requests: scheduler.Resources{MilliCPU: 4000, Memory: 8 << 30, Pods: 1}})
	}
	one := testing.Benchmark(func(b *testing.B) {
		for range b.N {
			if out := scheduler.Schedule(big, []scheduler.Gang{eight}, scheduler.Options{}, now); len(out.Bindings) != 1 {
				b.Fatal("gang not placed")
			}
		}
	})
	r.add("pure_preplace_gang8_on_50000nodes_ms", float64(one.T.Microseconds())/float64(one.N)/1000, "ms",
		"one pre-placed create's pass: an 8-pod gang on 50,000 nodes")
	r.add("pure_gang1000_on_10000nodes_ms", float64(res.T.Microseconds())/float64(res.N)/1000, "ms",
		"one 1,000-pod gang on 10,000 nodes")
	return r
}
