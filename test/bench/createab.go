package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

// createAB is -create-ab: repeated runs of the two create rows, in
// alternating order, to tell a difference between them from run-to-run
// noise (one run each moved the API server's CPU per pod by ±25 %).
var createAB int

// lastInFlight is the average number of creates in flight in the last
// create row's window.
var lastInFlight float64

// abRun is one row's figures in the A/B runs.
type abRun struct {
	rate, inFlight float64
	use            usage
}

func (a abRun) line() string {
	var cpu float64
	for _, d := range a.use.procs {
		cpu += d.Seconds()
	}
	return fmt.Sprintf("%6.1f pods/s (%6.1f to Running), %4.1f in flight, stretch %5.1f s (%4.2f cores), µs/pod: bench %4.0f, kube-apiserver %5.0f, all %6.0f",
		a.rate, a.use.runningRate(), a.inFlight, a.use.wall.Seconds(), cpu/a.use.wall.Seconds(), a.use.selfUs, a.use.apiUs, a.use.totalUs)
}

// createABRuns runs the raw create ceiling and the pre-placed row
// createAB times each, alternating which goes first, and prints every
// run's figures and the median of each figure per row.
func createABRuns(ctx context.Context, env *k8senv.Env, specs []k8senv.NodeSpec, jobs []job, n int) error {
	runs := map[string][]abRun{}
	for i := range createAB {
		order := []string{"raw", "fl"}
		if i%2 == 1 {
			order = []string{"fl", "raw"}
		}
		for _, row := range order {
			var a abRun
			var err error
			if row == "raw" {
				a.rate, a.use, err = rawCreateCeiling(ctx, env, specs, n)
			} else {
				a.rate, a.use, err = preplacedCreates(ctx, env, jobs)
			}
			if err != nil {
				return err
			}
			a.inFlight = lastInFlight
			runs[row] = append(runs[row], a)
			fmt.Fprintf(os.Stderr, "bench: A/B %d %-3s %s\n", i+1, row, a.line())
		}
	}
	med := func(row string, f func(abRun) float64) float64 {
		var v []float64
		for _, a := range runs[row] {
			v = append(v, f(a))
		}
		return median(v)
	}
	var b strings.Builder
	for _, row := range []string{"raw", "fl"} {
		fmt.Fprintf(&b, "bench: A/B median %-3s %6.1f pods/s, µs/pod: bench %4.0f, kube-apiserver %5.0f, all %6.0f\n", row,
			med(row, func(a abRun) float64 { return a.rate }), med(row, func(a abRun) float64 { return a.use.selfUs }),
			med(row, func(a abRun) float64 { return a.use.apiUs }), med(row, func(a abRun) float64 { return a.use.totalUs }))
	}
	fmt.Fprintf(&b, "bench: A/B median pre-placed / raw rate %.1f %%", 100*med("fl", func(a abRun) float64 { return a.rate })/med("raw", func(a abRun) float64 { return a.rate }))
	fmt.Fprintln(os.Stderr, b.String())
	return nil
}
