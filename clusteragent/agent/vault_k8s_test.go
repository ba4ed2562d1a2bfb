package agent_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/clusteragent/runtime"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// createClaim makes a PersistentVolumeClaim in a tenant's namespace, as an
// administrator would: the namespace (labelled as the agent labels it) if
// missing, then the claim.
func (c *rtCluster) createClaim(ctx context.Context, t *testing.T, tenant, claim string) {
	t.Helper()
	ns := podgroup.TenantNamespace(rtPrefix, tenant)
	core := c.env.Client.CoreV1()
	if _, err := core.Namespaces().Create(ctx, runtime.TenantNamespaceObject(ns, tenant), metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: claim, Namespace: ns},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	if _, err := core.PersistentVolumeClaims(ns).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestTenantCannotMountOthersVault: tenant acme has a claim in its
// namespace; globex's administrator points globex's vaults at it — by its
// name, by a path into acme's namespace, and by handing over acme's vault
// record. Each of globex's jobs ends COMPLETED_WITH_ERROR with a reason
// naming the problem before any of its pods exists, no filer is made for
// it, and no pod outside acme's namespace ever mounts acme's claim, while
// acme's own job on it runs.
func TestTenantCannotMountOthersVault(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a real control plane (FLOTILLA_BIN tools); skipped in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := startRuntimeCluster(t, ctx, 3)
	c.run(t, ctx)
	acmeNS, globexNS := podgroup.TenantNamespace(rtPrefix, "acme"), podgroup.TenantNamespace(rtPrefix, "globex")
	c.createClaim(ctx, t, "acme", "data-a")

	acmeVault := &structs.Vault{Tenant: "acme", Name: "home", Kind: structs.VaultFile, ClaimName: "data-a", AccessMode: structs.AccessRWX}
	own := rtJob(31, 2)
	own.Vault = acmeVault
	c.ag.Jobs.AddInput(own)

	attacks := map[uint64]struct {
		vault *structs.Vault
		want  string // in the reason the job ends with
	}{
		32: {&structs.Vault{Tenant: "globex", Name: "stolen", Kind: structs.VaultFile, ClaimName: "data-a", AccessMode: structs.AccessRWX},
			"does not exist in tenant \"globex\"'s namespace " + globexNS},
		33: {&structs.Vault{Tenant: "globex", Name: "stolen-rwo", Kind: structs.VaultBlock, ClaimName: "data-a", AccessMode: structs.AccessRWO},
			"does not exist in tenant \"globex\"'s namespace " + globexNS},
		34: {&structs.Vault{Tenant: "globex", Name: "path", Kind: structs.VaultFile, ClaimName: acmeNS + "/data-a", AccessMode: structs.AccessRWX},
			"claim name"},
		35: {acmeVault, "belongs to another tenant"},
	}
	for n, a := range attacks {
		js := rtJob(n, 2)
		js.Job.Tenant = "globex"
		js.Vault = a.vault
		c.ag.Jobs.AddInput(js)
	}
	waitFor(t, time.Minute, "acme's job on its claim running", func() (bool, string) {
		st := c.ag.Jobs.States()[31]
		return st == structs.JobRunning, string(st)
	})
	for n, a := range attacks {
		js := rtJob(n, 2)
		end := c.waitEnd(t, js, structs.JobCompletedWithError, 1)
		if !strings.Contains(end.Substatus, a.want) {
			t.Errorf("job %d ended %q; want the reason to say %q", n, end.Substatus, a.want)
		}
	}
	all, err := c.env.Client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mounted := 0
	for _, p := range all.Items {
		if n := p.Labels[podgroup.LabelJob]; n != "" && n != "31" {
			t.Errorf("pod %s/%s of job %s exists", p.Namespace, p.Name, n)
		}
		for _, v := range p.Spec.Volumes {
			if v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "data-a" {
				continue
			}
			if p.Namespace != acmeNS {
				t.Errorf("pod %s/%s mounts a claim named data-a outside acme's namespace", p.Namespace, p.Name)
			} else {
				mounted++
			}
		}
	}
	if mounted != 2 {
		t.Errorf("%d of acme's pods mount its claim, want 2 (job 31)", mounted)
	}
	// globex's namespace was made for its jobs and labelled as globex's.
	ns, err := c.env.Client.CoreV1().Namespaces().Get(ctx, globexNS, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ns.Annotations[podgroup.AnnotTenant] != "globex" || ns.Labels[podgroup.LabelTenantNamespace] != "true" {
		t.Errorf("globex's namespace labels %v annotations %v", ns.Labels, ns.Annotations)
	}
	t.Logf("tenant namespaces: %s, %s", acmeNS, globexNS)
}
