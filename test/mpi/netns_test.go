package mpi

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// subnet is private to the namespaces the test creates: the bridge lives in
// a "switch" namespace of its own and the host namespace gets no address,
// so no traffic leaves them and nothing on the machine is touched.
const subnet = "10.213.0"

// vhost is one simulated node: a network namespace joined to the bridge.
type vhost struct {
	ns string // network namespace
	ip string // address of its eth0
}

// network is a bridge in a switch namespace and hosts attached to it.
type network struct {
	sw    string
	hosts []vhost
}

// ipCmd runs ip(8) and fails the test with its output on error.
func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// newNetwork creates n hosts with addresses subnet.10, .11, ... on one
// bridge. Everything is removed at cleanup, failed test or not: processes
// left in a namespace are killed, then the namespaces are deleted (taking
// the veth pairs and the bridge with them).
func newNetwork(t *testing.T, n int) *network {
	t.Helper()
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	id := "flt" + hex.EncodeToString(b[:])
	nw := &network{sw: id + "-sw"}
	addNS(t, nw.sw)
	ipCmd(t, "-n", nw.sw, "link", "add", "br0", "type", "bridge")
	ipCmd(t, "-n", nw.sw, "link", "set", "br0", "up")
	for i := range n {
		h := vhost{ns: fmt.Sprintf("%s-h%d", id, i), ip: fmt.Sprintf("%s.%d", subnet, 10+i)}
		addNS(t, h.ns)
		port := "v" + strconv.Itoa(i)
		ipCmd(t, "-n", nw.sw, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", h.ns)
		ipCmd(t, "-n", nw.sw, "link", "set", port, "master", "br0", "up")
		ipCmd(t, "-n", h.ns, "addr", "add", h.ip+"/24", "dev", "eth0")
		ipCmd(t, "-n", h.ns, "link", "set", "eth0", "up")
		ipCmd(t, "-n", h.ns, "link", "set", "lo", "up")
		nw.hosts = append(nw.hosts, h)
	}
	return nw
}

// addNS creates a network namespace and registers its removal.
func addNS(t *testing.T, ns string) {
	t.Helper()
	ipCmd(t, "netns", "add", ns)
	t.Cleanup(func() {
		killNS(t, ns)
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v\n%s", ns, err, out)
		}
	})
}

// killNS kills every process still running in namespace ns.
func killNS(t *testing.T, ns string) {
	out, err := exec.Command("ip", "netns", "pids", ns).Output()
	if err != nil {
		t.Errorf("ip netns pids %s: %v", ns, err)
		return
	}
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
			t.Logf("killing leftover pid %d in %s", pid, ns)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
