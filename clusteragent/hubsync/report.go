package hubsync

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Report queues a job state change for the hub (the runner's report
// hook). u must carry the job's ID and number; a terminal state marks the
// job finished here, so no assignment read later starts it again.
func (s *Syncer) Report(u structs.JobStateUpdate) {
	if u.ID == "" || u.Number == 0 {
		s.cfg.Log.Error("job report without id or number dropped", structs.LogJob, u.ID, structs.LogJobNumber, u.Number, "state", u.State)
		return
	}
	s.mu.Lock()
	s.queue = append(s.queue, structs.JobReport{ID: u.ID, Number: u.Number, State: u.State,
		Substatus: u.Substatus, ExitCode: u.ExitCode, LogTail: u.LogTail, Array: u.Array, Outputs: u.Outputs, ConnectURL: u.ConnectURL})
	if u.State.IsTerminal() {
		s.finished[u.Number] = finishedJob{}
		delete(s.tracked, u.Number)
		delete(s.sentWhy, u.Number)
	}
	s.mu.Unlock()
	s.poke()
}

// Pending is the number of reports the hub has not answered for good.
func (s *Syncer) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// reportLoop pushes at once when reports wait and at least every
// Heartbeat. A failed push, or reports the hub asks to send again, back
// off before the next try.
func (s *Syncer) reportLoop(ctx context.Context) {
	tick := time.NewTicker(s.cfg.Heartbeat)
	defer tick.Stop()
	delay := s.cfg.Backoff
	for ctx.Err() == nil {
		more, retry, err := s.push(ctx)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				s.cfg.Log.Warn("status push", "err", err)
				delay = backoff(ctx, delay)
			}
			continue
		case retry:
			delay = backoff(ctx, delay)
			continue
		case more:
			continue
		}
		delay = s.cfg.Backoff
		select {
		case <-ctx.Done():
		case <-s.wake:
		case <-tick.C:
		}
	}
}

