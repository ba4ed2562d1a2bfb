package agent_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/agent"
	"github.com/flotilla-hpc/flotilla/clusteragent/filer"
	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/clusteragent/runtime"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestTenantNamespacesEnforcePodSecurity runs every kind of pod the agent
// makes on a real kube-apiserver, whose Pod Security Admission reads the
// namespaces' labels: batch head and workers, an interactive job with its
// token guard, an array job, a job user's own uid/gid, a vault's claim —
// all admitted in namespaces enforcing restricted; a ReadWriteOnce vault's
// filer in a namespace lowered to privileged for it (warn and audit stay
// restricted); a namespace made before the agent started relabelled at
// start. A privileged pod, and a job whose machine type binds a host path,
// are refused in a restricted namespace; the job ends with the reason.
func TestTenantNamespacesEnforcePodSecurity(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a real control plane (FLOTILLA_BIN tools); skipped in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// 13 pods of 4 cores, 2 a node: room to spare.
	c := startRuntimeCluster(t, ctx, 10, func(cfg *agent.ClusterConfig) {
		cfg.Filer = filer.Options{Grace: time.Minute, Resync: 500 * time.Millisecond}
	})
	core := c.env.Client.CoreV1()
	// A namespace of an earlier agent, without pod security labels.
	oldNS := podgroup.TenantNamespace(rtPrefix, "globex")
	if _, err := core.Namespaces().Create(ctx, runtime.TenantNamespaceObject(oldNS, "globex"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.run(t, ctx)
	labelsOf := func(ns string) map[string]string {
		got, err := core.Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			return nil
		}
		return got.Labels
	}
	waitFor(t, 30*time.Second, "the earlier namespace relabelled at start", func() (bool, string) {
		l := labelsOf(oldNS)
		return l[runtime.LabelPodSecurityEnforce] == runtime.PodSecurityRestricted, fmt.Sprint(l)
	})

	batch := rtJob(31, 3)
	interactive := rtJob(32, 2)
	interactive.Command = structs.Command{Path: "/usr/bin/jupyter-lab", Interactive: true, Ports: []string{"8888/tcp"}}
	array := rtJob(33, 2)
	spec, err := structs.ParseArraySpec("1-8")
	if err != nil {
		t.Fatal(err)
	}
	array.Job.Array = &structs.ArrayJob{Spec: spec}
	ids := rtJob(34, 2)
	ids.Identity = structs.Identity{UID: 20001, GID: 20002}
	claim := rtJob(35, 1)
	claim.Vault = &structs.Vault{Tenant: "acme", Name: "home", Kind: structs.VaultBlock, ClaimName: "vault-home", AccessMode: structs.AccessRWX}
	c.createClaim(ctx, t, "acme", claim.Vault.ClaimName)
	// A ReadWriteOnce vault of another tenant: its filer and jobs.
	rwo := rtJob(36, 2)
	rwo.Job.ID, rwo.Job.Tenant = "job-36", "initech"
	rwo.Vault = &structs.Vault{Tenant: "initech", Name: "scratch", Kind: structs.VaultBlock, ClaimName: "vault-scratch", AccessMode: structs.AccessRWO}
	c.createClaim(ctx, t, "initech", rwo.Vault.ClaimName)
	admitted := []runtime.Input{batch, interactive, array, ids, claim, rwo}
	for _, js := range admitted {
		c.ag.Jobs.AddInput(js)
	}
	waitFor(t, time.Minute, "every job running", func() (bool, string) {
		st := c.ag.Jobs.States()
		for _, js := range admitted {
			if st[js.Job.Number] != structs.JobRunning {
				return false, fmt.Sprint(st)
			}
		}
		return true, ""
	})

	acmeNS, initechNS := podgroup.TenantNamespace(rtPrefix, "acme"), podgroup.TenantNamespace(rtPrefix, "initech")
	want := map[string]string{
		acmeNS:    runtime.PodSecurityRestricted,
		oldNS:     runtime.PodSecurityRestricted,
		initechNS: runtime.PodSecurityPrivileged, // its filer
	}
	for ns, level := range want {
		l := labelsOf(ns)
		if l[runtime.LabelPodSecurityEnforce] != level || l[runtime.LabelPodSecurityWarn] != runtime.PodSecurityRestricted ||
			l[runtime.LabelPodSecurityAudit] != runtime.PodSecurityRestricted || l[runtime.LabelPodSecurityEnforceVersion] != "latest" {
			t.Errorf("namespace %s labels %v: want enforce %s, warn and audit restricted, version latest", ns, l, level)
		}
	}
	// Every pod of every job exists (admitted), the guard sidecar too.
	pods, err := core.Pods(acmeNS).List(ctx, metav1.ListOptions{LabelSelector: podgroup.LabelManaged + "=true"})
	if err != nil {
		t.Fatal(err)
	}
	guard := false
	for _, p := range pods.Items {
		for _, ic := range p.Spec.InitContainers {
			guard = guard || ic.Name == "flotilla-guard"
		}
	}
	if n := 3 + 2 + 2 + 2 + 1; len(pods.Items) != n || !guard {
		t.Errorf("acme has %d job pods %v (guard sidecar %v), want %d and a guard", len(pods.Items), podNames(pods.Items), guard, n)
	}
	fp, err := core.Pods(initechNS).List(ctx, metav1.ListOptions{LabelSelector: filer.LabelComponent + "=" + filer.ComponentFiler})
	if err != nil || len(fp.Items) != 1 {
		t.Fatalf("initech filer pods %v (%v), want one", fp, err)
	}

	// A privileged pod in the restricted namespace is refused.
	priv := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "escape", Namespace: acmeNS},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox",
			SecurityContext: &corev1.SecurityContext{Privileged: new(true)}}}},
	}
	_, err = core.Pods(acmeNS).Create(ctx, priv, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "PodSecurity") {
		t.Errorf("privileged pod in %s: %v, want refused by Pod Security Admission", acmeNS, err)
	}
	// A job whose machine type binds a host path cannot run at restricted:
	// it ends at once with the API server's reason, nothing retried.
	host := rtJob(37, 1)
	host.MachineType = &structs.MachineType{Name: "n4h", Cores: 4, Slots: 4, RAM: 8, Cluster: "east", Devices: "/srv/shared=/shared:rw"}
	host.Job.MachineType = "n4h"
	c.ag.Jobs.AddInput(host)
	end := c.waitEnd(t, host, structs.JobCompletedWithError, 1)
	if !strings.Contains(end.Substatus, "violates PodSecurity") || !strings.Contains(end.Substatus, "hostPath") {
		t.Errorf("host-path job's end %q: want the Pod Security refusal naming hostPath", end.Substatus)
	}
}

