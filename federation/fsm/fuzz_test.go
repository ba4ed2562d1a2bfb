package fsm

import (
	"bytes"
	"errors"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/google/go-cmp/cmp"
)

// FuzzDecodeCommand checks that decoding never panics, that whatever
// decodes re-encodes to a stable form, and that applying it to a populated
// FSM neither panics nor breaks snapshot/restore.
func FuzzDecodeCommand(f *testing.F) {
	for _, e := range baseLog(f) {
		for _, c := range e.cmds {
			f.Add(c)
		}
	}
	f.Add(MustEncode(&JobAudited{Job: &JobSubmit{Job: testJob("j-9")}, Event: auditedEvent("ev-9")}))
	f.Add(MustEncode(&JobStateUpdateBin{ID: "j-2", Cluster: "east", State: structs.JobRunning, Substatus: "step", Time: t0,
		CAS: structs.CAS{ExpectModifyIndex: 4}, Account: true, Outputs: []structs.TaskOutput{{Index: 1, Time: t0}}}))
	f.Add(MustEncode(&JobStateUpdateBin{ID: "j-1", State: structs.JobQueued, Substatus: "no capacity", Time: t0,
		Array: &structs.ArrayProgress{Total: 3, RunningTasks: []int{1}}}))
	f.Add([]byte{})
	f.Add([]byte{Version})
	f.Add([]byte{Version, byte(TypeOf(&JobStateUpdate{})), 'n', 'u', 'l', 'l'})
	f.Fuzz(func(t *testing.T, data []byte) {
		cmd, err := Decode(data)
		if err != nil {
			if !errors.Is(err, structs.ErrInvalid) {
				t.Fatalf("decode error of the wrong kind: %v", err)
			}
			return
		}
		b1, err := Encode(cmd)
		if err != nil {
			t.Fatalf("re-encode %T: %v", cmd, err)
		}
		cmd2, err := Decode(b1)
		if err != nil {
			t.Fatalf("decode of re-encoded %T: %v", cmd, err)
		}
		b2 := MustEncode(cmd2)
		if !bytes.Equal(b1, b2) {
			t.Fatalf("encoding not stable:\n%s", cmp.Diff(string(b1), string(b2)))
		}

		fsm := newFSM(t)
		for _, e := range baseLog(t) {
			fsm.ApplyCommands(e.index, e.cmds)
		}
		fsm.ApplyCommands(100, [][]byte{data, data})
		snap := snapshotBytes(t, fsm)
		if again := snapshotBytes(t, restored(t, snap)); !bytes.Equal(snap, again) {
			t.Fatalf("snapshot after restore differs:\n%s", cmp.Diff(string(snap), string(again)))
		}
	})
}
