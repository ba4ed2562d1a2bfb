package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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

// maxPeerReply bounds a reply read from another replica.
const maxPeerReply = 64 << 20

// peerCall is one call of another replica's internal endpoint.
type peerCall struct {
	base, path  string
	body        []byte
	contentType string
	// forwarded marks a request this replica forwards to the leader:
	// the receiver acts only if it leads and never forwards it again.
	forwarded bool
}

// callPeer is the hub's one client of the other replicas' internal
// endpoints (forwarded writes, read index, join, remove). It posts the
// call with the internal secret (over TLS, with this replica's
// certificate) and decodes a 200 reply into out (unless nil). Every
// other reply becomes an error of the kind its status carries
// (structs.KindOfStatus) with the replica's message: not the leader and
// unavailable are a *forwardError, which the caller may retry (only
// unavailable is ambiguous: the call may have taken effect); an
// unreachable replica likewise; a replica that does not serve the
// endpoint (ErrorBody.Code) is ErrUnavailable; a refused secret is
// logged, as replicas that disagree on it cannot work together.
func (h *Hub) callPeer(ctx context.Context, pc peerCall, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, pc.base+pc.path, bytes.NewReader(pc.body))
	if err != nil {
		return structs.Errorf(structs.ErrInvalid, "replica URL %q: %v", pc.base, err)
	}
	req.Header.Set(api.InternalSecretHeader, h.cfg.InternalSecret)
	req.Header.Set("Content-Type", pc.contentType)
	if pc.forwarded {
		req.Header.Set(api.ForwardedHeader, "true")
	}
	resp, err := h.fwd.Do(req)
	if err != nil {
		return &forwardError{leader: pc.base, err: err, ambiguous: true}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxPeerReply))
	if err != nil {
		return &forwardError{leader: pc.base, err: err, ambiguous: true}
	}
	if resp.StatusCode == http.StatusOK {
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("hub: replica at %s: bad reply: %w", pc.base, err)
		}
		return nil
	}
	var eb structs.ErrorBody
	if json.Unmarshal(data, &eb) != nil || eb.Error == "" {
		eb.Error = string(bytes.TrimSpace(data))
	}
	return h.peerError(pc, resp.StatusCode, eb)
}

// errNoEndpoint marks a replica that does not serve an internal endpoint
// (an older hub).
var errNoEndpoint = errors.New("no such endpoint")

// peerError is the error of another replica's reply with status and
// body eb (see callPeer).
func (h *Hub) peerError(pc peerCall, status int, eb structs.ErrorBody) error {
	kind := structs.KindOfStatus(status)
	switch {
	case kind == structs.ErrNotLeader: // nothing done
		return &forwardError{leader: pc.base, err: errors.New("not the leader")}
	case kind == structs.ErrUnavailable:
		return &forwardError{leader: pc.base, err: fmt.Errorf("unavailable: %s", eb.Error), ambiguous: true}
	case kind == structs.ErrUnauthorized:
		h.log.Error("a replica refused the internal secret", "peer", pc.base, "path", pc.path)
		return structs.Errorf(structs.ErrUnauthorized,
			"replica at %s refused the internal secret (every replica needs the same one)", pc.base)
	case eb.Code == structs.CodeNoSuchEndpoint:
		return fmt.Errorf("replica at %s has no %s endpoint (an older hub?): %w: %w", pc.base, pc.path,
			errNoEndpoint, structs.ErrUnavailable)
	case kind != nil:
		return api.RemoteError(kind, eb.Error)
	}
	return structs.Errorf(structs.ErrUnavailable, "replica at %s replied %d: %s", pc.base, status, eb.Error)
}

// forwarded turns a refusal of the leader's internal apply or read-index
// endpoint into ErrUnavailable: the request was well formed here, so a
// refusal means the leader cannot take it now (it runs an older version
// that cannot decode the command, or refused the secret) — not that the
// caller's request is wrong. Transient errors stay as they are.
func (h *Hub) forwarded(base, path string, err error) error {
	var fe *forwardError
	if err == nil || errors.As(err, &fe) || errors.Is(err, structs.ErrUnavailable) {
		return err
	}
	if !errors.Is(err, structs.ErrUnauthorized) { // callPeer said so already
		h.log.Error("leader refused a forwarded request", "leader", base, "path", path, "error", err)
	}
	return structs.Errorf(structs.ErrUnavailable, "leader at %s refused the request: %v", base, err)
}

// forwardApply applies b on the leader at base.
func (h *Hub) forwardApply(ctx context.Context, base string, b []byte) (any, uint64, error) {
	var reply api.InternalApplyReply
	err := h.callPeer(ctx, peerCall{base: base, path: api.InternalApplyPath, body: b,
		contentType: "application/octet-stream"}, &reply)
	if err != nil {
		return nil, 0, h.forwarded(base, api.InternalApplyPath, err)
	}
	if reply.Error != "" {
		return nil, reply.Index, api.RemoteError(structs.KindNamed(reply.Kind), reply.Error)
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
	err := h.callPeer(ctx, peerCall{base: base, path: api.InternalReadIndexPath,
		contentType: "application/octet-stream"}, &reply)
	if err != nil {
		return 0, h.forwarded(base, api.InternalReadIndexPath, err)
	}
	return reply.Index, nil
}

// postJSON calls an internal endpoint with in as JSON (see callPeer).
func (h *Hub) postJSON(ctx context.Context, base, path string, in, out any, forwarded bool) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return h.callPeer(ctx, peerCall{base: base, path: path, body: body, contentType: "application/json",
		forwarded: forwarded}, out)
}
