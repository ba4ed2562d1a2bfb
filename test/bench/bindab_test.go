package main

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestCheckBindABRows: -bind-ab-rows takes the known rows once each, with
// the ceiling and a Flotilla row among them.
func TestCheckBindABRows(t *testing.T) {
	for rows, ok := range map[string]bool{
		"raw,fl":                      true,
		"fl,raw":                      true,
		"raw,fl-agent,fl-informer":    true,
		"raw,raw-watch,fl":            true,
		"raw":                         false,
		"fl":                          false,
		"raw,raw-watch":               false,
		"raw,fl,fl":                   false,
		"raw,kube-scheduler":          false,
		"raw,fl,":                     false,
		"":                            false,
		"raw,fl-agent,fl,fl-informer": true,
	} {
		bindABRows = rows
		if err := checkBindABRows(); (err == nil) != ok {
			t.Errorf("%q: err %v, want ok %v", rows, err, ok)
		}
	}
	bindABRows = "raw,fl"
}

// TestBindWindow: a window's figures per pod, its cores and its POSTs in
// flight come from the two marks.
func TestBindWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	from := &cpuMark{at: t0, area: 10, cpu: map[string]time.Duration{"bench": time.Second, "kube-apiserver": 2 * time.Second}}
	to := &cpuMark{at: t0.Add(2 * time.Second), area: 110, cpu: map[string]time.Duration{"bench": 1200 * time.Millisecond, "kube-apiserver": 5 * time.Second}}
	w := windowOf(from, to, 1000)
	got := map[string]float64{"bench": w.perPod("bench"), "kube-apiserver": w.perPod("kube-apiserver"), "all": w.perPod("all"),
		"cores": w.cores(), "inFlight": w.inFlight}
	want := map[string]float64{"bench": 200, "kube-apiserver": 3000, "all": 3200, "cores": 1.6, "inFlight": 50}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("window (-want +got):\n%s", d)
	}
	if (bindWindow{}).cores() != 0 || (bindWindow{}).perPod("all") != 0 {
		t.Errorf("an empty window has figures")
	}
}

// TestMedian: the middle value, or the mean of the two middle ones.
func TestMedian(t *testing.T) {
	for name, c := range map[string]struct {
		v    []float64
		want float64
	}{
		"none": {nil, 0},
		"one":  {[]float64{3}, 3},
		"odd":  {[]float64{9, 1, 5}, 5},
		"even": {[]float64{101.9, 70.0, 85.5, 81.2}, 83.35},
	} {
		if got := median(c.v); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s: median %v, want %v", name, got, c.want)
		}
	}
}
