package arraytask

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

func spec(s string) structs.ArraySpec {
	a, err := structs.ParseArraySpec(s)
	if err != nil {
		panic(err)
	}
	return a
}

func l(i, a int) Lease { return Lease{Index: i, Attempt: a} }

func ok(i, a int) Result   { return Result{Lease: l(i, a)} }
func fail(i, a int) Result { return Result{Lease: l(i, a), Exit: 3, Tail: "boom"} }

// t0 is the scenarios' start; a step's at is the time after it.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// step is one event of a scenario at t0+at and what must follow.
type step struct {
	at     time.Duration
	pull   *Pull
	cancel []int
	expire bool // an Expire tick (the server's timer) instead of a pull
	want   Grant
}

func TestDispatcher(t *testing.T) {
	cases := map[string]struct {
		spec    string
		retries int
		lease   time.Duration
		steps   []step
		counts  structs.ArrayProgress // compared without Done/Failures/seconds
	}{
		"grants in order up to free slots": {
			spec: "1-5", steps: []step{
				{pull: &Pull{Worker: "a", Slots: 2, Free: 2}, want: Grant{Tasks: []Lease{l(1, 1), l(2, 1)}}},
				{pull: &Pull{Worker: "b", Slots: 2, Free: 2}, want: Grant{Tasks: []Lease{l(3, 1), l(4, 1)}}},
				{pull: &Pull{Worker: "a", Slots: 2, Free: 2, Done: []Result{ok(1, 1), ok(2, 1)}}, want: Grant{Tasks: []Lease{l(5, 1)}}},
				{pull: &Pull{Worker: "a", Slots: 2, Free: 1, Done: []Result{ok(5, 1)}, Holding: nil}, want: Grant{Drained: true}},
				{pull: &Pull{Worker: "b", Slots: 2, Free: 2, Done: []Result{ok(3, 1), ok(4, 1)}}, want: Grant{Drained: true, AllDone: true}},
			},
			counts: structs.ArrayProgress{Total: 5, Succeeded: 5, PeakRunning: 4},
		},
		"step skips indices": {
			spec: "0-9:3", steps: []step{
				{pull: &Pull{Worker: "a", Slots: 8, Free: 8}, want: Grant{Tasks: []Lease{l(0, 1), l(3, 1), l(6, 1), l(9, 1)}}},
			},
			counts: structs.ArrayProgress{Total: 4, Running: 4, PeakRunning: 4},
		},
		"throttle holds the whole array to max running": {
			spec: "1-10%3", steps: []step{
				{pull: &Pull{Worker: "a", Slots: 8, Free: 8}, want: Grant{Tasks: []Lease{l(1, 1), l(2, 1), l(3, 1)}}},
				{pull: &Pull{Worker: "b", Slots: 8, Free: 8}, want: Grant{}},
				{pull: &Pull{Worker: "a", Slots: 8, Free: 6, Done: []Result{ok(2, 1)}, Holding: []Lease{l(1, 1), l(3, 1)}}, want: Grant{Tasks: []Lease{l(4, 1)}}},
			},
			counts: structs.ArrayProgress{Total: 10, Pending: 6, Running: 3, Succeeded: 1, PeakRunning: 3},
		},
		"a failure is retried first, then fails for good": {
			spec: "1-3", retries: 1, steps: []step{
				{pull: &Pull{Worker: "a", Slots: 1, Free: 1}, want: Grant{Tasks: []Lease{l(1, 1)}}},
				{pull: &Pull{Worker: "a", Slots: 1, Free: 1, Done: []Result{fail(1, 1)}}, want: Grant{Tasks: []Lease{l(1, 2)}}},
				{pull: &Pull{Worker: "a", Slots: 1, Free: 1, Done: []Result{fail(1, 2)}}, want: Grant{Tasks: []Lease{l(2, 1)}}},
			},
			counts: structs.ArrayProgress{Total: 3, Pending: 1, Running: 1, Failed: 1, Retried: 1, PeakRunning: 1},
		},
		"a duplicate result changes nothing": {
			spec: "1-2", steps: []step{
				{pull: &Pull{Worker: "a", Slots: 1, Free: 1}, want: Grant{Tasks: []Lease{l(1, 1)}}},
				{pull: &Pull{Worker: "a", Slots: 1, Free: 1, Done: []Result{ok(1, 1)}}, want: Grant{Tasks: []Lease{l(2, 1)}}},
				{pull: &Pull{Worker: "a", Slots: 1, Free: 0, Done: []Result{ok(1, 1)}, Holding: []Lease{l(2, 1)}}, want: Grant{Drained: true}},
			},
			counts: structs.ArrayProgress{Total: 2, Running: 1, Succeeded: 1, PeakRunning: 1},
		},
		"a task its worker no longer holds is lost: a failed attempt, retried": {
			spec: "1-2", retries: 2, steps: []step{
				{pull: &Pull{Worker: "a", Slots: 2, Free: 2}, want: Grant{Tasks: []Lease{l(1, 1), l(2, 1)}}},
				{pull: &Pull{Worker: "a", Slots: 2, Free: 1, Holding: []Lease{l(2, 1)}}, want: Grant{Tasks: []Lease{l(1, 2)}}},
			},
			counts: structs.ArrayProgress{Total: 2, Running: 2, Retried: 1, PeakRunning: 2},
		},
		"cancel: pending at once, running by kill": {
			spec: "1-4", steps: []step{
				{pull: &Pull{Worker: "a", Slots: 2, Free: 2}, want: Grant{Tasks: []Lease{l(1, 1), l(2, 1)}}},
				{cancel: []int{2, 3, 99}},
				{pull: &Pull{Worker: "a", Slots: 2, Free: 0, Holding: []Lease{l(1, 1), l(2, 1)}}, want: Grant{Kill: []Lease{l(2, 1)}}},
				{pull: &Pull{Worker: "a", Slots: 2, Free: 2, Done: []Result{ok(1, 1), {Lease: l(2, 1), Exit: 137}}}, want: Grant{Tasks: []Lease{l(4, 1)}}},
			},
			counts: structs.ArrayProgress{Total: 4, Running: 1, Succeeded: 1, Canceled: 2, PeakRunning: 2},
		},
		"a silent worker's leases expire: its tasks go first to another, no retry used": {
			spec: "1-4", lease: 10 * time.Second, steps: []step{
				{pull: &Pull{Worker: "a", Slots: 2, Free: 2}, want: Grant{Tasks: []Lease{l(1, 1), l(2, 1)}}},
				{at: 9 * time.Second, pull: &Pull{Worker: "b", Slots: 2, Free: 2}, want: Grant{Tasks: []Lease{l(3, 1), l(4, 1)}}},
				{at: 11 * time.Second, pull: &Pull{Worker: "b", Slots: 2, Free: 2, Done: []Result{ok(3, 1), ok(4, 1)}}, want: Grant{Tasks: []Lease{l(1, 2), l(2, 2)}}},
				{at: 12 * time.Second, pull: &Pull{Worker: "b", Slots: 2, Free: 2, Done: []Result{ok(1, 2), ok(2, 2)}}, want: Grant{Drained: true, AllDone: true}},
			},
			counts: structs.ArrayProgress{Total: 4, Succeeded: 4, Lost: 2, PeakRunning: 4},
		},
		"a worker that pulls while busy keeps its leases": {
			spec: "1-3", lease: 10 * time.Second, steps: []step{
				{pull: &Pull{Worker: "a", Slots: 2, Free: 2}, want: Grant{Tasks: []Lease{l(1, 1), l(2, 1)}}},
				{at: 8 * time.Second, pull: &Pull{Worker: "a", Slots: 2, Free: 0, Holding: []Lease{l(1, 1), l(2, 1)}}},
				{at: 16 * time.Second, expire: true},
				{at: 17 * time.Second, pull: &Pull{Worker: "b", Slots: 2, Free: 2}, want: Grant{Tasks: []Lease{l(3, 1)}}},
			},
			counts: structs.ArrayProgress{Total: 3, Running: 3, PeakRunning: 3},
		},
		"the server's tick expires leases when no one pulls": {
			spec: "1-2", lease: 10 * time.Second, steps: []step{
				{pull: &Pull{Worker: "a", Slots: 2, Free: 2}, want: Grant{Tasks: []Lease{l(1, 1), l(2, 1)}}},
				{at: 11 * time.Second, expire: true},
			},
			counts: structs.ArrayProgress{Total: 2, Pending: 2, Lost: 2, PeakRunning: 2},
		},
		"an expired worker that comes back kills what it holds; its late success is not recorded": {
			spec: "1-3", lease: 10 * time.Second, steps: []step{
				{pull: &Pull{Worker: "a", Slots: 1, Free: 1}, want: Grant{Tasks: []Lease{l(1, 1)}}},
				{at: 11 * time.Second, pull: &Pull{Worker: "b", Slots: 1, Free: 1}, want: Grant{Tasks: []Lease{l(1, 2)}}},
				{at: 12 * time.Second, pull: &Pull{Worker: "a", Slots: 1, Free: 0, Holding: []Lease{l(1, 1)}}, want: Grant{Kill: []Lease{l(1, 1)}}},
				{at: 13 * time.Second, pull: &Pull{Worker: "a", Slots: 1, Free: 1, Done: []Result{ok(1, 1)}}, want: Grant{Tasks: []Lease{l(2, 1)}}},
				{at: 14 * time.Second, pull: &Pull{Worker: "b", Slots: 1, Free: 1, Done: []Result{ok(1, 2)}}, want: Grant{Tasks: []Lease{l(3, 1)}}},
			},
			counts: structs.ArrayProgress{Total: 3, Running: 2, Succeeded: 1, Lost: 1, PeakRunning: 2},
		},
		"a worker that fenced itself reports its tasks lost, not failed": {
			spec: "1-2", lease: 10 * time.Second, steps: []step{
				{pull: &Pull{Worker: "a", Slots: 2, Free: 2}, want: Grant{Tasks: []Lease{l(1, 1), l(2, 1)}}},
				{at: 7 * time.Second, pull: &Pull{Worker: "a", Slots: 2, Free: 1, Holding: []Lease{l(2, 1)},
					Done: []Result{{Lease: l(1, 1), Exit: ExitLost, Expired: true}}}, want: Grant{Tasks: []Lease{l(1, 2)}}},
			},
			counts: structs.ArrayProgress{Total: 2, Running: 2, Lost: 1, PeakRunning: 2},
		},
		"a task lost MaxLostAttempts times then uses up its retries": {
			spec: "1", lease: 10 * time.Second, steps: []step{
				{pull: &Pull{Worker: "a", Slots: 1, Free: 1}, want: Grant{Tasks: []Lease{l(1, 1)}}},
				{at: 11 * time.Second, pull: &Pull{Worker: "b", Slots: 1, Free: 1}, want: Grant{Tasks: []Lease{l(1, 2)}}},
				{at: 22 * time.Second, pull: &Pull{Worker: "c", Slots: 1, Free: 1}, want: Grant{Tasks: []Lease{l(1, 3)}}},
				{at: 33 * time.Second, pull: &Pull{Worker: "d", Slots: 1, Free: 1}, want: Grant{Tasks: []Lease{l(1, 4)}}},
				{at: 44 * time.Second, pull: &Pull{Worker: "e", Slots: 1, Free: 1}, want: Grant{Drained: true, AllDone: true}},
			},
			counts: structs.ArrayProgress{Total: 1, Failed: 1, Lost: 3, PeakRunning: 1},
		},
		// Batches: a worker asks for its free slots plus a prefetch, and
		// reports every result since its last pull at once.
		"a batch grant beyond the slots (prefetch) and a batch report with retries first": {
			spec: "1-8", retries: 1, steps: []step{
				{pull: &Pull{Worker: "a", Slots: 2, Free: 3}, want: Grant{Tasks: []Lease{l(1, 1), l(2, 1), l(3, 1)}}},
				{pull: &Pull{Worker: "a", Slots: 2, Free: 3, Done: []Result{ok(1, 1), fail(2, 1), ok(3, 1)}},
					want: Grant{Tasks: []Lease{l(2, 2), l(4, 1), l(5, 1)}}},
				{pull: &Pull{Worker: "a", Slots: 2, Free: 2, Done: []Result{ok(2, 2), ok(4, 1)}, Holding: []Lease{l(5, 1)}},
					want: Grant{Tasks: []Lease{l(6, 1), l(7, 1)}}},
			},
			counts: structs.ArrayProgress{Total: 8, Pending: 1, Running: 3, Succeeded: 4, Retried: 1, PeakRunning: 3},
		},
		"a batch report frees throttle room the same answer grants": {
			spec: "1-6%3", steps: []step{
				{pull: &Pull{Worker: "a", Slots: 2, Free: 4}, want: Grant{Tasks: []Lease{l(1, 1), l(2, 1), l(3, 1)}}},
				{pull: &Pull{Worker: "a", Slots: 2, Free: 3, Done: []Result{ok(1, 1), ok(3, 1)}, Holding: []Lease{l(2, 1)}},
					want: Grant{Tasks: []Lease{l(4, 1), l(5, 1)}}},
			},
			counts: structs.ArrayProgress{Total: 6, Pending: 1, Running: 3, Succeeded: 2, PeakRunning: 3},
		},
		"a batch half of whose leases expired: only the current attempts count": {
			spec: "1-4", lease: 10 * time.Second, steps: []step{
				{pull: &Pull{Worker: "a", Slots: 2, Free: 2}, want: Grant{Tasks: []Lease{l(1, 1), l(2, 1)}}},
				// a is silent past its lease: b gets its tasks again.
				{at: 11 * time.Second, pull: &Pull{Worker: "b", Slots: 2, Free: 2}, want: Grant{Tasks: []Lease{l(1, 2), l(2, 2)}}},
				// a comes back holding both: killed; it takes task 3.
				{at: 12 * time.Second, pull: &Pull{Worker: "a", Slots: 2, Free: 1, Holding: []Lease{l(1, 1), l(2, 1)}},
					want: Grant{Kill: []Lease{l(1, 1), l(2, 1)}, Tasks: []Lease{l(3, 1)}}},
				// One batch: a late success of an expired attempt, a killed
				// one, and the current task 3: only task 3 is recorded.
				{at: 13 * time.Second, pull: &Pull{Worker: "a", Slots: 2, Free: 2,
					Done: []Result{ok(1, 1), {Lease: l(2, 1), Exit: 137}, ok(3, 1)}}, want: Grant{Tasks: []Lease{l(4, 1)}}},
				{at: 14 * time.Second, pull: &Pull{Worker: "b", Slots: 2, Free: 2, Done: []Result{ok(1, 2), ok(2, 2)}}, want: Grant{Drained: true}},
			},
			counts: structs.ArrayProgress{Total: 4, Running: 1, Succeeded: 3, Lost: 2, PeakRunning: 3},
		},
		"a batch from a worker that fenced part of its tasks: lost ones again, successes once": {
			spec: "1-3", lease: 10 * time.Second, steps: []step{
				{pull: &Pull{Worker: "a", Slots: 3, Free: 3}, want: Grant{Tasks: []Lease{l(1, 1), l(2, 1), l(3, 1)}}},
				{at: 6 * time.Second, pull: &Pull{Worker: "a", Slots: 3, Free: 3,
					Done: []Result{ok(1, 1), {Lease: l(2, 1), Exit: ExitLost, Expired: true}, {Lease: l(3, 1), Exit: ExitLost, Expired: true}}},
					want: Grant{Tasks: []Lease{l(2, 2), l(3, 2)}}},
			},
			counts: structs.ArrayProgress{Total: 3, Running: 2, Succeeded: 1, Lost: 2, PeakRunning: 3},
		},
		"a task canceled while queued at its worker ends canceled in the batch": {
			spec: "1-3", steps: []step{
				{pull: &Pull{Worker: "a", Slots: 1, Free: 2}, want: Grant{Tasks: []Lease{l(1, 1), l(2, 1)}}},
				{cancel: []int{2}},
				{pull: &Pull{Worker: "a", Slots: 1, Free: 0, Holding: []Lease{l(1, 1), l(2, 1)}}, want: Grant{Kill: []Lease{l(2, 1)}}},
				{pull: &Pull{Worker: "a", Slots: 1, Free: 2, Done: []Result{{Lease: l(2, 1), Exit: 137}, ok(1, 1)}},
					want: Grant{Tasks: []Lease{l(3, 1)}}},
			},
			counts: structs.ArrayProgress{Total: 3, Running: 1, Succeeded: 1, Canceled: 1, PeakRunning: 2},
		},
		// Index lists (--array=1,3,7-9): exactly the listed indices, in
		// index order, whatever order they were written in.
		"a list grants exactly its indices in order": {
			spec: "20-30:5,7,3-4,1", steps: []step{
				{pull: &Pull{Worker: "a", Slots: 4, Free: 4}, want: Grant{Tasks: []Lease{l(1, 1), l(3, 1), l(4, 1), l(7, 1)}}},
				{pull: &Pull{Worker: "b", Slots: 8, Free: 8}, want: Grant{Tasks: []Lease{l(20, 1), l(25, 1), l(30, 1)}}},
				{pull: &Pull{Worker: "a", Slots: 4, Free: 4, Done: []Result{ok(1, 1), ok(3, 1), ok(4, 1), ok(7, 1)}}, want: Grant{Drained: true}},
			},
			counts: structs.ArrayProgress{Total: 7, Running: 3, Succeeded: 4, PeakRunning: 7},
		},
		"a list's throttle holds the whole list to max running": {
			spec: "1,5,9-11%2", steps: []step{
				{pull: &Pull{Worker: "a", Slots: 8, Free: 8}, want: Grant{Tasks: []Lease{l(1, 1), l(5, 1)}}},
				{pull: &Pull{Worker: "b", Slots: 8, Free: 8}, want: Grant{}},
				{pull: &Pull{Worker: "a", Slots: 8, Free: 7, Done: []Result{ok(5, 1)}, Holding: []Lease{l(1, 1)}}, want: Grant{Tasks: []Lease{l(9, 1)}}},
			},
			counts: structs.ArrayProgress{Total: 5, Pending: 2, Running: 2, Succeeded: 1, PeakRunning: 2},
		},
		"a list: retry, cancel (an index outside it ignored), lost lease": {
			spec: "2,4,8-9", retries: 1, lease: 10 * time.Second, steps: []step{
				{pull: &Pull{Worker: "a", Slots: 2, Free: 2}, want: Grant{Tasks: []Lease{l(2, 1), l(4, 1)}}},
				{pull: &Pull{Worker: "a", Slots: 2, Free: 1, Done: []Result{fail(2, 1)}, Holding: []Lease{l(4, 1)}}, want: Grant{Tasks: []Lease{l(2, 2)}}},
				{cancel: []int{3, 9}},
				{at: 11 * time.Second, pull: &Pull{Worker: "b", Slots: 4, Free: 4}, want: Grant{Tasks: []Lease{l(2, 3), l(4, 2), l(8, 1)}}},
			},
			counts: structs.ArrayProgress{Total: 4, Running: 3, Canceled: 1, Retried: 1, Lost: 2, PeakRunning: 3},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			d := NewDispatcher(spec(tc.spec), tc.retries)
			d.LeaseTTL = tc.lease
			replayed := NewDispatcher(spec(tc.spec), tc.retries)
			for i, s := range tc.steps {
				if s.cancel != nil {
					for _, r := range d.Cancel(s.cancel) {
						replayed.Apply(r)
					}
					continue
				}
				if s.expire {
					for _, r := range d.Expire(t0.Add(s.at)) {
						replayed.Apply(r)
					}
					continue
				}
				g, recs := d.Handle(*s.pull, t0.Add(s.at))
				if diff := cmp.Diff(s.want, g); diff != "" {
					t.Errorf("step %d: grant (-want +got):\n%s", i, diff)
				}
				for _, r := range recs {
					replayed.Apply(r)
				}
			}
			got := d.Progress()
			got.Done, got.Failures, got.RunningTasks, got.Nodes = "", nil, nil, 0
			if diff := cmp.Diff(tc.counts, got); diff != "" {
				t.Errorf("progress (-want +got):\n%s", diff)
			}
			// The journal's records rebuild the same state.
			a, b := d.Progress(), replayed.Progress()
			a.Nodes, b.Nodes, b.PeakRunning, a.PeakRunning = 0, 0, 0, 0
			if diff := cmp.Diff(a, b); diff != "" {
				t.Errorf("replayed records differ (-live +replayed):\n%s", diff)
			}
		})
	}
}

