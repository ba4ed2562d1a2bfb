package loopport

import (
	"bufio"
	"errors"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestOutsideTheEphemeralRange: a reserved port is below the range the
// kernel assigns to listens on ":0", free when Reserve returns, and never
// handed out twice by one process.
func TestOutsideTheEphemeralRange(t *testing.T) {
	p, err := defaultPool()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for range 50 {
		port, err := Reserve()
		if err != nil {
			t.Fatal(err)
		}
		if port < p.lo || port >= p.hi {
			t.Fatalf("port %d outside [%d, %d)", port, p.lo, p.hi)
		}
		if seen[port] {
			t.Fatalf("port %d handed out twice", port)
		}
		seen[port] = true
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Fatalf("reserved port %d not free: %v", port, err)
		}
		ln.Close()
	}
}

// TestHeldByAnotherProcess: ports a live process reserved are never handed
// to another process, even once that process closed its listeners; they
// become free when it exits. A pool of four ports, two held by a helper
// process: this process gets exactly the other two, then nothing.
func TestHeldByAnotherProcess(t *testing.T) {
	if os.Getenv("LOOPPORT_HELPER") != "" {
		holdAndWait()
		return
	}
	lockDir = t.TempDir()
	base := freeRun(t, 4)
	poolFor = func() (pool, error) { return pool{base, base + 4}, nil }
	t.Cleanup(func() { poolFor = defaultPool })

	cmd := exec.Command(os.Args[0], "-test.run=^TestHeldByAnotherProcess$")
	cmd.Env = append(os.Environ(), "LOOPPORT_HELPER=1", "LOOPPORT_DIR="+lockDir, "LOOPPORT_BASE="+strconv.Itoa(base))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	theirs := map[int]bool{}
	sc := bufio.NewScanner(stdout)
	for len(theirs) < 2 && sc.Scan() {
		if port, ok := strings.CutPrefix(sc.Text(), "port "); ok {
			n, _ := strconv.Atoi(port)
			theirs[n] = true
		}
	}
	if len(theirs) != 2 {
		t.Fatalf("helper reported ports %v (scan: %v)", theirs, sc.Err())
	}

	var mine []int
	for range 2 {
		port, err := Reserve()
		if err != nil {
			t.Fatalf("reserve with two of four ports held elsewhere: %v", err)
		}
		if theirs[port] {
			t.Fatalf("got port %d, which the helper process holds", port)
		}
		mine = append(mine, port)
	}
	if port, err := Reserve(); !errors.Is(err, ErrExhausted) {
		t.Fatalf("fifth reservation of four ports: %d, %v; want ErrExhausted", port, err)
	}

	// The helper exits: its ports come free.
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	for range 2 {
		port, err := Reserve()
		if err != nil || !theirs[port] {
			t.Fatalf("after the helper exited: %d, %v; want one of %v", port, err, theirs)
		}
		mine = append(mine, port)
	}
	slices.Sort(mine)
	if want := []int{base, base + 1, base + 2, base + 3}; !slices.Equal(mine, want) {
		t.Errorf("ports %v, want %v", mine, want)
	}
}

// holdAndWait is the helper process: it reserves two ports of the pool,
// prints them, closes its listeners and waits for stdin to close.
func holdAndWait() {
	lockDir = os.Getenv("LOOPPORT_DIR")
	base, _ := strconv.Atoi(os.Getenv("LOOPPORT_BASE"))
	poolFor = func() (pool, error) { return pool{base, base + 4}, nil }
	for range 2 {
		port, err := Reserve()
		if err != nil {
			os.Stdout.WriteString("error " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("port " + strconv.Itoa(port) + "\n")
	}
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	os.Exit(0)
}

// freeRun finds n consecutive ports below the ephemeral range that are
// free now (the lock directory is the test's own, so only listening
// matters).
func freeRun(t *testing.T, n int) int {
	t.Helper()
	p, err := defaultPool()
	if err != nil {
		t.Fatal(err)
	}
	for base := p.hi - n; base >= p.lo; base -= n {
		ok := true
		for k := range n {
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(base+k))
			if err != nil {
				ok = false
				break
			}
			ln.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatalf("no %d consecutive free ports below %d", n, p.hi)
	return 0
}
