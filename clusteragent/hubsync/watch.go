package hubsync

import (
	"context"
	"fmt"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// watchLoop reads the full listing first and every Resync, and watches in
// between.
func (s *Syncer) watchLoop(ctx context.Context) {
	delay := s.cfg.Backoff
	var lastFull time.Time
	for ctx.Err() == nil {
		var err error
		if s.Index() == 0 || s.cfg.Now().Sub(lastFull) >= s.cfg.Resync {
			start := s.cfg.Now()
			if err = s.fullListing(ctx, start); err == nil {
				lastFull = start
			}
		} else {
			err = s.watch(ctx)
		}
		if err != nil {
			if ctx.Err() == nil {
				s.cfg.Log.Warn("assignments", "err", err)
				delay = backoff(ctx, delay)
			}
			continue
		}
		delay = s.cfg.Backoff
	}
}

// fullListing reads every page of the jobs active here, hands new ones to
// the runner, then resyncs the runner with the whole set. The watch goes
// on from the first page's index.
func (s *Syncer) fullListing(ctx context.Context, start time.Time) error {
	active := map[uint64]bool{}
	var first, after uint64
	for page := 0; ; page++ {
		list, err := s.cfg.Hub.Assignments(ctx, s.cfg.Cluster, client.AssignmentQuery{After: after, Limit: s.cfg.PageSize})
		if err != nil {
			return err
		}
		if page == 0 {
			first = list.Index
		}
		s.setMachines(list.MachineTypes)
		for _, a := range list.Assignments {
			if s.mine(a.Job) {
				active[a.Job.Number] = true
			}
			s.apply(ctx, a)
		}
		if list.Next == 0 || list.Next <= after {
			break
		}
		after = list.Next
	}
	s.mu.Lock()
	for n := range s.tracked {
		if !active[n] {
			delete(s.tracked, n) // the runner stops it on Resync
		}
	}
	for n, f := range s.finished {
		// The listing was read after the hub answered the final report:
		// no reply read later can show the job running here again.
		if f.acked && f.ackedAt.Before(start) && !active[n] {
			delete(s.finished, n)
		}
	}
	for n := range s.sentWhy {
		if _, ok := s.tracked[n]; !ok {
			delete(s.sentWhy, n)
		}
	}
	s.index = first
	s.mu.Unlock()
	s.cfg.Runner.Resync(active)
	return nil
}

// watch waits for the assignments changed past the index and applies every
// page of them.
func (s *Syncer) watch(ctx context.Context) error {
	q := client.AssignmentQuery{Index: s.Index(), Wait: s.cfg.Wait, Limit: s.cfg.PageSize}
	var first uint64
	for page := 0; ; page++ {
		list, err := s.cfg.Hub.Assignments(ctx, s.cfg.Cluster, q)
		if err != nil {
			return err
		}
		if page == 0 {
			first = list.Index
		}
		s.setMachines(list.MachineTypes)
		for _, a := range list.Assignments {
			s.apply(ctx, a)
		}
		if list.Next == 0 || list.Next <= q.After {
			break
		}
		q.After, q.Wait = list.Next, 0
	}
	s.mu.Lock()
	if first > s.index {
		s.index = first
	}
	s.mu.Unlock()
	return nil
}

func (s *Syncer) setMachines(mts []*structs.MachineType) {
	if mts == nil {
		return
	}
	s.mu.Lock()
	s.machines = mts
	s.mu.Unlock()
}

// mine reports whether the hub has j active on this cluster.
func (s *Syncer) mine(j *structs.Job) bool {
	return j != nil && j.Cluster == s.cfg.Cluster && j.State.OnCluster()
}

// apply hands an assignment active here to the runner, or stops a job the
// hub stopped, ended or moved away.
func (s *Syncer) apply(ctx context.Context, a *structs.Assignment) {
	j := a.Job
	if j == nil {
		return
	}
	n, mine := j.Number, s.mine(j)
	s.mu.Lock()
	_, known := s.tracked[n]
	f, done := s.finished[n]
	if done && !mine && f.acked {
		delete(s.finished, n) // the hub shows the end; later replies are newer
	}
	s.mu.Unlock()
	switch {
	case mine && known && (j.Array != nil || len(j.Signals) > 0 || j.ConnectURL != ""):
		// A running array job's canceled tasks or requested task outputs,
		// a job's signal requests, or an interactive job's share links
		// (none left after the last is revoked) may have changed.
		s.cfg.Runner.Add(a)
	case mine && (known || done):
		return
	case mine:
		if a.Problem == "" && a.Identity == nil && s.cfg.Identity != nil {
			id, ok, err := s.cfg.Identity(ctx, j.Owner)
			if err != nil {
				// Not handed over: the next full listing tries again.
				s.cfg.Log.Warn("assignment not taken yet", append(j.LogAttrs(), "err", fmt.Errorf("identity of %s: %w", j.Owner, err))...)
				return
			}
			if ok {
				c := *a
				c.Identity = &id
				a = &c
			}
		}
		s.mu.Lock()
		s.tracked[n] = j.ID
		s.mu.Unlock()
		s.cfg.Runner.Add(a)
	case known:
		s.mu.Lock()
		delete(s.tracked, n)
		delete(s.sentWhy, n)
		s.mu.Unlock()
		s.cfg.Runner.Cancel(n)
	}
}