// push sends one status report: the oldest queued job reports, the
// pending reasons that changed, and the capacity. It drops each report
// the hub answered applied or stale and tells the runner of each final
// state so answered. more says reports wait beyond this push, retry that
// the hub asked for some again.
func (s *Syncer) push(ctx context.Context) (more, retry bool, err error) {
	s.mu.Lock()
	n := min(len(s.queue), MaxReportsPerPush)
	batch := append([]structs.JobReport(nil), s.queue[:n]...)
	inBatch := make(map[uint64]bool, n)
	for _, r := range batch {
		inBatch[r.Number] = true
	}
	tracked := make(map[uint64]string, len(s.tracked))
	for num, id := range s.tracked {
		tracked[num] = id
	}
	mts := s.machines
	s.mu.Unlock()

	var whys []structs.JobReport
	if s.cfg.Why != nil {
		for num, id := range tracked {
			if inBatch[num] || len(batch)+len(whys) >= MaxReportsPerPush {
				continue
			}
			why, pending := s.cfg.Why(num)
			s.mu.Lock()
			changed := pending && s.sentWhy[num] != why
			s.mu.Unlock()
			if changed {
				whys = append(whys, structs.JobReport{ID: id, Number: num, State: structs.JobAssigned, Substatus: why})
			}
		}
	}
	rep := &structs.ClusterStatusReport{Status: structs.ClusterReady, Jobs: append(batch, whys...)}
	if s.cfg.Capacity != nil && mts != nil {
		rep.Capacity = s.cfg.Capacity(mts)
	}
	var catalog []byte
	if s.cfg.Catalog != nil {
		if c := s.cfg.Catalog(); c != nil {
			catalog, _ = json.Marshal(c)
			s.mu.Lock()
			now := s.cfg.Now()
			stale := !bytes.Equal(catalog, s.sentCatalog) || now.Sub(s.sentCatalogAt) >= catalogRefresh
			if stale && now.Sub(s.catalogRefused) >= catalogRefusedPause {
				rep.Catalog = c
			}
			s.mu.Unlock()
		}
	}
	if s.cfg.Agent != nil {
		s.mu.Lock()
		if s.agentRefused.IsZero() || s.cfg.Now().Sub(s.agentRefused) >= agentRefusedPause {
			rep.Agent = s.cfg.Agent
		}
		s.mu.Unlock()
	}
	res, err := s.cfg.Hub.PushStatus(ctx, s.cfg.Cluster, rep)
	if err != nil && rep.Agent != nil && structs.KindOf(err) == structs.ErrInvalid {
		// A replica older than agents' feature reports refuses the
		// unknown field (the newest of the push): send the rest now, the
		// report again later. Such a hub does not place by features.
		s.cfg.Log.Info("the hub refused the agent's features; sending them later", "err", err)
		s.mu.Lock()
		s.agentRefused = s.cfg.Now()
		s.mu.Unlock()
		rep.Agent = nil
		res, err = s.cfg.Hub.PushStatus(ctx, s.cfg.Cluster, rep)
	}
	if err != nil && rep.Catalog != nil && structs.KindOf(err) == structs.ErrInvalid {
		// A replica older than the catalog report refuses the unknown
		// field: send the rest now, the report again later.
		s.cfg.Log.Info("the hub refused the catalog report; sending it later", "err", err)
		s.mu.Lock()
		s.catalogRefused = s.cfg.Now()
		s.mu.Unlock()
		rep.Catalog = nil
		res, err = s.cfg.Hub.PushStatus(ctx, s.cfg.Cluster, rep)
	}
	if err != nil {
		return false, false, err
	}
	if rep.Catalog != nil {
		s.mu.Lock()
		s.sentCatalog, s.sentCatalogAt = catalog, s.cfg.Now()
		s.mu.Unlock()
	}
	if len(res.Jobs) != len(rep.Jobs) {
		return false, false, fmt.Errorf("hub answered %d of %d job reports", len(res.Jobs), len(rep.Jobs))
	}
	now := s.cfg.Now()
	var acked []uint64
	s.mu.Lock()
	kept := make([]structs.JobReport, 0, len(s.queue))
	for i, r := range batch {
		switch outcome(res.Jobs[i]) {
		case structs.ReportRetry:
			retry = true
			kept = append(kept, r)
			continue
		case structs.ReportStale:
			s.cfg.Log.Info("hub refused a job report for good", structs.LogJob, r.ID, structs.LogJobNumber, r.Number, "state", r.State, "err", res.Jobs[i].Error)
		}
		if r.State.IsTerminal() {
			acked = append(acked, r.Number)
			if _, ok := s.finished[r.Number]; ok {
				s.finished[r.Number] = finishedJob{acked: true, ackedAt: now}
			}
		}
	}
	s.queue = append(kept, s.queue[n:]...)
	more = len(s.queue) > len(kept)
	for i, w := range whys {
		if outcome(res.Jobs[len(batch)+i]) != structs.ReportRetry {
			s.sentWhy[w.Number] = w.Substatus
		}
	}
	s.mu.Unlock()
	for _, num := range acked {
		s.cfg.Runner.Acknowledged(num)
	}
	return more, retry, nil
}

// catalogRefusedPause is how long a push goes without the catalog report
// after a hub refused it as invalid (a replica of an older version).
const catalogRefusedPause = time.Minute

// agentRefusedPause is how long pushes go without the agent's version
// and features after a hub refused them as invalid (a replica of an older
// version): then they are tried again, so an upgraded hub gets them.
const agentRefusedPause = time.Minute

// catalogRefresh is how often an unchanged catalog report is sent again
// (a replica upgraded from a version that dropped it gets it back).
const catalogRefresh = 5 * time.Minute

// outcome reads a report's outcome; a hub that names none answered with
// an error or without one.
func outcome(r structs.JobReportResult) structs.ReportOutcome {
	switch {
	case r.Outcome != "":
		return r.Outcome
	case r.Error != "":
		return structs.ReportRetry
	}
	return structs.ReportApplied
}
