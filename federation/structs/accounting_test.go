package structs

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestUsageOf(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	tests := map[string]struct {
		nodes, cores, gpus int
		start, end         time.Time
		price              float64
		want               Usage
	}{
		"one hour on two nodes": {2, 64, 0, t0, t0.Add(time.Hour), 1.25,
			Usage{Elapsed: time.Hour, NodeHours: 2, CoreHours: 64, Cost: 2.5}},
		"ninety minutes with GPUs": {4, 32, 8, t0, t0.Add(90 * time.Minute), 3,
			Usage{Elapsed: 90 * time.Minute, NodeHours: 6, CoreHours: 48, GPUHours: 12, Cost: 18}},
		"never started":   {2, 64, 0, time.Time{}, t0, 1.25, Usage{}},
		"ends before":     {2, 64, 0, t0, t0.Add(-time.Minute), 1.25, Usage{}},
		"free type":       {1, 16, 0, t0, t0.Add(30 * time.Minute), 0, Usage{Elapsed: 30 * time.Minute, NodeHours: 0.5, CoreHours: 8}},
		"zero length job": {1, 16, 0, t0, t0, 5, Usage{}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := UsageOf(tc.nodes, tc.cores, tc.gpus, tc.start, tc.end, tc.price)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestRecordUsage: an old record (no hours stored) derives them; the
// stored cost is the cost, whatever the price now.
func TestRecordUsage(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	old := &AccountingRecord{Nodes: 2, Cores: 32, Start: t0, End: t0.Add(time.Hour), Price: 2, Cost: 4}
	if diff := cmp.Diff(Usage{Elapsed: time.Hour, NodeHours: 2, CoreHours: 32, Cost: 4}, old.Usage()); diff != "" {
		t.Errorf("old record (-want +got):\n%s", diff)
	}
	full := &AccountingRecord{Nodes: 2, Cores: 32, Start: t0, End: t0.Add(time.Hour), Price: 2, Cost: 4, NodeHours: 2, CoreHours: 32, GPUHours: 1}
	if got := full.Usage(); got.GPUHours != 1 || got.Cost != 4 {
		t.Errorf("full record usage %+v", got)
	}
}
