package hub

import (
	"context"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestStateUpdateLoggedBinaryOnceAllApply: a state update is logged in
// its binary form (fsm.JobStateUpdateBin) only while every replica in
// the directory lists that command; with a replica on an older binary in
// the directory it is logged as fsm.JobStateUpdate, and in the binary
// form again once that replica is gone. Other commands pass as they are.
func TestStateUpdateLoggedBinaryOnceAllApply(t *testing.T) {
	s, err := state.New()
	if err != nil {
		t.Fatal(err)
	}
	f := fsm.New(s)
	index := uint64(0)
	apply := func(cmd fsm.Command) {
		index++
		if err, ok := f.ApplyCommands(index, [][]byte{fsm.MustEncode(cmd)})[0].(error); ok {
			t.Fatal(err)
		}
	}
	h := &Hub{store: s}
	ctx := context.Background()
	update := &fsm.JobStateUpdate{ID: "j", State: structs.JobRunning}
	form := func() fsm.CommandType { return fsm.TypeOf(h.logged(ctx, update)) }
	apply(&fsm.ReplicaUpsert{Replica: structs.Replica{ID: "new", RaftAddress: "127.0.0.1:1", APIAddress: "http://127.0.0.1:1",
		Commands: fsm.KnownCommands()}})
	if got := form(); got != fsm.TypeOf(&fsm.JobStateUpdateBin{}) {
		t.Errorf("every replica applies it: logged as %s", got)
	}
	apply(&fsm.ReplicaUpsert{Replica: structs.Replica{ID: "old", RaftAddress: "127.0.0.1:2", APIAddress: "http://127.0.0.1:2",
		Commands: "1-33,41-42,60-71,80,95-96,100-103,106-107"}})
	if got := form(); got != fsm.TypeOf(&fsm.JobStateUpdate{}) {
		t.Errorf("an older replica in the directory: logged as %s", got)
	}
	apply(&fsm.ReplicaDelete{ID: "old"})
	if got := form(); got != fsm.TypeOf(&fsm.JobStateUpdateBin{}) {
		t.Errorf("the older replica gone: logged as %s", got)
	}
	cancel := &fsm.JobCancel{ID: "j"}
	if got := h.logged(ctx, cancel); got != fsm.Command(cancel) {
		t.Errorf("a cancel without an audit event: logged as %T", got)
	}
}
