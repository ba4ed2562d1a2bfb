package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/flotilla-hpc/flotilla/test/k8senv"
	"github.com/flotilla-hpc/flotilla/test/localnodes"
	"github.com/flotilla-hpc/flotilla/test/proc"
)

// startLocalNode starts a local node, east-l0 (2 cores, 4 GiB), on env:
// its pods run as processes in network namespaces named prefix and a
// random suffix, with addresses from subnet (unique among the suites
// that run at once). It needs root; its log is shown if the test fails,
// and it is removed at the end.
func startLocalNode(ctx context.Context, t *testing.T, env *k8senv.Env, prefix, subnet string) *localnodes.Process {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("%s must run as root (local nodes make namespaces)", t.Name())
	}
	idb := make([]byte, 3)
	_, _ = rand.Read(idb)
	ln, err := localnodes.Start(ctx, env.Client, localnodes.Options{Name: "east", Nodes: []string{"east-l0"}, CPU: "2", Memory: "4Gi",
		Prefix: prefix + hex.EncodeToString(idb), Subnet: subnet, Kubeconfig: env.Kubeconfig, ClientCA: env.CAFile, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("flotilla-localnode log:\n%s", ln.Tail(40))
			// The pods' own output (an app that exited early says why).
			for path := range podLogs(t, ln) {
				t.Logf("%s (last lines):\n%s", path, proc.TailFile(path, 20))
			}
		}
		ln.Remove()
	})
	return ln
}
