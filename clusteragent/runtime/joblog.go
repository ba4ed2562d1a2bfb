package runtime

import (
	"log/slog"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Every line about a job goes through the job's own logger, made once
// per assignment with the job's attributes (structs.Job.LogAttrs: its id,
// its number and the request id of its submission), so that every such
// line carries them without each call naming them.

// logger is the runner's logger (Log, or one that discards before Run).
func (r *Reconciler) logger() *slog.Logger {
	if r.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Log
}

// jobLogger returns the logger of the lines about job j.
func (r *Reconciler) jobLogger(j *structs.Job) *slog.Logger {
	return r.logger().With(j.LogAttrs()...)
}

// JobLog returns the logger of the lines about the job numbered n: the
// one of the job the runner has, else one naming just the number. Level 2
// (the scheduling loop) logs what it does to a job's gang through it.
func (r *Reconciler) JobLog(n uint64) *slog.Logger {
	r.mu.Lock()
	t, ok := r.jobs[n]
	r.mu.Unlock()
	if ok && t.log != nil {
		return t.log
	}
	return r.logger().With(structs.LogJobNumber, n)
}

// podLog returns the logger of the job a pod belongs to.
func (r *Reconciler) podLog(p *corev1.Pod) *slog.Logger {
	n, err := strconv.ParseUint(p.Labels[podgroup.LabelJob], 10, 64)
	if err != nil {
		return r.logger()
	}
	return r.JobLog(n)
}
