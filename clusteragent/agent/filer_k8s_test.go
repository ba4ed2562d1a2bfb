package agent_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/agent"
	"github.com/flotilla-hpc/flotilla/clusteragent/filer"
	"github.com/flotilla-hpc/flotilla/clusteragent/runtime"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestRuntimeRWOVault runs two jobs on one ReadWriteOnce vault against a
// real control plane: one filer serves both, every job pod mounts its
// export, it outlives the first job's end while the second uses it, and it
// is removed a grace period after the last job ended.
func TestRuntimeRWOVault(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a real control plane (FLOTILLA_BIN tools); skipped in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const grace = 2 * time.Second
	c := startRuntimeCluster(t, ctx, 5, func(cfg *agent.ClusterConfig) {
		cfg.Filer = filer.Options{Grace: grace, Resync: 500 * time.Millisecond}
	})
	c.run(t, ctx)
	core := c.env.Client.CoreV1()

	vault := &structs.Vault{Tenant: "acme", Name: "scratch", Kind: structs.VaultBlock, ClaimName: "vault-scratch", AccessMode: structs.AccessRWO}
	name := filer.Name(vault)
	big, small := rtJob(21, 3), rtJob(22, 1)
	big.Vault, small.Vault = vault, vault
	c.ag.Jobs.AddInput(big)
	c.ag.Jobs.AddInput(small)
	waitFor(t, time.Minute, "jobs 21 and 22 running", func() (bool, string) {
		st := c.ag.Jobs.States()
		return st[21] == structs.JobRunning && st[22] == structs.JobRunning, fmt.Sprint(st)
	})

	// One filer: a pod and a Service, named after the vault, serving its claim.
	sel := metav1.ListOptions{LabelSelector: filer.LabelComponent + "=" + filer.ComponentFiler}
	pods, err := core.Pods(rtNS).List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 1 || pods.Items[0].Name != name {
		t.Fatalf("filer pods %v, want one named %s", podNames(pods.Items), name)
	}
	if v := pods.Items[0].Spec.Volumes; len(v) != 1 || v[0].PersistentVolumeClaim == nil || v[0].PersistentVolumeClaim.ClaimName != vault.ClaimName {
		t.Errorf("filer volumes %+v, want the claim %s", v, vault.ClaimName)
	}
	svc, err := core.Services(rtNS).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone {
		t.Fatalf("filer service has no cluster IP: %q", svc.Spec.ClusterIP)
	}

	// Every job pod mounts the filer's export at /data, not the claim; the
	// job Secrets carry the reference.
	for _, js := range []uint64{21, 22} {
		objs := c.objects(ctx, t, js)
		if got := objs["Secret"][0].GetLabels()[filer.LabelFiler]; got != name {
			t.Errorf("job %d secret filer label %q, want %q", js, got, name)
		}
		for _, o := range objs["Pod"] {
			p := o.(*corev1.Pod)
			if !mountsNFS(p, svc.Spec.ClusterIP) {
				t.Errorf("pod %s does not mount %s:/ at %s: volumes %+v", p.Name, svc.Spec.ClusterIP, runtime.DataDir, p.Spec.Volumes)
			}
		}
		if n := len(objs["Pod"]); n != map[uint64]int{21: 3, 22: 1}[js] {
			t.Errorf("job %d has %d pods", js, n)
		}
	}

	// The small job ends; the big one still uses the filer.
	c.ag.Jobs.Cancel(22)
	c.waitEnd(t, small, structs.JobTerminated, 0)
	c.waitGone(ctx, t, 22)
	if _, err := core.Services(rtNS).Get(ctx, name, metav1.GetOptions{}); err != nil {
		t.Fatalf("filer gone while job 21 uses it: %v", err)
	}

	// The last job ends: the filer goes, a grace period later.
	c.ag.Jobs.Cancel(21)
	c.waitEnd(t, big, structs.JobTerminated, 0)
	c.waitGone(ctx, t, 21)
	lastEnd := time.Now()
	waitFor(t, time.Minute, "the idle filer removed", func() (bool, string) {
		_, errS := core.Services(rtNS).Get(ctx, name, metav1.GetOptions{})
		_, errP := core.Pods(rtNS).Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(errS) && apierrors.IsNotFound(errP), fmt.Sprintf("service: %v, pod: %v", errS, errP)
	})
	// Job 21's Secret was gone by lastEnd (seen by polling, so a little
	// after the filer may have noticed): the grace ran from about then.
	if idle := time.Since(lastEnd); idle < grace-time.Second {
		t.Errorf("filer removed %v after its last job ended, before the %v grace", idle, grace)
	}
}

func podNames(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

func mountsNFS(p *corev1.Pod, server string) bool {
	vol := ""
	for _, v := range p.Spec.Volumes {
		if v.NFS != nil && v.NFS.Server == server && v.NFS.Path == filer.DefaultExportPath {
			vol = v.Name
		}
		if v.PersistentVolumeClaim != nil {
			return false
		}
	}
	for _, m := range p.Spec.Containers[0].VolumeMounts {
		if vol != "" && m.Name == vol && m.MountPath == runtime.DataDir {
			return true
		}
	}
	return false
}
