package api

import (
	"bytes"
	"io"
	"strconv"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Internal endpoints of hub membership. A new replica asks any member to
// add it through InternalJoinPath (a follower forwards the request to the
// leader); a follower forwards a removal to the leader through
// InternalRemovePath.
const (
	InternalJoinPath   = "/internal/v1/join"
	InternalRemovePath = "/internal/v1/remove"
	// ForwardedHeader marks a request one replica forwards to the leader:
	// the receiver acts only if it leads (else 421) and never forwards it
	// again.
	ForwardedHeader = "X-Flotilla-Forwarded"
)

// listReplicas serves GET /v1/replicas: the hub's replicas, for the global
// administrator.
func (s *Server) listReplicas(c *call) (any, error) {
	if err := c.id.CheckGlobalAdmin("replicas"); err != nil {
		return nil, err
	}
	if _, err := c.view(); err != nil {
		return nil, err
	}
	return s.members.Replicas(c.r.Context())
}

// BackupContentType is the media type of GET /v1/snapshot's reply.
const BackupContentType = "application/x-flotilla-backup"

// snapshot serves GET /v1/snapshot: a consistent backup of the state
// (state.Snapshot.Backup) for the global administrator. The replica first
// applies everything acknowledged before the call, so the backup holds
// every write the caller saw succeed.
func (s *Server) snapshot(c *call) (any, error) {
	if err := c.id.CheckGlobalAdmin("snapshots"); err != nil {
		return nil, err
	}
	if err := s.reads.ConsistentRead(c.r.Context()); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	index, err := s.reads.Store().Snapshot().Backup(&buf)
	if err != nil {
		return nil, err
	}
	c.w.Header().Set(IndexHeader, strconv.FormatUint(index, 10))
	return &rawReply{contentType: BackupContentType, body: buf.Bytes()}, nil
}

// removeReplica serves DELETE /v1/replicas/{id}: the leader removes the
// replica from the raft configuration and the replica directory.
func (s *Server) removeReplica(c *call) (any, error) {
	id := c.r.PathValue("id")
	if err := c.id.CheckGlobalAdmin("replicas"); err != nil {
		return nil, err
	}
	if err := s.members.RemoveReplica(c.r.Context(), id, false); err != nil {
		return nil, err
	}
	return &structs.Deleted{Deleted: id}, nil
}

// internalJoin serves POST /internal/v1/join.
func (s *Server) internalJoin(c *call) (any, error) {
	req, err := decodeReplicaJoin(c.body())
	if err != nil {
		return nil, err
	}
	return s.members.JoinReplica(c.r.Context(), req, c.r.Header.Get(ForwardedHeader) != "")
}

// internalRemove serves POST /internal/v1/remove, which only a replica
// forwarding a removal to the leader calls.
func (s *Server) internalRemove(c *call) (any, error) {
	var req structs.ReplicaRemove
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if req.ID == "" {
		return nil, invalid("remove: id is required")
	}
	if err := s.members.RemoveReplica(c.r.Context(), req.ID, true); err != nil {
		return nil, err
	}
	return &structs.Deleted{Deleted: req.ID}, nil
}

func decodeReplicaJoin(r io.Reader) (*structs.ReplicaJoin, error) {
	return decodeValue(r, func(j *structs.ReplicaJoin) error { return j.Replica().Validate() })
}
