package hub

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/flotilla-hpc/flotilla/federation/dispatch"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// stateCollector reads the gauges of a scrape from the replica's state
// and raft node.
type stateCollector struct {
	h *Hub
	m *metrics
}

var (
	descQueueDepth = prometheus.NewDesc("flotilla_hub_queue_depth",
		"Jobs waiting (SUBMITTED, HELD, QUEUED, ASSIGNED) by machine type, cluster and state.",
		[]string{"machine_type", "cluster", "state"}, nil)
	descOldestWait = prometheus.NewDesc("flotilla_hub_queue_oldest_wait_seconds",
		"Age of the oldest waiting job by machine type and cluster.", []string{"machine_type", "cluster"}, nil)
	descHeld = prometheus.NewDesc("flotilla_hub_held_jobs",
		"Jobs held, by the limit that holds them.", []string{"limit"}, nil)
	descLeader = prometheus.NewDesc("flotilla_hub_raft_leader", "1 while this replica leads, else 0.", nil, nil)
	descTerm   = prometheus.NewDesc("flotilla_hub_raft_term", "Current raft term.", nil, nil)
	descCommit = prometheus.NewDesc("flotilla_hub_raft_commit_index", "Raft commit index as this replica knows it.", nil, nil)
	descApplid = prometheus.NewDesc("flotilla_hub_raft_applied_index", "Raft index the state machine has applied.", nil, nil)
	descLag    = prometheus.NewDesc("flotilla_hub_raft_apply_lag", "Committed raft entries not applied yet.", nil, nil)
	descSnapAt = prometheus.NewDesc("flotilla_hub_raft_last_snapshot_age_seconds",
		"Age of the newest raft snapshot (time since the replica started while it has none).", nil, nil)
	descSnapIx = prometheus.NewDesc("flotilla_hub_raft_last_snapshot_index", "Raft index of the newest snapshot (0: none).", nil, nil)
	descWon    = prometheus.NewDesc("flotilla_hub_raft_became_leader_total",
		"Times this replica became the raft leader since it started; summed over the replicas, the leader changes.", nil, nil)
	descStepDn = prometheus.NewDesc("flotilla_hub_raft_stepped_down_total",
		"Times this replica stopped leading while running: lease lost (no word from a quorum), a newer term met, or leadership handed over.", nil, nil)
	descCandid = prometheus.NewDesc("flotilla_hub_raft_candidacies_total",
		"Times this replica stood for election: no word from a leader within the heartbeat timeout, or named by a leadership transfer.", nil, nil)
	descHBFail = prometheus.NewDesc("flotilla_hub_raft_heartbeat_failures_total",
		"Heartbeat calls to a follower that failed while this replica led.", nil, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descQueueDepth, descOldestWait, descHeld, descLeader, descTerm, descCommit,
		descApplid, descLag, descSnapAt, descSnapIx, descWon, descStepDn, descCandid, descHBFail} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	h := c.h
	now := h.now()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	read := h.store.Read()
	pinned := map[string]string{}
	if mts, err := read.MachineTypes(); err == nil {
		for _, mt := range mts {
			pinned[mt.Name] = mt.Cluster
		}
	}
	type key struct{ mt, cluster, state string }
	depth := map[key]int{}
	oldest := map[key]float64{}
	held := map[string]int{} // by the limit that holds them ("" if none is named)
	jobs, _, _ := read.ListJobs(state.JobFilter{Active: true})
	for _, j := range jobs {
		switch j.State {
		case structs.JobSubmitted, structs.JobHeld, structs.JobQueued, structs.JobAssigned:
		default:
			continue
		}
		mt := j.MachineType
		if j.AssignedMachineType != "" {
			mt = j.AssignedMachineType
		}
		cl := j.Cluster
		if cl == "" {
			cl = pinned[j.MachineType]
		}
		depth[key{mt, cl, string(j.State)}]++
		if j.WaitsForDependency() {
			// Waiting for other jobs, not for the scheduler: not in the
			// oldest wait either.
			held[HeldForDependency]++
			continue
		}
		if j.State == structs.JobHeld {
			held[dispatch.HeldLimit(j.Substatus)]++
		}
		k := key{mt, cl, ""}
		oldest[k] = max(oldest[k], now.Sub(j.SubmitTime).Seconds())
	}
	for k, n := range depth {
		gauge(descQueueDepth, float64(n), k.mt, k.cluster, k.state)
	}
	for k, s := range oldest {
		gauge(descOldestWait, s, k.mt, k.cluster)
	}
	for limit, n := range held {
		gauge(descHeld, float64(n), limit)
	}
	leader := h.node.IsLeader()
	lead := 0.0
	if leader {
		lead = 1
	}
	gauge(descLeader, lead)
	gauge(descTerm, float64(h.node.Term()))
	commit, applied := h.node.CommitIndex(), h.node.AppliedIndex()
	gauge(descCommit, float64(commit))
	gauge(descApplid, float64(applied))
	lag := 0.0
	if commit > applied {
		lag = float64(commit - applied)
	}
	gauge(descLag, lag)
	index, at, ok := h.node.LastSnapshot()
	if !ok {
		at = h.started
	}
	gauge(descSnapAt, now.Sub(at).Seconds())
	gauge(descSnapIx, float64(index))
	tr := h.node.Transitions()
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	counter(descWon, tr.Leaderships)
	counter(descStepDn, tr.StepDowns)
	counter(descCandid, tr.Candidacies)
	counter(descHBFail, tr.HeartbeatFailures)
}

// HeldForDependency is the limit label of flotilla_hub_held_jobs for jobs
// HELD for their dependency (no limit's name has parentheses).
const HeldForDependency = "(dependency)"
