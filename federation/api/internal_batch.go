package api

import (
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"sync"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// InternalApplyBatchPath applies several encoded commands on the leader in
// one call: a follower forwards a batch's writes through it (WriteGroup).
const InternalApplyBatchPath = "/internal/v1/apply-batch"

// MaxInternalBatch bounds the commands of one apply-batch call.
const MaxInternalBatch = 1024

// InternalApplyBatchReply is the 200 reply of POST
// /internal/v1/apply-batch: one outcome per command, in order.
type InternalApplyBatchReply struct {
	Results []InternalApplyItem `json:"results"`
}

// InternalApplyItem is one command's outcome in an apply-batch reply: with
// an Index, what POST /internal/v1/apply answers in its 200 reply; without
// one, the command was not committed, or its outcome is unknown, and
// Status is the status a single apply would have answered (421: not the
// leader, nothing written; 503: unknown), Kind and Error why.
type InternalApplyItem struct {
	InternalApplyReply
	Status int `json:"status,omitempty"`
}

// AppendCommands appends the body of an apply-batch call carrying cmds:
// each command's length (a uvarint), then its bytes.
func AppendCommands(dst []byte, cmds [][]byte) []byte {
	for _, c := range cmds {
		dst = binary.AppendUvarint(dst, uint64(len(c)))
		dst = append(dst, c...)
	}
	return dst
}

// SplitCommands reads an apply-batch body (AppendCommands); the commands
// share body's memory.
func SplitCommands(body []byte) ([][]byte, error) {
	var cmds [][]byte
	for len(body) > 0 {
		n, k := binary.Uvarint(body)
		if k <= 0 || n > uint64(len(body)-k) {
			return nil, invalid("apply-batch: malformed body at command %d", len(cmds))
		}
		cmds = append(cmds, body[k:k+int(n)])
		body = body[k+int(n):]
		if len(cmds) > MaxInternalBatch {
			return nil, invalid("apply-batch: more than %d commands", MaxInternalBatch)
		}
	}
	if len(cmds) == 0 {
		return nil, invalid("apply-batch: no command")
	}
	return cmds, nil
}

// internalApplyBatch applies the commands concurrently, so that the raft
// batcher packs them into shared entries, each as internalApply would.
func (s *Server) internalApplyBatch(c *call) (any, error) {
	body, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, 2*batchBodyFactor*s.maxBody))
	if err != nil {
		return nil, decodeError(err)
	}
	cmds, err := SplitCommands(body)
	if err != nil {
		return nil, err
	}
	reply := InternalApplyBatchReply{Results: make([]InternalApplyItem, len(cmds))}
	var wg sync.WaitGroup
	for i, cmd := range cmds {
		wg.Go(func() { reply.Results[i] = s.applyItem(c, cmd) })
	}
	wg.Wait()
	return &reply, nil
}

// applyItem applies one command of an apply-batch call.
func (s *Server) applyItem(c *call, cmd []byte) InternalApplyItem {
	val, index, err := s.internal.ApplyInternal(c.r.Context(), cmd)
	it := InternalApplyItem{InternalApplyReply: InternalApplyReply{Index: index}}
	switch {
	case index == 0 && err == nil:
		err = structs.Errorf(structs.ErrUnavailable, "apply: no index")
		fallthrough
	case index == 0:
		it.Status, it.Kind, it.Error = statusOf(err), ErrorKindName(err), err.Error()
	case err != nil:
		it.Kind, it.Error = ErrorKindName(err), err.Error()
	case val != nil:
		if it.Result, err = json.Marshal(val); err != nil { // committed: the outcome is unknown to the caller
			err = structs.Errorf(structs.ErrUnavailable, "apply: encoding the result: %v", err)
			it.Index, it.Status, it.Kind, it.Error = 0, statusOf(err), ErrorKindName(err), err.Error()
		}
	}
	return it
}
