package hubsync

import (
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestSignalRequestsReachTheRunner: a running job the runner has is
// handed to it again when the hub sends it with signal requests (the
// runner takes them over); a plain redelivery still is not.
func TestSignalRequestsReachTheRunner(t *testing.T) {
	hub, run := newFakeHub(), newFakeRunner()
	hub.setMachineTypes(&structs.MachineType{Name: "m4", Cores: 4, RAM: 8, Cluster: "east"})
	start(t, hub, run, nil)
	hub.set(job(1, "east", structs.JobAssigned))
	eventually(t, "job 1 handed to the runner", func() bool { a, _, _ := run.counts(1); return a == 1 })
	hub.set(job(1, "east", structs.JobRunning))
	signaled := job(1, "east", structs.JobRunning)
	signaled.Signals = []structs.JobSignal{{Seq: 1, Signal: 10, Scope: structs.SignalAll, Time: time.Unix(1, 0)}}
	hub.set(signaled)
	eventually(t, "the signal request handed to the runner", func() bool {
		run.mu.Lock()
		defer run.mu.Unlock()
		l := run.added[1]
		return len(l) == 2 && len(l[1].Job.Signals) == 1
	})
}
