package raftnode

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
)

// TestReadLogSpan covers what the startup check accepts of a log and the
// snapshot raft would restore, without a store on disk.
func TestReadLogSpan(t *testing.T) {
	logs := func(first, last uint64) raft.LogStore {
		s := raft.NewInmemStore()
		for i := first; i <= last && last > 0; i++ {
			if err := s.StoreLog(&raft.Log{Index: i, Term: 3}); err != nil {
				t.Fatal(err)
			}
		}
		return s
	}
	snap := func(index uint64) *raft.SnapshotMeta { return &raft.SnapshotMeta{ID: "s", Index: index, Term: 3} }
	cases := map[string]struct {
		logs    raft.LogStore
		snap    *raft.SnapshotMeta
		wantErr string
		last    uint64
	}{
		"empty":                          {logs: logs(0, 0)},
		"empty log, snapshot":            {logs: logs(0, 0), snap: snap(40)},
		"whole log":                      {logs: logs(1, 50), last: 50},
		"compacted, snapshot covers":     {logs: logs(31, 60), snap: snap(40), last: 60},
		"compacted up to the snapshot":   {logs: logs(41, 60), snap: snap(40), last: 60},
		"log behind the snapshot":        {logs: logs(1, 30), snap: snap(40), last: 30},
		"gap after the snapshot":         {logs: logs(45, 60), snap: snap(40), wantErr: "entries 41 to 44 are missing"},
		"compacted without any snapshot": {logs: logs(10, 60), wantErr: "no snapshot holds entries 1 to 9"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			span, err := readLogSpan(tc.logs, tc.snap)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if span.last != tc.last {
				t.Errorf("last = %d, want %d", span.last, tc.last)
			}
		})
	}
}

// TestSafelyTurnsPanicsIntoErrors: storage libraries panic on damaged
// files; the startup check must report that, not crash.
func TestSafelyTurnsPanicsIntoErrors(t *testing.T) {
	err := safely(func() error { var b []byte; _ = b[3]; return nil })
	if err == nil || !strings.Contains(err.Error(), "damaged data") {
		t.Fatalf("err = %v", err)
	}
	want := errors.New("plain")
	if err := safely(func() error { return want }); err != want {
		t.Fatalf("err = %v, want %v", err, want)
	}
}

// TestInspectNewDir: an empty data directory is fine (a new replica).
func TestInspectNewDir(t *testing.T) {
	in := Inspect(t.TempDir())
	if in.Err != nil || in.Store != "" {
		t.Fatalf("inspection of an empty dir: store %q, err %v", in.Store, in.Err)
	}
	var b strings.Builder
	if _, err := in.WriteTo(&b); err != nil || !strings.Contains(b.String(), "ok, a replica can start") {
		t.Fatalf("report %q, %v", b.String(), err)
	}
	if in := Inspect("/nonexistent/flotilla"); !errors.Is(in.Err, os.ErrNotExist) {
		t.Fatalf("missing dir: %v", in.Err)
	}
}
