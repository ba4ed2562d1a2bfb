package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/flotilla-hpc/flotilla/federation/api"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// forwardError is a transient failure to reach the leader through its
// internal endpoint. ambiguous means the leader may have applied the
// command anyway.
type forwardError struct {
	leader    string
	err       error
	ambiguous bool
}

func (e *forwardError) Error() string {
	return fmt.Sprintf("hub: forwarding to leader at %s: %v", e.leader, e.err)
}

func (e *forwardError) Unwrap() error { return e.err }

// post sends body to an internal endpoint of the replica at base and
// decodes a 200 reply into out.
func (h *Hub) post(ctx context.Context, base, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set(api.InternalSecretHeader, h.cfg.InternalSecret)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := h.fwd.Do(req)
	if err != nil {
		return &forwardError{leader: base, err: err, ambiguous: true}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return &forwardError{leader: base, err: err, ambiguous: true}
	}
	switch resp.StatusCode {
	case http.StatusOK:
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("hub: leader at %s: bad reply: %w", base, err)
		}
		return nil
	case http.StatusMisdirectedRequest: // not the leader: nothing written
		return &forwardError{leader: base, err: fmt.Errorf("not the leader")}
	case http.StatusServiceUnavailable:
		return &forwardError{leader: base, err: fmt.Errorf("unavailable: %s", errorText(data)), ambiguous: true}
	}
	// Not a leadership problem: most likely replicas with different
	// InternalSecret values. Say so loudly; retrying will not help.
	h.log.Error("leader refused a forwarded request", "leader", base, "path", path,
		"status", resp.StatusCode, "error", errorText(data))
	return structs.Errorf(structs.ErrUnavailable, "leader at %s replied %d: %s", base, resp.StatusCode, errorText(data))
}

func errorText(data []byte) string {
	var eb structs.ErrorBody
	if json.Unmarshal(data, &eb) == nil && eb.Error != "" {
		return eb.Error
	}
	return string(bytes.TrimSpace(data))
}

// forwardApply applies b on the leader at base.
func (h *Hub) forwardApply(ctx context.Context, base string, b []byte) (any, uint64, error) {
	var reply api.InternalApplyReply
	if err := h.post(ctx, base, api.InternalApplyPath, b, &reply); err != nil {
		return nil, 0, err
	}
	if reply.Error != "" {
		return nil, reply.Index, api.RemoteError(reply.Kind, reply.Error)
	}
	val, err := fsm.DecodeResult(fsm.CommandType(b[1]), reply.Result)
	if err != nil {
		return nil, reply.Index, fmt.Errorf("hub: leader at %s: bad result: %w", base, err)
	}
	return val, reply.Index, nil
}

// forwardReadIndex asks the leader at base for a read index.
func (h *Hub) forwardReadIndex(ctx context.Context, base string) (uint64, error) {
	var reply api.InternalReadIndexReply
	if err := h.post(ctx, base, api.InternalReadIndexPath, nil, &reply); err != nil {
		return 0, err
	}
	return reply.Index, nil
}