// TestJournalReplay: a dispatcher restarted on its journal hands out no
// task that finished or runs, and a torn last line is dropped.
func TestJournalReplay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal")
	d := NewDispatcher(spec("1-6"), 0)
	j, n, err := OpenJournal(path, d)
	if err != nil || n != 0 {
		t.Fatal(n, err)
	}
	_, recs := d.Handle(Pull{Worker: "a", Slots: 3, Free: 3}, t0)
	if err := j.Append(recs); err != nil {
		t.Fatal(err)
	}
	_, recs = d.Handle(Pull{Worker: "a", Slots: 3, Free: 0, Done: []Result{ok(1, 1)}, Holding: []Lease{l(2, 1), l(3, 1)}}, t0)
	if err := j.Append(recs); err != nil {
		t.Fatal(err)
	}
	j.f.WriteString(`{"k":"start","w":"a","l":{"ind`) // torn
	j.Close()

	d2 := NewDispatcher(spec("1-6"), 0)
	j2, n, err := OpenJournal(path, d2)
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	if n != 4 {
		t.Errorf("replayed %d records, want 4 (3 starts, 1 end)", n)
	}
	// Leases of workers known from the journal run from the restart: a's
	// tasks are not expired by the first pull after it.
	d2.LeaseTTL = time.Second
	g, _ := d2.Handle(Pull{Worker: "b", Slots: 8, Free: 8}, t0.Add(time.Hour))
	if diff := cmp.Diff([]Lease{l(4, 1), l(5, 1), l(6, 1)}, g.Tasks); diff != "" {
		t.Errorf("after replay, grants (-want +got):\n%s", diff)
	}
	// Worker a reports its running tasks to the new dispatcher.
	d2.Handle(Pull{Worker: "a", Slots: 3, Free: 0, Done: []Result{ok(2, 1), ok(3, 1)}}, t0.Add(time.Hour+time.Millisecond))
	if p := d2.Progress(); p.Succeeded != 3 || p.Running != 3 {
		t.Errorf("progress after replay %+v", p)
	}
}

