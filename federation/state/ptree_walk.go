package state

// The persistent B-tree's walks (ptree.go): in order from the start or
// from a pivot, and in reverse from a pivot.

// Ascend calls fn on every value in order until fn returns false.
func (t *ptree[T]) Ascend(fn func(T) bool) {
	if t.root != nil {
		var zero T
		t.ascend(t.root, zero, false, fn)
	}
}

// AscendGreaterOrEqual calls fn on the values not before pivot, in order,
// until fn returns false.
func (t *ptree[T]) AscendGreaterOrEqual(pivot T, fn func(T) bool) {
	if t.root != nil {
		t.ascend(t.root, pivot, true, fn)
	}
}

// ascend and descend take the pivot by value, with a flag: a pointer to
// it would move it to the heap (the walks recurse), one allocation a walk.
func (t *ptree[T]) ascend(n *ptNode[T], pivot T, has bool, fn func(T) bool) bool {
	i := 0
	if has {
		i, _ = t.find(n, pivot)
	}
	for ; i <= n.n; i++ {
		if n.kids != nil && !t.ascend(n.kids[i], pivot, has, fn) {
			return false
		}
		has = false // everything right of the first child visited is after it
		if i < n.n && !fn(n.items[i]) {
			return false
		}
	}
	return true
}

// DescendLessOrEqual calls fn on the values not after pivot, in reverse
// order, until fn returns false.
func (t *ptree[T]) DescendLessOrEqual(pivot T, fn func(T) bool) {
	if t.root != nil {
		t.descend(t.root, pivot, true, fn)
	}
}

func (t *ptree[T]) descend(n *ptNode[T], pivot T, has bool, fn func(T) bool) bool {
	i := n.n
	if has {
		var ok bool
		if i, ok = t.find(n, pivot); ok {
			i++
		}
	}
	for ; i >= 0; i-- {
		if i < n.n && !has && !fn(n.items[i]) {
			return false
		}
		if n.kids != nil && !t.descend(n.kids[i], pivot, has, fn) {
			return false
		}
		has = false
	}
	return true
}
