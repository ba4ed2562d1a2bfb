package hub

import (
	"context"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
)

// Defaults of the retention settings (see Config.JobRetention).
const (
	DefaultPurgeInterval = time.Minute
	DefaultPurgeBatch    = 500
)

// runRetention purges expired finished jobs and audit events every
// PurgeInterval while this replica leads, until it stops. Nothing runs
// when JobRetention and AuditRetention are both 0.
func (h *Hub) runRetention() {
	defer close(h.retDone)
	if h.cfg.JobRetention <= 0 && h.cfg.AuditRetention <= 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-h.stopped
		cancel()
	}()
	tick := time.NewTicker(h.cfg.PurgeInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if !h.node.IsLeader() {
			continue
		}
		if n, err := h.PurgeExpired(ctx); err != nil && ctx.Err() == nil {
			h.log.Warn("purging expired jobs", "err", err, "purged", n)
		}
		if n, err := h.PurgeAudit(ctx); err != nil && ctx.Err() == nil {
			h.log.Warn("purging expired audit events", "err", err, "purged", n)
		}
	}
}

// PurgeAudit deletes the audit events older than AuditRetention, in raft
// commands of at most PurgeBatch events, and returns how many it deleted.
// The cutoff is read from the hub's clock here and travels in the
// commands. With AuditRetention 0 it does nothing.
func (h *Hub) PurgeAudit(ctx context.Context) (int, error) {
	if h.cfg.AuditRetention <= 0 {
		return 0, nil
	}
	cutoff := h.now().UTC().Add(-h.cfg.AuditRetention)
	total := 0
	for h.store.Read().AuditBefore(cutoff) {
		val, err := h.Write(ctx, &fsm.AuditPurge{Before: cutoff, Limit: h.cfg.PurgeBatch})
		if err != nil {
			return total, err
		}
		n, _ := val.(int)
		total += n
		if n < h.cfg.PurgeBatch {
			break
		}
	}
	if total > 0 {
		h.log.Info("purged expired audit events", "purged", total, "before", cutoff)
	}
	return total, nil
}

// PurgeExpired deletes the jobs that ended more than JobRetention ago, in
// raft commands of at most PurgeBatch jobs each, and returns how many it
// deleted. The cutoff is read from the hub's clock here, once, and
// travels in the commands: their Apply reads no clock. Each purged job
// leaves an accounting record (see fsm.JobPurge). With JobRetention 0 it
// does nothing.
func (h *Hub) PurgeExpired(ctx context.Context) (int, error) {
	if h.cfg.JobRetention <= 0 {
		return 0, nil
	}
	cutoff := h.now().UTC().Add(-h.cfg.JobRetention)
	total := 0
	for h.store.Read().EndedBefore(cutoff) {
		val, err := h.Write(ctx, &fsm.JobPurge{EndedBefore: cutoff, Limit: h.cfg.PurgeBatch, Account: true})
		if err != nil {
			return total, err
		}
		n, _ := val.(int)
		total += n
		if n < h.cfg.PurgeBatch {
			break
		}
	}
	if total > 0 {
		h.log.Info("purged expired jobs", "purged", total, "ended_before", cutoff)
	}
	return total, nil
}
