package vaultexport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Hub is what the syncer needs of the hub.
type Hub interface {
	ClusterVaultExports(ctx context.Context, cluster string) ([]*structs.VaultExportAssignment, error)
}

// Syncer keeps a cluster's exported volumes in line with the hub's list.
type Syncer struct {
	Hub     Hub
	Kube    kubernetes.Interface
	Cluster string
	// Namespace is the tenant namespace of a tenant (where vault claims live).
	Namespace func(tenant string) string
	// Interval between passes (default 5 s).
	Interval time.Duration
	Log      *slog.Logger
}

// Run makes a pass every Interval until ctx ends.
func (s *Syncer) Run(ctx context.Context) {
	every := s.Interval
	if every <= 0 {
		every = 5 * time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if err := s.Pass(ctx); err != nil && ctx.Err() == nil {
			s.Log.Warn("vault exports", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Pass reads the exports and makes what is missing, then removes the
// objects of exports no longer listed.
func (s *Syncer) Pass(ctx context.Context) error {
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	list, err := s.Hub.ClusterVaultExports(ctx, s.Cluster)
	if err != nil {
		return err
	}
	want := map[string]bool{}
	var errs []error
	for _, a := range list {
		want[Key(&a.Export)] = true
		if err := s.ensure(ctx, a); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(append(errs, s.removeOthers(ctx, want))...)
}

// ensure makes one export's volume and claim, if the vault's claim is on
// this cluster and bound.
func (s *Syncer) ensure(ctx context.Context, a *structs.VaultExportAssignment) error {
	core := s.Kube.CoreV1()
	e := &a.Export
	if a.Vault.ClaimName == "" {
		return nil
	}
	src, err := core.PersistentVolumeClaims(s.Namespace(e.Tenant)).Get(ctx, a.Vault.ClaimName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil // the vault's data is not on this cluster
	} else if err != nil {
		return err
	}
	if src.Spec.VolumeName == "" {
		return fmt.Errorf("export of vault %s/%s: its claim is not bound yet", e.Tenant, e.Vault)
	}
	vol, err := core.PersistentVolumes().Get(ctx, src.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	pv, pvc, err := Render(e, vol)
	if err != nil {
		return err
	}
	if _, err := core.PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("export of vault %s/%s: volume: %w", e.Tenant, e.Vault, err)
	}
	if _, err := core.PersistentVolumeClaims(e.Namespace).Create(ctx, pvc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("export of vault %s/%s to %s: claim: %w", e.Tenant, e.Vault, e.Namespace, err)
	}
	return nil
}

// removeOthers deletes the claims and volumes of exports not in want.
func (s *Syncer) removeOthers(ctx context.Context, want map[string]bool) error {
	core := s.Kube.CoreV1()
	pvs, err := core.PersistentVolumes().List(ctx, metav1.ListOptions{LabelSelector: LabelExport})
	if err != nil {
		return err
	}
	var errs []error
	for i := range pvs.Items {
		pv := &pvs.Items[i]
		if want[pv.Labels[LabelExport]] {
			continue
		}
		if ref := pv.Spec.ClaimRef; ref != nil {
			err := core.PersistentVolumeClaims(ref.Namespace).Delete(ctx, ref.Name, metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, err)
				continue
			}
		}
		if err := core.PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
		s.Log.Info("vault export removed", "volume", pv.Name, "vault", pv.Annotations[AnnotVault], "namespace", pv.Annotations[AnnotTarget])
	}
	return errors.Join(errs...)
}
