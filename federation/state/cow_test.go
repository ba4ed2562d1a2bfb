package state

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/btree"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestTxnClonesOnlyTreesItWrites: a transaction clones a tree of the
// archive at its first write to it and writes that clone from then on
// (one clone per tree and transaction, however many jobs it writes); the
// trees and parts it does not write stay the published ones, and the
// published trees are never written, not even their headers, so an open
// reader keeps its view and an abort leaves nothing behind.
func TestTxnClonesOnlyTreesItWrites(t *testing.T) {
	s := newStore(t)
	seed(t, s)
	for i := range 100 {
		submit(t, s, uint64(10+i), jobID(i), "acme", "alice", "n3")
	}
	before := s.Read()
	published := *before.ar.live.ids.BTreeG // the header, by value
	w := s.Write(200)
	var first *btree.BTreeG[idEntry[*structs.Job]]
	for i := range 22 {
		if _, err := w.SubmitJob(&structs.Job{ID: fmt.Sprintf("batch-%02d", i), Tenant: "acme", Owner: "alice",
			App: "solver", MachineType: "n3", Nodes: 1, SubmitTime: t0}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = w.ar.live.ids.BTreeG
		} else if w.ar.live.ids.BTreeG != first {
			t.Fatalf("submission %d cloned the ID tree again: want one clone per transaction", i)
		}
	}
	if first == before.ar.live.ids.BTreeG {
		t.Fatal("the transaction wrote the published ID tree")
	}
	if *before.ar.live.ids.BTreeG != published {
		t.Fatal("cloning changed the published tree's header")
	}
	for name, pair := range map[string][2]*btree.BTreeG[*structs.Job]{
		"live clusterMod": {w.ar.live.clusterMod.BTreeG, before.ar.live.clusterMod.BTreeG},
		"live prevMod":    {w.ar.live.prevMod.BTreeG, before.ar.live.prevMod.BTreeG},
		"live active":     {w.ar.live.active.BTreeG, before.ar.live.active.BTreeG},
	} {
		if pair[0] != pair[1] {
			t.Errorf("tree %s cloned by a transaction that does not write it", name)
		}
	}
	if w.ar.finishedJobs != before.ar.finishedJobs || w.ar.records != before.ar.records {
		t.Error("a submission copied the finished jobs' or the records' part")
	}
	if n := before.ar.live.ids.Len(); n != 100 {
		t.Errorf("an open reader sees %d jobs in play, want 100", n)
	}
	w.Abort()
	if r := s.Read(); r.ar.live.ids.BTreeG != before.ar.live.ids.BTreeG || r.ar.live.ids.Len() != 100 {
		t.Error("an aborted transaction's clone was published")
	}
	// A second transaction after the abort clones again, from the
	// published tree, and its commit publishes its clone.
	w = s.Write(200)
	if _, err := w.SubmitJob(&structs.Job{ID: "after-abort", Tenant: "acme", Owner: "alice",
		App: "solver", MachineType: "n3", Nodes: 1, SubmitTime: t0}); err != nil {
		t.Fatal(err)
	}
	own := w.ar.live.ids.BTreeG
	if own == first || own == before.ar.live.ids.BTreeG {
		t.Fatal("the transaction after an abort writes another transaction's tree")
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	r := s.Read()
	if r.ar.live.ids.BTreeG != own || r.ar.live.ids.Len() != 101 || before.ar.live.ids.Len() != 100 {
		t.Errorf("commit published %d jobs in play (own clone: %v), the old view has %d",
			r.ar.live.ids.Len(), r.ar.live.ids.BTreeG == own, before.ar.live.ids.Len())
	}
	if *before.ar.live.ids.BTreeG != published {
		t.Fatal("a commit changed the old published tree's header")
	}
}

// TestSequencesInArchive: the sequences live in the archive, so a
// transaction's draws are its own until it commits (an aborted
// submission's number is handed out again), and a snapshot writes them
// as meta rows in key order (countersByName lists every counter once,
// sorted by name), as the meta table did.
func TestSequencesInArchive(t *testing.T) {
	byName := countersByName()
	seen := map[counter]bool{}
	for i, c := range byName {
		if seen[c] || (i > 0 && byName[i-1].name() >= c.name()) {
			t.Fatalf("countersByName %v: not every counter once in name order", byName)
		}
		seen[c] = true
		if got, ok := counterNamed(c.name()); !ok || got != c {
			t.Errorf("counterNamed(%q) = %v, %v", c.name(), got, ok)
		}
	}
	s := newStore(t)
	seed(t, s)
	first := submit(t, s, 10, "first", "acme", "alice", "n3")
	w := s.Write(11)
	j, err := w.SubmitJob(&structs.Job{ID: "dropped", Tenant: "acme", Owner: "alice", App: "solver", MachineType: "n3", Nodes: 1, SubmitTime: t0})
	if err != nil || j.Number != first.Number+1 {
		t.Fatalf("submission in the transaction: %v, %v", j, err)
	}
	if r := s.Read(); r.ar.seqs[cJobs] != first.Number {
		t.Errorf("a reader sees job number %d drawn, want %d (the open transaction's draw is its own)", r.ar.seqs[cJobs], first.Number)
	}
	w.Abort()
	if again := submit(t, s, 11, "kept", "acme", "alice", "n3"); again.Number != first.Number+1 {
		t.Errorf("after an abort the next job is number %d, want %d", again.Number, first.Number+1)
	}
	var keys []string
	if err := s.Snapshot().eachRow(tableMeta, func(row any) bool {
		m := row.(*metaEntry)
		keys = append(keys, m.Key)
		if m.Key == cJobs.name() && m.Value != first.Number+1 {
			t.Errorf("snapshot row %s = %d, want %d", m.Key, m.Value, first.Number+1)
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.IsSorted(keys) || !slices.Contains(keys, cJobs.name()) || !slices.Contains(keys, cEvents.name()) {
		t.Errorf("snapshot meta rows %v: want the sequences' rows merged in key order", keys)
	}
}
