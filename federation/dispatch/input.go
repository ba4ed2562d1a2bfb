package dispatch

import (
	"errors"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/placement"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// input reads one consistent snapshot of everything placement and the
// dependency check need.
func (d *Dispatcher) input(now time.Time) (in placement.Input, deps placement.DependencyInput, err error) {
	r := d.cfg.Store.Read()
	in = placement.Input{Now: now, Options: d.cfg.Options}
	if in.Jobs, _, err = r.ListJobs(state.JobFilter{Active: true}); err != nil {
		return in, deps, err
	}
	deps.Jobs = in.Jobs
	if numbers := placement.DependencyNumbers(in.Jobs); len(numbers) > 0 {
		active := make(map[uint64]bool, len(in.Jobs))
		for _, j := range in.Jobs {
			active[j.Number] = true
		}
		deps.Ended = map[uint64]*structs.Job{}
		for _, n := range numbers {
			if active[n] {
				continue
			}
			j, err := r.JobByNumber(n)
			if errors.Is(err, structs.ErrNotFound) {
				continue // purged: no longer known
			} else if err != nil {
				return in, deps, err
			}
			deps.Ended[n] = j
		}
	}
	in, err = readPolicy(r, in)
	return in, deps, err
}

// readPolicy reads the rest of placement's input from r.
func readPolicy(r *state.ReadTxn, in placement.Input) (placement.Input, error) {
	var err error
	if in.Clusters, err = r.Clusters(); err != nil {
		return in, err
	}
	if in.MachineTypes, err = r.MachineTypes(); err != nil {
		return in, err
	}
	if in.Apps, err = r.Apps(); err != nil {
		return in, err
	}
	if in.Vaults, err = r.Vaults(); err != nil {
		return in, err
	}
	if in.Users, err = r.Users(); err != nil {
		return in, err
	}
	if in.Limits, err = r.Limits(); err != nil {
		return in, err
	}
	if in.BurstRules, err = r.BurstRules(); err != nil {
		return in, err
	}
	if in.AccessRules, err = r.AccessRules(); err != nil {
		return in, err
	}
	return in, agentFeatures(r, &in)
}

// clusterAgent is the type of the command that records agents' features.
var clusterAgent = fsm.TypeOf(&fsm.ClusterAgent{})

// agentFeatures sets in.AgentFeatures: placement looks at agents'
// features once every replica in the directory records them (applies
// fsm.ClusterAgent), as the hub's writes do.
func agentFeatures(r *state.ReadTxn, in *placement.Input) error {
	reps, err := r.Replicas()
	if err != nil {
		return err
	}
	in.AgentFeatures = fsm.EveryReplicaApplies(reps, clusterAgent)
	return nil
}
