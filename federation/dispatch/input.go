package dispatch

import (
	"time"

	"github.com/flotilla-hpc/flotilla/federation/placement"
	"github.com/flotilla-hpc/flotilla/federation/state"
)

// input reads one consistent snapshot of everything placement needs.
func (d *Dispatcher) input(now time.Time) (placement.Input, error) {
	r := d.cfg.Store.Read()
	in := placement.Input{Now: now, Options: d.cfg.Options}
	var err error
	if in.Jobs, _, err = r.ListJobs(state.JobFilter{Active: true}); err != nil {
		return in, err
	}
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
	return in, nil
}
