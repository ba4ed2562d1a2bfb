package state

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// ptKV is a test entry: ordered by k, v tells versions of one key apart.
type ptKV struct{ k, v int }

func ptLess(a, b ptKV) bool { return a.k < b.k }

// ptModel is a sorted slice of entries, the model of a ptree.
type ptModel []ptKV

func (m ptModel) find(k int) (int, bool) {
	return slices.BinarySearchFunc(m, k, func(e ptKV, k int) int { return e.k - k })
}

// ptVersion is a published version of the tree and what it must hold.
type ptVersion struct {
	tr    ptree[ptKV]
	model ptModel
}

// TestPtreeMatchesSortedSlice: the persistent B-tree against a sorted
// slice under random transactions of inserts, replaces and deletes (key
// ranges that grow the tree to three levels and shrink it to nothing
// again), one transaction in seven aborted. Every transaction's results
// (the replaced or deleted value) match the slice's, the tree's shape
// stays a B-tree (node sizes, order, one depth, every node reachable from
// a version of a generation no later than the version's), and every
// version kept along the way still reads as it did after all later
// writes: lookups, Min, full walks and walks from random pivots in both
// directions, stopped early.
func TestPtreeMatchesSortedSlice(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 6))
	tr := newPtree(ptLess) // a restore's build: generation 0
	var model ptModel
	for i := range 500 {
		tr.ReplaceOrInsert(ptKV{i * 3, -1})
		model = append(model, ptKV{i * 3, -1})
	}
	var kept []ptVersion
	gen := uint64(0)
	for txn := range 600 {
		gen++
		w := tr // the transaction's version: a copy of the header
		w.gen = gen
		next := slices.Clone(model)
		// Phases: grow to ~9,000 entries, shrink to none, grow again.
		keys, delP := 12000, 0.3
		switch {
		case txn%200 >= 120 && txn%200 < 180:
			delP = 0.9
		case txn%200 >= 180:
			keys = 200 // a small tree: root splits and collapses
			delP = 0.5
		}
		for range 1 + rng.IntN(150) {
			k := rng.IntN(keys)
			i, ok := next.find(k)
			if rng.Float64() < delP {
				old, got := w.Delete(ptKV{k: k})
				if got != ok || (ok && old != next[i]) {
					t.Fatalf("txn %d: Delete(%d) = %v, %v; want %v", txn, k, old, got, ok)
				}
				if ok {
					next = slices.Delete(next, i, i+1)
				}
				continue
			}
			e := ptKV{k, txn}
			old, got := w.ReplaceOrInsert(e)
			if got != ok || (ok && old != next[i]) {
				t.Fatalf("txn %d: ReplaceOrInsert(%d) = %v, %v; want %v", txn, k, old, got, ok)
			}
			if ok {
				next[i] = e
			} else {
				next = slices.Insert(next, i, e)
			}
		}
		checkPtree(t, rng, &w, next)
		if rng.IntN(7) == 0 {
			continue // aborted: the version is dropped
		}
		tr, model = w, next
		if txn%13 == 0 {
			kept = append(kept, ptVersion{tr, model})
		}
		if txn%25 == 0 {
			for _, v := range kept {
				checkPtree(t, rng, &v.tr, v.model)
			}
		}
	}
	for _, v := range kept {
		checkPtree(t, rng, &v.tr, v.model)
	}
	if len(kept) < 30 {
		t.Fatalf("kept %d versions, want at least 30", len(kept))
	}
}

// checkPtree fails t unless tr holds exactly the model's entries, in
// order, in a well-formed B-tree.
func checkPtree(t *testing.T, rng *rand.Rand, tr *ptree[ptKV], model ptModel) {
	t.Helper()
	if tr.Len() != len(model) {
		t.Fatalf("Len %d, want %d", tr.Len(), len(model))
	}
	if tr.root != nil {
		leafDepth := -1
		if n := checkNode(t, tr, tr.root, nil, nil, 0, &leafDepth); n != len(model) {
			t.Fatalf("nodes hold %d entries, Len says %d", n, len(model))
		}
	} else if len(model) > 0 {
		t.Fatal("empty root, non-empty model")
	}
	var all []ptKV
	tr.Ascend(func(e ptKV) bool { all = append(all, e); return true })
	if !slices.Equal(all, model) {
		t.Fatalf("Ascend: %d entries, not the model's %d", len(all), len(model))
	}
	if m, ok := tr.Min(); ok != (len(model) > 0) || (ok && m != model[0]) {
		t.Fatalf("Min %v %v", m, ok)
	}
	for range 20 {
		k := rng.IntN(12100) - 50
		i, ok := model.find(k)
		if e, got := tr.Get(ptKV{k: k}); got != ok || (ok && e != model[i]) || tr.Has(ptKV{k: k}) != ok {
			t.Fatalf("Get(%d) = %v, %v; want %v", k, e, got, ok)
		}
		if e, got := tr.getFunc(func(e ptKV) int { return e.k - k }); got != ok || (ok && e != model[i]) {
			t.Fatalf("getFunc(%d) = %v, %v; want %v", k, e, got, ok)
		}
		stop := 1 + rng.IntN(100)
		var up []ptKV
		tr.AscendGreaterOrEqual(ptKV{k: k}, func(e ptKV) bool { up = append(up, e); return len(up) < stop })
		want := model[i:min(i+stop, len(model))]
		if !slices.Equal(up, want) {
			t.Fatalf("AscendGreaterOrEqual(%d) stop %d: %v, want %v", k, stop, up, want)
		}
		j := i
		if ok {
			j++
		}
		var down []ptKV
		tr.DescendLessOrEqual(ptKV{k: k}, func(e ptKV) bool { down = append(down, e); return len(down) < stop })
		wantDown := slices.Clone(model[max(0, j-stop):j])
		slices.Reverse(wantDown)
		if !slices.Equal(down, wantDown) {
			t.Fatalf("DescendLessOrEqual(%d) stop %d: %v, want %v", k, stop, down, wantDown)
		}
	}
}

