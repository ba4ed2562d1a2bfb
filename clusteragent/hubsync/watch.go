package hubsync

import (
	"context"
	"fmt"
	"time"

	"github.com/flotilla-hpc/flotilla/clusteragent/agent"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// watchLoop long-polls this cluster's assignments from the last index; every
// Resync it re-reads them all, so a job moved away while the watch was down
// is stopped here too.
func (s *Syncer) watchLoop(ctx context.Context) {
	delay := 100 * time.Millisecond
	var lastFull time.Time
	for ctx.Err() == nil {
		full := s.Index() == 0 || s.cfg.Now().Sub(lastFull) >= s.cfg.Resync
		idx, wait := s.Index(), s.cfg.Wait
		if full {
			idx, wait = 0, 0
		}
		list, err := s.cfg.Hub.Assignments(ctx, s.cfg.Cluster, idx, wait)
		if err != nil {
			if ctx.Err() == nil {
				s.cfg.Log.Warn("assignments watch", "err", err)
				delay = backoff(ctx, delay)
			}
			continue
		}
		delay = 100 * time.Millisecond
		if full {
			lastFull = s.cfg.Now()
			s.dropMissing(list.Jobs)
		}
		for _, j := range list.Jobs {
			if err := s.apply(ctx, j); err != nil {
				s.cfg.Log.Warn("assignment", "job", j.ID, "err", err)
			}
		}
		s.mu.Lock()
		if list.Index > s.index || full {
			s.index = list.Index
		}
		s.mu.Unlock()
	}
}

// dropMissing cancels tracked jobs absent from a full listing (moved away).
func (s *Syncer) dropMissing(jobs []*structs.Job) {
	present := make(map[string]bool, len(jobs))
	for _, j := range jobs {
		present[j.ID] = true
	}
	s.mu.Lock()
	for id := range s.finished {
		if !present[id] {
			delete(s.finished, id) // the hub no longer lists it as active here
		}
	}
	var gone []uint64
	for id, n := range s.tracked {
		if !present[id] {
			gone = append(gone, n)
			delete(s.tracked, id)
		}
	}
	s.mu.Unlock()
	for _, n := range gone {
		s.cfg.Runner.Cancel(n)
	}
}

// apply hands an assigned job to the runner or stops one that ended at the hub.
func (s *Syncer) apply(ctx context.Context, j *structs.Job) error {
	s.mu.Lock()
	_, known := s.tracked[j.ID]
	done := s.finished[j.ID]
	s.mu.Unlock()
	if done {
		return nil
	}
	mine := j.Cluster == s.cfg.Cluster
	switch {
	case mine && (j.State == structs.JobAssigned || j.State == structs.JobStarting || j.State == structs.JobRunning):
		if known {
			return nil
		}
		mt, err := s.machineType(ctx, j.EffectiveMachineType())
		if err != nil {
			return err
		}
		spec := agent.JobSpec{Job: j, Machine: mt}
		if j.Identity != nil {
			spec.Identity = *j.Identity
		} else if s.cfg.Identity != nil {
			id, ok, err := s.cfg.Identity(ctx, j.Owner)
			if err != nil {
				return fmt.Errorf("identity of %s: %w", j.Owner, err)
			}
			if ok {
				spec.Identity = id
			}
		}
		if j.Vault != "" {
			v, err := s.cfg.Hub.GetVault(ctx, j.Tenant, j.Vault)
			if err != nil {
				return fmt.Errorf("vault %q of job %s: %w", j.Vault, j.ID, err)
			}
			spec.Vault = v
		}
		if app, err := s.cfg.Hub.GetApp(ctx, j.App); err == nil {
			spec.App = app // its image and AppDef command run on the head
		} else {
			s.cfg.Log.Warn("app of an assigned job", "job", j.ID, "app", j.App, "err", err)
		}
		s.mu.Lock()
		s.tracked[j.ID] = j.Number
		s.mu.Unlock()
		s.cfg.Runner.Add(spec)
	case known && (!mine || j.State.IsTerminal() || j.State == structs.JobQueued || j.State == structs.JobHeld):
		s.mu.Lock()
		delete(s.tracked, j.ID)
		s.mu.Unlock()
		s.cfg.Runner.Cancel(j.Number)
	}
	return nil
}

func (s *Syncer) machineType(ctx context.Context, name string) (*structs.MachineType, error) {
	s.mu.Lock()
	mt, ok := s.machines[name]
	s.mu.Unlock()
	if ok {
		return mt, nil
	}
	mt, err := s.cfg.Hub.GetMachineType(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("machine type %q: %w", name, err)
	}
	s.mu.Lock()
	s.machines[name] = mt
	s.mu.Unlock()
	return mt, nil
}

// KnownMachineTypes returns the machine types fetched so far.
func (s *Syncer) KnownMachineTypes() []*structs.MachineType {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*structs.MachineType, 0, len(s.machines))
	for _, mt := range s.machines {
		out = append(out, mt)
	}
	return out
}
