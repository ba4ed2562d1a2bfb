package raftnode

import (
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// TestRestoreWritesSnapshotEntry: a restored directory's log holds one
// no-op entry at the snapshot's index and term, on both log stores, so a
// follower of the restored cluster can match a leader's first append
// from its own log (see RestoreSnapshot) and the startup checks accept it.
func TestRestoreWritesSnapshotEntry(t *testing.T) {
	for _, kind := range []string{LogStoreWAL, LogStoreBolt} {
		t.Run(kind, func(t *testing.T) {
			cfg := Config{
				ID:             "r1",
				BindAddr:       "127.0.0.1:0",
				DataDir:        t.TempDir(),
				LogStore:       kind,
				BootstrapPeers: []raft.Server{{ID: "r1", Address: "127.0.0.1:1"}, {ID: "r2", Address: "127.0.0.1:2"}},
			}
			const index = 5000
			if err := RestoreSnapshot(cfg, index, strings.NewReader("state"), hclog.NewNullLogger()); err != nil {
				t.Fatal(err)
			}
			full, err := cfg.withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			st, err := openStores(full, hclog.NewNullLogger())
			if err != nil {
				t.Fatal(err)
			}
			defer st.closeFn()
			span, snap, err := verifyStores(full, st)
			if err != nil {
				t.Fatalf("startup checks refuse the restored directory: %v", err)
			}
			if snap == nil || snap.Index != index || snap.Term != restoreTerm {
				t.Fatalf("snapshot %+v, want index %d term %d", snap, index, restoreTerm)
			}
			if span.first != index || span.last != index || span.lastTerm != restoreTerm {
				t.Fatalf("log spans %d..%d (last term %d), want the one entry %d of term %d",
					span.first, span.last, span.lastTerm, index, restoreTerm)
			}
			var l raft.Log
			if err := st.logs.GetLog(index, &l); err != nil || l.Type != raft.LogNoop {
				t.Fatalf("entry %d: %+v, %v; want a no-op", index, l, err)
			}
			if err := RestoreSnapshot(cfg, index, strings.NewReader("state"), nil); err == nil {
				t.Fatal("a second restore into the same directory was accepted")
			}
		})
	}
}
