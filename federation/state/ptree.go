package state

// ptree is the archive's persistent B-tree (cow.go): an ordered set of
// values under a less function, whose versions share their nodes. A
// version is the tree's header, a value of a few words (root, size, less,
// generation): copying it is the whole clone, with no allocation. Each
// node carries the generation of the write that made it; a write of
// generation g changes in place the nodes stamped g and copies every other
// node on its path once, stamping the copy g. Versions of other
// generations never see a node of g they did not make, so they stay as
// they were, as long as a generation writes one chain of versions only
// (cow.go: one write transaction per generation; restores build with
// generation 0, which no transaction draws).
//
// The tree replaced github.com/google/btree's BTreeG in the archive: a
// clone there makes three objects (two copy-on-write contexts, one of
// them the receiver's, thrown away, and the header), and a node copy
// three (the node, its items, its children); here a clone makes none and
// a node copy one (a leaf is one struct with its items in an array; an
// inner node is that struct and its children's array in one allocation,
// ptInner).

// ptMax and ptMin are the most and the fewest entries of a node (the root
// may hold fewer): the archive's degree (archive.go).
const (
	ptMax = 2*archiveDegree - 1
	ptMin = archiveDegree - 1
)

// lessFunc orders a tree's values: a before b.
type lessFunc[T any] func(a, b T) bool

type ptree[T any] struct {
	root *ptNode[T]
	size int
	less lessFunc[T]
	gen  uint64 // the generation of the writes made through this header
}

// ptNode is a node: n entries, and for an inner node n+1 children (kids
// points into the ptInner that holds the node; nil for a leaf).
type ptNode[T any] struct {
	gen   uint64
	n     int
	kids  *[ptMax + 1]*ptNode[T]
	items [ptMax]T
}

// ptInner is an inner node with its children's array, one allocation.
type ptInner[T any] struct {
	ptNode[T]
	arr [ptMax + 1]*ptNode[T]
}

func newPtree[T any](less lessFunc[T]) ptree[T] { return ptree[T]{less: less} }

// Len is the number of values in the tree.
func (t *ptree[T]) Len() int { return t.size }

// leaf is a new, empty leaf of the tree's generation.
func (t *ptree[T]) leaf() *ptNode[T] { return &ptNode[T]{gen: t.gen} }

// inner is a new, empty inner node of the tree's generation.
func (t *ptree[T]) inner() *ptNode[T] {
	in := &ptInner[T]{}
	in.gen, in.kids = t.gen, &in.arr
	return &in.ptNode
}

// mut is n for this generation to write: n itself if it made it, else a
// copy.
func (t *ptree[T]) mut(n *ptNode[T]) *ptNode[T] {
	if n.gen == t.gen {
		return n
	}
	var c *ptNode[T]
	if n.kids == nil {
		c = new(ptNode[T])
		*c = *n
	} else {
		in := new(ptInner[T])
		in.ptNode, in.arr = *n, *n.kids
		in.kids = &in.arr
		c = &in.ptNode
	}
	c.gen = t.gen
	return c
}

// find is the index of the first entry of n not before x, and whether it
// equals x.
func (t *ptree[T]) find(n *ptNode[T], x T) (int, bool) {
	lo, hi := 0, n.n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if t.less(n.items[m], x) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < n.n && !t.less(x, n.items[lo])
}

// Get is the tree's value equal to x.
func (t *ptree[T]) Get(x T) (T, bool) {
	for n := t.root; n != nil; {
		i, ok := t.find(n, x)
		if ok {
			return n.items[i], true
		}
		if n.kids == nil {
			break
		}
		n = n.kids[i]
	}
	var zero T
	return zero, false
}

// getFunc is the tree's value v with cmp(v) == 0, where cmp orders the
// tree's values against a key as less does (negative: v before the key):
// a lookup whose pivot is not a value of the tree (an ID, for a tree of
// objects by ID). cmp does not escape, so a closure over the key stays on
// the caller's stack.
func (t *ptree[T]) getFunc(cmp func(T) int) (T, bool) {
	for n := t.root; n != nil; {
		lo, hi := 0, n.n
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if cmp(n.items[m]) < 0 {
				lo = m + 1
			} else {
				hi = m
			}
		}
		if lo < n.n && cmp(n.items[lo]) == 0 {
			return n.items[lo], true
		}
		if n.kids == nil {
			break
		}
		n = n.kids[lo]
	}
	var zero T
	return zero, false
}

// Has reports whether the tree holds a value equal to x.
func (t *ptree[T]) Has(x T) bool {
	_, ok := t.Get(x)
	return ok
}

