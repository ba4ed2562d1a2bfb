package state

import (
	"fmt"
	"slices"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestTxnClonesOnlyTreesItWrites: a transaction makes its own version
// of an archive tree at its first write to it and writes that version
// from then on (its nodes copied once per transaction, however many jobs
// it writes); the trees and parts it does not write stay the published
// ones, and the published trees are never written, not even their
// headers or nodes, so an open reader keeps its view and an abort leaves
// nothing behind.
func TestTxnClonesOnlyTreesItWrites(t *testing.T) {
	s := newStore(t)
	seed(t, s)
	for i := range 100 {
		submit(t, s, uint64(10+i), jobID(i), "acme", "alice", "n3")
	}
	before := s.Read()
	published := before.ar.live.ids.ptree // the header, by value
	publishedRoot := *published.root      // the root node, by value
	w := s.Write(200)
	var first *ptNode[*structs.Job]
	for i := range 22 {
		if _, err := w.SubmitJob(&structs.Job{ID: fmt.Sprintf("batch-%02d", i), Tenant: "acme", Owner: "alice",
			App: "solver", MachineType: "n3", Nodes: 1, SubmitTime: t0}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = w.ar.live.ids.root
		} else if w.ar.live.ids.root != first {
			t.Fatalf("submission %d copied the ID tree's root again: want one copy per transaction", i)
		}
		if w.ar.live.ids.gen != w.ar.live.gen || w.ar.live.ids.root.gen != w.ar.live.gen {
			t.Fatalf("the transaction writes a tree of generation %d (root %d), its own is %d",
				w.ar.live.ids.gen, w.ar.live.ids.root.gen, w.ar.live.gen)
		}
	}
	if first == before.ar.live.ids.root {
		t.Fatal("the transaction wrote the published ID tree's root")
	}
	if before.ar.live.ids.ptree.root != published.root || before.ar.live.ids.Len() != published.Len() ||
		before.ar.live.ids.gen != published.gen || *before.ar.live.ids.root != publishedRoot {
		t.Fatal("the transaction changed the published tree's header or root")
	}
	for name, pair := range map[string][2]*ptree[*structs.Job]{
		"live clusterMod": {&w.ar.live.clusterMod.ptree, &before.ar.live.clusterMod.ptree},
		"live prevMod":    {&w.ar.live.prevMod.ptree, &before.ar.live.prevMod.ptree},
		"live active":     {&w.ar.live.active.ptree, &before.ar.live.active.ptree},
	} {
		if pair[0].root != pair[1].root || pair[0].gen != pair[1].gen {
			t.Errorf("tree %s written by a transaction that does not write it", name)
		}
	}
	if w.ar.finishedJobs != before.ar.finishedJobs || w.ar.records != before.ar.records {
		t.Error("a submission copied the finished jobs' or the records' part")
	}
	if n := before.ar.live.ids.Len(); n != 100 {
		t.Errorf("an open reader sees %d jobs in play, want 100", n)
	}
	w.Abort()
	if r := s.Read(); r.ar.live.ids.root != before.ar.live.ids.root || r.ar.live.ids.Len() != 100 {
		t.Error("an aborted transaction's version was published")
	}
	// A second transaction after the abort copies again, from the
	// published tree, and its commit publishes its version.
	w = s.Write(200)
	if _, err := w.SubmitJob(&structs.Job{ID: "after-abort", Tenant: "acme", Owner: "alice",
		App: "solver", MachineType: "n3", Nodes: 1, SubmitTime: t0}); err != nil {
		t.Fatal(err)
	}
	own := w.ar.live.ids.root
	if own == first || own == before.ar.live.ids.root {
		t.Fatal("the transaction after an abort writes another transaction's tree")
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	r := s.Read()
	if r.ar.live.ids.root != own || r.ar.live.ids.Len() != 101 || before.ar.live.ids.Len() != 100 {
		t.Errorf("commit published %d jobs in play (own version: %v), the old view has %d",
			r.ar.live.ids.Len(), r.ar.live.ids.root == own, before.ar.live.ids.Len())
	}
	if *before.ar.live.ids.root != publishedRoot {
		t.Fatal("a commit changed the old published tree's root")
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
