package mpi

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// buildProgram compiles testdata/src with mpicc (Debian libopenmpi-dev) into
// a temp dir and returns the binary's path.
func buildProgram(t *testing.T, src string) string {
	t.Helper()
	mpicc, err := exec.LookPath("mpicc")
	if err != nil {
		t.Fatalf("mpicc is needed to compile the MPI test programs: apt-get install libopenmpi-dev (%v)", err)
	}
	abs, err := filepath.Abs(filepath.Join("testdata", src))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), strings.TrimSuffix(src, ".c"))
	if b, err := exec.Command(mpicc, "-O2", "-Wall", "-o", out, abs).CombinedOutput(); err != nil {
		t.Fatalf("mpicc %s: %v\n%s", src, err, b)
	}
	return out
}

// rankLine is what testdata/exchange.c prints for each rank.
var rankLine = regexp.MustCompile(`(?m)^rank (\d+) of (\d+) on ([0-9.]+)$`)

// checkRanks asserts that out holds one line per rank of len(hosts)*perHost
// ranks, perHost ranks on each host, and the program's final "exchange ok".
func checkRanks(t *testing.T, out string, hosts []string, perHost int) {
	t.Helper()
	want := len(hosts) * perHost
	ranks := map[int]string{}
	for _, m := range rankLine.FindAllStringSubmatch(out, -1) {
		r, _ := strconv.Atoi(m[1])
		if n, _ := strconv.Atoi(m[2]); n != want {
			t.Errorf("rank %d reports %d ranks, want %d", r, n, want)
		}
		if prev, dup := ranks[r]; dup {
			t.Errorf("rank %d reported twice (%s, %s)", r, prev, m[3])
		}
		ranks[r] = m[3]
	}
	seen := map[string]int{}
	for r := range want {
		ip, ok := ranks[r]
		if !ok {
			t.Errorf("rank %d did not report", r)
		}
		seen[ip]++
	}
	for _, h := range hosts {
		if seen[h] != perHost {
			t.Errorf("host %s ran %d ranks, want %d", h, seen[h], perHost)
		}
	}
	if !strings.Contains(out, "exchange ok: "+strconv.Itoa(want)+" ranks") {
		t.Errorf("the program did not finish its exchange")
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}
