package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/api"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestSendGroupToAnOlderLeader: a leader without the apply-batch endpoint
// (404 with structs.CodeNoSuchEndpoint) gets a group's commands one
// forwarded apply each, and each write gets its own command's outcome.
func TestSendGroupToAnOlderLeader(t *testing.T) {
	var batches, applies atomic.Int32
	leader := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case api.InternalApplyBatchPath:
			batches.Add(1)
			w.WriteHeader(http.StatusNotFound)
			_, _ = fmt.Fprintf(w, `{"error":"no such endpoint","code":%q}`, structs.CodeNoSuchEndpoint)
		case api.InternalApplyPath:
			n := applies.Add(1)
			body, _ := io.ReadAll(r.Body)
			cmd, err := fsm.Decode(body)
			if err != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			// Refused by the state machine, naming the command: the
			// follower must hand it to that command's write.
			_ = json.NewEncoder(w).Encode(api.InternalApplyReply{Index: uint64(100 + n),
				Kind: api.ErrorKindName(structs.ErrConflict), Error: cmd.(*fsm.TenantUpsert).Tenant.Name})
		default:
			w.WriteHeader(http.StatusTeapot)
		}
	}))
	defer leader.Close()
	h := &Hub{fwd: leader.Client(), log: slog.New(slog.DiscardHandler)}
	var ws []*api.GroupWrite
	g := new(api.WriteGroup)
	for i := range 5 {
		b, err := fsm.Encode(&fsm.TenantUpsert{Tenant: structs.Tenant{Name: fmt.Sprintf("t%d", i)}})
		if err != nil {
			t.Fatal(err)
		}
		g.Start()
		ws = append(ws, &api.GroupWrite{Cmd: b})
	}
	// The group's own Forward is exercised by the API's tests; here the
	// writes go to sendGroup as the group would hand them.
	sent := make(chan []*api.GroupWrite, 1)
	outcomes := make(chan error, len(ws))
	for i, w := range ws {
		go func() {
			_, index, err := g.Forward(context.Background(), w.Cmd, func(batch []*api.GroupWrite) {
				sent <- batch
				h.sendGroup(context.Background(), leader.URL, batch)
			})
			if index == 0 || !errors.Is(err, structs.ErrConflict) || err.Error() != fmt.Sprintf("t%d", i) {
				err = fmt.Errorf("write %d: index %d, %w", i, index, err)
			} else {
				err = nil
			}
			outcomes <- err
		}()
	}
	for range ws {
		if err := <-outcomes; err != nil {
			t.Error(err)
		}
	}
	if b := <-sent; len(b) != len(ws) {
		t.Errorf("one send of %d writes, want %d", len(b), len(ws))
	}
	if batches.Load() != 1 || applies.Load() != int32(len(ws)) {
		t.Errorf("%d apply-batch calls and %d applies, want 1 and %d", batches.Load(), applies.Load(), len(ws))
	}
}
