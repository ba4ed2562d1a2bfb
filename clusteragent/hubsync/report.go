package hubsync

import (
	"context"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// reportLoop pushes queued job reports at once and, at least every
// Heartbeat, the cluster's capacity and the reasons jobs still wait. A push
// that fails keeps its reports for the next try.
func (s *Syncer) reportLoop(ctx context.Context) {
	tick := time.NewTicker(s.cfg.Heartbeat)
	defer tick.Stop()
	delay := 100 * time.Millisecond
	var mts []*structs.MachineType
	var mtsAt time.Time
	for ctx.Err() == nil {
		if mts == nil || s.cfg.Now().Sub(mtsAt) >= s.cfg.Resync {
			if fresh, err := s.pinnedMachineTypes(ctx); err == nil {
				mts, mtsAt = fresh, s.cfg.Now()
			} else if ctx.Err() == nil {
				s.cfg.Log.Warn("machine types", "err", err)
			}
		}
		if err := s.push(ctx, mts); err != nil {
			if ctx.Err() == nil {
				s.cfg.Log.Warn("status push", "err", err)
				delay = backoff(ctx, delay)
			}
			continue
		}
		delay = 100 * time.Millisecond
		select {
		case <-ctx.Done():
		case <-s.wake:
		case <-tick.C:
		}
	}
}

func (s *Syncer) pinnedMachineTypes(ctx context.Context) ([]*structs.MachineType, error) {
	all, err := s.cfg.Hub.ListMachineTypes(ctx)
	if err != nil {
		return nil, err
	}
	var out []*structs.MachineType
	for _, mt := range all {
		if mt.Cluster == s.cfg.Cluster {
			out = append(out, mt)
		}
	}
	return out, nil
}

// push sends one status report: queued job reports, pending reasons that
// changed, and capacity.
func (s *Syncer) push(ctx context.Context, mts []*structs.MachineType) error {
	s.mu.Lock()
	batch := s.reports
	s.reports = nil
	tracked := make(map[string]uint64, len(s.tracked))
	for id, n := range s.tracked {
		tracked[id] = n
	}
	s.mu.Unlock()

	reported := map[string]bool{}
	for _, r := range batch {
		reported[r.ID] = true
		if r.State.IsTerminal() {
			s.mu.Lock()
			delete(s.tracked, r.ID)
			delete(s.sentWhy, r.ID)
			s.mu.Unlock()
		}
	}
	var whys []structs.JobReport
	if s.cfg.Why != nil {
		for id, n := range tracked {
			if reported[id] {
				continue
			}
			why, pending := s.cfg.Why(n)
			s.mu.Lock()
			changed := pending && s.sentWhy[id] != why
			s.mu.Unlock()
			if changed {
				whys = append(whys, structs.JobReport{ID: id, State: structs.JobAssigned, Substatus: why})
			}
		}
	}
	rep := &structs.ClusterStatusReport{Status: structs.ClusterReady, Jobs: append(batch, whys...)}
	if s.cfg.Capacity != nil && mts != nil {
		rep.Capacity = s.cfg.Capacity(mts)
	}
	res, err := s.cfg.Hub.PushStatus(ctx, s.cfg.Cluster, rep)
	if err != nil {
		s.mu.Lock()
		s.reports = append(batch, s.reports...)
		s.mu.Unlock()
		return err
	}
	s.mu.Lock()
	for _, w := range whys {
		s.sentWhy[w.ID] = w.Substatus
	}
	s.mu.Unlock()
	for _, r := range res.Jobs {
		if r.Error != "" {
			s.cfg.Log.Info("hub refused a job report", "job", r.ID, "err", r.Error)
		}
	}
	return nil
}
