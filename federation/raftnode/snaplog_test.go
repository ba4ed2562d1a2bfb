package raftnode

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// openSnapLog opens a fresh log store of kind with entries from..to of
// term, wrapped as New wraps it.
func openSnapLog(t *testing.T, kind string, from, to, term uint64) *snapLog {
	t.Helper()
	cfg, err := Config{ID: "n1", BindAddr: "127.0.0.1:0", DataDir: t.TempDir(), LogStore: kind}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	st, err := openStores(cfg, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.closeFn() })
	var entries []*raft.Log
	for i := from; i <= to && i > 0; i++ {
		entries = append(entries, &raft.Log{Index: i, Term: term, Type: raft.LogCommand, Data: []byte{byte(i)}})
	}
	if len(entries) > 0 {
		if err := st.logs.StoreLogs(entries); err != nil {
			t.Fatal(err)
		}
	}
	return newSnapLog(st.logs, nil, hclog.NewNullLogger())
}

// span is what a log holds: first and last index, and the term of every
// entry readable in between (0: not readable).
type span struct {
	First, Last uint64
	Terms       map[uint64]uint64
}

func spanOf(t *testing.T, l *snapLog, lo, hi uint64) span {
	t.Helper()
	first, err := l.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	last, err := l.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	s := span{First: first, Last: last, Terms: map[uint64]uint64{}}
	for i := lo; i <= hi; i++ {
		var e raft.Log
		if err := l.GetLog(i, &e); err == nil {
			if e.Index != i {
				t.Fatalf("entry %d reads back as %d", i, e.Index)
			}
			s.Terms[i] = e.Term
		}
	}
	return s
}

func terms(from, to, term uint64) map[uint64]uint64 {
	m := map[uint64]uint64{}
	for i := from; i <= to; i++ {
		m[i] = term
	}
	return m
}

func TestSnapLogAfterRestore(t *testing.T) {
	type tc struct {
		from, to, term       uint64 // the log before the restore
		snapIndex, snapTerm  uint64
		want                 span
		wantNoopAtSnapshot   bool
		appendAt, appendTerm uint64 // then raft appends this entry
		wantAfterAppend      span
	}
	cases := map[string]tc{
		// A lagging follower: the snapshot covers its whole log.
		"log ends before the snapshot": {
			from: 1, to: 10, term: 2, snapIndex: 20, snapTerm: 3,
			want:               span{Terms: map[uint64]uint64{20: 3}},
			wantNoopAtSnapshot: true,
			appendAt:           21, appendTerm: 3,
			wantAfterAppend: span{First: 21, Last: 21, Terms: map[uint64]uint64{20: 3, 21: 3}},
		},
		// A deposed leader's tail runs past the snapshot: the entries up
		// to it go, the rest stay until the leader's append replaces them.
		"log runs past the snapshot with another term": {
			from: 1, to: 30, term: 2, snapIndex: 20, snapTerm: 3,
			want:               span{First: 21, Last: 30, Terms: merge(map[uint64]uint64{20: 3}, terms(21, 30, 2))},
			wantNoopAtSnapshot: true,
		},
		// The log agrees with the snapshot: nothing to do.
		"log holds the snapshot's entry": {
			from: 1, to: 30, term: 3, snapIndex: 20, snapTerm: 3,
			want: span{First: 1, Last: 30, Terms: terms(1, 30, 3)},
		},
		// An empty log (a new replica) just gets the snapshot.
		"empty log": {
			snapIndex: 20, snapTerm: 3,
			want:               span{Terms: map[uint64]uint64{20: 3}},
			wantNoopAtSnapshot: true,
			appendAt:           21, appendTerm: 4,
			wantAfterAppend: span{First: 21, Last: 21, Terms: map[uint64]uint64{20: 3, 21: 4}},
		},
	}
	for _, kind := range []string{LogStoreWAL, LogStoreBolt} {
		for name, c := range cases {
			t.Run(kind+"/"+name, func(t *testing.T) {
				l := openSnapLog(t, kind, c.from, c.to, c.term)
				if err := l.restored(c.snapIndex, c.snapTerm); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(c.want, spanOf(t, l, 1, 40)); diff != "" {
					t.Errorf("log after restoring snapshot %d (-want +got):\n%s", c.snapIndex, diff)
				}
				var e raft.Log
				if err := l.GetLog(c.snapIndex, &e); err != nil {
					t.Fatalf("entry %d: %v", c.snapIndex, err)
				}
				if got := e.Type == raft.LogNoop; got != c.wantNoopAtSnapshot {
					t.Errorf("entry %d is %v, want a no-op: %v", c.snapIndex, e.Type, c.wantNoopAtSnapshot)
				}
				if c.appendAt == 0 {
					return
				}
				if err := l.StoreLogs([]*raft.Log{{Index: c.appendAt, Term: c.appendTerm, Type: raft.LogNoop}}); err != nil {
					t.Fatalf("append %d: %v", c.appendAt, err)
				}
				if diff := cmp.Diff(c.wantAfterAppend, spanOf(t, l, 1, 40)); diff != "" {
					t.Errorf("log after appending %d (-want +got):\n%s", c.appendAt, diff)
				}
			})
		}
	}
}

