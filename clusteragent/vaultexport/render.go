// Package vaultexport carries out vault exports on one cluster: for each
// export of a vault whose claim lives here, a PersistentVolume bound to the
// same storage as the vault's volume and a PersistentVolumeClaim in the
// export's namespace bound to it — read-only unless the export grants
// writing — so a Deployment outside Flotilla mounts what jobs write.
// Render is pure; Syncer reads the hub's list and applies it with client-go.
package vaultexport

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Labels and annotations of the objects an export makes.
const (
	LabelExport  = "flotilla.io/vault-export"
	AnnotTenant  = "flotilla.io/tenant"
	AnnotVault   = "flotilla.io/vault"
	AnnotTarget  = "flotilla.io/export-namespace"
	claimPrefix  = "vault-"
	volumePrefix = "flotilla-export-"
)

// ClaimName is the name of the claim an export of vault makes in its
// namespace: "vault-<vault>" when that is a DNS-1123 subdomain, else
// "vault-<hash>".
func ClaimName(vault string) string {
	if n := claimPrefix + vault; structs.IsDNSSubdomain(n) && len(n) <= 253 {
		return n
	}
	return claimPrefix + shortHash(vault)
}

// VolumeName is the PersistentVolume of an export (cluster-wide, so keyed
// by tenant, vault and namespace).
func VolumeName(e *structs.VaultExport) string {
	return volumePrefix + shortHash(e.Tenant+"\x00"+e.Vault+"\x00"+e.Namespace)
}

// Key identifies an export among the objects: its label value.
func Key(e *structs.VaultExport) string {
	return shortHash(e.Tenant + "\x00" + e.Vault + "\x00" + e.Namespace)
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// Render returns the PersistentVolume and claim of export e, given the
// volume src that the vault's own claim is bound to. The volume copies
// src's storage (its volume source, capacity, node affinity) with the
// Retain policy, so deleting the export never deletes data; it is
// ReadOnlyMany (and read-only in its source where the source has the
// flag) unless e.ReadWrite.
func Render(e *structs.VaultExport, src *corev1.PersistentVolume) (*corev1.PersistentVolume, *corev1.PersistentVolumeClaim, error) {
	if src == nil {
		return nil, nil, fmt.Errorf("export of vault %s: no source volume", e.Vault)
	}
	mode := corev1.ReadOnlyMany
	if e.ReadWrite {
		mode = corev1.ReadWriteMany
	}
	meta := func(name, ns string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{LabelExport: Key(e)},
			Annotations: map[string]string{AnnotTenant: e.Tenant, AnnotVault: e.Vault, AnnotTarget: e.Namespace}}
	}
	claim := ClaimName(e.Vault)
	source := *src.Spec.PersistentVolumeSource.DeepCopy()
	if !e.ReadWrite {
		readOnly(&source)
	}
	empty := ""
	pv := &corev1.PersistentVolume{
		ObjectMeta: meta(VolumeName(e), ""),
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      src.Spec.Capacity.DeepCopy(),
			PersistentVolumeSource:        source,
			AccessModes:                   []corev1.PersistentVolumeAccessMode{mode},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			StorageClassName:              "",
			MountOptions:                  src.Spec.MountOptions,
			NodeAffinity:                  src.Spec.NodeAffinity.DeepCopy(),
			VolumeMode:                    src.Spec.VolumeMode,
			ClaimRef:                      &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: e.Namespace, Name: claim},
		},
	}
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: meta(claim, e.Namespace),
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{mode},
			StorageClassName: &empty,
			VolumeName:       pv.Name,
			VolumeMode:       src.Spec.VolumeMode,
			Resources:        corev1.VolumeResourceRequirements{Requests: src.Spec.Capacity.DeepCopy()},
		},
	}
	return pv, pvc, nil
}

// readOnly sets the read-only flag of the volume sources that have one.
func readOnly(s *corev1.PersistentVolumeSource) {
	switch {
	case s.NFS != nil:
		s.NFS.ReadOnly = true
	case s.CSI != nil:
		s.CSI.ReadOnly = true
	case s.CephFS != nil:
		s.CephFS.ReadOnly = true
	case s.AWSElasticBlockStore != nil:
		s.AWSElasticBlockStore.ReadOnly = true
	case s.GCEPersistentDisk != nil:
		s.GCEPersistentDisk.ReadOnly = true
	case s.AzureFile != nil:
		s.AzureFile.ReadOnly = true
	}
}
