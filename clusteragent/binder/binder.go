// Package binder carries out level 2's decisions: it binds every pod of a
// gang through the pods/binding subresource with bounded parallelism, and when
// any bind of a gang fails it deletes the gang's pods so the job is rebuilt
// and scheduled again whole — never left partly bound.
package binder

import (
	"context"
	"errors"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/flotilla-hpc/flotilla/clusteragent/cache"
)

// Binder binds gangs. Parallelism bounds the binding requests in flight
// across all gangs.
type Binder struct {
	client kubernetes.Interface
	sem    chan struct{}
}

// New returns a binder with the given parallelism (default 64).
func New(client kubernetes.Interface, parallelism int) *Binder {
	if parallelism <= 0 {
		parallelism = 64
	}
	return &Binder{client: client, sem: make(chan struct{}, parallelism)}
}

// BindGang binds pods[i] to nodes[i]. If any bind fails, every pod of the gang
// is deleted (bound or not) and the first error is returned: the job's pods
// are recreated by level 1 and the gang is scheduled again.
func (b *Binder) BindGang(ctx context.Context, gangID cache.GangID, pods []cache.PodRef, nodes []string) error {
	if len(pods) != len(nodes) {
		return fmt.Errorf("binder: gang %s: %d pods, %d nodes", gangID, len(pods), len(nodes))
	}
	errs := make([]error, len(pods))
	var wg sync.WaitGroup
	for i := range pods {
		select {
		case b.sem <- struct{}{}:
		case <-ctx.Done():
			errs[i] = ctx.Err()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-b.sem }()
			errs[i] = b.bind(ctx, pods[i], nodes[i])
		}()
	}
	wg.Wait()
	err := errors.Join(errs...)
	if err == nil {
		return nil
	}
	if derr := b.DeleteGang(context.WithoutCancel(ctx), pods); derr != nil {
		return fmt.Errorf("binder: gang %s: %w; and removing its pods: %v", gangID, err, derr)
	}
	return fmt.Errorf("binder: gang %s not bound, pods removed for a retry: %w", gangID, err)
}

func (b *Binder) bind(ctx context.Context, ref cache.PodRef, node string) error {
	return b.client.CoreV1().Pods(ref.Namespace).Bind(ctx, &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: ref.Name, Namespace: ref.Namespace},
		Target:     corev1.ObjectReference{Kind: "Node", Name: node},
	}, metav1.CreateOptions{})
}

// DeleteGang deletes the pods (missing ones are fine), immediately.
func (b *Binder) DeleteGang(ctx context.Context, pods []cache.PodRef) error {
	var errs []error
	for _, ref := range pods {
		err := b.client.CoreV1().Pods(ref.Namespace).Delete(ctx, ref.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64(0))})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
