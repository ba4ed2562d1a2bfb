package jobs

import (
	"time"

	"github.com/flotilla-hpc/flotilla/federation/authz"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Signal decides whether caller may send the signal req names to job j at
// now, j running on cluster c (nil when the hub no longer has it), and
// returns the command that records it. Callers who may cancel the job may
// signal it (its owner, its team's and tenant's administrators, system
// administrators); the job must be RUNNING (ErrConflict naming its state
// otherwise: a job that has not started has no processes, one that ended
// has none left); the signal a name or number (structs.ParseSignal); the
// scope "all" (the default) or "batch"; and c's agent must deliver
// signals (structs.FeatureJobSignals), else ErrInvalid naming the
// cluster: an older agent would drop the request unseen.
func Signal(caller *authz.Identity, j *structs.Job, c *structs.Cluster, req *structs.SignalRequest, now time.Time) (*fsm.JobSignal, error) {
	if err := caller.CheckControlJob(j); err != nil {
		return nil, err
	}
	sig, err := structs.ParseSignal(req.Signal)
	if err != nil {
		return nil, err
	}
	scope := req.Scope
	if scope == "" {
		scope = structs.SignalAll
	}
	if !scope.Valid() {
		return nil, structs.Errorf(structs.ErrInvalid, "scope %q: want all (every process of the job) or batch (the head's main process)", req.Scope)
	}
	if j.State != structs.JobRunning {
		return nil, structs.Errorf(structs.ErrConflict, "job %q is %s: only a running job takes signals", j.ID, j.State)
	}
	if c == nil {
		return nil, structs.Errorf(structs.ErrConflict, "job %q: its cluster %q is gone", j.ID, j.Cluster)
	}
	if why := structs.AgentLacks(c, structs.FeatureJobSignals, "deliver signals"); why != "" {
		return nil, structs.Errorf(structs.ErrInvalid, "%s", why)
	}
	return &fsm.JobSignal{ID: j.ID, Signal: sig, Scope: scope, By: caller.Subject(), Time: now.UTC()}, nil
}
