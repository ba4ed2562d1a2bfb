package state

import (
	"cmp"
	"slices"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// eventLog is the bounded log of job events, by Seq. Seq grows with the
// raft index that wrote the event, so the order by Seq is also the order
// by raft index (EventsAfter).
//
// Every job change appends an event and, once the log holds
// structs.MaxEvents, drops its oldest: on every replica, in every
// transaction that changes a job, the log is a queue. As a B-tree each
// such transaction cloned the tree and copied its leftmost and rightmost
// paths. Here it is a list of chunks of at most eventChunk events: full
// chunks, never written once listed (the list slides from the front as
// the oldest leave), and a tail chunk that appends write in place. The
// tail's array and the list's array are shared between versions, as the
// audit trail's tail is (auditindex.go): a transaction writes only the
// slot past its own version's last, which no older version reads, and
// the versions form a chain (one write transaction at a time, an aborted
// one dropped whole). Dropping the oldest moves an offset (head); nothing
// is written in place below a version's length. An append costs no
// allocation but one array every eventChunk events, a drop none.
//
// What the queue does not do in place, it does by copying: an event
// dropped from the middle (a log restored with gaps in Seq) copies its
// chunk and the chunk list; an event stored at or below the newest Seq
// (a snapshot restored over itself) rebuilds the log. The chunks left
// behind by the list's slide stay in its array until an append
// reallocates it (at most as many as the list holds).
//
// The events themselves are made in slabs (newEvent): an array of
// eventSlab events, one allocation, whose slots the appends fill in turn.
// Its unused slots (spare) go from version to version as the tail does,
// by the same argument: a transaction writes only slots past its
// version's spare start, which no reader's event is in, and an aborted
// transaction's slots are written again by the next one. A slab stays
// alive while any of its events does; the log drops its events oldest
// first, so a slab leaves with its last event.
type eventLog struct {
	full  [][]*structs.JobEvent // chunks in Seq order, each sorted, never written once listed
	head  int                   // the events of full[0] already dropped
	tail  []*structs.JobEvent   // the newest events, after full's, in Seq order
	spare []structs.JobEvent    // the current slab's slots not handed out yet
	gen   uint64                // the transaction that owns this copy (cow.go)
}

// eventChunk is the events per chunk.
const eventChunk = 256

// eventSlab is the events per slab: 32 events of 200 bytes are one
// allocation of 6.5 KB, where each event was one of 208 bytes (every
// submission on every replica makes one).
const eventSlab = 32

// newEvent is an event for this version to store: a slot of its slab,
// zeroed, that no other version holds.
func (l *eventLog) newEvent() *structs.JobEvent {
	if len(l.spare) == 0 {
		l.spare = make([]structs.JobEvent, eventSlab)
	}
	e := &l.spare[0]
	l.spare = l.spare[1:]
	*e = structs.JobEvent{}
	return e
}

func newEventLog() *eventLog { return &eventLog{} }

// chunk is the events of chunk i: full[i] less the dropped, or the tail
// for i == len(full).
func (l *eventLog) chunk(i int) []*structs.JobEvent {
	switch {
	case i == len(l.full):
		return l.tail
	case i == 0:
		return l.full[0][l.head:]
	}
	return l.full[i]
}

// locate is where the first event with a Seq at or above seq is: chunk
// c and index i in it; i == len(l.chunk(c)) if none.
func (l *eventLog) locate(seq uint64) (c, i int) {
	c, _ = slices.BinarySearchFunc(l.full, seq, func(f []*structs.JobEvent, s uint64) int { return cmp.Compare(f[len(f)-1].Seq, s) })
	i, _ = slices.BinarySearchFunc(l.chunk(c), seq, cmpEventSeq)
	return c, i
}

func cmpEventSeq(e *structs.JobEvent, seq uint64) int { return cmp.Compare(e.Seq, seq) }

// addEvent stores an event, replacing one with its Seq.
func (l *eventLog) addEvent(e *structs.JobEvent) {
	if last := l.lastEvent(); last != nil && e.Seq <= last.Seq {
		l.rebuild(e)
		return
	}
	if len(l.tail) == cap(l.tail) {
		if len(l.tail) > 0 {
			l.full = append(l.full, l.tail)
		}
		l.tail = make([]*structs.JobEvent, 0, eventChunk)
	}
	l.tail = append(l.tail, e)
}

// delEvent removes the event with the Seq and returns it, nil if none.
func (l *eventLog) delEvent(seq uint64) *structs.JobEvent {
	c, i := l.locate(seq)
	ch := l.chunk(c)
	if i == len(ch) || ch[i].Seq != seq {
		return nil
	}
	e := ch[i]
	switch {
	case c == 0 && i == 0 && len(l.full) > 0: // the oldest: the queue's drop
		l.head++
		if l.head == len(l.full[0]) {
			l.full, l.head = l.full[1:], 0
		}
	case c == len(l.full) && i == 0: // the oldest, in the tail
		l.tail = l.tail[1:]
	case c == len(l.full):
		t := make([]*structs.JobEvent, 0, eventChunk)
		l.tail = append(append(t, ch[:i]...), ch[i+1:]...)
	default:
		rest := append(slices.Clone(ch[:i]), ch[i+1:]...)
		full := make([][]*structs.JobEvent, 0, len(l.full))
		full = append(full, l.full[:c]...)
		if len(rest) > 0 {
			full = append(full, rest)
		}
		l.full = append(full, l.full[c+1:]...)
		if c == 0 {
			l.head = 0
		}
	}
	return e
}

// rebuild stores the log again in new chunks, with e in its place by Seq
// (replacing one with its Seq).
func (l *eventLog) rebuild(e *structs.JobEvent) {
	all := make([]*structs.JobEvent, 0, l.count()+1)
	l.eachEvent(0, func(x *structs.JobEvent) bool {
		all = append(all, x)
		return true
	})
	i, found := slices.BinarySearchFunc(all, e.Seq, cmpEventSeq)
	if found {
		all[i] = e
	} else {
		all = slices.Insert(all, i, e)
	}
	*l = eventLog{spare: l.spare, gen: l.gen}
	for len(all) > eventChunk {
		l.full = append(l.full, all[:eventChunk:eventChunk])
		all = all[eventChunk:]
	}
	l.tail = append(make([]*structs.JobEvent, 0, eventChunk), all...)
}

// count is the events the log holds.
func (l *eventLog) count() int {
	n := len(l.tail) - l.head
	for _, f := range l.full {
		n += len(f)
	}
	return n
}

// eventFrom is the first event with a Seq at or above seq, nil if none.
func (l *eventLog) eventFrom(seq uint64) *structs.JobEvent {
	c, i := l.locate(seq)
	if ch := l.chunk(c); i < len(ch) {
		return ch[i]
	}
	return nil
}

// eachEvent calls fn on the events with a Seq from `from` on, in Seq
// order, until fn returns false.
func (l *eventLog) eachEvent(from uint64, fn func(*structs.JobEvent) bool) {
	c, i := l.locate(from)
	for ; c <= len(l.full); c, i = c+1, 0 {
		for _, e := range l.chunk(c)[i:] {
			if !fn(e) {
				return
			}
		}
	}
}

// lastEvent is the event with the highest Seq, nil if none.
func (l *eventLog) lastEvent() *structs.JobEvent {
	if n := len(l.tail); n > 0 {
		return l.tail[n-1]
	}
	if n := len(l.full); n > 0 {
		f := l.full[n-1]
		return f[len(f)-1]
	}
	return nil
}

// firstEvent is the event with the lowest Seq, nil if none.
func (l *eventLog) firstEvent() *structs.JobEvent {
	if len(l.full) > 0 {
		return l.full[0][l.head]
	}
	if len(l.tail) > 0 {
		return l.tail[0]
	}
	return nil
}
