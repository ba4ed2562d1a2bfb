package vaultexport

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

func srcVolume(src corev1.PersistentVolumeSource) *corev1.PersistentVolume {
	return &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "src"}, Spec: corev1.PersistentVolumeSpec{
		Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("5Gi")},
		PersistentVolumeSource: src, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
		PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete}}
}

func TestRender(t *testing.T) {
	nfs := srcVolume(corev1.PersistentVolumeSource{NFS: &corev1.NFSVolumeSource{Server: "10.0.0.5", Path: "/export/models"}})
	tests := map[string]struct {
		e        structs.VaultExport
		mode     corev1.PersistentVolumeAccessMode
		readOnly bool
	}{
		"read-only":  {e: structs.VaultExport{Tenant: "acme", Vault: "models", Namespace: "inference"}, mode: corev1.ReadOnlyMany, readOnly: true},
		"read-write": {e: structs.VaultExport{Tenant: "acme", Vault: "models", Namespace: "inference", ReadWrite: true}, mode: corev1.ReadWriteMany},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			pv, pvc, err := Render(&tc.e, nfs)
			if err != nil {
				t.Fatal(err)
			}
			if pv.Spec.NFS == nil || pv.Spec.NFS.Path != "/export/models" || pv.Spec.NFS.ReadOnly != tc.readOnly {
				t.Errorf("volume source %+v, want the vault's NFS export, read-only %v", pv.Spec.NFS, tc.readOnly)
			}
			if nfs.Spec.NFS.ReadOnly {
				t.Error("Render changed the source volume")
			}
			if pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain {
				t.Errorf("reclaim policy %s: unexporting would delete data", pv.Spec.PersistentVolumeReclaimPolicy)
			}
			if pv.Spec.AccessModes[0] != tc.mode || pvc.Spec.AccessModes[0] != tc.mode {
				t.Errorf("access modes %v / %v, want %s", pv.Spec.AccessModes, pvc.Spec.AccessModes, tc.mode)
			}
			if pvc.Namespace != "inference" || pvc.Name != "vault-models" || pvc.Spec.VolumeName != pv.Name ||
				pv.Spec.ClaimRef.Name != pvc.Name || pv.Spec.ClaimRef.Namespace != "inference" {
				t.Errorf("claim %s/%s → %s, volume claimRef %+v: not bound to each other", pvc.Namespace, pvc.Name, pvc.Spec.VolumeName, pv.Spec.ClaimRef)
			}
		})
	}
	other := structs.VaultExport{Tenant: "acme", Vault: "models", Namespace: "batch"}
	if VolumeName(&other) == VolumeName(&structs.VaultExport{Tenant: "acme", Vault: "models", Namespace: "inference"}) {
		t.Error("two exports share a volume name")
	}
	if n := ClaimName("Models_V2"); !structs.IsDNSSubdomain(n) {
		t.Errorf("claim name %q is not a Kubernetes name", n)
	}
}

type fakeHub struct {
	list []*structs.VaultExportAssignment
}

func (f *fakeHub) ClusterVaultExports(context.Context, string) ([]*structs.VaultExportAssignment, error) {
	return f.list, nil
}

// TestSyncerPass: an export of a vault whose claim is here and bound is
// made; one whose claim is elsewhere is left; an export no longer listed
// is removed.
func TestSyncerPass(t *testing.T) {
	ctx := context.Background()
	src := srcVolume(corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/srv/models"}})
	claim := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "models", Namespace: "t-acme"},
		Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "src"}}
	kc := fake.NewClientset(src, claim)
	hub := &fakeHub{list: []*structs.VaultExportAssignment{
		{Export: structs.VaultExport{Tenant: "acme", Vault: "models", Namespace: "inference"},
			Vault: structs.Vault{Tenant: "acme", Name: "models", ClaimName: "models"}},
		{Export: structs.VaultExport{Tenant: "acme", Vault: "elsewhere", Namespace: "inference"},
			Vault: structs.Vault{Tenant: "acme", Name: "elsewhere", ClaimName: "not-here"}},
	}}
	s := &Syncer{Hub: hub, Kube: kc, Cluster: "east", Namespace: func(t string) string { return "t-" + t }}
	if err := s.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	pvc, err := kc.CoreV1().PersistentVolumeClaims("inference").Get(ctx, "vault-models", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pvs, _ := kc.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{LabelSelector: LabelExport})
	if len(pvs.Items) != 1 || pvs.Items[0].Name != pvc.Spec.VolumeName || pvs.Items[0].Spec.HostPath.Path != "/srv/models" {
		t.Fatalf("exported volumes %+v", pvs.Items)
	}
	if err := s.Pass(ctx); err != nil {
		t.Fatalf("a second pass: %v", err)
	}
	hub.list = nil
	if err := s.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	if pvs, _ := kc.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{LabelSelector: LabelExport}); len(pvs.Items) != 0 {
		t.Errorf("unexported volume left: %d", len(pvs.Items))
	}
	if _, err := kc.CoreV1().PersistentVolumes().Get(ctx, "src", metav1.GetOptions{}); err != nil {
		t.Errorf("the vault's own volume: %v", err)
	}
}
