package scheduler

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestResources(t *testing.T) {
	base := Resources{MilliCPU: 4000, Memory: 8 * gib, GPU: 1, Pods: 2, Extended: map[string]int64{"rdma/hca": 2}}
	for name, tc := range map[string]struct {
		do   func() Resources
		want Resources
	}{
		"add": {
			do: func() Resources {
				r := base
				r.Add(Resources{MilliCPU: 500, Extended: map[string]int64{"rdma/hca": 1, "fpga": 1}})
				return r
			},
			want: Resources{MilliCPU: 4500, Memory: 8 * gib, GPU: 1, Pods: 2, Extended: map[string]int64{"rdma/hca": 3, "fpga": 1}},
		},
		"sub": {
			do: func() Resources {
				r := base
				r.Sub(Resources{Memory: 2 * gib, GPU: 1, Extended: map[string]int64{"rdma/hca": 2}})
				return r
			},
			want: Resources{MilliCPU: 4000, Memory: 6 * gib, Pods: 2, Extended: map[string]int64{"rdma/hca": 0}},
		},
		"set by name": {
			do: func() Resources {
				r := base
				r.Set(ResourceCPU, 1)
				r.Set(ResourceGPU, 0)
				r.Set("rdma/hca", 7)
				return r
			},
			want: Resources{MilliCPU: 1, Memory: 8 * gib, Pods: 2, Extended: map[string]int64{"rdma/hca": 7}},
		},
	} {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.do()); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
			if base.Extended["rdma/hca"] != 2 || len(base.Extended) != 1 {
				t.Errorf("a copy's method wrote to the shared map: %v", base.Extended)
			}
		})
	}

	if got := base.Get(ResourceMemory); got != 8*gib {
		t.Errorf("Get(memory) = %d", got)
	}
	if got := base.Get("rdma/hca"); got != 2 {
		t.Errorf("Get(rdma/hca) = %d", got)
	}
	fitsCases := map[string]struct {
		req  Resources
		want bool
	}{
		"smaller":            {Resources{MilliCPU: 1000, Extended: map[string]int64{"rdma/hca": 2}}, true},
		"equal":              {base, true},
		"more cpu":           {Resources{MilliCPU: 4001}, false},
		"missing extended":   {Resources{Extended: map[string]int64{"fpga": 1}}, false},
		"more extended":      {Resources{Extended: map[string]int64{"rdma/hca": 3}}, false},
		"zero extended ok":   {Resources{Extended: map[string]int64{"fpga": 0}}, true},
		"more pods":          {Resources{Pods: 3}, false},
		"more ephemeral":     {Resources{EphemeralStorage: 1}, false},
		"more gpus than one": {Resources{GPU: 2}, false},
	}
	for name, tc := range fitsCases {
		if got := tc.req.FitsIn(base); got != tc.want {
			t.Errorf("%s: FitsIn = %v, want %v", name, got, tc.want)
		}
	}
}

func TestWeightedCapacity(t *testing.T) {
	for name, tc := range map[string]struct {
		weights map[string]float64
		alloc   Resources
		want    float64
	}{
		"defaults count cores, GiB and GPUs": {
			alloc: Resources{MilliCPU: 32000, Memory: 128 * gib, GPU: 4, Pods: 110, EphemeralStorage: 500 * gib},
			want:  32 + 128 + 4,
		},
		"named weights apply": {
			weights: map[string]float64{ResourceGPU: 100, ResourceMemory: 0.5, ResourcePods: 1},
			alloc:   Resources{MilliCPU: 32000, Memory: 128 * gib, GPU: 4, Pods: 110},
			want:    32 + 64 + 400 + 110,
		},
		"extended resources weigh 1 unless named": {
			weights: map[string]float64{"fpga": 10},
			alloc:   Resources{Extended: map[string]int64{"rdma/hca": 2, "fpga": 1}},
			want:    2 + 10,
		},
		"negative weights count as zero": {
			weights: map[string]float64{ResourceCPU: -5},
			alloc:   Resources{MilliCPU: 32000, Memory: gib},
			want:    1,
		},
	} {
		t.Run(name, func(t *testing.T) {
			l := newLayout([]string{"rdma/hca", "fpga"}, tc.weights)
			v := make([]int64, l.dims)
			l.vector(tc.alloc, v, false)
			if got := l.weigh(v); got != tc.want {
				t.Errorf("weighted capacity = %v, want %v", got, tc.want)
			}
		})
	}
}
