package api

import (
	"context"

	"github.com/flotilla-hpc/flotilla/federation/authz"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// The replica behind the API, as the API uses it: one small interface per
// concern, all implemented by *hub.Hub. Errors are typed (structs kinds);
// ErrNotLeader and ErrUnavailable mean the hub could not reach a leader in
// time.

// Reads is the replica's state.
type Reads interface {
	// Store is the replica's local state.
	Store() *state.Store
	// ConsistentRead returns once the local store reflects every write
	// acknowledged before the call (a linearizable read follows).
	ConsistentRead(ctx context.Context) error
}

// Writes logs commands.
type Writes interface {
	// Write logs cmd through raft (forwarding to the leader, retrying on
	// leader changes) and returns the command's result.
	Write(ctx context.Context, cmd fsm.Command) (any, error)
}

// Jobs takes jobs in and records their progress.
type Jobs interface {
	// SubmitJob admits caller's submission (federation/jobs) and logs it,
	// idempotently by ID; a request without an ID gets one.
	SubmitJob(ctx context.Context, caller *authz.Identity, req *structs.JobSubmitRequest) (*structs.Job, error)
	// SubmitScriptJob is SubmitJob of a job of app, the caller's batch
	// app for a job script, admitted as if app were in the catalog; app
	// is written (made, or updated to its AppDef) only for a job admitted.
	SubmitScriptJob(ctx context.Context, caller *authz.Identity, req *structs.JobSubmitRequest, app *structs.App) (*structs.Job, error)
	// CancelJob stops job j for caller (cancels it, or terminates it once
	// started), idempotently; reason "" becomes "<verb> by <caller>".
	CancelJob(ctx context.Context, caller *authz.Identity, j *structs.Job, verb, reason string) (*structs.Job, error)
	// ReportClusterStatus records an agent's heartbeat and job reports.
	ReportClusterStatus(ctx context.Context, cluster string, rep *structs.ClusterStatusReport) (*structs.ClusterStatusResult, error)
}

// Leadership says who leads.
type Leadership interface {
	// Leader is the current leader's raft id, "" when none is known.
	Leader() string
	// LeaderAPI is the current leader's API base URL, "" when unknown.
	LeaderAPI() string
}

// Internal serves the endpoints other replicas call to write and read
// through the leader.
type Internal interface {
	// ApplyInternal applies an encoded command on this replica, which must
	// lead. index > 0 means the command was committed; err is then the
	// state machine's verdict.
	ApplyInternal(ctx context.Context, cmd []byte) (result any, index uint64, err error)
	// ReadIndexInternal confirms leadership and returns the index a
	// replica must have applied to serve a linearizable read.
	ReadIndexInternal(ctx context.Context) (uint64, error)
}

// Membership lists, adds and removes the hub's replicas.
type Membership interface {
	// Replicas lists the hub's replicas: the replica directory merged with
	// the raft configuration as this replica knows it.
	Replicas(ctx context.Context) ([]*structs.ReplicaStatus, error)
	// JoinReplica adds a replica to the cluster (as a non-voter when
	// req.Learner, else as a voter) and lists it in the replica directory,
	// idempotently. Unless leaderOnly, a follower forwards the request to
	// the leader; with it, a follower refuses (ErrNotLeader).
	JoinReplica(ctx context.Context, req *structs.ReplicaJoin, leaderOnly bool) (*structs.ReplicaJoined, error)
	// RemoveReplica removes a replica from the raft configuration and the
	// directory; ErrNotFound for an unknown id, ErrConflict for the last
	// voter. leaderOnly as for JoinReplica.
	RemoveReplica(ctx context.Context, id string, leaderOnly bool) error
}
