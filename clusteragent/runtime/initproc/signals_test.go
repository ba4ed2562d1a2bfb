package initproc

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// waitFor polls cond every 20 ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func countLines(path, line string) int {
	b, _ := os.ReadFile(path)
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if l == line {
			n++
		}
	}
	return n
}

// TestSignalsDeliveredOnce runs a head whose command traps USR1 and USR2
// and has a child in its process group that traps them too: a request
// for all reaches both, once; a batch request reaches the main process
// only; a rewritten requests file, and a new signaler reading it (a
// restarted flotilla-init), deliver nothing again; every delivery is
// logged on the job's output.
func TestSignalsDeliveredOnce(t *testing.T) {
	keys := t.TempDir()
	writeTestKeys(t, keys)
	nodes := writeNodes(t, "127.0.0.1")
	var out syncBuffer
	cfg := loopbackNode(t, RoleHead, "127.0.0.1", nodes, keys, freePort(t), freePort(t), &out)
	d := t.TempDir()
	cfg.SignalsFile = filepath.Join(d, "requests")
	cfg.SignalEvery = 50 * time.Millisecond
	script := `D=$0
sh -c 'trap "echo usr1 >> $0/child" USR1; trap "echo usr2 >> $0/child" USR2; touch $0/child-ready; while :; do sleep 0.05; done' "$D" &
trap 'echo usr1 >> $D/main' USR1
trap 'echo usr2 >> $D/main' USR2
trap 'kill $!; exit 0' TERM
touch $D/main-ready
while :; do sleep 0.05; done`
	cfg.Command = []string{Shell, "-c", script, d}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	ready := func() bool {
		_, e1 := os.Stat(filepath.Join(d, "main-ready"))
		_, e2 := os.Stat(filepath.Join(d, "child-ready"))
		return e1 == nil && e2 == nil
	}
	waitFor(t, 30*time.Second, "the command and its child did not start", ready)
	write := func(text string) {
		if err := writeFileAtomic(cfg.SignalsFile, []byte(text)); err != nil {
			t.Fatal(err)
		}
	}
	main, child := filepath.Join(d, "main"), filepath.Join(d, "child")

	write("1 10 all\n")
	waitFor(t, 10*time.Second, "USR1 for all did not reach both", func() bool {
		return countLines(main, "usr1") == 1 && countLines(child, "usr1") == 1
	})
	write("1 10 all\n2 12 batch\n")
	waitFor(t, 10*time.Second, "USR2 for batch did not reach the main process", func() bool { return countLines(main, "usr2") == 1 })
	write("1 10 all\n2 12 batch\n3 10 all\n")
	waitFor(t, 10*time.Second, "the second USR1 for all did not reach both", func() bool {
		return countLines(main, "usr1") == 2 && countLines(child, "usr1") == 2
	})
	if n := countLines(child, "usr2"); n != 0 {
		t.Errorf("the batch request reached the child %d times", n)
	}
	// A restarted flotilla-init reads the same file: nothing is new.
	state := filepath.Join(cfg.RunDir, signalStateFile)
	waitFor(t, 10*time.Second, "request 3 not recorded", func() bool { b, _ := os.ReadFile(state); return string(b) == "3\n" })
	before := out.String()
	again := newSignaler(&cfg, new(atomic.Int64), nil)
	again.deliverNew()
	if after := out.String(); after != before {
		t.Errorf("a second reader delivered again:\n%s", strings.TrimPrefix(after, before))
	}
	write("1 10 all\n2 12 batch\n3 10 all\n4 15 all\n") // TERM: the command exits 0
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("head: %v\n%s", err, out.String())
		}
	case <-ctx.Done():
		t.Fatalf("the head did not end on TERM\n%s", out.String())
	}
	for _, want := range []string{"flotilla: signal USR1 delivered (request 1)\n", "flotilla: signal USR2 delivered (request 2)\n",
		"flotilla: signal USR1 delivered (request 3)\n", "flotilla: signal TERM delivered (request 4)\n"} {
		if strings.Count(out.String(), want) != 1 {
			t.Errorf("job log has %q %d times, want once:\n%s", want, strings.Count(out.String(), want), out.String())
		}
	}
	if countLines(main, "usr1") != 2 || countLines(main, "usr2") != 1 {
		t.Errorf("main process took usr1 %d, usr2 %d times; want 2, 1", countLines(main, "usr1"), countLines(main, "usr2"))
	}
}

func TestParseSignalRequests(t *testing.T) {
	reqs, bad := parseSignalRequests("1 10 all\n\n2 12 batch\n3 x all\n4 10 some\n5 65 all\n6 10\n7 15 all\n")
	want := []signalRequest{{1, 10, false}, {2, 12, true}, {7, 15, false}}
	if diff := cmp.Diff(want, reqs, cmp.AllowUnexported(signalRequest{})); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	if len(bad) != 4 {
		t.Errorf("bad lines %q, want 4", bad)
	}
}

func TestParseStat(t *testing.T) {
	got, ok := parseStat("123 (sshd: a (b)) S 1 99 99 0 -1 4194560")
	if !ok || got != (statLine{ppid: 1, pgid: 99, comm: "sshd: a (b)"}) {
		t.Errorf("parseStat = %+v %v", got, ok)
	}
	if _, ok := parseStat("garbage"); ok {
		t.Error("garbage parsed")
	}
}
