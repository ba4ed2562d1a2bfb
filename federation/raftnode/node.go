package raftnode

import (
	"errors"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// Node is one hub replica's raft participant. All methods are safe for
// concurrent use.
type Node struct {
	cfg    Config
	logger hclog.Logger
	raft   *raft.Raft
	trans  *raft.NetworkTransport
	st     *stores
	fsm    *fsmAdapter

	queue         *batchQueue // the open batch callers join
	inflight      chan *batch
	inflightN     atomic.Int64  // batches handed to raft, not yet completed
	slotFree      chan struct{} // signalled when a batch completes
	shutdownCh    chan struct{} // closed when Shutdown starts
	raftDown      chan struct{} // closed once raft has shut down
	batcherDone   chan struct{}
	completerDone chan struct{}

	peersMu sync.RWMutex
	peers   map[raft.ServerID]string

	leaders     *leaderWatch
	transitions *transitionCounter
	// readyTerm is the term in which this node, as leader, completed a
	// barrier; reads in that term may trust the commit index.
	readyTerm atomic.Uint64

	resendWG sync.WaitGroup // snapshotPastResends in flight

	deadlines deadlineClock // ApplyBy's deadlines

	entries  atomic.Uint64 // batch log entries submitted
	commands atomic.Uint64 // commands carried by them

	shutdownOnce sync.Once
	shutdownErr  error
}

// New starts a raft node for sm. If cfg.BootstrapPeers is set and the node has
// no state yet, it bootstraps the cluster with them. logger may be nil.
func New(cfg Config, sm StateMachine, logger hclog.Logger) (*Node, error) {
	if sm == nil {
		return nil, errors.New("raftnode: nil StateMachine")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	logger = logger.With("node", string(cfg.ID))
	rc, err := cfg.raftConfig()
	if err != nil {
		return nil, err
	}
	rc.Logger = logger.Named("raft")

	st, err := openStores(cfg, logger)
	if err != nil {
		return nil, err
	}
	span, snap, err := verifyStores(cfg, st)
	if err != nil {
		_ = st.closeFn()
		return nil, err
	}
	logger.Debug("log store opened", "kind", st.kind, "dir", cfg.DataDir,
		"first_index", span.first, "last_index", span.last, "snapshot", snapshotID(snap))
	trans, err := newTransport(cfg, logger)
	if err != nil {
		_ = st.closeFn()
		return nil, err
	}
	logs := newSnapLog(st.logs, snap, logger.Named("log"))
	fsm := &fsmAdapter{sm: sm, logger: logger.Named("fsm"), notify: &appliedNotifier{}, logs: logs}
	sends := &snapshotSends{}
	snaps := snapshotStore{SnapshotStore: st.snaps, fsm: fsm, logs: logs, sends: sends}
	var r *raft.Raft
	// raft.NewRaft panics when a log entry it reads at startup fails;
	// verifyStores read them already, this is the last line of defence.
	err = safely(func() (err error) {
		r, err = raft.NewRaft(rc, fsm, logs, st.stable, snaps, trans)
		return err
	})
	if err != nil {
		_ = trans.Close()
		_ = st.closeFn()
		return nil, storeError(cfg, st.kind, "start raft", err)
	}
	n := &Node{
		cfg:           cfg,
		logger:        logger,
		raft:          r,
		trans:         trans,
		st:            st,
		fsm:           fsm,
		queue:         newBatchQueue(cfg.BatchSize),
		inflight:      make(chan *batch, 1024),
		slotFree:      make(chan struct{}, 1),
		shutdownCh:    make(chan struct{}),
		raftDown:      make(chan struct{}),
		batcherDone:   make(chan struct{}),
		completerDone: make(chan struct{}),
		peers:         cfg.PeerAPI,
	}
	n.leaders = startLeaderWatch(r, cfg.ID)
	n.transitions = startTransitionCounter(r)
	sends.setTrigger(n.snapshotPastResends)
	go n.runBatcher()
	go n.runCompleter()

	if len(cfg.BootstrapPeers) > 0 {
		if err := n.Bootstrap(cfg.BootstrapPeers); err != nil && !errors.Is(err, ErrExistingState) {
			_ = n.Shutdown()
			return nil, err
		}
	}
	return n, nil
}

// ID is this node's raft server id.
func (n *Node) ID() raft.ServerID { return n.cfg.ID }

// Addr is the raft address peers reach this node at.
func (n *Node) Addr() raft.ServerAddress { return n.trans.LocalAddr() }

// IsLeader reports whether this node currently believes it is the leader.
// Use VerifyLeader or ReadBarrier before serving reads that must be current.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// State is this node's raft state (Follower, Candidate, Leader, Shutdown).
func (n *Node) State() raft.RaftState { return n.raft.State() }

// Leader returns the current leader's id and raft address as known to this
// node, or empty values if there is none.
func (n *Node) Leader() (raft.ServerID, raft.ServerAddress) {
	addr, id := n.raft.LeaderWithID()
	return id, addr
}

// AppliedIndex is the index of the last log entry the state machine has
// applied (or restored from a snapshot).
func (n *Node) AppliedIndex() uint64 { return n.fsm.applied.Load() }

// CommitIndex is the highest log index this node knows to be committed.
func (n *Node) CommitIndex() uint64 { return n.raft.CommitIndex() }

// Snapshot takes a snapshot now (normally raft takes them on its own, see
// Config.SnapshotThreshold) and compacts the log.
func (n *Node) Snapshot() error {
	return n.mapRaftErr(n.raft.Snapshot().Error())
}

// BatchStats returns how many batch log entries this node has submitted as
// leader and how many commands they carried.
func (n *Node) BatchStats() (entries, commands uint64) {
	return n.entries.Load(), n.commands.Load()
}

// Stats returns raft's statistics plus this package's: fsm_applied_index,
// batch_entries and batch_commands.
func (n *Node) Stats() map[string]string {
	s := n.raft.Stats()
	s["node_id"] = string(n.cfg.ID)
	s["fsm_applied_index"] = strconv.FormatUint(n.AppliedIndex(), 10)
	entries, commands := n.BatchStats()
	s["batch_entries"] = strconv.FormatUint(entries, 10)
	s["batch_commands"] = strconv.FormatUint(commands, 10)
	return s
}

// Shutdown stops the node: pending and in-flight Apply calls fail with
// ErrShutdown (an in-flight batch may still have been committed), raft and
// the transport stop, and the stores are closed. The node does not leave the
// cluster configuration (use Remove on the leader for that). Calling it
// again returns the first result.
func (n *Node) Shutdown() error {
	n.shutdownOnce.Do(func() {
		close(n.shutdownCh)
		err := n.raft.Shutdown().Error() // also closes the transport
		n.trans.CloseStreams()           // pooled and inbound connections
		close(n.raftDown)
		n.resendWG.Wait()
		<-n.batcherDone
		close(n.inflight)
		<-n.completerDone
		n.leaders.stop()
		n.transitions.stop(n.raft)
		n.fsm.notify.wake()
		n.shutdownErr = errors.Join(err, n.st.closeFn())
	})
	return n.shutdownErr
}

// Kill stops the node abruptly, as a crash looks to its peers: the
// transport closes first, so they see the node vanish mid-conversation,
// then raft and the stores stop as in Shutdown. Nothing is removed from
// disk, so a node started again on the same data directory recovers. It is
// the fault-injection hook of the raft test cluster (rafttest); a replica
// that stops on purpose uses Shutdown.
func (n *Node) Kill() error {
	_ = n.trans.Close()
	n.trans.CloseStreams()
	return n.Shutdown()
}

// leaderOnly returns ErrShutdown or a *NotLeaderError unless this node is a
// running leader.
func (n *Node) leaderOnly() error {
	select {
	case <-n.shutdownCh:
		return ErrShutdown
	default:
	}
	if n.raft.State() != raft.Leader {
		return n.notLeader()
	}
	return nil
}
