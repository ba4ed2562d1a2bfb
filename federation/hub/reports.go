package hub

import (
	"context"
	"sync"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// maxParallelReports bounds the jobs of one status push whose reports are
// in flight at once (they share raft entries).
const maxParallelReports = 32

// ReportClusterStatus records an agent's heartbeat (status, capacity),
// then its job reports. Each report is one JobStateUpdate guarded by the
// job's cluster and number, so a stale agent cannot change a job moved
// elsewhere and a late report about a purged job cannot land on a newer
// job with its id. The reports of one job apply in the order sent; those
// of different jobs concurrently. Each gets an outcome (see
// structs.ReportOutcome): applied (also when it repeats the recorded
// final state), stale (it can never apply) or retry (the hub could not
// write now). A failed heartbeat fails the whole push: the agent sends
// everything again. The agent's version and features are recorded on the
// cluster when they differ from the recorded ones (see recordAgent).
func (h *Hub) ReportClusterStatus(ctx context.Context, cluster string, rep *structs.ClusterStatusReport) (*structs.ClusterStatusResult, error) {
	now := h.now().UTC()
	hb := &fsm.ClusterHeartbeat{Cluster: cluster, Status: rep.Status, Capacity: rep.Capacity, Time: now, Catalog: rep.Catalog}
	// The agent's features first: a cluster its first push makes ready
	// has them when placement first sees it ready.
	if err := h.recordAgent(ctx, cluster, rep.Agent); err != nil {
		return nil, err
	}
	if _, err := h.Write(ctx, hb); err != nil {
		return nil, err
	}
	res := &structs.ClusterStatusResult{Jobs: make([]structs.JobReportResult, len(rep.Jobs))}
	byJob := map[string][]int{}
	var order []string
	for i, jr := range rep.Jobs {
		res.Jobs[i] = structs.JobReportResult{ID: jr.ID, Number: jr.Number}
		if byJob[jr.ID] == nil {
			order = append(order, jr.ID)
		}
		byJob[jr.ID] = append(byJob[jr.ID], i)
	}
	sem := make(chan struct{}, maxParallelReports)
	var wg sync.WaitGroup
	for _, id := range order {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			for _, i := range byJob[id] {
				jr := &rep.Jobs[i]
				before, _ := h.store.Read().Job(jr.ID)
				_, err := h.Write(ctx, &fsm.JobStateUpdate{ID: jr.ID, Cluster: cluster, Number: jr.Number,
					State: jr.State, Substatus: jr.Substatus, ExitCode: jr.ExitCode, LogTail: jr.LogTail, Array: jr.Array, Outputs: jr.Outputs, ConnectURL: jr.ConnectURL, Time: now, Account: true})
				res.Jobs[i].Outcome = ReportOutcome(err)
				h.metrics.observeReport(before, jr.State, res.Jobs[i].Outcome, now)
				if err != nil {
					res.Jobs[i].Error = err.Error()
				}
				h.logReport(before, cluster, jr, res.Jobs[i].Outcome, err)
			}
		})
	}
	wg.Wait()
	return res, nil
}

// clusterAgentType is fsm.ClusterAgent's command type.
var clusterAgentType = fsm.TypeOf(&fsm.ClusterAgent{})

// recordAgent writes a cluster agent's version and features (fsm.ClusterAgent)
// when they differ from what the cluster records; agents send them in
// every push, and an unchanged report writes nothing. While a replica in
// the directory does not apply ClusterAgent (a rolling upgrade), nothing
// is recorded and placement does not look at features (dispatch), as
// before they existed; the first push after the last replica is upgraded
// records them.
func (h *Hub) recordAgent(ctx context.Context, cluster string, a *structs.AgentInfo) error {
	if a == nil || !h.allApply(clusterAgentType) {
		return nil
	}
	if c, err := h.store.Read().Cluster(cluster); err == nil && c.Agent.Equal(a) {
		return nil
	}
	if _, err := h.Write(ctx, &fsm.ClusterAgent{Cluster: cluster, Agent: *a}); err != nil {
		return err
	}
	h.log.Info("cluster agent recorded", "cluster", cluster, "agent_version", a.Version, "features", a.Features)
	return nil
}

// ReportOutcome classifies the result of writing one job report: nil is
// applied (a repeated final state comes back as nil too, see resolve);
// a refusal of the state machine — the job is gone or has another number
// (ErrNotFound), is on another cluster or in a state that does not allow
// this one (ErrConflict), or the report is malformed (ErrInvalid) — is
// stale; anything else (no leader, a timeout, shutdown) is retry.
func ReportOutcome(err error) structs.ReportOutcome {
	if err == nil {
		return structs.ReportApplied
	}
	switch structs.KindOf(err) {
	case structs.ErrNotFound, structs.ErrConflict, structs.ErrInvalid, structs.ErrForbidden:
		return structs.ReportStale
	}
	return structs.ReportRetry
}

// logReport logs an agent's job report that changed the job's state, or
// that the hub refused for good, with the job's attributes.
func (h *Hub) logReport(before *structs.Job, cluster string, jr *structs.JobReport, outcome structs.ReportOutcome, err error) {
	j := before
	if j == nil || j.Number != jr.Number {
		j = &structs.Job{ID: jr.ID, Number: jr.Number}
	}
	switch {
	case outcome == structs.ReportStale:
		h.jobLog(j).Info("job report refused", "cluster", cluster, "state", jr.State, "error", err)
	case outcome == structs.ReportApplied && before != nil && before.State != jr.State:
		h.jobLog(j).Info("job state reported", "cluster", cluster, "from", before.State, "state", jr.State,
			"substatus", jr.Substatus, "exit_code", jr.ExitCode)
	}
}
