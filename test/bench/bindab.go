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

// bindAB is -bind-ab: repeated runs of the bind path's rows (the raw
// binding ceiling and Flotilla's single-pod row), in rotating order.
// One run of each swung the ratio between 69 and 102 % on a 2-core VM
// (both rows move by ±20 % from run to run), so the figure to compare
// with the target is the median of the runs' ratios.
var bindAB int

// bindABRows is -bind-ab-rows: the rows of each -bind-ab run. "raw" (the
// ceiling) must be one of them; the others are "fl" (Flotilla's row,
// counted as -bind-observer says), "fl-agent" and "fl-informer" (counted
// through the agent's informer / a pod informer of the row's own), and
// "raw-watch" (the ceiling with that pod informer beside it).
var bindABRows = "raw,fl"

// lastBindWindow is the last raw binding ceiling's window.
var lastBindWindow bindWindow

// bindABRuns runs the rows bindAB times, the i-th run starting at the
// i-th row (with two rows: alternating which goes first), prints every
// run and the medians, and returns, for the first Flotilla row, the
// median of the runs' rate ratios to the ceiling and the median of the
// ratios of the ceiling's CPU per pod to the row's (both in %).
func bindABRuns(ctx context.Context, env *k8senv.Env, specs []k8senv.NodeSpec, pods int,
	flStart starter) (ratePct, cpuPctMedian float64, err error) {
	if err := checkBindABRows(); err != nil {
		return 0, 0, err
	}
	rows := strings.Split(bindABRows, ",")
	rates := map[string][]float64{}
	pct := map[string][]float64{}
	// cpuPct is the ceiling's CPU per pod over the row's, every process
	// in the windows: the rate ratio on a machine whose cores the rows
	// have to themselves, whatever else ran beside them.
	cpuPct := map[string][]float64{}
	for i := range bindAB {
		order := append(slices.Clone(rows[i%len(rows):]), rows[:i%len(rows)]...)
		run, cpu := map[string]float64{}, map[string]float64{}
		for _, row := range order {
			var rate float64
			var u usage
			var w bindWindow
			switch row {
			case "raw", "raw-watch":
				r, use, err := rawCeiling(ctx, env, specs, pods, row == "raw-watch")
				if err != nil {
					return 0, 0, err
				}
				rate, u, w = r, use, lastBindWindow
			case "fl", "fl-agent", "fl-informer":
				st := flStart
				if row != "fl" {
					st.counts = row == "fl-agent"
				}
				o, err := runWorkload(ctx, env, "fl", podgroup.SchedulerName, singleJobs(pods), pods, st)
				if err != nil {
					return 0, 0, err
				}
				rate, u, w = o.rate(), o.use, o.window
			}
			fmt.Fprintf(os.Stderr, "bench: bind A/B %d %-11s %6.1f/s, %4.1f binds in flight, %4.2f cores, µs/pod in the window: bench %4.0f, kube-apiserver %5.0f, all %5.0f; whole row: bench %4.0f, kube-apiserver %5.0f, all %5.0f\n",
				i+1, row, rate, w.inFlight, w.cores(), w.perPod("bench"), w.perPod("kube-apiserver"), w.perPod("all"), u.selfUs, u.apiUs, u.totalUs)
			run[row], cpu[row] = rate, w.perPod("all")
			rates[row] = append(rates[row], rate)
		}
		for _, row := range rows {
			if row != "raw" {
				pct[row] = append(pct[row], 100*run[row]/run["raw"])
				cpuPct[row] = append(cpuPct[row], 100*cpu["raw"]/max(cpu[row], 1e-9))
			}
		}
	}
	var first string
	for _, row := range rows {
		if row == "raw" {
			fmt.Fprintf(os.Stderr, "bench: bind A/B medians: %-11s %6.1f/s\n", row, median(rates[row]))
			continue
		}
		if first == "" && strings.HasPrefix(row, "fl") {
			first = row
		}
		fmt.Fprintf(os.Stderr, "bench: bind A/B medians: %-11s %6.1f/s, %% of the ceiling: median of the runs %.1f (runs %s); by CPU per pod in the windows %.1f (runs %s)\n",
			row, median(rates[row]), median(pct[row]), joinPct(pct[row]), median(cpuPct[row]), joinPct(cpuPct[row]))
	}
	return median(pct[first]), median(cpuPct[first]), nil
}

// checkBindABRows reports what is wrong with -bind-ab-rows: an unknown
// row, a row twice, no ceiling or no Flotilla row.
func checkBindABRows() error {
	rows := strings.Split(bindABRows, ",")
	fl := false
	for i, row := range rows {
		switch row {
		case "raw", "raw-watch":
		case "fl", "fl-agent", "fl-informer":
			fl = true
		default:
			return fmt.Errorf("-bind-ab-rows %q: unknown row %q (raw, raw-watch, fl, fl-agent, fl-informer)", bindABRows, row)
		}
		if slices.Contains(rows[:i], row) {
			return fmt.Errorf("-bind-ab-rows %q: row %q twice", bindABRows, row)
		}
	}
	if !slices.Contains(rows, "raw") || !fl {
		return fmt.Errorf("-bind-ab-rows %q: needs raw and a Flotilla row", bindABRows)
	}
	return nil
}

func joinPct(v []float64) string {
	s := make([]string, len(v))
	for i, p := range v {
		s[i] = fmt.Sprintf("%.1f", p)
	}
	return strings.Join(s, ", ")
}

// median is the middle value of v, the mean of the two middle ones for
// an even count (it took the upper one, which leaned every median of
// -bind-ab 4 and -create-ab 4 upwards).
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}