// Min is the tree's first value.
func (t *ptree[T]) Min() (T, bool) {
	var zero T
	n := t.root
	if n == nil || n.n == 0 {
		return zero, false
	}
	for n.kids != nil {
		n = n.kids[0]
	}
	return n.items[0], true
}

// ReplaceOrInsert stores x, replacing the value equal to it (returned).
func (t *ptree[T]) ReplaceOrInsert(x T) (T, bool) {
	var zero T
	if t.root == nil {
		t.root = t.leaf()
	} else {
		t.root = t.mut(t.root)
	}
	absent := false // x is known not to be in the tree
	if t.root.n == ptMax {
		if t.holds(t.root, x) {
			return t.replace(t.root, x), true
		}
		absent = true
		mid, right := t.split(t.root)
		r := t.inner()
		r.items[0], r.n = mid, 1
		r.kids[0], r.kids[1] = t.root, right
		t.root = r
	}
	old, ok := t.insert(t.root, x, absent)
	if !ok {
		t.size++
		return zero, false
	}
	return old, true
}

// insert stores x under n, which this generation owns and is not full;
// absent: x is known not to be under n (no full node below need ask).
func (t *ptree[T]) insert(n *ptNode[T], x T, absent bool) (T, bool) {
	for {
		i, ok := t.find(n, x)
		if ok {
			old := n.items[i]
			n.items[i] = x
			return old, true
		}
		if n.kids == nil {
			copy(n.items[i+1:n.n+1], n.items[i:n.n])
			n.items[i] = x
			n.n++
			var zero T
			return zero, false
		}
		c := t.mut(n.kids[i])
		n.kids[i] = c
		if c.n == ptMax && !absent {
			if t.holds(c, x) {
				return t.replace(c, x), true
			}
			absent = true // nor in any subtree below
		}
		if c.n == ptMax && t.spill(n, i, x) {
			// c gave its first entries to its left sibling; x goes
			// into what c kept.
		} else if c.n == ptMax {
			mid, right := t.split(c)
			copy(n.items[i+1:n.n+1], n.items[i:n.n])
			copy(n.kids[i+2:n.n+2], n.kids[i+1:n.n+1])
			n.items[i], n.kids[i+1] = mid, right
			n.n++
			switch {
			case t.less(mid, x):
				c = right
			case !t.less(x, mid):
				old := n.items[i]
				n.items[i] = x
				return old, true
			}
		}
		n = c
	}
}

// holds reports whether the subtree of n holds a value equal to x. An
// insert asks it before it splits or spills a full node: a replace needs
// no room, and in trees of nearly full nodes (spill) a replace of a
// job's entries (a state update) would otherwise split every full node
// on its path.
func (t *ptree[T]) holds(n *ptNode[T], x T) bool {
	for {
		i, ok := t.find(n, x)
		if ok {
			return true
		}
		if n.kids == nil {
			return false
		}
		n = n.kids[i]
	}
}

// replace stores x in place of the value equal to it under n (owned),
// copying the nodes on its path, and returns the value replaced.
func (t *ptree[T]) replace(n *ptNode[T], x T) T {
	for {
		i, ok := t.find(n, x)
		if ok {
			old := n.items[i]
			n.items[i] = x
			return old
		}
		c := t.mut(n.kids[i])
		n.kids[i] = c
		n = c
	}
}

// spill makes room in child i of n (both owned; the child full) for x by
// moving the child's first entries into its left sibling, filled up, when
// that sibling has room for two or more and x goes after the entry that
// becomes their separator (an insert must not descend into the full
// sibling). It reports whether it did; if not, the child is split.
//
// A split leaves two half-full nodes; keys that arrive in order (job
// numbers, the audit trail's times, IDs from one process's counter) fill
// the right one and split it again, so with splits alone every node they
// pass is left half full. Spilling first fills the left node: such trees
// end up with nearly full nodes, half the nodes, half the splits in a
// transaction that appends many (the audit tail's flush), a level fewer
// for as many entries, and half the heap. The child keeps what the
// sibling had (at least ptMin), the sibling ends at ptMax: the bounds
// hold.
func (t *ptree[T]) spill(n *ptNode[T], i int, x T) bool {
	if i == 0 || n.kids[i-1].n > ptMax-2 {
		return false
	}
	c := n.kids[i]
	m := ptMax - n.kids[i-1].n // entries that leave c: m-1 to l, one up
	if !t.less(c.items[m-1], x) {
		return false
	}
	l := t.mut(n.kids[i-1])
	n.kids[i-1] = l
	l.items[l.n] = n.items[i-1]
	copy(l.items[l.n+1:], c.items[:m-1])
	n.items[i-1] = c.items[m-1]
	if c.kids != nil {
		copy(l.kids[l.n+1:], c.kids[:m])
		copy(c.kids[:], c.kids[m:c.n+1])
		clear(c.kids[c.n+1-m : c.n+1])
	}
	copy(c.items[:], c.items[m:c.n])
	var zero T
	for j := c.n - m; j < c.n; j++ {
		c.items[j] = zero
	}
	l.n += m
	c.n -= m
	return true
}

