package localnodes

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/flotilla-hpc/flotilla/test/k8senv"
	"github.com/flotilla-hpc/flotilla/test/procenv"
)

// hubAndNodes is what the single-cluster local-node tests stand on: one
// hub replica, a control plane named name, local nodes registered in it,
// and a world-writable directory pub with shared/ in it for the
// machine types to mount (the nodes' containers run as other users).
type hubAndNodes struct {
	hubs        *procenv.Hubs
	env         *k8senv.Env
	ln          *Process
	id          string // random, in the nodes' prefix and the test's file names
	pub, shared string
}

// startHubAndNodes starts them; prefix (two letters and id make the
// nodes' network prefix) and subnet must differ between tests that may
// run at once. Everything is removed when t ends; the local nodes' log
// tail is logged when t failed.
func startHubAndNodes(t *testing.T, ctx context.Context, name, prefix, subnet string, nodes ...string) *hubAndNodes {
	t.Helper()
	h := &hubAndNodes{hubs: procenv.StartHubs(t, procenv.HubOptions{Replicas: 1}),
		env: k8senv.Start(t, k8senv.Options{Name: name}), id: randomHex(t, 3)}
	ln, err := Start(ctx, h.env.Client, Options{Name: name, Nodes: nodes, CPU: "4", Memory: "8Gi",
		Prefix: prefix + h.id, Subnet: subnet, Kubeconfig: h.env.Kubeconfig, ClientCA: h.env.CAFile, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	h.ln = ln
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("flotilla-localnode log:\n%s", ln.Tail(40))
		}
		ln.Remove()
	})
	if h.pub, err = os.MkdirTemp("", "flotilla-"+name+"-"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(h.pub) })
	h.shared = filepath.Join(h.pub, "shared")
	if err := os.MkdirAll(h.shared, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(h.pub, 0o777)
	os.Chmod(h.shared, 0o777)
	return h
}
