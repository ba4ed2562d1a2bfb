package fsm

// Strings that repeat from command to command — the tenant, team, owner,
// app, machine type and cluster a job names, its parameters' keys, the
// states and the dispatcher's reasons, an audit event's actor and action
// — are interned as an FSM decodes its commands: every job on a replica
// names its tenant through one string instead of a copy per job, which
// shrinks the heap each queued job holds on every replica, and a string
// met before costs no allocation to decode.
//
// The table belongs to one FSM, which raft calls from one goroutine, so it
// takes no lock. It is bounded: strings longer than maxInternLen are
// never entered (they are seldom names), and a table holding
// maxInternEntries strings is emptied before the next one enters (the
// strings it gave out stay valid: they are ordinary strings). Interning
// changes no value a command carries, so replicas with different tables
// (one restarted, one not) still apply every entry alike.
type interner struct {
	m map[string]string
}

const (
	maxInternLen     = 64
	maxInternEntries = 4096
)

func newInterner() *interner { return &interner{m: make(map[string]string, 256)} }

// intern returns b as a string: the table's copy when it holds one (no
// allocation), else a new string, entered in the table if it is short.
// A nil interner only converts.
func (in *interner) intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if in == nil || len(b) > maxInternLen {
		return string(b)
	}
	if s, ok := in.m[string(b)]; ok { // no allocation: the compiler looks up b's bytes
		return s
	}
	if len(in.m) >= maxInternEntries {
		clear(in.m)
	}
	s := string(b)
	in.m[s] = s
	return s
}
