// Package binder carries out level 2's decisions and is the only writer of
// pod deletions for gangs. BindGang binds a gang's pods through the
// pods/binding subresource with bounded parallelism, the head (rank 0)
// last: before it binds the head it records on the job Secret owning the
// pods that the job started (podgroup.AnnotStarted, the head pod's UID),
// confirmed by the API server. So a gang whose head was never bound may be
// torn down and rebuilt whole (Teardown, which deletes with preconditions
// and then withdraws the record), and a job whose head may have been bound
// never has its pods created again. DeleteJobPods removes the pods of an
// ended job.
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

// BindGang binds g.Pods[i] to nodes[i]: every pod but the head in
// parallel, then, once they are all bound, the start record on the job
// Secret, then the head. It stops at the first step that fails and returns
// its error; what it bound stays bound (the gang is then partly bound and
// its head unbound: the caller tears it down or completes it).
func (b *Binder) BindGang(ctx context.Context, g cache.PendingGang, nodes []string) error {
	if len(g.Pods) != len(nodes) {
		return fmt.Errorf("binder: gang %s: %d pods, %d nodes", g.ID, len(g.Pods), len(nodes))
	}
	head := -1
	workers := make([]int, 0, len(g.Pods))
	for i := range g.Pods {
		if g.Pods[i].Rank == 0 {
			head = i
		} else {
			workers = append(workers, i)
		}
	}
	errs := b.each(ctx, len(workers), func(k int) error {
		return b.bind(ctx, g.Pods[workers[k]], nodes[workers[k]])
	})
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("binder: gang %s: %w", g.ID, err)
	}
	if head < 0 {
		return nil
	}
	ref := g.Pods[head]
	// The head (and its start record) count against the parallelism too:
	// a cycle that binds thousands of single-pod gangs must not send
	// thousands of requests at once (past the API server's in-flight limit
	// and the streams of one connection; each extra connection is a TLS
	// handshake on both sides).
	select {
	case b.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("binder: gang %s: head: %w", g.ID, ctx.Err())
	}
	defer func() { <-b.sem }()
	if g.Secret != (cache.SecretRef{}) {
		if err := b.markStarted(ctx, ref.Namespace, g.Secret, ref.UID); err != nil {
			return fmt.Errorf("binder: gang %s: recording the start: %w", g.ID, err)
		}
	}
	if err := b.bindHead(ctx, ref, nodes[head]); err != nil {
		return fmt.Errorf("binder: gang %s: head: %w", g.ID, err)
	}
	return nil
}

// bind binds one pod, on condition that it is still the pod the cache saw
// (a pod recreated under the same name is not bound by a stale decision).
func (b *Binder) bind(ctx context.Context, ref cache.PodRef, node string) error {
	return b.client.CoreV1().Pods(ref.Namespace).Bind(ctx, &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: ref.Name, Namespace: ref.Namespace, UID: ref.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: node},
	}, metav1.CreateOptions{})
}

// bindHead binds the head; when the reply is lost but the head is bound
// to node (an earlier attempt, or this one), that is success.
func (b *Binder) bindHead(ctx context.Context, ref cache.PodRef, node string) error {
	err := b.bind(ctx, ref, node)
	if err == nil {
		return nil
	}
	p, gerr := b.client.CoreV1().Pods(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if gerr == nil && p.UID == ref.UID && p.Spec.NodeName == node {
		return nil
	}
	return err
}

// DeleteJobPods deletes every pod of an ended job, each with its grace
// period: their processes stop as usual.
func (b *Binder) DeleteJobPods(ctx context.Context, namespace string, number uint64) error {
	err := b.client.CoreV1().Pods(namespace).DeleteCollection(ctx, metav1.DeleteOptions{},
		metav1.ListOptions{LabelSelector: jobSelector(number)})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// each runs fn(0..n-1) in parallel, at most the binder's parallelism at
// once (shared with every other call), and returns each call's error; a
// call not started before ctx ends gets ctx's error.
func (b *Binder) each(ctx context.Context, n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
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
			errs[i] = fn(i)
		}()
	}
	wg.Wait()
	return errs
}
