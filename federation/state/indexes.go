package state

import (
	"cmp"
	"slices"
)

// The store's modify indexes and the event log's pruned index are words
// of the archive struct (archive.go), which a write transaction copies
// at its first change and its commit publishes with the memdb root, so a
// reader sees the indexes of the commit whose rows it sees. As rows of a
// go-memdb table they were a radix path copied per commit, with a watch
// channel per node, for the four or five rows (the tables written and
// the store's own) every submission's commit bumps. Blocking queries wait
// on the store's own watch channels instead (watch.go): one per table and
// one for the store as a whole, made when someone waits and closed by the
// commit that bumps its index.
//
// Snapshots keep them as rows of the meta section, merged in key order
// with the sequences' rows (snapshot.go), as the table kept them: a row
// is there when it was ever written, whatever its value (metaRows.set).

// metaKey numbers the meta rows the archive keeps: the data tables'
// modify indexes (a table's number), the store's (metaAll) and the event
// log's pruned index (metaPruned).
type metaKey uint8

const (
	metaAll    = metaKey(numTables)
	metaPruned = metaAll + 1
	numMeta    = metaPruned + 1
	// numWatch is how many meta rows can be waited on: the tables and
	// the store's (watch.go).
	numWatch = int(metaAll) + 1
)

func (k metaKey) name() string {
	switch k {
	case metaAll:
		return AllTables
	case metaPruned:
		return metaEventsPruned
	}
	return table(k).name()
}

// metaKeyOf is the meta row a table name (or AllTables) keeps its modify
// index in.
func metaKeyOf(name string) (metaKey, bool) {
	if name == AllTables {
		return metaAll, true
	}
	for t, n := range tableNames() {
		if n == name {
			return metaKey(t), true
		}
	}
	return 0, false
}

// metaKeyNamed is the meta row named key, the pruned index's included.
func metaKeyNamed(key string) (metaKey, bool) {
	if key == metaEventsPruned {
		return metaPruned, true
	}
	return metaKeyOf(key)
}

// metaRows is the meta rows the archive keeps.
type metaRows struct {
	vals [numMeta]uint64
	set  uint32 // bit per row ever written (numMeta <= 32)
	// other is the meta rows of a restored snapshot this store has no
	// use for, in key order, kept so that it snapshots to the same bytes.
	other []*metaEntry
}

func (m *metaRows) get(k metaKey) uint64 { return m.vals[k] }

func (m *metaRows) put(k metaKey, v uint64) {
	m.vals[k] = v
	m.set |= 1 << k
}

// restore puts a snapshot's meta row in m.
func (m *metaRows) restore(e *metaEntry) {
	if k, ok := metaKeyNamed(e.Key); ok {
		m.put(k, e.Value)
		return
	}
	i, found := slices.BinarySearchFunc(m.other, e.Key, func(o *metaEntry, key string) int { return cmp.Compare(o.Key, key) })
	if found {
		m.other[i] = e // a key twice: the last row stands, as in the table
		return
	}
	m.other = slices.Insert(m.other, i, e)
}

// rows returns the meta rows written, each as a snapshot row.
func (m *metaRows) rows() []*metaEntry {
	out := slices.Clone(m.other)
	for k := range numMeta {
		if m.set&(1<<k) != 0 {
			out = append(out, &metaEntry{Key: k.name(), Value: m.vals[k]})
		}
	}
	return out
}