func merge(a, b map[uint64]uint64) map[uint64]uint64 {
	for k, v := range b {
		a[k] = v
	}
	return a
}

// TestSnapLogAppendAfterSnapshot: raft, having installed a snapshot past
// the end of the log without the state machine's hook (as the non-monotonic
// path leaves it), appends right after the snapshot; raft-wal cannot hold
// the gap, so the covered entries go first. An append with a gap the
// snapshot does not cover is the store's to refuse.
func TestSnapLogAppendAfterSnapshot(t *testing.T) {
	for _, kind := range []string{LogStoreWAL, LogStoreBolt} {
		t.Run(kind, func(t *testing.T) {
			l := openSnapLog(t, kind, 1, 10, 2)
			l.noteSnapshot(20, 3)
			if err := l.StoreLogs([]*raft.Log{{Index: 21, Term: 3, Type: raft.LogNoop}}); err != nil {
				t.Fatal(err)
			}
			want := span{First: 21, Last: 21, Terms: map[uint64]uint64{20: 3, 21: 3}}
			if diff := cmp.Diff(want, spanOf(t, l, 1, 40)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if kind == LogStoreWAL {
				if err := l.StoreLogs([]*raft.Log{{Index: 30, Term: 3, Type: raft.LogNoop}}); err == nil {
					t.Error("raft-wal accepted an append past a gap no snapshot covers")
				}
			}
		})
	}
}

// TestSnapLogMakesUpOnlyTheSnapshotEntry: the no-op stands only for the
// newest snapshot's index, only when the log holds nothing up to it, and
// never for index 1 (a leader sends entry 1 without a previous entry).
func TestSnapLogMakesUpOnlyTheSnapshotEntry(t *testing.T) {
	l := openSnapLog(t, LogStoreBolt, 15, 30, 2)
	l.noteSnapshot(20, 3)
	var e raft.Log
	if err := l.GetLog(20, &e); err != nil || e.Term != 2 || e.Type != raft.LogCommand {
		t.Errorf("entry 20 = %+v, %v; want the log's own", e, err)
	}
	l = openSnapLog(t, LogStoreBolt, 21, 30, 2)
	l.noteSnapshot(20, 3)
	if err := l.GetLog(19, &e); err == nil {
		t.Errorf("entry 19 before the snapshot's reads as %+v", e)
	}
	l.noteSnapshot(10, 1) // older: ignored
	if err := l.GetLog(20, &e); err != nil || e.Term != 3 || e.Type != raft.LogNoop {
		t.Errorf("entry 20 = %+v, %v; want a no-op of term 3", e, err)
	}
	l = openSnapLog(t, LogStoreBolt, 0, 0, 0)
	l.noteSnapshot(1, 1)
	if err := l.GetLog(1, &e); err == nil {
		t.Errorf("entry 1 made up: %+v", e)
	}
	if _, ok := any(l).(raft.MonotonicLogStore); ok {
		t.Error("snapLog is a MonotonicLogStore: raft would empty the log behind its last-entry mark")
	}
}