// split moves the upper half of a full node n (owned) into a new node:
// it returns the middle entry and the new node.
func (t *ptree[T]) split(n *ptNode[T]) (T, *ptNode[T]) {
	const m = ptMax / 2
	var r *ptNode[T]
	if n.kids == nil {
		r = t.leaf()
	} else {
		r = t.inner()
		copy(r.kids[:], n.kids[m+1:n.n+1])
		clear(n.kids[m+1 : n.n+1])
	}
	mid := n.items[m]
	r.n = copy(r.items[:], n.items[m+1:n.n])
	clear(n.items[m:n.n])
	n.n = m
	return mid, r
}

// Delete removes the value equal to x (returned).
func (t *ptree[T]) Delete(x T) (T, bool) {
	if !t.Has(x) {
		var zero T
		return zero, false
	}
	t.root = t.mut(t.root)
	old := t.remove(t.root, x, false)
	t.size--
	if t.root.n == 0 {
		if t.root.kids != nil {
			t.root = t.root.kids[0]
		} else {
			t.root = nil
		}
	}
	return old, true
}

// remove takes x (max: the last entry instead) out from under n, which
// this generation owns and which holds more than ptMin entries unless it
// is the root; the tree holds x.
func (t *ptree[T]) remove(n *ptNode[T], x T, max bool) T {
	for {
		var i int
		var found bool
		if max {
			i = n.n
			if n.kids == nil {
				i--
				found = true
			}
		} else {
			i, found = t.find(n, x)
		}
		if n.kids == nil {
			out := n.items[i]
			copy(n.items[i:n.n-1], n.items[i+1:n.n])
			n.n--
			var zero T
			n.items[n.n] = zero
			return out
		}
		if n.kids[i].n <= ptMin {
			t.grow(n, i)
			continue // the entries moved: look again
		}
		c := t.mut(n.kids[i])
		n.kids[i] = c
		if found {
			out := n.items[i]
			n.items[i] = t.remove(c, x, true)
			return out
		}
		n = c
	}
}

// grow gives child i of n (owned) more than ptMin entries: one from a
// sibling that can spare one, or the sibling's all and the entry between
// them (a merge).
func (t *ptree[T]) grow(n *ptNode[T], i int) {
	var zero T
	switch {
	case i > 0 && n.kids[i-1].n > ptMin:
		c, l := t.mut(n.kids[i]), t.mut(n.kids[i-1])
		n.kids[i], n.kids[i-1] = c, l
		copy(c.items[1:c.n+1], c.items[:c.n])
		c.items[0] = n.items[i-1]
		n.items[i-1] = l.items[l.n-1]
		l.items[l.n-1] = zero
		if c.kids != nil {
			copy(c.kids[1:c.n+2], c.kids[:c.n+1])
			c.kids[0] = l.kids[l.n]
			l.kids[l.n] = nil
		}
		c.n++
		l.n--
	case i < n.n && n.kids[i+1].n > ptMin:
		c, r := t.mut(n.kids[i]), t.mut(n.kids[i+1])
		n.kids[i], n.kids[i+1] = c, r
		c.items[c.n] = n.items[i]
		n.items[i] = r.items[0]
		copy(r.items[:r.n-1], r.items[1:r.n])
		r.items[r.n-1] = zero
		if c.kids != nil {
			c.kids[c.n+1] = r.kids[0]
			copy(r.kids[:r.n], r.kids[1:r.n+1])
			r.kids[r.n] = nil
		}
		c.n++
		r.n--
	default:
		if i == n.n {
			i--
		}
		c, r := t.mut(n.kids[i]), n.kids[i+1]
		n.kids[i] = c
		c.items[c.n] = n.items[i]
		copy(c.items[c.n+1:], r.items[:r.n])
		if c.kids != nil {
			copy(c.kids[c.n+1:], r.kids[:r.n+1])
		}
		c.n += 1 + r.n
		copy(n.items[i:n.n-1], n.items[i+1:n.n])
		copy(n.kids[i+1:n.n], n.kids[i+2:n.n+1])
		n.items[n.n-1], n.kids[n.n] = zero, nil
		n.n--
	}
}