// checkNode checks the subtree of n (entries strictly between lo and hi
// when given) and returns its number of entries.
func checkNode(t *testing.T, tr *ptree[ptKV], n *ptNode[ptKV], lo, hi *ptKV, depth int, leafDepth *int) int {
	t.Helper()
	if n.gen > tr.gen {
		t.Fatalf("a node of generation %d under a version of %d", n.gen, tr.gen)
	}
	if n.n > ptMax || (n != tr.root && n.n < ptMin) || n.n == 0 {
		t.Fatalf("a node of %d entries (depth %d)", n.n, depth)
	}
	var zero ptKV
	for i := n.n; i < ptMax; i++ {
		if n.items[i] != zero {
			t.Fatalf("slot %d past a node's %d entries not cleared", i, n.n)
		}
	}
	for i := range n.n {
		if (i > 0 && !tr.less(n.items[i-1], n.items[i])) || (lo != nil && !tr.less(*lo, n.items[i])) ||
			(hi != nil && !tr.less(n.items[i], *hi)) {
			t.Fatalf("node entries out of order at %d (depth %d)", i, depth)
		}
	}
	if n.kids == nil {
		if *leafDepth < 0 {
			*leafDepth = depth
		} else if *leafDepth != depth {
			t.Fatalf("leaves at depths %d and %d", *leafDepth, depth)
		}
		return n.n
	}
	for i := n.n + 1; i <= ptMax; i++ {
		if n.kids[i] != nil {
			t.Fatalf("child slot %d past a node's %d children not cleared", i, n.n+1)
		}
	}
	total := n.n
	for i := 0; i <= n.n; i++ {
		l, h := lo, hi
		if i > 0 {
			l = &n.items[i-1]
		}
		if i < n.n {
			h = &n.items[i]
		}
		total += checkNode(t, tr, n.kids[i], l, h, depth+1, leafDepth)
	}
	return total
}

// TestPtreeCloneAllocatesNothing: a transaction's version of a tree is a
// header copy, a write that copies a path of nodes makes one object per
// node copied, and walks from a pivot make none.
func TestPtreeCloneAllocatesNothing(t *testing.T) {
	tr := newPtree(ptLess)
	for i := range 5000 {
		tr.ReplaceOrInsert(ptKV{i, i})
	}
	depth := 0
	for n := tr.root; n != nil; depth++ {
		if n.kids == nil {
			n = nil
		} else {
			n = n.kids[0]
		}
	}
	gen := uint64(1)
	if a := testing.AllocsPerRun(100, func() {
		gen++
		w := tr
		w.gen = gen
		w.ReplaceOrInsert(ptKV{2500, 0}) // a replace: the path copied, no split
	}); a != float64(depth) {
		t.Fatalf("a write to a new version made %v objects, want %d (one per level)", a, depth)
	}
	// Walks from a pivot allocate nothing (a pivot passed by address
	// to the recursive walks would move to the heap).
	seen := 0
	walk := func(e ptKV) bool { seen++; return seen%10 != 0 }
	if a := testing.AllocsPerRun(100, func() {
		tr.AscendGreaterOrEqual(ptKV{k: 1234}, walk)
		tr.DescendLessOrEqual(ptKV{k: 4321}, walk)
	}); a != 0 {
		t.Fatalf("two walks from a pivot made %v objects, want none", a)
	}
}

// TestPtreeInOrderFillsNodes: keys that arrive in order (a restore's
// build, appends in transactions of 22 as the hub's entries make them)
// leave nearly full nodes (spill), where splits alone left them half
// full; a replace through full nodes splits none of them.
func TestPtreeInOrderFillsNodes(t *testing.T) {
	fill := func(tr *ptree[ptKV]) (nodes int, entries float64) {
		var walk func(n *ptNode[ptKV])
		walk = func(n *ptNode[ptKV]) {
			nodes++
			for i := 0; n.kids != nil && i <= n.n; i++ {
				walk(n.kids[i])
			}
		}
		walk(tr.root)
		return nodes, float64(tr.Len()) / float64(nodes)
	}
	const n = 20000
	built := newPtree(ptLess)
	for i := range n {
		built.ReplaceOrInsert(ptKV{i, i})
	}
	appended := newPtree(ptLess)
	for i := 0; i < n; i += 22 {
		appended.gen++ // a transaction's version
		for k := i; k < min(i+22, n); k++ {
			appended.ReplaceOrInsert(ptKV{k, k})
		}
	}
	for name, tr := range map[string]*ptree[ptKV]{"built": &built, "appended": &appended} {
		nodes, per := fill(tr)
		if per < ptMax-3 {
			t.Errorf("%s: %d entries in %d nodes, %.1f a node: want nearly full nodes (%d)", name, tr.Len(), nodes, per, ptMax)
		}
		before := nodes
		tr.gen++
		for k := 0; k < n; k += 97 {
			if _, ok := tr.ReplaceOrInsert(ptKV{k, -k}); !ok {
				t.Fatalf("%s: %d not replaced", name, k)
			}
		}
		if nodes, _ := fill(tr); nodes != before {
			t.Errorf("%s: replaces changed the node count %d -> %d", name, before, nodes)
		}
		model := make(ptModel, n)
		for k := range model {
			model[k] = ptKV{k, k}
			if k%97 == 0 {
				model[k].v = -k
			}
		}
		checkPtree(t, rand.New(rand.NewPCG(1, 2)), tr, model)
	}
}
