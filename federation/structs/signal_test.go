package structs

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]int{"USR1": 10, "SIGUSR1": 10, "usr1": 10, "sigterm": 15, "10": 10, " 2 ": 2,
		"KILL": 9, "STOP": 19, "TSTP": 20, "CONT": 18, "64": 64, "1": 1} {
		if got, err := ParseSignal(in); err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "65", "-1", "USR3", "SIG", "SIGRTMIN", "1.5"} {
		if _, err := ParseSignal(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseSignal(%q) = %v, want ErrInvalid", in, err)
		}
	}
	if SignalName(10) != "USR1" || SignalName(40) != "40" {
		t.Errorf("names: %s %s", SignalName(10), SignalName(40))
	}
}

// TestWithSignal: requests are numbered after the last one, the oldest
// dropped beyond MaxJobSignals; the list given is never changed (the
// FSM's stored job is shared).
func TestWithSignal(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	var list []JobSignal
	for i := range 20 {
		before := append([]JobSignal(nil), list...)
		next := WithSignal(list, &JobSignalSend{ID: "j", Signal: 10, Scope: SignalAll, Time: t0.Add(time.Duration(i) * time.Second)})
		if diff := cmp.Diff(before, list); diff != "" {
			t.Fatalf("WithSignal changed its input:\n%s", diff)
		}
		list = next
	}
	if len(list) != MaxJobSignals || list[0].Seq != 5 || list[len(list)-1].Seq != 20 {
		t.Errorf("after 20: %d kept, %d..%d; want 16 from 5 to 20", len(list), list[0].Seq, list[len(list)-1].Seq)
	}
	if got := FormatSignals(list[:2]); got != "5 10 all\n6 10 all\n" {
		t.Errorf("FormatSignals = %q", got)
	}
	s := JobSignal{Signal: 10, Scope: SignalBatch, By: "alice"}
	if got := s.String(); got != "signal USR1 sent by alice (main process only)" {
		t.Errorf("String = %q", got)
	}
}

func TestJobSignalSendValidate(t *testing.T) {
	ok := JobSignalSend{ID: "j", Signal: 10, Scope: SignalAll, Time: time.Unix(1, 0)}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*JobSignalSend){
		"no time": func(c *JobSignalSend) { c.Time = time.Time{} }, "signal 0": func(c *JobSignalSend) { c.Signal = 0 },
		"signal 65": func(c *JobSignalSend) { c.Signal = 65 }, "no scope": func(c *JobSignalSend) { c.Scope = "" },
	} {
		c := ok
		mod(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
