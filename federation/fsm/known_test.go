package fsm

import "testing"

// TestKnownCommands: this binary lists every registered type, gated ones
// included, in the compact form replicas publish.
func TestKnownCommands(t *testing.T) {
	list := KnownCommands()
	for _, ct := range Types() {
		if Gated(ct) && !ReplicaApplies(list, ct) {
			t.Errorf("KnownCommands %q lacks gated type %d (%s)", list, ct, ct)
		}
	}
	if !Gated(TypeOf(&JobAudited{})) || !Gated(TypeOf(&JobCancelTasks{})) {
		t.Error("JobAudited and JobCancelTasks must be gated: older binaries do not apply them")
	}
}

func TestReplicaApplies(t *testing.T) {
	audited, cancelTasks, submit := TypeOf(&JobAudited{}), TypeOf(&JobCancelTasks{}), TypeOf(&JobSubmit{})
	for _, c := range []struct {
		list string
		t    CommandType
		want bool
	}{
		{"", submit, true},          // not gated: every binary applies it
		{"", audited, false},        // an older binary lists nothing
		{"garbage", audited, false}, // unreadable: as an older binary
		{"1-33,41-42,60-71", audited, false},
		{"1-33,41-42,60-71,80", audited, true},
		{"1-33,80,95", cancelTasks, true},
		{"1-33,80-84", cancelTasks, false},
		{"1-100", cancelTasks, true},
		{"x-9,95", cancelTasks, true}, // a bad part does not hide a good one
	} {
		if got := ReplicaApplies(c.list, c.t); got != c.want {
			t.Errorf("ReplicaApplies(%q, %d) = %v, want %v", c.list, c.t, got, c.want)
		}
	}
}

// ungated are the command types every replica binary has applied since
// replicas began listing theirs. The list is closed: a type added to the
// registry from now on must be in gated instead, or a replica on an older
// binary in a rolling upgrade would skip it.
const ungated = "1-33,41-42,60-71"

// TestNewCommandsAreGated: every registered type is either one of the
// closed list above or gated, never both.
func TestNewCommandsAreGated(t *testing.T) {
	for _, ct := range Types() {
		switch old := inRanges(ungated, ct); {
		case !old && !Gated(ct):
			t.Errorf("command type %d (%s) is new since replicas list their commands: add it to gated in known.go", ct, ct)
		case old && Gated(ct):
			t.Errorf("command type %d (%s) is both in the closed ungated list and gated", ct, ct)
		}
	}
}