// TestListExactlyOnceAcrossRestarts: an index list run by two workers
// while the dispatcher restarts on its journal every few pulls: every
// listed index is granted once (attempt 1) and recorded succeeded once,
// no other index is ever granted, and the progress lists exactly them.
func TestListExactlyOnceAcrossRestarts(t *testing.T) {
	a := spec("3,1,10-40:10,41-43,100")
	path := filepath.Join(t.TempDir(), "journal")
	open := func() (*Dispatcher, *Journal) {
		d := NewDispatcher(a, 0)
		j, _, err := OpenJournal(path, d)
		if err != nil {
			t.Fatal(err)
		}
		return d, j
	}
	d, j := open()
	granted := map[int]int{}
	held := map[string][]Lease{}
	now := t0
	for pull := 0; ; pull++ {
		w := []string{"a", "b"}[pull%2]
		var done []Result
		for _, x := range held[w] {
			done = append(done, Result{Lease: x})
		}
		now = now.Add(time.Millisecond)
		g, recs := d.Handle(Pull{Worker: w, Slots: 2, Free: 2, Done: done}, now)
		if err := j.Append(recs); err != nil {
			t.Fatal(err)
		}
		held[w] = g.Tasks
		for _, x := range g.Tasks {
			granted[x.Index]++
			if x.Attempt != 1 || !a.Contains(x.Index) {
				t.Errorf("granted %+v", x)
			}
		}
		if g.AllDone {
			break
		}
		if pull%3 == 2 { // the head's container restarts: replay
			j.Close()
			d, j = open()
		}
		if pull > 100 {
			t.Fatal("the array never ended")
		}
	}
	j.Close()
	for _, i := range a.All() {
		if granted[i] != 1 {
			t.Errorf("task %d granted %d times", i, granted[i])
		}
	}
	p := d.Progress()
	if p.Succeeded != a.Count() || p.Total != 10 || p.Done != "1,3,10,20,30,40-43,100" {
		t.Errorf("progress %+v", p)
	}
	// A fresh replay of the whole journal agrees.
	d2, j2 := open()
	j2.Close()
	if p2 := d2.Progress(); p2.Succeeded != p.Succeeded || p2.Done != p.Done {
		t.Errorf("replayed %+v, live %+v", p2, p)
	}
}
