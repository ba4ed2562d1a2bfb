package dispatch

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// racingWriter runs race once, just before the first write of a pass:
// what a newer leader (or an agent) wrote while this pass was computing.
type racingWriter struct {
	*localWriter
	once sync.Once
	race func()
}

func (w *racingWriter) Write(ctx context.Context, cmd fsm.Command) (any, error) {
	w.once.Do(w.race)
	return w.localWriter.Write(ctx, cmd)
}

// TestStaleDispatchRefused: a dispatch decision computed on an older
// index is refused by the state machine and the newer assignment stands
// — for each kind of decision at the FSM, and through real passes whose
// snapshot a concurrent write overtakes.
func TestStaleDispatchRefused(t *testing.T) {
	ctx := context.Background()
	t.Run("fsm", func(t *testing.T) {
		st, w := setup(t, false)
		read := job(t, st, "j1").ModifyIndex
		// A newer pass assigns j1 to west.
		if _, err := w.Write(ctx, &fsm.JobAssign{ID: "j1", Cluster: "west", Time: t0, Reason: "newer pass",
			CAS: structs.CAS{ExpectModifyIndex: read}}); err != nil {
			t.Fatal(err)
		}
		for name, stale := range map[string]fsm.Command{
			"assignment": &fsm.JobAssign{ID: "j1", Cluster: "east", Time: t0, CAS: structs.CAS{ExpectModifyIndex: read}},
			"reason":     &fsm.JobUpdateState{ID: "j1", State: structs.JobQueued, Substatus: "waiting", Time: t0, CAS: structs.CAS{ExpectModifyIndex: read}},
			"hold":       &fsm.JobUpdateState{ID: "j1", State: structs.JobHeld, Substatus: "held", Time: t0, CAS: structs.CAS{ExpectModifyIndex: read}},
			"requeue":    &fsm.JobUpdateState{ID: "j1", State: structs.JobQueued, Substatus: "not accepted", Time: t0, CAS: structs.CAS{ExpectModifyIndex: read}},
		} {
			if _, err := w.Write(ctx, stale); !errors.Is(err, structs.ErrConflict) {
				t.Errorf("stale %s: %v, want ErrConflict", name, err)
			}
		}
		if j := job(t, st, "j1"); j.State != structs.JobAssigned || j.Cluster != "west" || j.Substatus != "newer pass" {
			t.Errorf("after the stale decisions: %s on %q (%q), want the newer assignment to west", j.State, j.Cluster, j.Substatus)
		}
	})
	t.Run("reason update racing an assignment", func(t *testing.T) {
		// East is full and the burst rule waits 5 s: at t0+2s the pass
		// writes only j1's reason. Meanwhile a newer leader assigned j1.
		st, lw := setup(t, true)
		w := &racingWriter{localWriter: lw, race: func() {
			if _, err := lw.Write(ctx, &fsm.JobAssign{ID: "j1", Cluster: "west", Time: t0, Reason: "newer pass"}); err != nil {
				t.Error(err)
			}
		}}
		d := New(Config{Store: st, Writer: w, Leader: func() bool { return true }, Now: func() time.Time { return t0.Add(2 * time.Second) }})
		if err := d.Pass(ctx); err != nil {
			t.Fatal(err)
		}
		if d.Stats().Reasons != 1 {
			t.Fatalf("the pass wrote %d reasons, want the one the race overtakes", d.Stats().Reasons)
		}
		if j := job(t, st, "j1"); j.State != structs.JobAssigned || j.Cluster != "west" || j.Substatus != "newer pass" {
			t.Errorf("job %s on %q (%q): the stale reason update undid the newer assignment", j.State, j.Cluster, j.Substatus)
		}
	})
	t.Run("requeue racing a new assignment", func(t *testing.T) {
		// j1 was assigned to east and not taken up in time; before the
		// pass's requeue lands, a newer pass requeued it and placed it on
		// west.
		st, lw := setup(t, false)
		if _, err := lw.Write(ctx, &fsm.JobAssign{ID: "j1", Cluster: "east", Time: t0}); err != nil {
			t.Fatal(err)
		}
		w := &racingWriter{localWriter: lw, race: func() {
			for _, c := range []fsm.Command{
				&fsm.JobUpdateState{ID: "j1", State: structs.JobQueued, Substatus: "not accepted", Time: t0.Add(time.Minute)},
				&fsm.JobAssign{ID: "j1", Cluster: "west", Time: t0.Add(time.Minute), Reason: "newer pass"},
			} {
				if _, err := lw.Write(ctx, c); err != nil {
					t.Error(err)
				}
			}
		}}
		d := New(Config{Store: st, Writer: w, Leader: func() bool { return true }, AcceptTimeout: time.Minute,
			Now: func() time.Time { return t0.Add(2 * time.Minute) }})
		if err := d.Pass(ctx); err != nil {
			t.Fatal(err)
		}
		if d.Stats().Requeued != 1 {
			t.Fatalf("the pass requeued %d jobs, want the one the race overtakes", d.Stats().Requeued)
		}
		j := job(t, st, "j1")
		if j.State != structs.JobAssigned || j.Cluster != "west" || j.Substatus != "newer pass" {
			t.Errorf("job %s on %q (%q): the stale requeue undid the newer assignment", j.State, j.Cluster, j.Substatus)
		}
		if j.PreviousCluster != "east" {
			t.Errorf("previous cluster %q, want east (its agent must see the job left)", j.PreviousCluster)
		}
	})
}
