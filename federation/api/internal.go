package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Internal endpoints: a follower forwards writes and linearizable reads to
// the leader through them. They authenticate with a shared secret.
const (
	InternalApplyPath     = "/internal/v1/apply"
	InternalReadIndexPath = "/internal/v1/readindex"
	InternalSecretHeader  = "X-Flotilla-Internal-Secret"
	// IndexHeader carries the raft index a read or watch was served at.
	IndexHeader = "X-Flotilla-Index"
	// LeaderHeader carries the leader's API base URL, when known, so that
	// clients can send writes straight to it.
	LeaderHeader = "X-Flotilla-Leader"
)

// InternalApplyReply is the 200 reply of POST /internal/v1/apply (whose
// body is an fsm-encoded command): the command was committed at Index,
// and Result is its JSON result, or Kind and Error describe the state
// machine's refusal. A 421 reply means the replica is not the leader
// (nothing was written); a 503 reply means the outcome is unknown.
type InternalApplyReply struct {
	Index  uint64          `json:"index"`
	Result json.RawMessage `json:"result,omitempty"`
	Kind   string          `json:"kind,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// InternalReadIndexReply is the reply of POST /internal/v1/readindex: the
// leader's commit index, which the asking replica applies before reading.
type InternalReadIndexReply struct {
	Index uint64 `json:"index"`
}

// ErrorKindName names err's kind for the wire ("" if it has none).
func ErrorKindName(err error) string {
	if k := structs.KindOf(err); k != nil {
		return k.Error()
	}
	return ""
}

// RemoteError rebuilds an error received from another replica: its text is
// msg and errors.Is matches kind (nil: no kind).
func RemoteError(kind error, msg string) error {
	if kind == nil {
		return errors.New(msg)
	}
	return &remoteError{kind: kind, msg: msg}
}

type remoteError struct {
	kind error
	msg  string
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.kind }

func (s *Server) internalApply(c *call) (any, error) {
	cmd, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, 2*s.maxBody))
	if err != nil {
		return nil, decodeError(err)
	}
	val, index, err := s.internal.ApplyInternal(c.r.Context(), cmd)
	if index == 0 {
		if err != nil {
			return nil, err
		}
		return nil, structs.Errorf(structs.ErrUnavailable, "apply: no index")
	}
	reply := InternalApplyReply{Index: index}
	if err != nil {
		reply.Kind, reply.Error = ErrorKindName(err), err.Error()
		return reply, nil
	}
	if val != nil {
		if reply.Result, err = json.Marshal(val); err != nil {
			return nil, err
		}
	}
	return reply, nil
}

func (s *Server) internalReadIndex(c *call) (any, error) {
	index, err := s.internal.ReadIndexInternal(c.r.Context())
	if err != nil {
		return nil, err
	}
	return InternalReadIndexReply{Index: index}, nil
}
