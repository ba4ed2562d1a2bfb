package elastic

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDecideTable(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return now.Add(time.Duration(s) * time.Second) }
	gpu := func(size, busy int, idle time.Time) Group {
		return Group{Name: "ng-gpu", MachineType: "gpu", Size: size, Min: 0, Max: 8, Busy: busy, IdleSince: idle}
	}
	opts := Options{IdleAfter: 10 * time.Minute}
	tests := map[string]struct {
		snap        Snapshot
		wantResize  []Resize
		wantWaiting []Waiting
	}{
		"nothing pending, nothing idle": {snap: Snapshot{Groups: []Group{gpu(0, 0, time.Time{})}}},
		"gang at size 0 grows by the whole gang": {
			snap:       Snapshot{Groups: []Group{gpu(0, 0, time.Time{})}, Pending: []Gang{{Job: "j1", MachineType: "gpu", Nodes: 4}}},
			wantResize: []Resize{{Group: "ng-gpu", From: 0, To: 4, Reason: "whole gangs of [j1]"}},
		},
		"free nodes count: grows only by what is missing": {
			snap:       Snapshot{Groups: []Group{gpu(3, 2, time.Time{})}, Pending: []Gang{{Job: "j1", MachineType: "gpu", Nodes: 3}}},
			wantResize: []Resize{{Group: "ng-gpu", From: 3, To: 5, Reason: "whole gangs of [j1]"}},
		},
		"fits the free nodes: no resize": {
			snap: Snapshot{Groups: []Group{gpu(4, 1, time.Time{})}, Pending: []Gang{{Job: "j1", MachineType: "gpu", Nodes: 3}}},
		},
		"gang bigger than the maximum: never any capacity, reason": {
			snap:        Snapshot{Groups: []Group{gpu(0, 0, time.Time{})}, Pending: []Gang{{Job: "big", MachineType: "gpu", Nodes: 9}}},
			wantWaiting: []Waiting{{Job: "big", Reason: "needs 9 nodes of gpu; node group ng-gpu grows to at most 8"}},
		},
		"two gangs, second would pass the maximum: only the first, no partial gang": {
			snap: Snapshot{Groups: []Group{gpu(0, 0, time.Time{})}, Pending: []Gang{
				{Job: "a", MachineType: "gpu", Nodes: 5, Submitted: at(1)}, {Job: "b", MachineType: "gpu", Nodes: 4, Submitted: at(2)}}},
			wantResize:  []Resize{{Group: "ng-gpu", From: 0, To: 5, Reason: "whole gangs of [a]"}},
			wantWaiting: []Waiting{{Job: "b", Reason: "node group ng-gpu is at 5 of at most 8 nodes; 4 more needed"}},
		},
		"a smaller later gang still grows the group": {
			snap: Snapshot{Groups: []Group{gpu(0, 0, time.Time{})}, Pending: []Gang{
				{Job: "a", MachineType: "gpu", Nodes: 6, Submitted: at(1)}, {Job: "b", MachineType: "gpu", Nodes: 4, Submitted: at(2)},
				{Job: "c", MachineType: "gpu", Nodes: 2, Submitted: at(3)}}},
			wantResize:  []Resize{{Group: "ng-gpu", From: 0, To: 8, Reason: "whole gangs of [a c]"}},
			wantWaiting: []Waiting{{Job: "b", Reason: "node group ng-gpu is at 6 of at most 8 nodes; 4 more needed"}},
		},
		"submission order decides, not listing order": {
			snap: Snapshot{Groups: []Group{gpu(0, 0, time.Time{})}, Pending: []Gang{
				{Job: "late", MachineType: "gpu", Nodes: 6, Submitted: at(9)}, {Job: "early", MachineType: "gpu", Nodes: 6, Submitted: at(1)}}},
			wantResize:  []Resize{{Group: "ng-gpu", From: 0, To: 6, Reason: "whole gangs of [early]"}},
			wantWaiting: []Waiting{{Job: "late", Reason: "node group ng-gpu is at 6 of at most 8 nodes; 6 more needed"}},
		},
		"idle past the idle time: back to the minimum": {
			snap:       Snapshot{Groups: []Group{gpu(4, 0, at(-601))}},
			wantResize: []Resize{{Group: "ng-gpu", From: 4, To: 0, Reason: "idle since 2026-12-05T11:49:59Z (10m1s)"}},
		},
		"idle, not long enough: stays": {snap: Snapshot{Groups: []Group{gpu(4, 0, at(-599))}}},
		"busy nodes: never shrinks":    {snap: Snapshot{Groups: []Group{gpu(4, 1, time.Time{})}}},
		"idle but a gang waits for it: no shrink": {
			snap: Snapshot{Groups: []Group{gpu(4, 0, at(-3600))}, Pending: []Gang{{Job: "j", MachineType: "gpu", Nodes: 2}}},
		},
		"at its minimum: nothing": {
			snap: Snapshot{Groups: []Group{{Name: "ng-cpu", MachineType: "cpu", Size: 1, Min: 1, Max: 4, IdleSince: at(-3600)}}},
		},
		"gang of another machine type: ignored": {
			snap: Snapshot{Groups: []Group{gpu(0, 0, time.Time{})}, Pending: []Gang{{Job: "j", MachineType: "cpu", Nodes: 2}}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			resize, waiting := Decide(tc.snap, now, opts)
			if diff := cmp.Diff(tc.wantResize, resize); diff != "" {
				t.Errorf("resizes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantWaiting, waiting); diff != "" {
				t.Errorf("waiting (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecideNeverPastMax: whatever the gangs, no resize goes past a
// group's maximum, and every gang either fits or is told why not.
func TestDecideNeverPastMax(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	for size := 0; size <= 6; size++ {
		for busy := 0; busy <= size; busy++ {
			for n1 := 1; n1 <= 7; n1++ {
				for n2 := 1; n2 <= 7; n2++ {
					s := Snapshot{Groups: []Group{{Name: "g", MachineType: "m", Size: size, Max: 6, Busy: busy}},
						Pending: []Gang{{Job: "a", MachineType: "m", Nodes: n1, Submitted: now}, {Job: "b", MachineType: "m", Nodes: n2, Submitted: now.Add(time.Second)}}}
					resize, waiting := Decide(s, now, Options{})
					to := size
					for _, r := range resize {
						to = r.To
					}
					if to > 6 {
						t.Fatalf("size %d busy %d gangs %d,%d: resized to %d > max 6", size, busy, n1, n2, to)
					}
					placed := 0
					for _, g := range s.Pending {
						w := false
						for _, x := range waiting {
							w = w || x.Job == g.Job
						}
						if !w {
							placed += g.Nodes
						}
					}
					if placed > to-busy {
						t.Fatalf("size %d busy %d gangs %d,%d: %d nodes placed on %d free", size, busy, n1, n2, placed, to-busy)
					}
				}
			}
		}
	}
}
