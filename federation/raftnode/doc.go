// Package raftnode wires hashicorp/raft for the Flotilla hub: a TCP transport,
// a log and stable store on disk, a file snapshot store, and an adapter that
// feeds committed log entries to a StateMachine.
//
// # Storage
//
// The log and stable store is hashicorp/raft-wal (segment files, one fsync
// per appended batch) for new data directories, or hashicorp/raft-boltdb/v2
// (one bolt file, two fsyncs per append; the only store with a NoSync mode)
// when Config.LogStore asks for it. A data directory keeps the kind it was
// created with; asking for the other kind is an error, not a silent new log.
// Both sit behind raft's LogCache.
//
// Before raft starts, New reads back what raft will read — the current
// term, the newest snapshot whose data matches its checksum (a torn one
// is skipped, as raft skips it) and every log entry, checking that the
// log continues where that snapshot ends — and fails with a *StoreError
// (errors.Is ErrDamagedStore) naming the data directory, the store and
// the way to recover, instead of letting raft panic on damaged data or
// start on part of it. Inspect does the same for `flotilla-hub check`
// without changing the directory.
//
// Raft runs on snapLog, a wrapper of the log store that keeps it
// consistent with the newest snapshot, so that a replica whose log runs
// past the snapshot the leader sends it (a deposed leader's uncommitted
// tail) catches up instead of receiving the snapshot again and again, and
// so that raft never empties a raft-wal log behind its own last-entry mark
// (see snapLog and snapshotSends for raft v1.8.0's code paths involved).
//
// # Writes
//
// Node.Apply batches the commands of concurrent callers into one raft log
// entry (see Config.BatchSize and Config.BatchLinger). The entry carries a
// compact envelope: a version byte, a uvarint command count, then a uvarint
// length and the bytes of each command. StateMachine.ApplyCommands receives the
// decoded commands and returns one result per command; each caller gets back
// its own result and the log index of the entry that carried it. A caller
// joins the open batch under a mutex (queue.go) and waits on the batch's
// one channel, which the completer closes once the entry is applied: the
// batcher runs once per batch, not once per command, and nothing is
// allocated per command. A state machine that is a SharedApplier is
// applied with ApplyShared instead: a result shared with its state is a
// Detacher, and the caller that waits for it takes Detach's copy, in its
// own goroutine; on the other replicas, and for a caller that stopped
// waiting, results are dropped uncopied.
//
// Apply on a follower fails with a *NotLeaderError (errors.Is(err,
// ErrNotLeader)) naming the leader's raft id, raft address and, when known,
// API address; nothing was written, so the caller may forward or retry. When
// leadership is lost while a command is in flight the error is
// ErrLeadershipLost: the command may or may not have been committed, so a
// retry must be safe to repeat (see Retryable).
//
// # Reads
//
// VerifyLeader confirms with a quorum that this node is still leader.
// ReadBarrier additionally waits until the local state machine has applied
// everything committed at the time of the call, so a read after it is
// linearizable.
//
// # Leader forwarding
//
// Raft only knows each server's raft address. The API layer forwards writes
// to the leader's HTTP API address, which this package keeps in a small
// registry of raft server id → API address: seeded from Config.PeerAPI (and
// Config.APIAddress for the local node) and updated with Node.SetPeerAPI.
// The registry itself is local; the hub keeps it in step with its
// replicated replica directory (every replica's raft id, raft address and
// API address), so replicas that joined later are found too.
// Node.LeaderAPIAddress looks the current leader up in it.
//
// # Test cluster
//
// Package rafttest starts in-process clusters of these nodes for tests, on
// a network whose links can be cut (internal/faultnet); Node.Kill is its
// hook for stopping a node abruptly.
package raftnode
