package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

// bindAB is -bind-ab: repeated runs of the bind path's two rows (the raw
// binding ceiling and Flotilla's single-pod row), in alternating order.
// One run of each swung the ratio between 69 and 102 % on a 2-core VM
// (both rows move by ±20 % from run to run), so the figure to compare
// with the target is the median of the pairs' ratios.
var bindAB int

// bindABRuns runs the pair bindAB times, alternating which goes first,
// prints every run and the medians, and returns the median of the pairs'
// ratios (Flotilla's rate over the ceiling's, in %).
func bindABRuns(ctx context.Context, env *k8senv.Env, specs []k8senv.NodeSpec, pods int,
	flStart starter) (float64, error) {
	var fl, raw, pct []float64
	for i := range bindAB {
		order := []string{"raw", "fl"}
		if i%2 == 1 {
			order = []string{"fl", "raw"}
		}
		var f, c float64
		for _, row := range order {
			var rate, inFlight float64
			var u usage
			if row == "raw" {
				r, use, err := rawCeiling(ctx, env, specs, pods, false)
				if err != nil {
					return 0, err
				}
				c, rate, u, inFlight = r, r, use, lastBindsInFlight
			} else {
				o, err := runWorkload(ctx, env, "fl", podgroup.SchedulerName, singleJobs(pods), pods, flStart)
				if err != nil {
					return 0, err
				}
				f, rate, u, inFlight = o.rate(), o.rate(), o.use, o.inFlight
			}
			var cpu float64
			for _, d := range u.procs {
				cpu += d.Seconds()
			}
			fmt.Fprintf(os.Stderr, "bench: bind A/B %d %-3s %6.1f/s, %4.1f binds in flight, %4.2f cores, µs/pod: bench %4.0f, kube-apiserver %5.0f, all %5.0f\n",
				i+1, row, rate, inFlight, cpu/max(u.wall.Seconds(), 1e-9), u.selfUs, u.apiUs, u.totalUs)
		}
		fl, raw, pct = append(fl, f), append(raw, c), append(pct, 100*f/c)
	}
	m := median(pct)
	runs := make([]string, len(pct))
	for i, p := range pct {
		runs[i] = fmt.Sprintf("%.1f", p)
	}
	fmt.Fprintf(os.Stderr, "bench: bind A/B medians: Flotilla %.1f pods/s, ceiling %.1f binds/s, ratio of the pairs %.1f %% (runs %s)\n",
		median(fl), median(raw), m, strings.Join(runs, ", "))
	return m, nil
}

// lastBindsInFlight is the average number of binds in flight in the last
// raw binding ceiling's window.
var lastBindsInFlight float64

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
