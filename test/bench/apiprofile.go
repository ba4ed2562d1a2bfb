package main

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

// apiProfilePrefix is -apiserver-cpuprofile: when set, the scheduler
// table's API server serves /debug/pprof, and each measured stretch of a
// row (startMeter to stop) is profiled for apiProfileFor from its start,
// into PREFIX-N.prof (N counts the stretches in order; stderr names each
// file beside the row's figures).
var (
	apiProfilePrefix string
	apiProfileFor    time.Duration
	apiProfiles      atomic.Int64
)

// apiProfile is one profile being taken.
type apiProfile struct {
	path string
	done chan error
}

// startAPIProfile starts profiling the API server (nil when off).
func startAPIProfile(env *k8senv.Env) *apiProfile {
	if apiProfilePrefix == "" {
		return nil
	}
	p := &apiProfile{path: fmt.Sprintf("%s-%d.prof", apiProfilePrefix, apiProfiles.Add(1)), done: make(chan error, 1)}
	go func() {
		b, err := env.APIServerProfile(context.Background(), apiProfileFor)
		if err == nil {
			err = os.WriteFile(p.path, b, 0o644)
		}
		p.done <- err
	}()
	return p
}

// wait waits for the profile and says where it is.
func (p *apiProfile) wait() {
	if p == nil {
		return
	}
	if err := <-p.done; err != nil {
		fmt.Fprintf(os.Stderr, "bench: kube-apiserver profile: %v\n", err)
		return
	}
	fmt.Fprintf(os.Stderr, "bench: kube-apiserver profile (first %s of the row whose figures follow): %s\n", apiProfileFor, p.path)
}
