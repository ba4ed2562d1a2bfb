package state

import "github.com/google/btree"

// A write transaction changes the archive (archive.go) copy-on-write,
// tree by tree: the first write to a tree in a transaction makes the
// transaction's own clone of it (btree.Clone: the nodes stay shared, and
// each node the transaction's writes touch is copied once, at its first
// write), and every later write of the transaction goes to that clone. A
// tree the transaction does not write stays the published one, shared
// with readers. Its commit publishes its clones (WriteTxn.Commit), its
// abort drops them: the published trees are never written.
//
// Which transaction owns a clone is a generation number: every write
// transaction draws a new one (Store.txnGen), the part structs it changes
// are its own copies stamped with it, and a tree whose stamp differs
// from its part's is someone else's (published, or built by a restore
// with generation 0, which no transaction draws).

// cowTree is one of an archive part's B-trees. Reads go to the embedded
// tree; writes go through w.
type cowTree[T any] struct {
	*btree.BTreeG[T]
	gen uint64 // the transaction whose own clone the tree is
}

func newCowTree[T any](less btree.LessFunc[T]) cowTree[T] {
	return cowTree[T]{BTreeG: btree.NewG(archiveDegree, less)}
}

// w is the tree for transaction gen to write: its own clone, made at its
// first write. The clone is made from a copy of the published tree's
// header, because Clone gives its receiver a new copy-on-write context
// too: the published tree, which readers hold, is never written, not
// even its header.
func (c *cowTree[T]) w(gen uint64) *btree.BTreeG[T] {
	if c.gen != gen {
		src := *c.BTreeG
		c.BTreeG = src.Clone()
		c.gen = gen
	}
	return c.BTreeG
}