// TestFilerNamespaceGoesBackToItsLevel: a tenant namespace lowered to
// privileged for its ReadWriteOnce vaults' filers, on a real
// kube-apiserver, stays privileged while any filer runs there (two
// filers, one removed: still privileged) and goes back to the agent's
// level when the last filer is gone, without an agent restart; a next
// filer lowers it again and its pod is admitted.
func TestFilerNamespaceGoesBackToItsLevel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := startRuntimeCluster(t, ctx, 3, func(cfg *agent.ClusterConfig) {
		cfg.Filer = filer.Options{Grace: 2 * time.Second, Resync: 500 * time.Millisecond}
	})
	c.run(t, ctx)
	core := c.env.Client.CoreV1()
	ns := podgroup.TenantNamespace(rtPrefix, "initech")
	level := func() (string, string) {
		got, err := core.Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			return "", err.Error()
		}
		return got.Labels[runtime.LabelPodSecurityEnforce], got.Annotations[runtime.AnnotPodSecurity]
	}
	vault := func(name string) *structs.Vault {
		return &structs.Vault{Tenant: "initech", Name: name, Kind: structs.VaultBlock, ClaimName: "vault-" + name, AccessMode: structs.AccessRWO}
	}
	job := func(number uint64, v *structs.Vault) runtime.Input {
		js := rtJob(number, 1)
		js.Job.ID, js.Job.Tenant, js.Vault = fmt.Sprintf("job-%d", number), "initech", v
		return js
	}
	a, b := vault("a"), vault("b")
	c.createClaim(ctx, t, "initech", a.ClaimName)
	c.createClaim(ctx, t, "initech", b.ClaimName)
	ja, jb := job(41, a), job(42, b)
	c.ag.Jobs.AddInput(ja)
	c.ag.Jobs.AddInput(jb)
	waitFor(t, time.Minute, "jobs 41 and 42 running, each with its filer", func() (bool, string) {
		st := c.ag.Jobs.States()
		return st[41] == structs.JobRunning && st[42] == structs.JobRunning, fmt.Sprint(st)
	})
	if l, why := level(); l != runtime.PodSecurityPrivileged || why == "" {
		t.Fatalf("namespace %s with two filers enforces %q (%s), want privileged with the reason", ns, l, why)
	}
	filerGone := func(v *structs.Vault) func() (bool, string) {
		return func() (bool, string) {
			_, errS := core.Services(ns).Get(ctx, filer.Name(v), metav1.GetOptions{})
			_, errP := core.Pods(ns).Get(ctx, filer.Name(v), metav1.GetOptions{})
			return apierrors.IsNotFound(errS) && apierrors.IsNotFound(errP), fmt.Sprintf("service: %v, pod: %v", errS, errP)
		}
	}

	// Job 41 ends: its filer goes, b's stays, the namespace stays lowered
	// (checked after a whole reconcile pass that saw a's filer gone).
	c.ag.Jobs.Cancel(41)
	c.waitEnd(t, ja, structs.JobTerminated, 0)
	c.waitGone(ctx, t, 41)
	waitFor(t, time.Minute, "filer a removed", filerGone(a))
	if _, err := c.ag.Filer.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if l, why := level(); l != runtime.PodSecurityPrivileged || why == "" {
		t.Errorf("namespace %s with filer b left enforces %q (%s), want privileged", ns, l, why)
	}

	// Job 42 ends: the last filer goes, and the namespace with it back to
	// restricted, its reason removed.
	c.ag.Jobs.Cancel(42)
	c.waitEnd(t, jb, structs.JobTerminated, 0)
	c.waitGone(ctx, t, 42)
	waitFor(t, time.Minute, "filer b removed", filerGone(b))
	waitFor(t, 30*time.Second, "the namespace back to restricted", func() (bool, string) {
		l, why := level()
		return l == runtime.PodSecurityRestricted && why == "", l + " " + why
	})

	// A new filer lowers it again; its pod and the job's are admitted.
	jc := job(43, a)
	c.ag.Jobs.AddInput(jc)
	waitFor(t, time.Minute, "job 43 running with a new filer", func() (bool, string) {
		st := c.ag.Jobs.States()
		return st[43] == structs.JobRunning, fmt.Sprint(st[43])
	})
	if l, _ := level(); l != runtime.PodSecurityPrivileged {
		t.Errorf("namespace %s with a new filer enforces %q, want privileged", ns, l)
	}
}
