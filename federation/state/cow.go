package state

// A write transaction changes the archive (archive.go) copy-on-write,
// tree by tree: the first write to a tree in a transaction makes the
// transaction's own version of it, and every later write of the
// transaction goes to that version. A tree is a persistent B-tree
// (ptree.go): the version is a copy of the tree's header stamped with the
// transaction's generation (no allocation); the nodes stay shared, and
// each node the transaction's writes touch is copied once, at its first
// write, and written in place after that. A tree the transaction does not
// write stays the published one, shared with readers. Its commit
// publishes its versions (WriteTxn.Commit), its abort drops them: the
// published trees are never written.
//
// Which transaction owns a version is a generation number: every write
// transaction draws a new one (Store.txnGen), the part structs it changes
// are its own copies stamped with it, and a tree whose stamp differs
// from its part's is someone else's (published, or built by a restore
// with generation 0, which no transaction draws).

// cowTree is one of an archive part's B-trees. Reads go to the embedded
// tree; writes go through w.
type cowTree[T any] struct {
	ptree[T]
}

func newCowTree[T any](less lessFunc[T]) cowTree[T] {
	return cowTree[T]{newPtree(less)}
}

// w is the tree for transaction gen to write: its own version, made at
// its first write. The header it changes is the transaction's copy of
// the part (archive.own); the published part's header, which readers
// hold, is never written.
func (c *cowTree[T]) w(gen uint64) *ptree[T] {
	c.gen = gen
	return &c.ptree
}
